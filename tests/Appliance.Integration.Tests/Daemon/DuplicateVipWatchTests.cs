using System.Collections.Concurrent;
using System.Net;
using Appliance.Core.Config;
using Appliance.Core.Net;
using Appliance.Daemon;
using Appliance.Integration.Tests.Edge;
using Appliance.Linux.Net;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Daemon;

// The helper class, not its namespace (which is what `Edge` names from here).
using Edge = Appliance.Integration.Tests.Edge.Edge;

/// <summary>
/// DuplicateVipWatch with a VIP on one end of a veth (its own namespace); GARPs "from" other MACs are
/// put on the other end: a foreign claim alarms, the active peer's MAC is learned, a second MAC alarms.
/// </summary>
public sealed class DuplicateVipWatchTests(ITestOutputHelper output)
{
    private const string MacA = "02:a9:1c:00:02:01";
    private const string MacB = "02:a9:1c:00:02:02";
    private static readonly IPAddress Vip = IPAddress.Parse("192.0.2.100");
    private static readonly MacAddress Rogue = new(0x02bad0000011);
    private static readonly MacAddress Peer = new(0x02bad0000012);
    private static readonly MacAddress Second = new(0x02bad0000013);

    [RootFact]
    public async Task The_peer_is_learned_and_every_other_mac_that_claims_the_vip_alarms()
    {
        using var veth = VethPair.Create("dv", MacA, MacB, output);
        using RawFrameSender sender = Edge.InNamespace(veth.NsB, () => RawFrameSender.Open(veth.IfB, veth.SysB));
        var log = new ListLogger(output);
        var vip = new VipResourceConfig("vip", new IpPrefix(Vip, 24), veth.IfA);
        await using var watch = Watch(veth, vip, log, DuplicateVipWatch.ProbeInterval);
        watch.SetSelfHolds(false);
        watch.SetPeerActive(true);
        watch.Start();
        WatchedVip watched = await Until(() => watch.Watched.SingleOrDefault(w => w.Listening));
        Assert.Equal(MacA, watched.SelfMac);
        Assert.Null(watched.PeerMac);

        // This node holds nothing: the first MAC that claims the VIP is taken as the peer's; no alarm.
        SendGarp(sender, Peer, reply: false);
        watched = await Until(() => watch.Watched.SingleOrDefault(w => w.PeerMac is not null));
        Assert.Equal((Peer.ToString(), true), (watched.PeerMac, watched.PeerLearned));
        SendGarp(sender, Peer, reply: true);

        // Another MAC claims it: one alarm, logged once, counting claims.
        DateTimeOffset before = DateTimeOffset.UtcNow;
        SendGarp(sender, Rogue, reply: false);
        SendGarp(sender, Rogue, reply: true);
        DuplicateVipAlarm alarm = await Until(() => watch.Alarms.SingleOrDefault(a => a.Count == 2));
        output.WriteLine(alarm.Message);
        Assert.Equal((Vip.ToString(), veth.IfA, Rogue.ToString()), (alarm.Vip, alarm.Interface, alarm.Mac));
        Assert.Equal($"DUPLICATE VIP {Vip} on {veth.IfA}: claimed by {Rogue} (not the active peer {Peer}) — two nodes may hold it", alarm.Message);
        Assert.InRange(alarm.FirstSeen, before.AddSeconds(-1), alarm.LastSeen);
        Assert.InRange(alarm.LastSeen, alarm.FirstSeen, DateTimeOffset.UtcNow.AddSeconds(1));

        // A second, distinct MAC is its own alarm.
        SendGarp(sender, Second, reply: true);
        DuplicateVipAlarm second = await Until(() => watch.Alarms.SingleOrDefault(a => a.Mac == Second.ToString()));
        output.WriteLine(second.Message);
        Assert.Contains($"claimed by {Second} (not the active peer {Peer})", second.Message);
        Assert.Equal([Rogue.ToString(), Second.ToString()], watch.Alarms.Select(a => a.Mac));

        Assert.Equal(2, log.Count(1700)); // once per offending MAC, however often it claims
        Assert.Contains(log.Entries, e => e.Id == 1700 && e.Level == LogLevel.Critical && e.Message.Contains($"claimed by {Second}"));
        Assert.Equal(1, log.Count(1702));
        Assert.Equal(1, log.Count(1704));
        Assert.Equal(0, log.Count(1703) + log.Count(1705));
    }

    [Fact]
    public async Task A_listener_that_cannot_open_is_logged_once_and_retried()
    {
        var log = new ListLogger(output);
        var vip = new VipResourceConfig("vip", new IpPrefix(Vip, 24), "apl-nosuchif");
        int attempts = 0;
        var watch = new DuplicateVipWatch([vip], log, name =>
        {
            Interlocked.Increment(ref attempts);
            return ArpListener.Open(name);
        }, RawFrameSender.Open, DuplicateVipWatch.ProbeInterval, TimeProvider.System);
        watch.SetPeerActive(false);
        watch.Start();
        await Until(() => Volatile.Read(ref attempts) >= 2 ? "retried" : null,
            DuplicateVipWatch.RetryInterval + Edge.Timeout);
        WatchedVip watched = Assert.Single(watch.Watched);
        Assert.False(watched.Listening);
        Assert.Contains("no such network interface", watched.Detail);
        Assert.Equal(1, log.Count(1703));
        Assert.Empty(watch.Alarms);

        // Stopping does not wait out the retry delay.
        Task disposed = watch.DisposeAsync().AsTask();
        await disposed.WaitAsync(TimeSpan.FromSeconds(2));
    }

