using Appliance.Core.Arbiter;
using Appliance.Core.Fencing;
using Appliance.Core.Heartbeat;
using Appliance.Core.Membership;
using Xunit.Abstractions;
using Fault = Appliance.Simulation.Tests.HeartbeatSimulation.Fault;

namespace Appliance.Simulation.Tests;

/// <summary>
/// Two real Core nodes with the arbiter, simulated resources (start/stop take time, a stop may
/// fail) and fence devices driven by the real fencing controller (a device that works, is slow,
/// fails, hangs or lies: acknowledges off and switches nothing), under
/// seeded fault schedules. After every step: never both nodes holding resources; and once the
/// world has been calm long enough, exactly one healthy node is active.
/// </summary>
public class ArbiterSimulationTests(ITestOutputHelper output)
{
    /// <summary>Schedules per CI run; APPLIANCE_SIM_SEEDS sets another number (a soak, or a quick run).</summary>
    public static readonly int Seeds = int.TryParse(Environment.GetEnvironmentVariable("APPLIANCE_SIM_SEEDS"), out int n) ? n : 10_000;
    private static readonly TimeSpan Virtual = TimeSpan.FromSeconds(30);

    [Fact]
    public void Seeded_fault_schedules_never_let_both_nodes_hold_resources()
    {
        // Seeds are independent: run them on every core; report the lowest failing seeds.
        var failures = new System.Collections.Concurrent.ConcurrentBag<(int Seed, string Error)>();
        int activeChecks = 0;
        Parallel.For(1, Seeds + 1, (seed, state) =>
        {
            int checks = 0;
            var error = Run(seed, trace: false, out _, ref checks);
            Interlocked.Add(ref activeChecks, checks);
            if (error is not null)
            {
                failures.Add((seed, $"seed {seed}: {error}  (replay: make sim SEED={seed} SIM=arbiter)"));
                if (failures.Count >= 3)
                    state.Stop();
            }
        });
        Assert.True(failures.IsEmpty, string.Join("\n", failures.OrderBy(f => f.Seed).Select(f => f.Error)));
        output.WriteLine($"{Seeds} schedules of {Virtual.TotalSeconds} s virtual time; liveness checked at {activeChecks} calm instants");
    }

