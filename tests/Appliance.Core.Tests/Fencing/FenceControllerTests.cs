using System.Collections.Immutable;
using Appliance.Core.Config;
using Appliance.Core.Fencing;
using FsCheck;
using FsCheck.Fluent;

namespace Appliance.Core.Tests.Fencing;

public sealed class FenceControllerTests
{
    private static readonly TimeSpan T0 = TimeSpan.FromSeconds(Random.Shared.Next(1, 100_000));

    private static FenceLevel Level(string name, int attempts = 2, FenceFinalAction action = FenceFinalAction.Off) =>
        new(name, TimeSpan.FromSeconds(2), attempts, action);

    /// <summary>Runs an operation to its end; <paramref name="device"/> answers each invoke. Returns the report and the calls made.</summary>
    private static (FenceReport Report, List<string> Calls, TimeSpan End) Run(
        ImmutableArray<FenceLevel> levels, Func<string, FenceAction, FenceResult> device, TimeSpan delay = default,
        TimeSpan actionCost = default)
    {
        var now = T0;
        var c = new FenceController("beta", levels, now, delay);
        var calls = new List<string>();
        while (true)
        {
            var step = c.Next(now);
            switch (step.Kind)
            {
                case FenceStepKind.Wait:
                    Assert.True(step.Until > now, "a wait must move time forward");
                    now = step.Until;
                    break;
                case FenceStepKind.Invoke:
                    string dev = levels[step.Level].Device;
                    calls.Add($"{dev}.{step.Action}");
                    now += actionCost;
                    c.Report(now, device(dev, step.Action));
                    break;
                default:
                    return (c.Result!, calls, now);
            }
        }
    }

    [Fact]
    public void A_working_relay_fences_with_off_then_a_verifying_status()
    {
        var (r, calls, _) = Run([Level("relay")], (_, a) => FenceResult.Done(a == FenceAction.Status ? PowerState.Off : PowerState.Unknown),
            actionCost: TimeSpan.FromMilliseconds(3));
        Assert.True(r.Verified);
        Assert.Equal(["relay.Off", "relay.Status"], calls);
        Assert.Equal("relay", r.Device);
        Assert.Equal(TimeSpan.FromMilliseconds(6), r.Elapsed);
        Assert.Contains("verified", r.Reason);
    }

    [Fact]
    public void A_host_that_wakes_early_again_and_again_is_told_to_wait_again_not_failed()
    {
        // A host whose timer fires a little early (Task.Delay truncates to whole ms) asks again and
        // again just before the deadline; that once exceeded the steps guard meant for device loops,
        // threw, and left the fencing stuck in "delaying" (seen in the lab).
        var c = new FenceController("beta", [Level("relay")], T0, TimeSpan.FromMilliseconds(300));
        TimeSpan almost = T0 + TimeSpan.FromMilliseconds(299.7);
        for (int i = 0; i < 10 * FencingLimits.StepsMax; i++)
            Assert.Equal(FenceStepKind.Wait, c.Next(almost).Kind);
        var step = c.Next(T0 + TimeSpan.FromMilliseconds(300));
        Assert.Equal((FenceStepKind.Invoke, FenceAction.Off), (step.Kind, step.Action));
    }

    [Fact]
    public void The_delay_comes_first()
    {
        var (r, _, end) = Run([Level("relay")], (_, a) => FenceResult.Done(PowerState.Off), delay: TimeSpan.FromMilliseconds(1500));
        Assert.True(r.Verified);
        Assert.Equal(T0 + TimeSpan.FromMilliseconds(1500), end);
    }

    [Fact]
    public void A_broken_first_level_hands_over_to_the_second_at_once()
    {
        var (r, calls, _) = Run([Level("relay", attempts: 3), Level("pdu")], (d, a) => d == "relay"
            ? FenceResult.HardError("line request failed: busy")
            : FenceResult.Done(PowerState.Off));
        Assert.True(r.Verified);
        Assert.Equal("pdu", r.Device);
        Assert.Equal(["relay.Off", "pdu.Off", "pdu.Status"], calls);
    }

    [Fact]
    public void A_lying_device_is_caught_by_verification_and_never_counts()
    {
        var (r, calls, _) = Run([Level("pdu", attempts: 3)], (_, a) => FenceResult.Done(a == FenceAction.Status ? PowerState.On : PowerState.Unknown));
        Assert.False(r.Verified);
        Assert.Equal(["pdu.Off", "pdu.Status"], calls); // a liar is skipped, not retried
        Assert.Contains("acknowledged off but its status reads on", r.Reason);
        Assert.Equal(FenceOutcome.HardError, r.Outcome);
    }

    [Fact]
    public void Timeouts_are_retried_with_a_growing_backoff_then_the_next_level()
    {
        var times = new List<TimeSpan>();
        var now = T0;
        var c = new FenceController("beta", [Level("pdu", attempts: 3), Level("manual")], now, TimeSpan.Zero);
        while (c.Result is null)
        {
            var step = c.Next(now);
            if (step.Kind == FenceStepKind.Wait)
                now = step.Until;
            else if (step.Kind == FenceStepKind.Invoke)
            {
                times.Add(now - T0);
                var dev = c.Levels[step.Level].Device;
                now += step.Timeout;
                c.Report(now, dev == "pdu" ? FenceResult.Timeout("no answer") : FenceResult.Done(PowerState.Off));
            }
        }
        Assert.True(c.Result.Verified);
        // pdu at 0, +2 s timeout +200 ms, +2 s +400 ms; then manual at once.
        Assert.Equal(new[] { 0, 2200, 4600, 6600, 6600 + 2000 }.Select(ms => TimeSpan.FromMilliseconds(ms)), times);
    }

