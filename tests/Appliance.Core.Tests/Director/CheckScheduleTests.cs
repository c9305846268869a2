using System.Collections.Immutable;
using System.Net;
using Appliance.Core.Config;
using Appliance.Core.Director;

namespace Appliance.Core.Tests.Director;

/// <summary>The real-server check schedule on fake time (a random origin, so a leak of real time shows).</summary>
public class CheckScheduleTests
{
    private static readonly TimeSpan Origin = TimeSpan.FromMilliseconds(Random.Shared.Next(1, int.MaxValue));
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    private static DirectorCheckConfig Tcp(int rise = 2, int fall = 3, CheckStart start = CheckStart.Up, double intervalS = 1, double timeoutS = 0.5) =>
        DirectorCheckConfig.Default with { Interval = TimeSpan.FromSeconds(intervalS), Timeout = TimeSpan.FromSeconds(timeoutS), Rise = rise, Fall = fall, Start = start };

    private static IPEndPoint Rs(int i, int port = 8080) => new(IPAddress.Parse($"10.77.{i / 250}.{i % 250 + 1}"), port);

    private static VirtualServiceConfig Service(string name, DirectorCheckConfig check, params IPEndPoint[] servers) =>
        new(name, new ServiceListen(IPAddress.Parse("203.0.113.10"), 80 + name.Length, L4Protocol.Tcp), DirectorScheduler.Rr, DirectorForwarding.Nat,
            null, QuorumConfig.Default, check, [.. servers.Select(s => new RealServerConfig(s, 1, null, RealServerAdminState.Up))], null);

    private static DirectorConfig Config(params VirtualServiceConfig[] services) => new([], null, [.. services]);

    /// <summary>Runs every due target at <paramref name="now"/> and reports <paramref name="outcome"/> for each at once; returns the flips.</summary>
    private static List<CheckFlip> Tick(CheckSchedule s, TimeSpan now, Func<CheckTarget, CheckOutcome> outcome)
    {
        var due = new List<CheckTarget>();
        s.Due(now, due);
        var flips = new List<CheckFlip>();
        foreach (var t in due)
            flips.AddRange(s.Report(t.Index, now, outcome(t)));
        return flips;
    }

    /// <summary>Steps fake time to each next due time until <paramref name="until"/>, with the outcome per target.</summary>
    private static List<CheckFlip> RunUntil(CheckSchedule s, TimeSpan until, Func<CheckTarget, CheckOutcome> outcome)
    {
        var flips = new List<CheckFlip>();
        while (s.NextDue is { } next && next <= until)
            flips.AddRange(Tick(s, next, outcome));
        return flips;
    }

    [Fact]
    public void A_server_falls_after_fall_failures_and_rises_after_rise_passes()
    {
        var rs = Rs(1);
        var s = new CheckSchedule(Config(Service("web", Tcp(rise: 2, fall: 3), rs)), Origin, seed: 7);
        Assert.Equal(CheckResult.Pending, s.Status("web", rs).Result);
        Assert.False(s.Status("web", rs).Down); // start: up
        var first = s.NextDue!.Value;
        Assert.InRange(first, Origin, Origin + Second - TimeSpan.FromTicks(1));

        Assert.Empty(Tick(s, first, _ => CheckOutcome.Fail("refused")));
        Assert.Empty(Tick(s, first + Second, _ => CheckOutcome.Fail("refused")));
        Assert.Contains("failure 2 of 3", s.Status("web", rs).Reason);
        var flips = Tick(s, first + 2 * Second, _ => CheckOutcome.TimedOut("no answer within 500ms"));
        Assert.Equal([new CheckFlip("web", rs, false, "no answer within 500ms")], flips);
        Assert.True(s.Status("web", rs).Down);
        Assert.Equal(CheckResult.Fail, s.Status("web", rs).Result);
        Assert.Equal([("web", rs)], s.Down);

        Assert.Empty(Tick(s, first + 3 * Second, _ => CheckOutcome.Pass("connected")));
        Assert.Contains("pass 1 of 2", s.Status("web", rs).Reason);
        Assert.Equal([new CheckFlip("web", rs, true, "connected")], Tick(s, first + 4 * Second, _ => CheckOutcome.Pass("connected")));
        Assert.Equal(new ServerCheck(CheckResult.Pass, "connected", false), s.Status("web", rs));
    }

