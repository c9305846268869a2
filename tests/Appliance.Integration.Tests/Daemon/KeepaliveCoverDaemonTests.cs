using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Appliance.Core.Config;
using Appliance.Core.Heartbeat;
using Appliance.Core.Membership;
using Appliance.Core.Values;
using Appliance.Daemon;
using Xunit;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>
/// Two real heartbeat threads (HeartbeatThread, real-time when root, each with its watcher) joined by
/// a UDP link on loopback (127.0.0.1 and 127.0.0.2), at 10 ms keepalive / 50 ms deadtime: slow enough
/// that this shared machine does not make false deaths of its own in a second. Alpha's thread is held
/// once inside its pass (<see cref="HeartbeatThread.InsidePass"/>), as a stopped CPU holds it: it reads
/// and sends nothing. Its watcher's <see cref="KeepaliveCover"/> keeps beta from declaring alpha dead
/// for three deadtimes; without the watcher the same hold is a death; and a hold past the cover's
/// limit is a death, the limit later (a heartbeat thread hung in our own code must still be seen).
/// The other way round too: a watcher held inside a pass it runs for the heartbeat thread holds the
/// loop, and the heartbeat thread covers for it.
/// Runs in the lab collection, alone, away from the tests that stop CPUs.
/// </summary>
[Collection("lab")]
public sealed class KeepaliveCoverDaemonTests(ITestOutputHelper output)
{
    private static readonly Timers T = new(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(30),
        TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(2));

    private static readonly byte[] Key = Enumerable.Range(0, 32).Select(i => (byte)(i * 7 + 1)).ToArray();

    private sealed class Side : IDisposable
    {
        public required HeartbeatThread Thread { get; init; }
        public required ConcurrentQueue<MembershipEvent> Events { get; init; }
        public void Dispose() => Thread.Dispose();
    }

    private Side Start(int index, int port, bool watcher, ListLogger log, bool deferLogs = false)
    {
        var self = new NodeId((byte)(index + 1));
        var peer = new NodeId((byte)(2 - index));
        var local = IPAddress.Parse(index == 0 ? "127.0.0.1" : "127.0.0.2");
        var remote = IPAddress.Parse(index == 0 ? "127.0.0.2" : "127.0.0.1");
        var links = new LinkConfig[] { new UdpLinkConfig("lan0", local, remote, null, port) };
        var boot = new BootId((ulong)Random.Shared.NextInt64(1, long.MaxValue) | 1);
        var membership = new Membership(T, self, peer, boot, links.Length, TimeSpan.Zero);
        var node = new HeartbeatNode(new HeartbeatCodec(Key, "cover"), membership, self, T, links.Length)
        {
            LocalState = new StateSummary(index == 0 ? NodeRole.Active : NodeRole.Standby, HealthFlags.None, 1, index == 0 ? 1u : 0, 0, 0),
        };
        var events = new ConcurrentQueue<MembershipEvent>();
        var thread = new HeartbeatThread(node, links, LinkFactory.Open, T, index == 0 ? "beta" : "alpha", TimeProvider.System, log, events.Enqueue)
        {
            RescueEnabled = watcher,
        };
        if (deferLogs)
            thread.LogsReady = () => { }; // lines wait for WritePendingLogs, as the worker's writer thread writes them
        thread.Start();
        return new Side { Thread = thread, Events = events };
    }

    /// <summary>Starts the pair, waits until each sees the other up, holds alpha once for <paramref name="hold"/>, runs on a while.</summary>
    /// <summary>What alpha's status counted during the hold and after it (its start-up may have had a cover and a stall of its own: the JIT).</summary>
    private sealed record Counted(long Covers, long CoverTicks, int Stalls, PeerState Peer);