    [Fact]
    [Trait("Category", "Replay")]
    public void Replay_one_arbiter_seed_with_a_trace()
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("APPLIANCE_SIM_SEED"), out int s) ? s : 1;
        int checks = 0;
        var error = Run(seed, trace: true, out string trace, ref checks);
        output.WriteLine(trace);
        Assert.True(error is null, $"seed {seed}: {error}");
    }

    [Theory]
    [InlineData("active power cut")]
    [InlineData("active frozen then thawed")]
    [InlineData("both frozen past deadtime")]
    [InlineData("serial cut only")]
    [InlineData("udp cut only")]
    [InlineData("full partition with both alive")]
    [InlineData("fence device dead")]
    [InlineData("fence device lies")]
    [InlineData("fence device slow")]
    [InlineData("both nodes booting at once")]
    [InlineData("flapping link")]
    [InlineData("active terminated")]
    [InlineData("standby terminated")]
    [InlineData("operator fence during automatic rounds")]
    public void Classic_cases(string name)
    {
        var sim = new HeartbeatSimulation(777, trace: true, withArbiter: true);
        var t = sim.Timers;
        void Safe() => Invariants(sim);
        NodeRole? RoleOf(int n) => sim.HostOf(n)?.Role;
        sim.RunUntil(sim.Now + TimeSpan.FromSeconds(3), Safe);
        Assert.Equal(NodeRole.Active, RoleOf(0)); // node 0 is preferred
        Assert.Equal(NodeRole.Standby, RoleOf(1));
        // A lone healthy node with a working fence device is active within this bound: detection,
        // fence_delay (a standby fencing an active peer waits it, up to 400 ms more), the fence
        // itself (off and a verifying status, 50 ms each), the start (100 ms), and a few keepalives.
        TimeSpan bound = t.Deadtime + HeartbeatSimulation.FenceDelay + TimeSpan.FromMilliseconds(400 + 100 + 100) + 5 * t.Keepalive;
        var cut = HeartbeatSimulation.Healthy with { Name = "cut", Cut = true };
        TimeSpan t0 = sim.Now;
        try
        {
            switch (name)
            {
                case "active power cut":
                    sim.Crash(0);
                    sim.RunUntil(t0 + bound, Safe);
                    Assert.Equal(NodeRole.Active, RoleOf(1));
                    break;
                case "active frozen then thawed":
                    sim.Freeze(0, 4 * t.Deadtime);
                    sim.RunUntil(t0 + bound, Safe);
                    Assert.Equal(NodeRole.Active, RoleOf(1)); // it fenced the frozen node
                    Assert.False(sim.IsRunning(0));
                    break;
                case "both frozen past deadtime":
                    // One host, one hypervisor: both nodes lose the CPU past deadtime, the standby a
                    // little longer. Neither declared the other dead, so nothing moves: the active's
                    // stall guard asks, and the standby answers that it stayed standby.
                    for (int round = 0; round < 5; round++)
                    {
                        var frozen = 2 * t.Deadtime;
                        sim.Freeze(0, frozen);
                        sim.Freeze(1, frozen + TimeSpan.FromMilliseconds(sim.NextInt(0, (int)(2 * t.Keepalive.TotalMilliseconds))));
                        sim.RunUntil(sim.Now + frozen + 2 * t.Deadtime, () =>
                        {
                            Safe();
                            Assert.True(sim.Holds(0), $"round {round}: node 0 released at {sim.Now.TotalMilliseconds:0} ms");
                            Assert.NotEqual(NodeRole.Releasing, RoleOf(0));
                        });
                        Assert.Equal(NodeRole.Active, RoleOf(0));
                        Assert.Equal(NodeRole.Standby, RoleOf(1));
                    }
                    Assert.Equal(5, sim.MembershipOf(0)!.StallCount);
                    Assert.True(sim.IsRunning(0) && sim.IsRunning(1)); // nobody fenced
                    break;
                case "serial cut only":
                case "udp cut only":
                    int link = name.StartsWith("serial") ? 0 : 1;
                    sim.Faults[0, link] = sim.Faults[1, link] = cut;
                    sim.RunUntil(t0 + 3 * t.Deadtime, Safe);
                    Assert.Equal(NodeRole.Active, RoleOf(0));
                    Assert.Equal(NodeRole.Standby, RoleOf(1));
                    break;
                case "full partition with both alive":
                    sim.SetAll(cut);
                    sim.RunUntil(t0 + bound, Safe);
                    Assert.Single(new[] { 0, 1 }, n => sim.IsRunning(n)); // one fenced the other
                    Assert.Equal(NodeRole.Active, RoleOf(sim.IsRunning(0) ? 0 : 1));
                    break;
                case "fence device dead":
                case "fence device lies":
                    // Hangs: every action times out. Lies: acknowledges off, switches nothing, so
                    // with the active node alive (frozen here) the status read catches it.
                    sim.FenceDevice[1] = name.EndsWith("dead") ? HeartbeatSimulation.FenceBehaviour.Hangs : HeartbeatSimulation.FenceBehaviour.Lies;
                    if (name.EndsWith("dead")) sim.Crash(0); else sim.Freeze(0, TimeSpan.FromSeconds(20));
                    sim.RunUntil(t0 + 3 * bound, Safe);
                    Assert.Equal(NodeRole.Fencing, RoleOf(1)); // no takeover without a verified fence, still trying
                    Assert.False(sim.Holds(1));
                    Assert.True(sim.HostOf(1)!.Fencing.RoundsFailed >= 1);
                    sim.FenceDevice[1] = HeartbeatSimulation.FenceBehaviour.Works;
                    sim.RunUntil(sim.Now + FencingLimits.RoundBackoffMax + bound, Safe);
                    Assert.Equal(NodeRole.Active, RoleOf(1));
                    Assert.False(sim.IsRunning(0));
                    break;
                case "fence device slow":
                    // Past its 2 s timeout the controller retries; the late switch still lands. Each
                    // action answers in 0.5-3 s against a 2 s timeout, so a round passes about one time
                    // in three: allow several rounds with their backoff rather than a lucky draw.
                    sim.FenceDevice[1] = HeartbeatSimulation.FenceBehaviour.Slow;
                    sim.Crash(0);
                    sim.RunUntil(t0 + bound + 4 * FencingLimits.RoundBackoffMax + TimeSpan.FromSeconds(12), Safe);
                    Assert.Equal(NodeRole.Active, RoleOf(1));
                    break;
                case "both nodes booting at once":
                    sim.Crash(0);
                    sim.Crash(1);
                    sim.Boot(0);
                    sim.Boot(1);
                    sim.RunUntil(sim.Now + t.Initdead + bound, Safe);
                    Assert.Equal(NodeRole.Active, RoleOf(0));
                    Assert.Equal(NodeRole.Standby, RoleOf(1));
                    break;
                case "active terminated":
                    // SIGTERM of the holder: a planned switchover, no fence, and the leaver holds nothing.
                    sim.Terminate(0);
                    sim.RunUntil(t0 + TimeSpan.FromMilliseconds(500) + 3 * t.Keepalive, Safe);
                    Assert.False(sim.IsRunning(0));
                    Assert.True(sim.IsPowered(0)); // not fenced
                    Assert.False(sim.Holds(0));
                    Assert.Equal(NodeRole.Active, RoleOf(1));
                    Assert.Equal(PeerState.Stopped, sim.MembershipOf(1)!.Peer);
                    Assert.Null(sim.HostOf(1)!.Fencing.VerifiedAt);
                    break;
                case "standby terminated":
                    sim.Terminate(1);
                    sim.RunUntil(t0 + 3 * bound, Safe);
                    Assert.False(sim.IsRunning(1));
                    Assert.True(sim.IsPowered(1)); // the active node did not cut its power
                    Assert.Equal(PeerState.Stopped, sim.MembershipOf(0)!.Peer);
                    Assert.Equal(NodeRole.Active, RoleOf(0));
                    sim.Boot(1); // restarted: met again, standby
                    sim.RunUntil(sim.Now + t.Initdead, Safe);
                    Assert.Equal(PeerState.Up, sim.MembershipOf(0)!.Peer);
                    Assert.Equal(NodeRole.Standby, RoleOf(1));
                    break;
                case "operator fence during automatic rounds":
                    // The automatic rounds hold the devices: an operator's fence is refused, never run alongside.
                    sim.FenceDevice[1] = HeartbeatSimulation.FenceBehaviour.Hangs;
                    sim.Crash(0);
                    sim.RunUntil(t0 + t.Deadtime + TimeSpan.FromMilliseconds(50), Safe);
                    sim.RunUntil(sim.Now + HeartbeatSimulation.FenceDelay + TimeSpan.FromMilliseconds(500), Safe);
                    Assert.True(sim.HostOf(1)!.Fencing.AutoActive);
                    Assert.NotNull(sim.OperatorFence(1));
                    break;
                case "flapping link":
                    for (int i = 0; i < 30; i++)
                    {
                        sim.Faults[0, 1] = sim.Faults[1, 1] = i % 2 == 0 ? cut : HeartbeatSimulation.Healthy;
                        sim.RunUntil(sim.Now + TimeSpan.FromMilliseconds(sim.NextInt(10, 400)), Safe);
                    }
                    Assert.Equal(NodeRole.Active, RoleOf(0)); // serial carried it: nothing moved
                    Assert.Equal(NodeRole.Standby, RoleOf(1));
                    break;
            }
        }
        catch (Exception)
        {
            output.WriteLine(sim.Trace);
            throw;
        }
    }

    private static string? Run(int seed, bool trace, out string traceText, ref int activeChecks)
    {
        var probe = new Random(seed);
        var sim = new HeartbeatSimulation(seed, trace, withArbiter: true, autoFailback: probe.Next(2) == 0)
        {
            StopFailure = probe.Next(4) == 0 ? 0.05 : 0,
            StartFailure = probe.Next(4) == 0 ? 0.05 : 0,
            MonitorFailure = probe.Next(4) == 0 ? 0.1 : 0,
        };
        var t = sim.Timers;
        // Calm long enough for: initdead, detection, fence_delay, a slow device's retries
        // (2 x 2 s timeouts + backoff + the next round's wait), start, and margin.
        TimeSpan calmNeeded = t.Initdead + 2 * t.Deadtime + HeartbeatSimulation.FenceDelay + FencingLimits.RoundBackoffMax
                              + TimeSpan.FromSeconds(6) + 10 * t.Keepalive;
        TimeSpan calmSince = sim.Now;
        TimeSpan end = sim.Now + Virtual;
        int checks = 0;
        try
        {
            void Check()
            {
                Invariants(sim);
                bool calm = Calm(sim);
                if (!calm)
                {
                    calmSince = sim.Now;
                    return;
                }
                if (sim.Now - calmSince < calmNeeded)
                    return;
                checks++;
                int active = Enumerable.Range(0, 2).Count(n => sim.HostOf(n)?.Role == NodeRole.Active);
                if (active != 1)
                    throw new InvariantException($"no liveness: {active} active nodes after a calm stretch since {calmSince.TotalMilliseconds:0} ms " +
                        $"(roles {sim.HostOf(0)?.Role}/{sim.HostOf(1)?.Role})");
            }

            while (sim.Now < end)
            {
                if (!Phase(sim))
                    calmSince = sim.Now;
                sim.RunUntil(sim.Now + TimeSpan.FromMilliseconds(sim.NextInt(100, 3000)) < end ? sim.Now + TimeSpan.FromMilliseconds(sim.NextInt(100, 3000)) : end, Check);
            }
            activeChecks += checks;
            traceText = sim.Trace;
            return null;
        }
        catch (InvariantException e)
        {
            traceText = sim.Trace;
            return e.Message;
        }
    }

    /// <summary>
    /// The safety invariants, after every step: no resource in effect on both nodes at once (a start
    /// counts from the moment it is issued, a failed stop keeps it in effect until a power cut); a
    /// node whose stop failed is never treated as clean while it runs (its peer starts nothing); and
    /// every automatic fence round is going somewhere (a device answer awaited, a wait that ends,
    /// or the next round scheduled), or it ended with a verified off or a reported failure.
    /// </summary>
    internal static void Invariants(HeartbeatSimulation sim)
    {
        if (sim.Holds(0) && sim.Holds(1))
            throw new InvariantException($"both nodes hold resources at {sim.Now.TotalMilliseconds:0} ms");
        for (int n = 0; n < 2; n++)
        {
            var h = sim.HostOf(n);
            var peer = sim.HostOf(1 - n);
            // A takeover (nothing held -> starting) while this node announces a failed stop.
            if (h?.Resources == LocalResources.StopFailed && peer?.Resources is LocalResources.Starting or LocalResources.Started &&
                sim.Seen[1 - n] is LocalResources.Stopped)
                throw new InvariantException($"node {1 - n} takes over while node {n}'s stop failed and it was not fenced, at {sim.Now.TotalMilliseconds:0} ms");
            if (h is not null && h.Fencing.AutoActive && !h.Fencing.DeviceBusy && h.Fencing.NextWake() == TimeSpan.MaxValue)
                throw new InvariantException($"node {n}'s fencing round is stuck ({h.Fencing.Phase}: {h.Fencing.Progress}) at {sim.Now.TotalMilliseconds:0} ms");
        }
        for (int n = 0; n < 2; n++)
            sim.Seen[n] = sim.HostOf(n)?.Resources;
    }

    /// <summary>
    /// Calm: links healthy, nobody frozen, at least one node running with a working fence device and
    /// healthy, no stop failure pending. (A dead fence device or a failed stop blocks takeover on purpose.)
    /// </summary>
    private static bool Calm(HeartbeatSimulation sim)
    {
        for (int a = 0; a < 2; a++)
            for (int l = 0; l < 2; l++)
                if (sim.Faults[a, l] != HeartbeatSimulation.Healthy)
                    return false;
        bool anyCandidate = false;
        for (int n = 0; n < 2; n++)
        {
            if (sim.IsFrozen(n))
                return false;
            var h = sim.HostOf(n);
            if (h is null)
            {
                if (sim.Holds(n))
                    return false; // a daemon that exited holding something: its box must be fenced first
                continue;
            }
            if (h.Resources == LocalResources.StopFailed || !sim.FenceWorks(n))
                return false;
            if (h.Healthy && !h.Snapshot().StandbyRequested)
                anyCandidate = true;
        }
        return anyCandidate;
    }

    /// <summary>Applies a random phase; returns true when it changed nothing (a calm phase).</summary>
    private static bool Phase(HeartbeatSimulation sim)
    {
        bool booted = false;
        for (int n = 0; n < 2; n++)
            if (!sim.IsRunning(n) && sim.NextDouble() < 0.7)
            {
                sim.Boot(n);
                booted = true;
            }
        sim.SetAll(HeartbeatSimulation.Healthy);
        var cut = HeartbeatSimulation.Healthy with { Name = "cut", Cut = true };
        int node = sim.NextInt(0, 2);
        switch (sim.NextInt(0, 100))
        {
            case < 30: sim.Log("phase: calm"); return !booted;
            case < 36: sim.Log("phase: serial cut"); sim.Faults[0, 0] = sim.Faults[1, 0] = cut; break;
            case < 42: sim.Log("phase: udp cut"); sim.Faults[0, 1] = sim.Faults[1, 1] = cut; break;
            case < 50: sim.Log("phase: full partition, both alive"); sim.SetAll(cut); break;
            case < 55: sim.Log("phase: lossy links"); sim.SetAll(new Fault("lossy", 0.3, false, 0.05, 0.1, TimeSpan.FromMilliseconds(30))); break;
            case < 60: sim.Log($"phase: one-way cut from {node}"); sim.Faults[node, 0] = sim.Faults[node, 1] = cut; break;
            case < 67: sim.Freeze(node, TimeSpan.FromMilliseconds(sim.NextInt(50, 3000))); break;
            case < 72: sim.Crash(node); break;
            case < 76: sim.Terminate(node); break;
            case < 78: sim.OperatorFence(node); break;
            case < 82: sim.Request(node, OperatorRequest.Standby); break;
            case < 86: sim.Request(node, OperatorRequest.Takeover); break;
            case < 89: sim.SetHealthy(node, false); break;
            case < 94: sim.SetHealthy(node, true); sim.SetHealthy(1 - node, true); break;
            case < 97:
                sim.FenceDevice[node] = (HeartbeatSimulation.FenceBehaviour)sim.NextInt(1, 5); // slow, fails, hangs or lies
                sim.Log($"node {node}'s fence device now {sim.FenceDevice[node]}");
                break;
            default:
                sim.FenceDevice[0] = sim.FenceDevice[1] = HeartbeatSimulation.FenceBehaviour.Works;
                sim.Log("fence devices repaired");
                break;
        }
        return false;
    }
}