    [Fact]
    public void Every_device_failing_gives_a_reason_naming_each()
    {
        var (r, _, _) = Run([Level("relay", 1), Level("pdu", 1)], (d, _) => d == "relay" ? FenceResult.HardError("line busy") : FenceResult.Timeout("silent"));
        Assert.False(r.Verified);
        Assert.Contains("relay: hard-error (line busy)", r.Reason);
        Assert.Contains("pdu: timeout (silent)", r.Reason);
    }

    [Fact]
    public void Fatal_stops_at_once()
    {
        var (r, calls, _) = Run([Level("a"), Level("b")], (_, _) => FenceResult.Fatal("refusing to fence this node"));
        Assert.False(r.Verified);
        Assert.Equal(FenceOutcome.Fatal, r.Outcome);
        Assert.Single(calls);
    }

    [Fact]
    public void No_device_is_its_own_outcome()
    {
        var c = new FenceController("beta", [], T0, TimeSpan.FromSeconds(1));
        Assert.Equal(FenceOutcome.NoDevice, c.Result!.Outcome);
        Assert.Equal(FenceStepKind.Finished, c.Next(T0).Kind);
    }

    [Fact]
    public void Reboot_powers_on_after_a_verified_off_and_a_failed_on_does_not_undo_the_fence()
    {
        var (r, calls, _) = Run([Level("relay", action: FenceFinalAction.Reboot)],
            (_, a) => a == FenceAction.On ? FenceResult.Error("stuck") : FenceResult.Done(PowerState.Off));
        Assert.True(r.Verified);
        Assert.Equal(["relay.Off", "relay.Status", "relay.On"], calls);
        Assert.Contains("powering it on again failed", r.Reason);
    }

    [Fact]
    public void Status_that_cannot_tell_is_retried_not_trusted()
    {
        int n = 0;
        var (r, calls, _) = Run([Level("agent", attempts: 2)], (_, a) => a == FenceAction.Off ? FenceResult.Done(PowerState.Unknown)
            : ++n == 1 ? FenceResult.Done(PowerState.Unknown) : FenceResult.Done(PowerState.Off));
        Assert.True(r.Verified);
        Assert.Equal(["agent.Off", "agent.Status", "agent.Off", "agent.Status"], calls);
    }

    [Fact]
    public void Reporting_out_of_turn_is_a_programming_error()
    {
        var c = new FenceController("beta", [Level("relay")], T0, TimeSpan.Zero);
        Assert.Throws<InvalidOperationException>(() => c.Report(T0, FenceResult.Done(PowerState.Off)));
        c.Next(T0);
        Assert.Throws<InvalidOperationException>(() => c.Next(T0));
    }

    [Fact]
    public void The_holder_fences_at_once_and_anyone_else_waits_fence_delay_plus_a_random_part()
    {
        var cluster = new ClusterConfig("c", "/k", false, FencingMode.Required, Timers.Default)
        {
            FenceDelay = TimeSpan.FromSeconds(1), FenceDelayRandom = TimeSpan.FromMilliseconds(500),
        };
        Assert.Equal(TimeSpan.Zero, FencingLimits.Delay(cluster, true, 0.9));
        Assert.Equal(TimeSpan.FromMilliseconds(1250), FencingLimits.Delay(cluster, false, 0.5));
        Assert.Equal(TimeSpan.FromSeconds(1), FencingLimits.RoundWait(1));
        Assert.Equal(TimeSpan.FromSeconds(4), FencingLimits.RoundWait(3));
        Assert.Equal(FencingLimits.RoundBackoffMax, FencingLimits.RoundWait(50));
    }

    /// <summary>
    /// Whatever the devices answer, an operation ends, within its bound of steps, and it is verified
    /// only if some device acknowledged an off and then that same device's status read off.
    /// </summary>
    [Fact]
    public void Verified_only_after_an_acknowledged_off_and_an_off_status_from_the_same_device()
    {
        var outcomes = new[]
        {
            FenceResult.Done(PowerState.Off), FenceResult.Done(PowerState.On), FenceResult.Done(PowerState.Unknown),
            FenceResult.Timeout("t"), FenceResult.Error("e"), FenceResult.HardError("h"), FenceResult.Fatal("f"),
        };
        var gen = from script in Gen.Choose(0, outcomes.Length - 1).ListOf()
                  from levelCount in Gen.Choose(1, 3)
                  from attempts in Gen.Choose(1, 4)
                  select (Script: script.ToArray(), LevelCount: levelCount, Attempts: attempts);
        Check.One(FsCheck.Config.QuickThrowOnFailure.WithMaxTest(1000), Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var (script, levelCount, attempts) = t;
            var levels = Enumerable.Range(0, levelCount).Select(i => Level("d" + i, attempts)).ToImmutableArray();
            int k = 0;
            var log = new List<(string Device, FenceAction Action, FenceResult Result)>();
            var (r, _, _) = Run(levels, (d, a) =>
            {
                var res = script.Length == 0 ? outcomes[0] : outcomes[script[k++ % script.Length]];
                log.Add((d, a, res));
                return res;
            });
            if (!r.Verified)
                return true;
            int status = log.FindLastIndex(e => e.Action == FenceAction.Status);
            int off = log.FindLastIndex(e => e.Action == FenceAction.Off);
            return status > off && off >= 0 && log[off].Result.Ok && log[status].Result.Power == PowerState.Off &&
                   log[off].Device == log[status].Device && log[status].Device == r.Device;
        }));
    }
}
