using System.Collections.Immutable;
using Appliance.Core.Config;

namespace Appliance.Core.Fencing;

/// <summary>The bounds of fencing, each with where it comes from.</summary>
public static class FencingLimits
{
    /// <summary>First wait before retrying a device that timed out or failed; doubles per attempt.</summary>
    public static readonly TimeSpan AttemptBackoff = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest wait between two attempts of one device: a round must not stall on one level.</summary>
    public static readonly TimeSpan AttemptBackoffMax = TimeSpan.FromSeconds(2);

    /// <summary>First wait before a new round after every device failed; doubles per failed round.</summary>
    public static readonly TimeSpan RoundBackoff = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Longest wait between rounds. Fencing never gives up while the peer is dead (DESIGN.md section
    /// 5: retry, alarm), but a repaired device should be used within seconds, not minutes.
    /// </summary>
    public static readonly TimeSpan RoundBackoffMax = TimeSpan.FromSeconds(5);

    /// <summary>How long past its timeout a driver may take to honour cancellation before it counts as wedged.</summary>
    public static readonly TimeSpan CancelGrace = TimeSpan.FromSeconds(1);

    /// <summary>Entries kept in the fence history (state directory); older ones are dropped.</summary>
    public const int HistoryMax = 200;

    /// <summary>Device actions one operation may take: levels x attempts x (off, status, on) with room; a bug guard.</summary>
    public const int StepsMax = 1000;

    /// <summary>Wait before a round after <paramref name="failedRounds"/> failed ones: 1 s, 2 s, 4 s, then 5 s.</summary>
    public static TimeSpan RoundWait(int failedRounds) => Backoff(RoundBackoff, RoundBackoffMax, failedRounds - 1);

    internal static TimeSpan Backoff(TimeSpan first, TimeSpan max, int doublings) =>
        doublings >= 20 ? max : TimeSpan.FromTicks(Math.Min(max.Ticks, first.Ticks << Math.Max(0, doublings)));

    /// <summary>
    /// The wait before fencing (DESIGN.md section 5): none for a node that holds the resources, so in a
    /// true partition the active node fences first and service continues; <c>fence_delay</c> plus a
    /// random part for any other node. <paramref name="random01"/> is a uniform draw in [0, 1) from the host.
    /// </summary>
    public static TimeSpan Delay(ClusterConfig cluster, bool selfHoldsResources, double random01) =>
        selfHoldsResources ? TimeSpan.Zero : cluster.FenceDelay + cluster.FenceDelayRandom * Math.Clamp(random01, 0, 1);
}

/// <summary>One device of a node's fence list, as the controller uses it.</summary>
public readonly record struct FenceLevel(string Device, TimeSpan Timeout, int Attempts, FenceFinalAction Action)
{
    public static FenceLevel From(FenceDeviceConfig d) => new(d.Name, d.Timeout, d.Attempts, d.Action);
}

public enum FenceStepKind { Wait, Invoke, Finished }

/// <summary>What the host does next: wait until <see cref="Until"/>, run one device action bounded by <see cref="Timeout"/>, or stop.</summary>
public readonly record struct FenceStep(FenceStepKind Kind, TimeSpan Until, int Level, FenceAction Action, TimeSpan Timeout);

/// <summary>
/// How one fencing operation ended. <see cref="Verified"/> is the only thing that allows a takeover:
/// a device said off AND a status read afterwards said off (or an operator confirmed).
/// </summary>
public sealed record FenceReport(
    string Target, bool Verified, string Device, FenceFinalAction Action, FenceOutcome Outcome, string Reason,
    TimeSpan Started, TimeSpan Finished, ImmutableArray<string> Trail)
{
    public TimeSpan Elapsed => Finished - Started;
}

/// <summary>
/// One fencing operation against one target (STYLE.md: a controller over a minimal driver). Pure and
/// step-driven: the host calls <see cref="Next"/> with the time, carries out the step, and for an
/// <see cref="FenceStepKind.Invoke"/> reports the device's result with <see cref="Report"/>.
/// <para>
/// Policy: an optional delay; then the levels in order; each level up to its attempts, retried with a
/// doubling backoff on Timeout/Error, skipped at once on HardError; every Done off is verified by a
/// status read that must say off (a device that acknowledges but does not switch is caught here and
/// skipped); with action reboot a verified off is followed by on, whose failure is reported but does
/// not undo the fence; Fatal stops the operation. Rounds after a failed operation are the host's
/// (<see cref="FencingLimits.RoundWait"/>).
/// </para>
/// </summary>
public sealed class FenceController
{
    private enum Phase { Delay, Off, Verify, PowerOn, Backoff, Done }