    [Fact]
    public void Start_down_needs_rise_passes_and_none_has_no_target()
    {
        var a = Rs(1);
        var b = Rs(2);
        var s = new CheckSchedule(Config(
            Service("web", Tcp(rise: 2, start: CheckStart.Down), a),
            Service("dns", DirectorCheckConfig.Default with { Kind = DirectorCheckKind.None }, b)), Origin, 1);
        Assert.Single(s.Targets);
        Assert.Equal([("web", a)], s.Down);
        Assert.Contains("start: down", s.Status("web", a).Reason);
        Assert.Equal(CheckResult.None, s.Status("dns", b).Result);
        Assert.False(s.Status("dns", b).Down);
        var flips = RunUntil(s, Origin + 2 * Second, _ => CheckOutcome.Pass("ok"));
        Assert.Equal([new CheckFlip("web", a, true, "ok")], flips);
    }

    [Fact]
    public void Identical_checks_of_a_server_are_one_target_judged_by_each_service()
    {
        var shared = Rs(1);
        var other = Rs(2);
        var s = new CheckSchedule(Config(
            Service("web", Tcp(fall: 1, intervalS: 2, timeoutS: 1), shared, other),
            Service("api", Tcp(fall: 3, intervalS: 1, timeoutS: 0.5), shared),
            Service("admin", DirectorCheckConfig.Default with { Kind = DirectorCheckKind.Http, Path = "/health", Expect = HttpStatusRange.Single(200) }, shared)), Origin, 3);
        // web+api share the tcp target of `shared` (at the shorter interval and timeout); the http check is another target.
        Assert.Equal(3, s.Targets.Length);
        var t = s.Targets.Single(x => x.Address.Equals(shared) && x.Kind == DirectorCheckKind.Tcp);
        Assert.Equal(Second, t.Interval);
        Assert.Equal(TimeSpan.FromMilliseconds(500), t.Timeout);

        var flips = RunUntil(s, Origin + 3 * Second, x => x.Address.Equals(shared) && x.Kind == DirectorCheckKind.Tcp ? CheckOutcome.Fail("refused") : CheckOutcome.Pass("ok"));
        // One probe per interval for both services; each judged with its own fall.
        Assert.Equal(6, s.Started);
        Assert.Equal([("web", shared), ("api", shared)], flips.Select(f => (f.Service, f.Server)));
        Assert.True(s.Status("web", shared).Down);
        Assert.True(s.Status("api", shared).Down);
        Assert.False(s.Status("admin", shared).Down);
    }

    [Fact]
    public void First_checks_are_spread_over_the_interval_deterministically()
    {
        var servers = Enumerable.Range(0, 1000).Select(i => Rs(i)).ToArray();
        var config = Config(Service("web", Tcp(), servers));
        var s = new CheckSchedule(config, Origin, seed: 42);
        var starts = new List<TimeSpan>();
        var due = new List<CheckTarget>();
        while (s.NextDue is { } next && next < Origin + Second)
        {
            due.Clear();
            s.Due(next, due);
            starts.AddRange(due.Select(_ => next - Origin));
        }
        Assert.Equal(1000, starts.Count);
        Assert.All(starts, x => Assert.InRange(x, TimeSpan.Zero, Second - TimeSpan.FromTicks(1)));
        // Spread: every tenth of the interval gets some, none gets more than twice its share.
        var buckets = starts.GroupBy(x => (int)(x.Ticks * 10 / Second.Ticks)).Select(g => g.Count()).ToList();
        Assert.Equal(10, buckets.Count);
        Assert.All(buckets, n => Assert.InRange(n, 50, 200));
        // Deterministic from the seed; another seed (the other node) gives another spread.
        Assert.Equal(CheckSchedule.Jitter("k", 42, Second), CheckSchedule.Jitter("k", 42, Second));
        Assert.NotEqual(new CheckSchedule(config, Origin, 42).NextDue, new CheckSchedule(config, Origin, 43).NextDue);
        Assert.Equal(new CheckSchedule(config, Origin, 42).NextDue, new CheckSchedule(config, Origin, 42).NextDue);
    }

