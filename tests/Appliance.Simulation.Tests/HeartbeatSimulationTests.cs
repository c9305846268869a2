using Appliance.Core.Membership;
using Xunit.Abstractions;
using Fault = Appliance.Simulation.Tests.HeartbeatSimulation.Fault;

namespace Appliance.Simulation.Tests;

/// <summary>
/// Seeded fault schedules over the heartbeat pair with invariants checked after every step. A failure
/// prints its seed; `make sim SEED=n` replays that one schedule with a readable trace.
/// </summary>
public class HeartbeatSimulationTests(ITestOutputHelper output)
{
    /// <summary>Schedules per CI run; each is 30 s of virtual time at random timers (keepalive 20..200 ms).</summary>
    public const int Seeds = 5000;

    private static readonly TimeSpan Virtual = TimeSpan.FromSeconds(30);

    /// <summary>Largest delay any fault phase puts on a frame.</summary>
    private static readonly TimeSpan MaxDelay = TimeSpan.FromMilliseconds(30);

    [Fact]
    public void Thousands_of_seeded_fault_schedules_keep_the_invariants()
    {
        var failures = new List<string>();
        for (int seed = 1; seed <= Seeds && failures.Count < 3; seed++)
        {
            var error = RunSchedule(seed, trace: false, out _);
            if (error is not null)
                failures.Add($"seed {seed}: {error}  (replay: make sim SEED={seed})");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        output.WriteLine($"{Seeds} schedules of {Virtual.TotalSeconds} s virtual time each kept every invariant");
    }

    [Fact]
    [Trait("Category", "Replay")]
    public void Replay_one_seed_with_a_trace()
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("APPLIANCE_SIM_SEED"), out int s) ? s : 1;
        var error = RunSchedule(seed, trace: true, out string trace);
        output.WriteLine(trace);
        Assert.True(error is null, $"seed {seed}: {error}");
    }

    /// <summary>The classic cases, run at the seed's timers and again at the fastest.</summary>
    public static TheoryData<string> ClassicNames => new()
    {
        "active power cut", "frozen then thawed", "serial cut only", "udp cut only", "full partition", "both booting at once", "flapping link",
        "both frozen briefly",
    };

    [Theory]
    [MemberData(nameof(ClassicNames))]
    public void Classic_cases(string name) => Classic(name, null);

    /// <summary>
    /// The same at the fastest timers (keepalive 2 ms, deadtime 6 ms): the serial link at 115200 baud
    /// cannot carry a frame every 2 ms, runs at its own multiple of the cadence and is judged against
    /// it, so cutting the UDP link alone (or flapping it) never costs the peer.
    /// </summary>
    [Theory]
    [MemberData(nameof(ClassicNames))]
    public void Classic_cases_at_the_fastest_timers(string name)
    {
        var fast = new Core.Config.Timers(TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(4), TimeSpan.FromMilliseconds(6), TimeSpan.FromSeconds(2));
        var sim = Classic(name, fast);
        Assert.Equal(1, sim.LinkTimers[1].EveryTicks); // UDP at the cluster's cadence
        Assert.True(sim.LinkTimers[0].EveryTicks > 1, $"serial every {sim.LinkTimers[0].EveryTicks} ticks");
    }

    private static HeartbeatSimulation Classic(string name, Core.Config.Timers? timers)
    {
        var sim = new HeartbeatSimulation(4242, trace: true, timers: timers);
        var checker = new Invariants(sim);
        sim.RunUntil(sim.Now + TimeSpan.FromSeconds(3), checker.Check);
        Assert.Equal(PeerState.Up, sim.MembershipOf(0)!.Peer);
        Assert.Equal(PeerState.Up, sim.MembershipOf(1)!.Peer);
        TimeSpan t0 = sim.Now;
        switch (name)
        {
            case "active power cut":
                sim.Crash(0);
                checker.Disturbed();
                sim.RunUntil(t0 + sim.PeerDeadtime + TimeSpan.FromMilliseconds(50), checker.Check);
                Assert.Equal(PeerState.Dead, sim.MembershipOf(1)!.Peer);
                sim.Boot(0);
                break;
            case "frozen then thawed":
                sim.Freeze(0, 3 * sim.PeerDeadtime);
                checker.Disturbed();
                sim.RunUntil(t0 + sim.PeerDeadtime + TimeSpan.FromMilliseconds(50), checker.Check);
                Assert.Equal(PeerState.Dead, sim.MembershipOf(1)!.Peer);
                sim.RunUntil(t0 + 3 * sim.PeerDeadtime + TimeSpan.FromMilliseconds(50), checker.Check);
                Assert.Equal(1, sim.MembershipOf(0)!.StallCount);
                break;
            case "serial cut only":
            case "udp cut only":
                int link = name.StartsWith("serial") ? 0 : 1;
                sim.Faults[0, link] = sim.Faults[1, link] = HeartbeatSimulation.Healthy with { Name = "cut", Cut = true };
                sim.RunUntil(t0 + 3 * sim.PeerDeadtime, checker.Check);
                Assert.Equal(PeerState.Up, sim.MembershipOf(0)!.Peer);
                Assert.Equal(LinkState.Down, sim.MembershipOf(0)!.LinkStateOf(link));
                Assert.Equal(LinkState.Up, sim.MembershipOf(0)!.LinkStateOf(1 - link));
                break;
            case "full partition":
                sim.SetAll(HeartbeatSimulation.Healthy with { Name = "cut", Cut = true });
                sim.RunUntil(t0 + sim.PeerDeadtime + TimeSpan.FromMilliseconds(50), checker.Check);
                Assert.Equal(PeerState.Dead, sim.MembershipOf(0)!.Peer);
                Assert.Equal(PeerState.Dead, sim.MembershipOf(1)!.Peer);
                break;
            case "both booting at once":
                sim.Crash(0);
                sim.Crash(1);
                sim.Boot(0);
                sim.Boot(1);
                checker.Disturbed();
                break;
            case "both frozen briefly":
                // One host, one hypervisor: both nodes lose the CPU together for most of a deadtime.
                // Each resumes to a UDP silence at or past that link's deadtime, yet the peer is alive:
                // the link stays up, because a node back from a late wake-up gives the peer two
                // keepalives to answer before it judges (Membership.CheckStall).
                var brief = sim.Timers.Deadtime * 0.8;
                Assert.True(brief > 2 * sim.Timers.Keepalive);
                for (int round = 0; round < 10; round++)
                {
                    sim.Freeze(0, brief);
                    sim.Freeze(1, brief);
                    sim.RunUntil(sim.Now + brief + 3 * sim.LinkTimers.Max(l => l.Keepalive) + TimeSpan.FromMilliseconds(sim.NextInt(0, 20)), () =>
                    {
                        checker.Check();
                        for (int n = 0; n < 2; n++)
                        {
                            var m = sim.MembershipOf(n)!;
                            Assert.True(m.Peer is PeerState.Up or PeerState.Warn, $"round {round}: node {n} sees its peer {m.Peer}");
                            Assert.True(m.LinkStateOf(1) == LinkState.Up, $"round {round}: node {n} judged UDP down after a freeze of {brief.TotalMilliseconds} ms");
                        }
                    });
                }
                Assert.True(sim.MembershipOf(0)!.LateWakes > 0);
                break;
            case "flapping link":
                for (int i = 0; i < 20; i++)
                {
                    sim.Faults[0, 1] = sim.Faults[1, 1] = HeartbeatSimulation.Healthy with { Name = "flap", Cut = i % 2 == 0 };
                    sim.RunUntil(sim.Now + TimeSpan.FromMilliseconds(sim.NextInt(10, 400)), checker.Check);
                    Assert.Equal(PeerState.Up, sim.MembershipOf(0)!.Peer); // serial carries it throughout
                }
                break;
        }
        sim.SetAll(HeartbeatSimulation.Healthy);
        sim.RunUntil(sim.Now + 2 * sim.PeerDeadtime + TimeSpan.FromSeconds(2), checker.Check);
        Assert.Equal(PeerState.Up, sim.MembershipOf(0)!.Peer);
        Assert.Equal(PeerState.Up, sim.MembershipOf(1)!.Peer);
        return sim;
    }

    private static string? RunSchedule(int seed, bool trace, out string traceText)
    {
        var sim = new HeartbeatSimulation(seed, trace);
        var checker = new Invariants(sim);
        TimeSpan end = sim.Now + Virtual;
        try
        {
            sim.Log($"timers keepalive {sim.Timers.Keepalive.TotalMilliseconds} ms, warntime {sim.Timers.Warntime.TotalMilliseconds} ms, deadtime {sim.Timers.Deadtime.TotalMilliseconds} ms");
            while (sim.Now < end)
            {
                var phase = TimeSpan.FromMilliseconds(sim.NextInt(100, 3000));
                ApplyRandomPhase(sim, checker);
                sim.RunUntil(Min(end, sim.Now + phase), checker.Check);
            }
            traceText = sim.Trace;
            return null;
        }
        catch (InvariantException e)
        {
            traceText = sim.Trace;
            return e.Message;
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static void ApplyRandomPhase(HeartbeatSimulation sim, Invariants checker)
    {
        int pick = sim.NextInt(0, 100);
        var cut = HeartbeatSimulation.Healthy with { Name = "cut", Cut = true };
        var lossy = new Fault("lossy", 0.3, false, 0.05, 0.1, MaxDelay);
        for (int n = 0; n < 2; n++)
            if (!sim.IsRunning(n))
            {
                sim.Boot(n);
                checker.Disturbed();
            }
        sim.SetAll(HeartbeatSimulation.Healthy);
        switch (pick)
        {
            case < 35: sim.Log("phase: healthy"); break;
            case < 43: sim.Log("phase: serial cut"); sim.Faults[0, 0] = sim.Faults[1, 0] = cut; break;
            case < 51: sim.Log("phase: udp cut"); sim.Faults[0, 1] = sim.Faults[1, 1] = cut; break;
            case < 59: sim.Log("phase: full partition"); sim.SetAll(cut); break;
            case < 67: sim.Log("phase: lossy, corrupting, duplicating, reordering links"); sim.SetAll(lossy); break;
            case < 73:
                int from = sim.NextInt(0, 2);
                sim.Log($"phase: one-way cut from node {from}");
                sim.Faults[from, 0] = sim.Faults[from, 1] = cut;
                break;
            case < 81:
                sim.Log("phase: freeze");
                sim.Freeze(sim.NextInt(0, 2), TimeSpan.FromMilliseconds(sim.NextInt(50, 3000)));
                checker.Disturbed();
                break;
            case < 89:
                sim.Log("phase: power cut");
                sim.Crash(sim.NextInt(0, 2));
                checker.Disturbed();
                break;
            default:
                sim.Log("phase: adversary replays recorded frames");
                sim.Replay(sim.NextInt(1, 50));
                break;
        }
    }
}

public sealed class InvariantException(string message) : Exception(message);

/// <summary>
/// The invariants, checked after every simulation step:
/// 1. no false life: a node sees its peer up/warn only if the peer really sent a frame within
///    deadtime + the acknowledgement freshness bound + the largest link delay (or this node thawed
///    from a stall within deadtime); a held-back or replayed frame can stretch life by no more;
/// 2. detection: a running, unfrozen node that has had no genuine frame from its peer delivered for
///    deadtime (and is past initdead and any stall) sees it dead;
///    (in both, deadtime counts twice while the node is in a stall's grace, Membership.StallGraceWindow)
/// 3. liveness: after a long enough healthy stretch, both see each other up.
/// </summary>
internal sealed class Invariants(HeartbeatSimulation sim)
{
    private static readonly TimeSpan Slack = TimeSpan.FromMilliseconds(30);
    private TimeSpan _disturbedAt = sim.Now;

    public void Disturbed() => _disturbedAt = sim.Now;

    public void Check()
    {
        var t = sim.Timers;
        TimeSpan dead = sim.PeerDeadtime;
        for (int n = 0; n < 2; n++)
        {
            bool frozen = sim.IsFrozen(n);
            var m = sim.MembershipOf(n);
            if (m is null || frozen)
                continue;
            int peer = 1 - n;
            int graceFactor = sim.Now < m.StallGraceUntil ? 2 : 1;
            bool recentlyThawed = sim.Now - sim.ThawedAt(n) <= graceFactor * dead + Slack;
            if (m.Peer is PeerState.Up or PeerState.Warn && !recentlyThawed &&
                sim.Now - sim.LastSent(peer) > graceFactor * dead + sim.MaxAckFreshness + Slack)
                throw new InvariantException(
                    $"false life: node {n} sees its peer {m.Peer} at {sim.Now.TotalMilliseconds:0} ms but the peer last sent at {sim.LastSent(peer).TotalMilliseconds:0} ms (slowest link's deadtime {dead.TotalMilliseconds} ms)");
            if (m.LastLife is { } life && m.Peer != PeerState.Dead && !recentlyThawed &&
                sim.Now - sim.StartedAt(n) > t.Initdead && EveryLinkPastItsDeadtime(m, graceFactor))
                throw new InvariantException(
                    $"missed death: node {n} last heard its peer at {life.TotalMilliseconds:0} ms, now {sim.Now.TotalMilliseconds:0} ms, " +
                    $"every link silent past its own deadtime ({string.Join(", ", sim.LinkTimers.Select(l => $"{l.Deadtime.TotalMilliseconds} ms"))}), still {m.Peer}");
        }
        bool healthyLongEnough = sim.Now - _disturbedAt > 2 * dead + 4 * sim.LinkTimers.Max(l => l.Keepalive) + t.Initdead;
        if (healthyLongEnough && AllHealthy())
        {
            for (int n = 0; n < 2; n++)
                if (sim.MembershipOf(n) is { } m && m.Peer != PeerState.Up && sim.Now - _healthySince > 2 * dead + 4 * sim.LinkTimers.Max(l => l.Keepalive))
                    throw new InvariantException($"no liveness: node {n} sees its peer {m.Peer} after a healthy stretch since {_healthySince.TotalMilliseconds:0} ms");
        }
        if (!AllHealthy())
            _healthySince = sim.Now;
    }

    private TimeSpan _healthySince = sim.Now;

    /// <summary>Each link judged against its own cadence: silent on every link for that link's deadtime.</summary>
    private bool EveryLinkPastItsDeadtime(Appliance.Core.Membership.Membership m, int graceFactor)
    {
        for (int i = 0; i < sim.LinkTimers.Length; i++)
            if (m.LinkLastLife(i) is { } heard && sim.Now - heard <= graceFactor * sim.LinkTimers[i].Deadtime)
                return false;
        return true;
    }

    private bool AllHealthy()
    {
        for (int a = 0; a < 2; a++)
        {
            if (!sim.IsRunning(a) || sim.IsFrozen(a))
                return false;
            for (int l = 0; l < 2; l++)
                if (sim.Faults[a, l] != HeartbeatSimulation.Healthy)
                    return false;
        }
        return true;
    }
}
