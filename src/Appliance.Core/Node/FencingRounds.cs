using System.Collections.Immutable;
using Appliance.Core.Config;
using Appliance.Core.Fencing;

namespace Appliance.Core.Node;

/// <summary>Where fencing is (status <c>fencing.state</c>): a closed set, not a progress text.</summary>
public enum FencingPhase
{
    Idle,
    /// <summary>fence_delay before the first round (a standby lets the active node fence first).</summary>
    Delaying,
    /// <summary>A device action runs.</summary>
    Fencing,
    /// <summary>A manual device: an operator must cut the power and confirm.</summary>
    WaitingOperator,
    /// <summary>Backing off before another attempt or round.</summary>
    Retrying,
    /// <summary>The last operation failed; with a dead peer, rounds go on (unless nothing can change without an operator).</summary>
    Failed,
    /// <summary>The last operation verified the target off (or an operator powered it on again).</summary>
    Done,
}

/// <summary>What status shows about fencing.</summary>
public sealed record FencingView(FencingPhase Phase, string? Target, string Progress, int RoundsFailed, TimeSpan? VerifiedAt)
{
    public static string PhaseName(FencingPhase p) => p switch
    {
        FencingPhase.Delaying => "delaying",
        FencingPhase.Fencing => "fencing",
        FencingPhase.WaitingOperator => "waiting-operator",
        FencingPhase.Retrying => "retrying",
        FencingPhase.Failed => "failed",
        FencingPhase.Done => "done",
        _ => "idle",
    };
}

/// <summary>
/// The fencing rounds of one node against its peer, sans-I/O (DESIGN.md section 5: fence failure
/// means no takeover; retry, alarm). While the arbiter wants the peer fenced, rounds of the
/// <see cref="FenceController"/> run one after another with <see cref="FencingLimits.RoundWait"/>
/// between them; the first waits fence_delay unless this node holds the resources. An operator's
/// `fence NODE` and `fence on NODE` are operations of the same kind. Exactly one operation at a time,
/// and at most one device action outstanding: an operation cancelled while its device still runs
/// waits for that device's report before any other action starts, so two operations never drive
/// devices at once.
/// </summary>
public sealed class FencingRounds
{
    private enum OpKind { Auto, Operator, PowerOn }

    private readonly ClusterConfig _cluster;
    private readonly string _target;
    private readonly ImmutableArray<FenceLevel> _levels;
    private readonly ImmutableHashSet<string> _manual;
    private readonly Func<double> _random01;
    private FenceController? _op;
    private OpKind _kind;
    private long _opId;
    private long _requestId;
    private long _outstandingOp = -1;
    private int _outstandingLevel;
    private bool _autoWanted;
    private bool _autoHalted;
    private TimeSpan _nextRoundAt = TimeSpan.MinValue;
    private int _powerOnLevel;
    private readonly List<string> _poweredOn = [];
    private readonly List<string> _powerOnFailures = [];
    private TimeSpan _waitUntil = TimeSpan.MaxValue;
    private string _autoWhy = "";
    private bool _autoSelfHolds;

    public FencingRounds(ClusterConfig cluster, string target, ImmutableArray<FenceLevel> levels, IEnumerable<string> manualDevices, Func<double> random01)
    {
        _cluster = cluster;
        _target = target;
        _levels = levels;
        _manual = [.. manualDevices];
        _random01 = random01;
    }

    public FencingPhase Phase { get; private set; }

    public string Progress { get; private set; } = "";

    public int RoundsFailed { get; private set; }

    /// <summary>When the peer was last verified off (by any operation); null if never.</summary>
    public TimeSpan? VerifiedAt { get; private set; }

    /// <summary>The last verified off no longer describes the peer (this node stalled and lost track).</summary>
    public void ForgetVerified() => VerifiedAt = null;

    /// <summary>A device action is outstanding.</summary>
    public bool DeviceBusy => _outstandingOp >= 0;

    /// <summary>An automatic round runs or is scheduled.</summary>
    public bool AutoActive => _autoWanted && !_autoHalted;

    public FencingView View() => new(Phase, Phase == FencingPhase.Idle && VerifiedAt is null ? null : _target, Progress, RoundsFailed, VerifiedAt);

    /// <summary>When the rounds want to be stepped again (MaxValue: not before an input).</summary>
    public TimeSpan NextWake()
    {
        if (DeviceBusy)
            return TimeSpan.MaxValue;
        if (_op is not null)
            return _waitUntil;
        return _autoWanted && !_autoHalted ? _nextRoundAt : TimeSpan.MaxValue;
    }