    [Fact]
    public void A_running_check_is_not_started_twice_and_its_overrun_slot_is_skipped()
    {
        var rs = Rs(1);
        var s = new CheckSchedule(Config(Service("web", Tcp(), rs)), Origin, 9);
        var first = s.NextDue!.Value;
        var due = new List<CheckTarget>();
        Assert.Equal(1, s.Due(first, due));
        Assert.Null(s.NextDue); // running: not due again
        Assert.Equal(0, s.Due(first + 5 * Second, due));
        // It comes back 2.5 intervals later (a probe that ignored its deadline): the next slot is on the cadence.
        s.Report(0, first + TimeSpan.FromSeconds(2.5), CheckOutcome.Pass("ok"));
        Assert.Equal(first + 3 * Second, s.NextDue);
        Assert.Equal(2, s.Skipped);
        Assert.Equal(1, s.Started);
        Assert.Throws<InvalidOperationException>(() => s.Report(0, first + 3 * Second, CheckOutcome.Pass("again")));
    }

    [Fact]
    public void A_late_host_starts_an_overdue_check_once_and_keeps_the_cadence()
    {
        var rs = Rs(1);
        var s = new CheckSchedule(Config(Service("web", Tcp(), rs)), Origin, 11);
        var first = s.NextDue!.Value;
        var due = new List<CheckTarget>();
        // The host was paused for 3.4 intervals: one check now, not four in a burst.
        Assert.Equal(1, s.Due(first + TimeSpan.FromSeconds(3.4), due));
        Assert.Equal(TimeSpan.FromSeconds(3.4), s.WorstLateness);
        s.Report(0, first + TimeSpan.FromSeconds(3.5), CheckOutcome.Pass("ok"));
        Assert.Equal(first + 4 * Second, s.NextDue);
    }

    [Fact]
    public void No_drift_over_1000_intervals_whatever_the_checks_take()
    {
        var rs = Rs(1);
        var s = new CheckSchedule(Config(Service("web", Tcp(intervalS: 1, timeoutS: 0.9), rs)), Origin, 5);
        var first = s.NextDue!.Value;
        var rng = new Random(1);
        var due = new List<CheckTarget>();
        for (int k = 0; k < 1000; k++)
        {
            var slot = first + k * Second;
            Assert.Equal(slot, s.NextDue);
            // The host wakes a little late and the check takes up to 0.9 s: neither moves the cadence.
            var wake = slot + TimeSpan.FromMilliseconds(rng.Next(0, 50));
            due.Clear();
            Assert.Equal(1, s.Due(wake, due));
            s.Report(0, wake + TimeSpan.FromMilliseconds(rng.Next(0, 900)), CheckOutcome.Pass("ok"));
        }
        Assert.Equal(first + 1000 * Second, s.NextDue);
        Assert.Equal(0, s.Skipped);
        Assert.Equal(1000, s.Started);
    }

    [Fact]
    public void Seeds_differ_between_the_nodes_and_are_stable()
    {
        Assert.Equal(CheckSchedule.SeedFor("edge", "alpha"), CheckSchedule.SeedFor("edge", "alpha"));
        Assert.NotEqual(CheckSchedule.SeedFor("edge", "alpha"), CheckSchedule.SeedFor("edge", "beta"));
    }
}