    private readonly string _target;
    private readonly ImmutableArray<FenceLevel> _levels;
    private readonly List<string> _trail = [];
    private readonly List<string> _levelFailures = [];
    private Phase _phase;
    private int _level;
    private int _attempt;
    private TimeSpan _until;
    private TimeSpan _started;
    private FenceStep _pending;
    private bool _awaiting;
    private int _steps;
    private FenceReport? _report;
    private string _lastFailure = "";
    private FenceOutcome _lastOutcome = FenceOutcome.NoDevice;

    public FenceController(string target, ImmutableArray<FenceLevel> levels, TimeSpan now, TimeSpan delay)
    {
        _target = target;
        _levels = levels;
        _started = now;
        _until = now + delay;
        _phase = delay > TimeSpan.Zero ? Phase.Delay : Phase.Off;
        _attempt = 1;
        if (levels.IsEmpty)
            Finish(now, false, "", FenceOutcome.NoDevice, $"no fence device can fence {target}: list one in its `fence` setting");
    }

    public string Target => _target;

    public ImmutableArray<FenceLevel> Levels => _levels;

    /// <summary>The outcome, once finished.</summary>
    public FenceReport? Result => _report;

    /// <summary>A human line on where the operation is, for status.</summary>
    public string Progress { get; private set; } = "starting";

    public FenceStep Next(TimeSpan now)
    {
        if (_report is not null)
            return new FenceStep(FenceStepKind.Finished, now, 0, default, default);
        if (_awaiting)
            throw new InvalidOperationException("Next called while a device action is outstanding; call Report first");
        if (_phase is Phase.Delay or Phase.Backoff)
        {
            if (now < _until)
            {
                Progress = _phase == Phase.Delay
                    ? $"fence_delay: waiting {(_until - now).TotalMilliseconds:F0} ms before fencing (the active node fences first)"
                    : $"retrying {_levels[_level].Device} in {(_until - now).TotalMilliseconds:F0} ms (attempt {_attempt} of {_levels[_level].Attempts}): {_lastFailure}";
                return new FenceStep(FenceStepKind.Wait, _until, _level, default, default);
            }
            _phase = Phase.Off;
        }
        // Only device actions count: a host may ask again as often as it wakes while a wait runs.
        if (++_steps > FencingLimits.StepsMax)
            throw new InvalidOperationException($"fencing {_target} took more than {FencingLimits.StepsMax} device actions: a controller bug");
        var level = _levels[_level];
        var action = _phase switch { Phase.Verify => FenceAction.Status, Phase.PowerOn => FenceAction.On, _ => FenceAction.Off };
        Progress = $"{Verb(action)} {_target} via {level.Device} (level {_level + 1} of {_levels.Length}, attempt {_attempt} of {level.Attempts})";
        _pending = new FenceStep(FenceStepKind.Invoke, now + level.Timeout, _level, action, level.Timeout);
        _awaiting = true;
        return _pending;
    }

