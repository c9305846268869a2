using System.Net;
using Appliance.Core.Config;
using Appliance.Core.Director;

namespace Appliance.Core.Tests.Director;

/// <summary>A reload's hand-over between check schedules (CheckSchedule.Adopt) on fake time with a random origin.</summary>
public class CheckScheduleReloadTests
{
    private static readonly TimeSpan T0 = TimeSpan.FromMilliseconds(Random.Shared.Next(1, int.MaxValue));
    private const ulong Seed = 42;

    private static IPEndPoint Addr(int last) => new(IPAddress.Parse($"10.77.0.{last}"), 8080);

    private static DirectorConfig Director(DirectorCheckConfig check, params (int Last, int Weight)[] servers) =>
        new([], null,
        [
            new VirtualServiceConfig("web", new ServiceListen(IPAddress.Parse("203.0.113.10"), 80, L4Protocol.Tcp), DirectorScheduler.Wrr,
                DirectorForwarding.Nat, null, QuorumConfig.Default, check,
                [.. servers.Select(s => new RealServerConfig(Addr(s.Last), s.Weight, null, RealServerAdminState.Up))], null),
        ]);

    private static readonly DirectorCheckConfig TcpUp = DirectorCheckConfig.Default with { Interval = TimeSpan.FromSeconds(1), Timeout = TimeSpan.FromMilliseconds(500), Rise = 2, Fall = 2 };

    /// <summary>Starts every target due by <paramref name="now"/>; the caller reports them.</summary>
    private static List<CheckTarget> StartDue(CheckSchedule s, TimeSpan now)
    {
        var due = new List<CheckTarget>();
        s.Due(now, due);
        return due;
    }

    /// <summary>Runs fake time for <paramref name="span"/>, every probe answering <paramref name="pass"/>(address).</summary>
    private static TimeSpan Run(CheckSchedule s, TimeSpan from, TimeSpan span, Func<IPEndPoint, bool> pass)
    {
        var now = from;
        while (s.NextDue is { } next && next <= from + span)
        {
            now = next;
            foreach (var t in StartDue(s, now))
                s.Report(t.Index, now, pass(t.Address) ? CheckOutcome.Pass("ok") : CheckOutcome.Fail("refused"));
        }
        return now;
    }

    [Fact]
    public void A_server_down_by_its_check_stays_down_and_keeps_its_cadence_across_a_weight_change()
    {
        var old = new CheckSchedule(Director(TcpUp, (11, 1), (12, 1)), T0, Seed);
        var now = Run(old, T0, TimeSpan.FromSeconds(5), a => !a.Equals(Addr(12)));
        Assert.Equal([("web", Addr(12))], old.Down);
        var next = new CheckSchedule(Director(TcpUp, (11, 2), (12, 3)), now, Seed);
        Assert.Empty(next.Down); // on its own it would start them up...
        next.Adopt(old);
        Assert.Equal([("web", Addr(12))], next.Down); // ...but it carries the verdict over
        Assert.Equal(old.NextDue, next.NextDue);
        Assert.Equal(old.Started, next.Started);
        Assert.Equal(CheckResult.Fail, next.Status("web", Addr(12)).Result);
        // It still needs its rise (2) passes to come back.
        var flips = new List<CheckFlip>();
        int passes12 = 0;
        while (passes12 < 2)
        {
            var t = next.NextDue!.Value;
            foreach (var target in StartDue(next, t))
            {
                flips.AddRange(next.Report(target.Index, t, CheckOutcome.Pass("ok")));
                if (target.Address.Equals(Addr(12)) && ++passes12 == 1)
                    Assert.Equal([("web", Addr(12))], next.Down);
            }
        }
        Assert.Equal([new CheckFlip("web", Addr(12), true, "ok")], flips);
    }

    [Fact]
    public void Added_servers_honour_start_and_removed_ones_lose_their_target()
    {
        var old = new CheckSchedule(Director(TcpUp, (11, 1), (12, 1)), T0, Seed);
        var now = Run(old, T0, TimeSpan.FromSeconds(3), _ => true);
        var startDown = Director(TcpUp with { Start = CheckStart.Down }, (11, 1), (13, 1));
        var next = new CheckSchedule(startDown, now, Seed);
        next.Adopt(old);
        // 11 was judged up under the same check: it stays up; 13 is new and starts down; 12 is gone.
        Assert.Equal([("web", Addr(13))], next.Down);
        Assert.DoesNotContain(next.Targets, t => t.Address.Equals(Addr(12)));
        Assert.Equal(CheckResult.None, next.Status("web", Addr(12)).Result);
        Assert.Equal(CheckResult.Pending, next.Status("web", Addr(13)).Result);
    }

    [Fact]
    public void A_changed_check_kind_is_a_new_target_that_starts_afresh()
    {
        var old = new CheckSchedule(Director(TcpUp, (11, 1)), T0, Seed);
        var now = Run(old, T0, TimeSpan.FromSeconds(3), _ => false);
        Assert.Single(old.Down);
        var http = TcpUp with { Kind = DirectorCheckKind.Http, Path = "/health" };
        var next = new CheckSchedule(Director(http, (11, 1)), now, Seed);
        next.Adopt(old);
        Assert.Empty(next.Down); // start: up under the new check; the old tcp verdict does not carry over
        Assert.Equal(CheckResult.Pending, next.Status("web", Addr(11)).Result);
    }

    [Fact]
    public void A_probe_in_flight_at_the_reload_reports_to_the_new_schedule_or_nowhere()
    {
        var old = new CheckSchedule(Director(TcpUp, (11, 1), (12, 1)), T0, Seed);
        var now = T0 + TimeSpan.FromSeconds(2);
        var inFlight = StartDue(old, now);
        Assert.Equal(2, inFlight.Count);
        var next = new CheckSchedule(Director(TcpUp, (11, 5)), now, Seed);
        next.Adopt(old);
        Assert.Null(next.NextDue); // 11's probe is still running: not due again until it reports
        var kept = inFlight.Single(t => t.Address.Equals(Addr(11)));
        var gone = inFlight.Single(t => t.Address.Equals(Addr(12)));
        Assert.Null(next.IndexOf(gone.Key));
        int index = Assert.IsType<int>(next.IndexOf(kept.Key));
        next.Report(index, now + TimeSpan.FromMilliseconds(10), CheckOutcome.Pass("ok"));
        Assert.NotNull(next.NextDue);
        Assert.Equal(CheckResult.Pass, next.Status("web", Addr(11)).Result);
        Assert.Null(next.IndexOf(kept.Key)); // reported: no longer in flight
    }
}
