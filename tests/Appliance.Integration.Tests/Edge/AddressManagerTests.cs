using System.Diagnostics;
using System.Net;
using Appliance.Core.Config;
using Appliance.Core.Ports;
using Appliance.Linux.Net;
using Appliance.Linux.Resources;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// AddressManager against the kernel: in a fresh network namespace with a veth pair (this kernel has
/// no dummy driver), every operation is checked with `ip -o addr show`; then VipResource on top of
/// it, and a timing comparison with spawning `ip` as VipResource used to.
/// </summary>
public sealed class AddressManagerTests(ITestOutputHelper output)
{
    private static readonly IpPrefix V4 = new(IPAddress.Parse("192.0.2.10"), 24);
    private static readonly IpPrefix V6 = new(IPAddress.Parse("2001:db8::10"), 64);

    [RootFact]
    public void Adds_and_removes_ipv4_and_ipv6_idempotently()
    {
        using var scratch = Scratch.Create(output);
        using AddressManager addresses = Edge.InNamespace(scratch.Namespace, AddressManager.Open);
        string link = scratch.Link;

        foreach (IpPrefix vip in new[] { V4, V6 })
        {
            AssertOutcome(AddressOutcomeKind.Absent, false, addresses.IsPresent(vip, link));
            AssertOutcome(AddressOutcomeKind.Present, true, addresses.Add(vip, link));
            string line = Assert.Single(scratch.Addresses(), l => l.Contains($" {vip} ", StringComparison.Ordinal));
            // The VIP answers at once: no duplicate address detection pending.
            Assert.DoesNotContain("tentative", line);
            AssertOutcome(AddressOutcomeKind.Present, false, addresses.IsPresent(vip, link));
            AddressOutcome again = addresses.Add(vip, link);
            AssertOutcome(AddressOutcomeKind.Present, false, again);
            Assert.Equal($"{vip} already on {link}", again.Reason);
            Assert.Single(scratch.Addresses(), l => l.Contains($" {vip} ", StringComparison.Ordinal));
        }
        foreach (IpPrefix vip in new[] { V4, V6 })
        {
            AssertOutcome(AddressOutcomeKind.Absent, true, addresses.Remove(vip, link));
            Assert.DoesNotContain(scratch.Addresses(), l => l.Contains($" {vip} ", StringComparison.Ordinal));
            AddressOutcome again = addresses.Remove(vip, link);
            AssertOutcome(AddressOutcomeKind.Absent, false, again);
            Assert.Equal($"{vip} was not on {link}", again.Reason);
            AssertOutcome(AddressOutcomeKind.Absent, false, addresses.IsPresent(vip, link));
        }
    }

    [RootFact]
    public void An_ipv6_address_there_with_another_prefix_length_is_not_taken_for_ours()
    {
        using var scratch = Scratch.Create(output);
        using AddressManager addresses = Edge.InNamespace(scratch.Namespace, AddressManager.Open);
        Edge.Run("ip", "-n", scratch.Namespace, "addr", "add", "2001:db8::10/80", "dev", scratch.Link, "nodad");

        AddressOutcome add = addresses.Add(V6, scratch.Link);
        output.WriteLine(add.Reason);
        AssertOutcome(AddressOutcomeKind.Error, false, add);
        Assert.Equal(Interop.Sys.EEXIST, add.Errno);
        Assert.Contains($"add {V6} to {scratch.Link}", add.Reason);
        Assert.Contains("EEXIST", add.Reason);
        AssertOutcome(AddressOutcomeKind.Absent, false, addresses.IsPresent(V6, scratch.Link));
        AssertOutcome(AddressOutcomeKind.Absent, false, addresses.Remove(V6, scratch.Link));
    }

    [Fact]
    public void A_missing_interface_is_named()
    {
        using AddressManager addresses = AddressManager.Open();
        foreach (AddressOutcome outcome in new[]
        {
            addresses.Add(V4, "apl-nosuchif"), addresses.Remove(V6, "apl-nosuchif"), addresses.IsPresent(V4, "apl-nosuchif"),
        })
        {
            output.WriteLine(outcome.Reason);
            AssertOutcome(AddressOutcomeKind.NoInterface, false, outcome);
            Assert.Equal(Interop.Sys.ENODEV, outcome.Errno);
            Assert.Contains("apl-nosuchif: no such interface in this network namespace, No such device (ENODEV, errno 19)", outcome.Reason);
        }
        Assert.StartsWith($"add {V4} to apl-nosuchif: ", addresses.Add(V4, "apl-nosuchif").Reason);
    }