    public void Report(TimeSpan now, FenceResult result)
    {
        if (!_awaiting)
            throw new InvalidOperationException("Report without an outstanding device action");
        _awaiting = false;
        var level = _levels[_level];
        string what = $"{Verb(_pending.Action)} via {level.Device}: {Describe(result)}";
        _trail.Add($"+{(now - _started).TotalMilliseconds:F0}ms {what}");
        switch (_phase)
        {
            case Phase.Off when result.Ok:
                _phase = Phase.Verify;
                return;
            case Phase.Verify when result.Ok && result.Power == PowerState.Off:
                if (level.Action == FenceFinalAction.Reboot)
                {
                    _phase = Phase.PowerOn;
                    return;
                }
                Finish(now, true, level.Device, FenceOutcome.Done, $"{_target} is off (verified by status via {level.Device})");
                return;
            case Phase.Verify when result.Ok && result.Power == PowerState.On:
                // It said off, and it says on: the device lies or the switch failed. Never trust it.
                Fail(now, FenceResult.HardError($"{level.Device} acknowledged off but its status reads on: not fenced"));
                return;
            case Phase.Verify when result.Ok:
                Fail(now, FenceResult.Error($"{level.Device} cannot tell whether {_target} is off: {result.Reason}"));
                return;
            case Phase.PowerOn:
                Finish(now, true, level.Device, FenceOutcome.Done, result.Ok
                    ? $"{_target} was off (verified) and is powered on again via {level.Device}"
                    : $"{_target} was off (verified); powering it on again failed: {result.Reason}");
                return;
            default:
                Fail(now, result);
                return;
        }
    }

    private void Fail(TimeSpan now, FenceResult result)
    {
        var level = _levels[_level];
        _lastFailure = Describe(result);
        _lastOutcome = result.Outcome;
        if (result.Outcome == FenceOutcome.Fatal)
        {
            Finish(now, false, level.Device, FenceOutcome.Fatal, $"{level.Device}: {result.Reason}");
            return;
        }
        if (result.Outcome is FenceOutcome.Timeout or FenceOutcome.Error && _attempt < level.Attempts)
        {
            _until = now + FencingLimits.Backoff(FencingLimits.AttemptBackoff, FencingLimits.AttemptBackoffMax, _attempt - 1);
            _attempt++;
            _phase = Phase.Backoff;
            return;
        }
        _levelFailures.Add($"{level.Device}: {_lastFailure}");
        if (_level + 1 < _levels.Length)
        {
            _level++;
            _attempt = 1;
            _phase = Phase.Off;
            return;
        }
        Finish(now, false, level.Device, _lastOutcome, $"every fence device failed for {_target}: " + string.Join("; ", _levelFailures));
    }

    private void Finish(TimeSpan now, bool verified, string device, FenceOutcome outcome, string reason)
    {
        _phase = Phase.Done;
        var action = _levels.IsEmpty || device.Length == 0 ? FenceFinalAction.Off : _levels[_level].Action;
        _report = new FenceReport(_target, verified, device, action, outcome, reason, _started, now, [.. _trail]);
        Progress = reason;
    }

    private static string Verb(FenceAction a) => a switch
    {
        FenceAction.Off => "powering off",
        FenceAction.On => "powering on",
        FenceAction.Status => "verifying",
        _ => "rebooting",
    };

    private static string Describe(FenceResult r) => r.Outcome switch
    {
        FenceOutcome.Done => r.Power == PowerState.Unknown ? "done" + Suffix(r.Reason) : $"done, power {r.Power.ToString().ToLowerInvariant()}" + Suffix(r.Reason),
        _ => $"{OutcomeName(r.Outcome)}" + Suffix(r.Reason),
    };

    private static string Suffix(string reason) => reason.Length == 0 ? "" : " (" + reason + ")";

    /// <summary>The outcome as status and the history write it.</summary>
    public static string OutcomeName(FenceOutcome o) => o switch
    {
        FenceOutcome.Done => "done",
        FenceOutcome.Timeout => "timeout",
        FenceOutcome.Error => "error",
        FenceOutcome.HardError => "hard-error",
        FenceOutcome.Fatal => "fatal",
        _ => "no-device",
    };
}