    private (List<MembershipEvent> BetaEvents, Counted Alpha, TimeSpan HeldAt) Run(TimeSpan hold, bool watcher, bool holdWatchersPass = false)
    {
        if (Environment.ProcessorCount < 2)
            throw new InvalidOperationException("the watcher needs a second CPU");
        int port = Random.Shared.Next(20_000, 60_000);
        var log = new ListLogger(output);
        using var alpha = Start(0, port, watcher, log);
        using var beta = Start(1, port, watcher: true, log);
        var deadline = Stopwatch.StartNew();
        while (!(Up(alpha) && Up(beta)))
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), "the pair did not come up");
            System.Threading.Thread.Sleep(10);
        }
        System.Threading.Thread.Sleep(300);
        beta.Events.Clear();
        var before = Status(alpha);

        int holds = 0;
        TimeSpan heldAt = TimeSpan.Zero;
        alpha.Thread.InsidePass = byWatcher =>
        {
            if (byWatcher != holdWatchersPass || Interlocked.Exchange(ref holds, 1) != 0)
                return;
            heldAt = beta.Thread.Now(); // beta's clock: its events are timed by it
            var until = Stopwatch.GetTimestamp() + (long)(hold.TotalSeconds * Stopwatch.Frequency);
            while (Stopwatch.GetTimestamp() < until)
                System.Threading.Thread.Sleep(1);
        };
        if (holdWatchersPass)
        {
            // This thread runs a pass as the watcher does (between two of the heartbeat thread's
            // passes) and is held inside it; the heartbeat thread wakes meanwhile and finds the loop held.
            var tries = Stopwatch.StartNew();
            while (!alpha.Thread.StepAsWatcher() && tries.Elapsed < TimeSpan.FromSeconds(2))
                System.Threading.Thread.Yield();
        }
        System.Threading.Thread.Sleep(hold + TimeSpan.FromMilliseconds(700));
        Assert.Equal(1, Volatile.Read(ref holds));
        var after = Status(alpha);
        var status = new Counted(after.Rescue.Covers - before.Rescue.Covers, after.Rescue.CoverTicks - before.Rescue.CoverTicks,
            after.StallCount - before.StallCount, after.Peer);
        output.WriteLine($"alpha during the hold and after: {status}, moves {after.Rescue.Rescues - before.Rescue.Rescues}");
        var events = beta.Events.ToList();
        foreach (var e in events)
            output.WriteLine($"beta: {e.Kind} at {(e.At - heldAt).TotalMilliseconds:F1} ms after the hold began, silence {e.Silence.TotalMilliseconds:F1} ms");
        return (events, status, heldAt);

        static bool Up(Side s) => Status(s).Peer == PeerState.Up;
        static HeartbeatStatus Status(Side s) => s.Thread.GetStatusAsync().WaitAsync(TimeSpan.FromSeconds(5)).GetAwaiter().GetResult();
    }

    [Fact]
    public void A_heartbeat_thread_held_three_deadtimes_inside_its_pass_is_covered_by_its_watcher()
    {
        var (events, alpha, _) = Run(TimeSpan.FromMilliseconds(150), watcher: true);
        Assert.DoesNotContain(events, e => e.Kind == MembershipEventKind.PeerDead);
        // The hold's cover; and perhaps one more of a tick or two by the heartbeat thread, for the
        // watcher's first pass of its own when that pass outlasts half a keepalive (JIT, this shared machine).
        Assert.InRange(alpha.Covers, 1, 2);
        // 150 ms held, from half a keepalive after it was due, one tick per 10 ms keepalive.
        Assert.InRange(alpha.CoverTicks, 8, 18);
        Assert.Equal(1, alpha.Stalls); // alpha's own silence is still reported by its stall guard
        Assert.Equal(PeerState.Up, alpha.Peer);
    }

    [Fact]
    public void A_watcher_held_inside_a_pass_it_runs_is_covered_by_the_heartbeat_thread()
    {
        // Alpha has no watcher of its own here: this test's thread runs the watcher's pass, so the
        // heartbeat thread is the only one that may cover (a real watcher would cover too, seeing the
        // heartbeat thread late, and double the cadence; on a host it is the watcher that is stopped).
        var (events, alpha, _) = Run(TimeSpan.FromMilliseconds(150), watcher: false, holdWatchersPass: true);
        Assert.DoesNotContain(events, e => e.Kind == MembershipEventKind.PeerDead);
        Assert.Equal(1, alpha.Covers);
        // The heartbeat thread finds the loop held at its next wake (within a keepalive), covers from
        // half a keepalive later, one tick per keepalive.
        Assert.InRange(alpha.CoverTicks, 8, 16);
        Assert.Equal(PeerState.Up, alpha.Peer);
    }

    [Fact]
    public void A_line_written_after_its_event_says_when_the_event_happened()
    {
        int port = Random.Shared.Next(20_000, 60_000);
        var alphaLog = new ListLogger(output);
        var betaLog = new ListLogger(output);
        using var alpha = Start(0, port, watcher: true, alphaLog, deferLogs: true);
        using var beta = Start(1, port, watcher: true, betaLog);
        var deadline = Stopwatch.StartNew();
        while (!alpha.Events.Any(e => e.Kind == MembershipEventKind.PeerUp) || betaLog.Count(1102) == 0)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), "the pair did not come up");
            System.Threading.Thread.Sleep(10);
        }
        Assert.Equal(0, alphaLog.Count(1102));
        System.Threading.Thread.Sleep(200);
        var written = DateTime.UtcNow;
        alpha.Thread.WritePendingLogs();
        // Alpha's line came 200 ms or more after the event, and says when the event was; beta's came at once.
        string late = Assert.Single(alphaLog.Entries, e => e.Id == 1102).Message;
        var m = System.Text.RegularExpressions.Regex.Match(late, @"^peer beta up \(at (\d\d:\d\d:\d\d\.\d{3}), (\d+)ms before this line\)$");
        Assert.True(m.Success, late);
        Assert.InRange(long.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), 200, 10_000);
        var at = DateTime.ParseExact(m.Groups[1].Value, "HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture);
        double beforeWritten = (written.TimeOfDay - at.TimeOfDay).TotalMilliseconds;
        if (beforeWritten < -12 * 3600_000)
            beforeWritten += 24 * 3600_000; // across midnight
        Assert.InRange(beforeWritten, 190, 10_000);
        string prompt = betaLog.Entries.First(e => e.Id == 1102).Message;
        var p = System.Text.RegularExpressions.Regex.Match(prompt, @"^peer alpha up( \(at \S+, (\d+)ms before this line\))?$");
        Assert.True(p.Success, prompt);
        if (p.Groups[2].Success) // its first pass (the JIT) may have run long on this shared machine, not 200 ms
            Assert.InRange(long.Parse(p.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), 5, 150);
    }

    [Fact]
    public void Without_the_watcher_the_same_hold_is_a_death()
    {
        var (events, alpha, _) = Run(TimeSpan.FromMilliseconds(150), watcher: false);
        Assert.Contains(events, e => e.Kind == MembershipEventKind.PeerDead);
        Assert.Equal(0, alpha.Covers);
    }

    [Fact]
    public void A_hold_past_the_covers_limit_is_a_death_the_limit_later()
    {
        var limit = KeepaliveCover.LongestCover;
        var (events, alpha, heldAt) = Run(limit + TimeSpan.FromMilliseconds(300), watcher: true);
        var dead = Assert.Single(events, e => e.Kind == MembershipEventKind.PeerDead);
        double after = (dead.At - heldAt).TotalMilliseconds;
        // Covered until the limit (counted from when alpha was due, within a keepalive of the hold),
        // then beta's deadtime; the upper bound leaves this shared machine 50 ms.
        Assert.InRange(after, (limit + T.Deadtime - T.Keepalive).TotalMilliseconds, (limit + T.Deadtime + TimeSpan.FromMilliseconds(50)).TotalMilliseconds);
        Assert.Equal(1, alpha.Covers);
    }
}