    [RootFact]
    public void VipResource_keeps_its_outcomes()
    {
        using var scratch = Scratch.Create(output);
        var vip = new VipResource(new VipResourceConfig("vip", V6, scratch.Link));
        var missing = new VipResource(new VipResourceConfig("gone", V4, "apl-nosuchif"));
        // On a thread inside the namespace, where the daemon's own threads would be.
        List<ResourceOutcome> outcomes = Edge.InNamespace(scratch.Namespace, () => new List<ResourceOutcome>
        {
            vip.StartAsync(default).Result,
            vip.StartAsync(default).Result,
            vip.MonitorAsync(default).Result,
            vip.StopAsync(default).Result,
            vip.StopAsync(default).Result,
            vip.MonitorAsync(default).Result,
            missing.StartAsync(default).Result,
            missing.StopAsync(default).Result,
        });
        foreach (ResourceOutcome outcome in outcomes)
            output.WriteLine($"{outcome.Ok}: {outcome.Reason}");

        // The announcement fails here (RawFrameSender reads the host's /sys); the address is up all the same.
        Assert.True(outcomes[0].Ok);
        Assert.StartsWith($"{V6} on {scratch.Link}", outcomes[0].Reason);
        Assert.True(outcomes[1].Ok);
        Assert.Equal(ResourceOutcome.Done($"{V6} on {scratch.Link}"), outcomes[2]);
        Assert.Equal(ResourceOutcome.Done(), outcomes[3]);
        Assert.Equal(ResourceOutcome.Done("was not present"), outcomes[4]);
        Assert.Equal(ResourceOutcome.Failed($"{V6} is no longer on {scratch.Link}"), outcomes[5]);
        Assert.False(outcomes[6].Ok);
        Assert.Contains($"add {V4} to apl-nosuchif", outcomes[6].Reason);
        Assert.Contains("ENODEV", outcomes[6].Reason);
        Assert.Equal(ResourceOutcome.Done("was not present"), outcomes[7]);
    }

    /// <summary>Printed, not asserted: what one add + remove costs over rtnetlink and by spawning `ip` twice.</summary>
    [RootFact]
    public void Netlink_is_faster_than_spawning_ip()
    {
        const int rounds = 50;
        using var scratch = Scratch.Create(output);
        string ns = scratch.Namespace, link = scratch.Link;

        double[] netlink, perOperation;
        using (AddressManager addresses = Edge.InNamespace(ns, AddressManager.Open))
            netlink = Measure(rounds, () =>
            {
                Assert.True(addresses.Add(V4, link).Changed);
                Assert.True(addresses.Remove(V4, link).Changed);
            });
        // As VipResource does it: a socket of its own for each operation.
        perOperation = Edge.InNamespace(ns, () => Measure(rounds, () =>
        {
            using (AddressManager add = AddressManager.Open())
                Assert.True(add.Add(V4, link).Changed);
            using (AddressManager remove = AddressManager.Open())
                Assert.True(remove.Remove(V4, link).Changed);
        }));
        double[] spawned = Measure(rounds, () =>
        {
            Edge.Run("ip", "-n", ns, "-4", "addr", "add", V4.ToString(), "dev", link);
            Edge.Run("ip", "-n", ns, "addr", "del", V4.ToString(), "dev", link);
        });

        double n = Median(netlink), p = Median(perOperation), s = Median(spawned);
        output.WriteLine($"add + remove of {V4}, median of {rounds}: rtnetlink {n * 1000:F0} µs " +
            $"(socket per operation {p * 1000:F0} µs), `ip` spawned twice {s:F2} ms: {s / p:F0}x");
    }

    private static double[] Measure(int rounds, Action action)
    {
        action(); // warm-up: JIT, first socket
        var times = new double[rounds];
        for (int i = 0; i < rounds; i++)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        return times;
    }

    private static double Median(double[] values) => values.Order().ElementAt(values.Length / 2);

    private static void AssertOutcome(AddressOutcomeKind kind, bool changed, AddressOutcome outcome)
        => Assert.True(outcome.Kind == kind && outcome.Changed == changed,
            $"want {kind} (changed {changed}), got {outcome.Kind} (changed {outcome.Changed}, errno {outcome.Errno}): {outcome.Reason}");

    /// <summary>A fresh namespace apl-nl-ID holding a veth pair anlIDa/anlIDb, both up; deleted on dispose, links and all.</summary>
    private sealed class Scratch(string ns, string link, ITestOutputHelper output) : IDisposable
    {
        public string Namespace { get; } = ns;
        public string Link { get; } = link;

        public static Scratch Create(ITestOutputHelper output)
        {
            string id = Random.Shared.Next(0x100000, 0xFFFFFF).ToString("x6");
            var scratch = new Scratch($"apl-nl-{id}", $"anl{id}a", output);
            try
            {
                string peer = $"anl{id}b";
                Edge.Run("ip", "netns", "add", scratch.Namespace);
                Edge.Run("ip", "-n", scratch.Namespace, "link", "add", scratch.Link, "type", "veth", "peer", "name", peer);
                Edge.Run("ip", "-n", scratch.Namespace, "link", "set", scratch.Link, "up");
                Edge.Run("ip", "-n", scratch.Namespace, "link", "set", peer, "up");
                Edge.WaitLinkUp(scratch.Namespace, scratch.Link);
                output.WriteLine($"namespace {scratch.Namespace}, link {scratch.Link}");
                return scratch;
            }
            catch
            {
                scratch.Dispose();
                throw;
            }
        }

        /// <summary>`ip -o addr show dev LINK`, one line per address.</summary>
        public string[] Addresses() => Edge.Run("ip", "-n", Namespace, "-o", "addr", "show", "dev", Link)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);

        public void Dispose()
        {
            try
            {
                Edge.Run("ip", "netns", "del", Namespace);
            }
            catch (InvalidOperationException ex)
            {
                output.WriteLine($"cleanup: {ex.Message}");
            }
        }
    }
}