    /// <summary>Follows the arbiter: while <paramref name="wanted"/>, rounds run; when it stops wanting, they stop.</summary>
    public void Step(TimeSpan now, bool wanted, bool selfHolds, string why, List<NodeCommand> outbox)
    {
        if (!wanted && _autoWanted)
        {
            _autoWanted = false;
            _autoHalted = false;
            if (_op is not null && _kind == OpKind.Auto)
            {
                Cancel(why, outbox);
                Phase = FencingPhase.Idle;
                Progress = "";
            }
            else if (Phase is FencingPhase.Failed or FencingPhase.Retrying or FencingPhase.Delaying)
            {
                Phase = FencingPhase.Idle;
                Progress = "";
            }
        }
        else if (wanted && !_autoWanted)
        {
            _autoWanted = true;
            _autoHalted = false;
            RoundsFailed = 0;
            _nextRoundAt = TimeSpan.MinValue;
            _autoWhy = why;
            _autoSelfHolds = selfHolds;
        }
        if (_op is null && !DeviceBusy && _autoWanted && !_autoHalted && now >= _nextRoundAt)
        {
            var delay = RoundsFailed == 0 ? FencingLimits.Delay(_cluster, _autoSelfHolds, _random01()) : TimeSpan.Zero;
            Begin(now, OpKind.Auto, delay, 0);
            outbox.Add(new FenceStarted(_target, delay, FenceTrigger.PeerDead, _autoWhy));
        }
        Drive(now, outbox);
    }

    /// <summary>`appliancectl fence NODE`: fence the peer now, without delay. The reply comes as an <see cref="OperatorReply"/>.</summary>
    public string? RequestFence(TimeSpan now, long requestId, List<NodeCommand> outbox)
    {
        if (AutoActive)
            return $"already fencing {_target} because it is dead: {Progress}";
        if (_op is not null || DeviceBusy)
            return $"a fence operation on {_target} is already running: {Progress}";
        Begin(now, OpKind.Operator, TimeSpan.Zero, requestId);
        outbox.Add(new FenceStarted(_target, TimeSpan.Zero, FenceTrigger.Operator, "an operator asked"));
        Drive(now, outbox);
        return null;
    }

    /// <summary>
    /// `appliancectl fence on NODE`: every device in the list switches the target on again (a level that
    /// failed may still have switched it off); manual ones are the operator's to do.
    /// </summary>
    public string? RequestPowerOn(TimeSpan now, long requestId, List<NodeCommand> outbox)
    {
        if (AutoActive)
            return $"{_target} is being fenced right now ({Progress}); not powering it on";
        if (_op is not null || DeviceBusy)
            return $"a fence operation on {_target} is already running: {Progress}";
        Begin(now, OpKind.PowerOn, TimeSpan.Zero, requestId);
        _powerOnLevel = 0;
        _poweredOn.Clear();
        _powerOnFailures.Clear();
        Drive(now, outbox);
        return null;
    }

    private void Begin(TimeSpan now, OpKind kind, TimeSpan delay, long requestId)
    {
        _kind = kind;
        _requestId = requestId;
        _opId++;
        _op = new FenceController(_target, _levels, now, delay);
        _waitUntil = TimeSpan.MaxValue;
    }

    private void Cancel(string why, List<NodeCommand> outbox)
    {
        outbox.Add(new CancelFenceDevice(_opId, _target, why));
        _op = null;
        _waitUntil = TimeSpan.MaxValue;
    }

    /// <summary>A device's report for operation <paramref name="op"/>.</summary>
    public void Done(TimeSpan now, long op, FenceResult result, List<NodeCommand> outbox)
    {
        if (op != _outstandingOp)
            throw new InvalidOperationException($"fence report for operation {op}, but the outstanding one is {_outstandingOp}");
        _outstandingOp = -1;
        if (_op is null || op != _opId)
            return; // cancelled meanwhile: the device is free again, the report is moot
        if (_kind == OpKind.PowerOn)
        {
            var device = _levels[_outstandingLevel].Device;
            if (result.Ok)
                _poweredOn.Add(device);
            else
                _powerOnFailures.Add($"{device}: {FenceController.OutcomeName(result.Outcome)} ({result.Reason})");
            _powerOnLevel = _outstandingLevel + 1;
        }
        else
            _op.Report(now, result);
        Drive(now, outbox);
    }