    [RootFact]
    public async Task A_holder_that_never_announces_is_found_by_probing()
    {
        using var veth = VethPair.Create("dq", MacA, MacB, output);
        using RawFrameSender sender = Edge.InNamespace(veth.NsB, () => RawFrameSender.Open(veth.IfB, veth.SysB));
        var log = new ListLogger(output);
        var vip = new VipResourceConfig("vip", new IpPrefix(Vip, 24), veth.IfA);
        await using var watch = Watch(veth, vip, log, TimeSpan.FromMilliseconds(200));
        watch.SetSelfHolds(false);
        watch.SetPeerActive(true);
        watch.Start();
        SendGarp(sender, Peer, reply: false);
        await Until(() => watch.Watched.SingleOrDefault(w => w.PeerMac is not null));

        // B's kernel takes the VIP without a word (adding an IPv4 address sends no ARP), as a box
        // configured by hand would. Only our probe makes it answer, to us alone.
        Edge.Run("ip", "-n", veth.NsB, "addr", "add", $"{Vip}/24", "dev", veth.IfB);
        DuplicateVipAlarm alarm = await Until(() => watch.Alarms.SingleOrDefault(a => a.Mac == MacB));
        output.WriteLine(alarm.Message);
        Assert.Contains($"claimed by {MacB} (not the active peer {Peer})", alarm.Message);
        WatchedVip watched = Assert.Single(watch.Watched);
        output.WriteLine($"{watched.Detail}; {watched.ProbesSent} probes sent");
        Assert.Contains("probing every 0.2 s", watched.Detail);
        Assert.InRange(watched.ProbesSent, 1, 1000);
        // Our own probes, seen by our own listener on the way out, claim nothing.
        Assert.DoesNotContain(watch.Alarms, a => a.Mac == MacA);
    }

    [RootFact]
    public async Task An_ipv6_holder_that_never_announces_answers_a_neighbour_solicitation_probe()
    {
        using var veth = VethPair.Create("d6", MacA, MacB, output);
        IPAddress vip6 = IPAddress.Parse("2001:db8::100");
        // B's kernel holds the IPv6 VIP (no DAD, so it is usable at once), then is given a second to
        // finish whatever it says on its own; only a probe makes it speak of the VIP after that.
        Edge.Run("ip", "netns", "exec", veth.NsB, "sysctl", "-qw", $"net.ipv6.conf.{veth.IfB}.disable_ipv6=0");
        Edge.Run("ip", "-n", veth.NsB, "addr", "add", $"{vip6}/64", "dev", veth.IfB, "nodad");
        await Task.Delay(1000);

        var log = new ListLogger(output);
        var vip = new VipResourceConfig("vip6", new IpPrefix(vip6, 64), veth.IfA);
        await using var watch = Watch(veth, vip, log, TimeSpan.FromMilliseconds(200));
        watch.SetSelfHolds(true); // this node holds it: any other holder is a duplicate at once
        watch.SetPeerActive(false);
        watch.Start();
        DuplicateVipAlarm alarm = await Until(() => watch.Alarms.SingleOrDefault(a => a.Mac == MacB));
        output.WriteLine(alarm.Message);
        Assert.Equal($"DUPLICATE VIP {vip6} on {veth.IfA}: claimed by {MacB} (this node holds it) — two nodes may hold it", alarm.Message);
        Assert.InRange(Assert.Single(watch.Watched).ProbesSent, 1, 1000);
    }

    /// <summary>A watch of <paramref name="vip"/> on the A end of <paramref name="veth"/>, listening and probing inside namespace A.</summary>
    private static DuplicateVipWatch Watch(VethPair veth, VipResourceConfig vip, ILogger log, TimeSpan probeInterval) =>
        new([vip], log,
            name => Edge.InNamespace(veth.NsA, () => ArpListener.Open(name, veth.SysA)),
            name => Edge.InNamespace(veth.NsA, () => RawFrameSender.Open(name, veth.SysA)),
            probeInterval, TimeProvider.System);

    private static void SendGarp(RawFrameSender sender, MacAddress mac, bool reply)
    {
        Span<byte> bytes = stackalloc byte[AnnounceFrames.MacBytes];
        mac.WriteTo(bytes);
        Span<byte> frame = stackalloc byte[AnnounceFrames.ArpFrameBytes];
        AnnounceFrames.BuildGratuitousArp(bytes, Vip, reply, frame);
        Assert.True(sender.Send(frame));
    }

    /// <summary>Polls <paramref name="probe"/> until it returns something, or fails after the timeout.</summary>
    private static async Task<T> Until<T>(Func<T?> probe, TimeSpan? timeout = null) where T : class
    {
        long deadline = Environment.TickCount64 + (long)(timeout ?? Edge.Timeout).TotalMilliseconds;
        while (true)
        {
            if (probe() is { } found)
                return found;
            Assert.True(Environment.TickCount64 < deadline, "timed out waiting for the watch");
            await Task.Delay(20);
        }
    }
}