    private void Drive(TimeSpan now, List<NodeCommand> outbox)
    {
        if (_op is not { } c || DeviceBusy)
            return;
        if (_kind == OpKind.PowerOn)
        {
            DrivePowerOn(outbox);
            return;
        }
        var step = c.Next(now);
        switch (step.Kind)
        {
            case FenceStepKind.Wait:
                _waitUntil = step.Until;
                Phase = IsDelay(c) ? FencingPhase.Delaying : FencingPhase.Retrying;
                Progress = c.Progress;
                return;
            case FenceStepKind.Invoke:
                _waitUntil = TimeSpan.MaxValue;
                var level = c.Levels[step.Level];
                bool manual = _manual.Contains(level.Device) && step.Action == FenceAction.Off;
                Phase = manual ? FencingPhase.WaitingOperator : FencingPhase.Fencing;
                Progress = manual
                    ? $"OPERATOR INTERVENTION REQUIRED: cut the power of {_target}, then run `appliancectl fence confirm {_target}`"
                    : c.Progress;
                _outstandingOp = _opId;
                _outstandingLevel = step.Level;
                outbox.Add(new RunFenceDevice(_opId, level.Device, step.Action, _target, step.Timeout, _manual.Contains(level.Device)));
                return;
            default:
                Finish(now, c.Result!, outbox);
                return;
        }
    }

    private static bool IsDelay(FenceController c) => c.Progress.StartsWith("fence_delay", StringComparison.Ordinal);

    private void Finish(TimeSpan now, FenceReport report, List<NodeCommand> outbox)
    {
        var kind = _kind;
        _op = null;
        _waitUntil = TimeSpan.MaxValue;
        var trigger = kind == OpKind.Operator ? FenceTrigger.Operator : FenceTrigger.PeerDead;
        if (report.Verified)
        {
            VerifiedAt = now;
            Phase = FencingPhase.Done;
            Progress = report.Reason;
            if (kind == OpKind.Auto)
                RoundsFailed = 0;
            outbox.Add(new FenceEnded(report, trigger));
        }
        else
        {
            outbox.Add(new FenceEnded(report, trigger));
            Phase = FencingPhase.Failed;
            if (kind == OpKind.Auto)
            {
                RoundsFailed++;
                if (report.Outcome is FenceOutcome.NoDevice or FenceOutcome.Fatal)
                {
                    // Nothing will change without an operator: say so once, loudly, and stop.
                    _autoHalted = true;
                    Progress = report.Reason + " — NOT taking over";
                }
                else
                {
                    var wait = FencingLimits.RoundWait(RoundsFailed);
                    _nextRoundAt = now + wait;
                    Progress = $"fencing failed ({RoundsFailed} round(s)): {report.Reason}; NOT taking over; retrying in {wait.TotalSeconds:0.#} s";
                }
            }
            else
                Progress = report.Reason;
        }
        if (kind == OpKind.Operator)
            outbox.Add(new OperatorReply(_requestId, report.Verified, report.Verified
                ? $"{_target} fenced via {report.Device} in {report.Elapsed.TotalMilliseconds:F0} ms: {report.Reason}"
                : $"fencing {_target} failed: {report.Reason}"));
    }

    private void DrivePowerOn(List<NodeCommand> outbox)
    {
        while (_powerOnLevel < _levels.Length && _manual.Contains(_levels[_powerOnLevel].Device))
            _powerOnLevel++;
        if (_powerOnLevel < _levels.Length)
        {
            var level = _levels[_powerOnLevel];
            Phase = FencingPhase.Fencing;
            Progress = $"powering on {_target} via {level.Device}";
            _outstandingOp = _opId;
            _outstandingLevel = _powerOnLevel;
            outbox.Add(new RunFenceDevice(_opId, level.Device, FenceAction.On, _target, level.Timeout, false));
            return;
        }
        _op = null;
        string done = string.Join(", ", _poweredOn);
        bool ok = _powerOnFailures.Count == 0;
        if (_poweredOn.Count > 0)
            outbox.Add(new PowerRestored(_target, string.Join("+", _poweredOn), ok,
                $"powered on by an operator via {done}" + (ok ? "" : "; failed: " + string.Join("; ", _powerOnFailures))));
        // The verified off stays: the peer counts as fenced until it is heard again (it boots, waits
        // initdead, and is met), or an active node would fence it again the moment it is powered on.
        Phase = ok ? FencingPhase.Done : FencingPhase.Failed;
        Progress = ok
            ? _poweredOn.Count == 0 ? $"no device can power {_target} on: do it by hand" : $"{_target} powered on via {done}"
            : "power on failed: " + string.Join("; ", _powerOnFailures) + (_poweredOn.Count == 0 ? "" : $" (done via {done})");
        outbox.Add(new OperatorReply(_requestId, ok, Progress));
    }
}
