using Appliance.Core.Arbiter;
using Appliance.Core.Config;
using Appliance.Core.Ports;

namespace Appliance.Core.Node;

/// <summary>One resource as the sequencer sees it: its name and kind, its action bound and its monitor cadence.</summary>
public readonly record struct ResourceSpec(string Name, string Kind, TimeSpan Timeout, TimeSpan MonitorInterval)
{
    /// <summary>
    /// Its start has a second step (<see cref="ResourceVerb.Finish"/>) that runs after every resource
    /// has started: the conntrack commit, which needs the director's table (its start) but must not hold
    /// back the VIPs after it, nor share the CPU with them while they come up.
    /// </summary>
    public bool FinishesLast { get; init; }

    /// <summary>
    /// Bound of a VIP action (an rtnetlink request and a raw frame: milliseconds); scripts and agents
    /// carry their configured <c>timeout</c>.
    /// </summary>
    public static readonly TimeSpan VipTimeout = TimeSpan.FromSeconds(5);

    public static ResourceSpec From(ResourceConfig r) => new(r.Name, KindName(r.Kind), r switch
    {
        ScriptResourceConfig s => s.Timeout,
        Director.ConntrackSyncResourceConfig => Director.ConntrackSyncResourceConfig.CommitTimeout,
        _ => VipTimeout,
    }, r.MonitorInterval)
    { FinishesLast = r is Director.ConntrackSyncResourceConfig };

    public static string KindName(ResourceKind k) => k switch
    {
        ResourceKind.Vip => "vip",
        ResourceKind.Exec => "exec",
        ResourceKind.Lsb => "lsb",
        ResourceKind.ConntrackSync => "conntrack",
        _ => "ocf",
    };
}

/// <summary>One resource in status.</summary>
public readonly record struct ResourceView(string Name, string Kind, ResourceState State, string Detail);

/// <summary>
/// Carries out the arbiter's start and stop (DESIGN.md section 5), sans-I/O: resources start in config
/// order and stop in reverse; a failed start stops what it started (the failed one included: a start
/// that timed out may have done half its work) and leaves the node unfit until an operator's takeover;
/// a stop that fails leaves <see cref="LocalResources.StopFailed"/> (the peer must fence this node).
/// One action at a time; a newer wish (stop during a start) takes effect after the current action.
/// While everything is started each resource with a monitor interval is checked; one that fails is
/// restarted in place once (stop, start: pacemaker's on-fail=restart), and if that fails the node is
/// unfit, so the arbiter hands over to a healthy peer. At boot every resource is stopped once, so
/// nothing a previous run left behind is held by a node that is not active.
/// <para>A resource that <see cref="ResourceSpec.FinishesLast"/> is started in its place and finished
/// (<see cref="ResourceVerb.Finish"/>) once every resource has started; the node holds its resources
/// (<see cref="LocalResources.Started"/>) when the finishes are done. A finish that fails is restarted in
/// place like a failed monitor (stop, start, finish), and a second failure makes the node unfit.</para>
/// </summary>
public sealed class ResourceSequencer
{
    private enum Phase { Cleanup, Idle, Starting, Finishing, Stopping, RestartStop, RestartStart, RestartFinish }

    private readonly ResourceSpec[] _specs;
    private readonly ResourceState[] _states;
    private readonly string[] _details;
    private readonly TimeSpan[] _monitorDue;
    private readonly bool[] _lost;
    private Phase _phase = Phase.Cleanup;
    private int _cursor;
    private bool _stopFailed;
    private bool _rollback;
    private int _inFlight = -1;
    private ArbiterAction _wanted;

    public ResourceSequencer(IReadOnlyList<ResourceSpec> specs)
    {
        _specs = [.. specs];
        _states = new ResourceState[_specs.Length];
        _details = Enumerable.Repeat("", _specs.Length).ToArray();
        _monitorDue = new TimeSpan[_specs.Length];
        _lost = new bool[_specs.Length];
        _cursor = _specs.Length - 1;
        Aggregate = _specs.Length == 0 ? LocalResources.Stopped : LocalResources.Stopping;
        if (_specs.Length == 0)
            _phase = Phase.Idle;
    }

    public LocalResources Aggregate { get; private set; }

    /// <summary>Why this node is unfit to hold resources ("" when fit): a start that failed, or a resource lost after its restart.</summary>
    public string Failure { get; private set; } = "";

    /// <summary>An action is outstanding.</summary>
    public bool Busy => _inFlight >= 0;

    public IReadOnlyList<ResourceView> Snapshot() =>
        _specs.Select((s, i) => new ResourceView(s.Name, s.Kind, _states[i], _details[i])).ToArray();

    /// <summary>An operator's takeover: the node is fit again (a failed start may be retried).</summary>
    public void ClearFailure() => Failure = "";

    /// <summary>
    /// What the arbiter wants: start or stop; <see cref="ArbiterAction.None"/> with <paramref name="role"/>
    /// standby, failed or starting withdraws a start that was wanted before (a node that backed off
    /// must not start later when something else makes it idle); any other None leaves things as they are.
    /// </summary>
    public void Want(ArbiterAction action, Heartbeat.NodeRole role)
    {
        if (action is ArbiterAction.StartResources or ArbiterAction.StopResources)
            _wanted = action;
        else if (role is Heartbeat.NodeRole.Standby or Heartbeat.NodeRole.Failed or Heartbeat.NodeRole.Starting)
            _wanted = ArbiterAction.None;
    }

    /// <summary>When a monitor falls due (MaxValue: none).</summary>
    public TimeSpan NextWake()
    {
        if (_phase != Phase.Idle || Aggregate != LocalResources.Started || Busy)
            return TimeSpan.MaxValue;
        var next = TimeSpan.MaxValue;
        for (int i = 0; i < _specs.Length; i++)
            if (Monitored(i) && _monitorDue[i] < next)
                next = _monitorDue[i];
        return next;
    }

    private bool Monitored(int i) => _specs[i].MonitorInterval > TimeSpan.Zero && !_lost[i] && _states[i] == ResourceState.Started;

    /// <summary>Issues the next action, if one is due and none is outstanding.</summary>
    public void Advance(TimeSpan now, List<NodeCommand> outbox)
    {
        if (Busy)
            return;
        switch (_phase)
        {
            case Phase.Cleanup:
            case Phase.Stopping:
                if (_cursor >= 0)
                {
                    Issue(_cursor, ResourceVerb.Stop, outbox);
                    return;
                }
                Aggregate = _stopFailed ? LocalResources.StopFailed : LocalResources.Stopped;
                _phase = Phase.Idle;
                _rollback = false;
                break;
            case Phase.Starting:
                if (_wanted != ArbiterAction.StartResources)
                {
                    StopFrom(_cursor - 1);
                    Advance(now, outbox);
                    return;
                }
                if (_cursor < _specs.Length)
                {
                    Issue(_cursor, ResourceVerb.Start, outbox);
                    return;
                }
                _phase = Phase.Finishing;
                _cursor = NextToFinish(0);
                Advance(now, outbox);
                return;
            case Phase.Finishing:
                if (_wanted != ArbiterAction.StartResources)
                {
                    StopFrom(_specs.Length - 1);
                    Advance(now, outbox);
                    return;
                }
                if (_cursor < _specs.Length)
                {
                    Issue(_cursor, ResourceVerb.Finish, outbox);
                    return;
                }
                HoldAll(now);
                break;
            case Phase.RestartStop:
                Issue(_cursor, ResourceVerb.Stop, outbox);
                return;
            case Phase.RestartStart:
                Issue(_cursor, ResourceVerb.Start, outbox);
                return;
            case Phase.RestartFinish:
                Issue(_cursor, ResourceVerb.Finish, outbox);
                return;
        }
        // Idle: converge on what the arbiter wants, else run a monitor that is due.
        if (_wanted == ArbiterAction.StartResources && Aggregate == LocalResources.Stopped && Failure.Length == 0)
        {
            _phase = Phase.Starting;
            _cursor = 0;
            Aggregate = LocalResources.Starting;
            Array.Clear(_lost);
            Advance(now, outbox);
            return;
        }
        if (_wanted == ArbiterAction.StopResources && Aggregate is LocalResources.Started or LocalResources.Starting)
        {
            StopFrom(_specs.Length - 1);
            Advance(now, outbox);
            return;
        }
        if (Aggregate != LocalResources.Started)
            return;
        for (int i = 0; i < _specs.Length; i++)
        {
            if (Monitored(i) && _monitorDue[i] <= now)
            {
                Issue(i, ResourceVerb.Monitor, outbox);
                return;
            }
        }
    }

    /// <summary>Every resource started and finished: the node holds them, and monitors fall due.</summary>
    private void HoldAll(TimeSpan now)
    {
        Aggregate = LocalResources.Started;
        _phase = Phase.Idle;
        for (int i = 0; i < _specs.Length; i++)
            _monitorDue[i] = now + _specs[i].MonitorInterval;
    }

    /// <summary>The first resource from <paramref name="from"/> whose start has a finish still to run.</summary>
    private int NextToFinish(int from)
    {
        while (from < _specs.Length && !(_specs[from].FinishesLast && _states[from] == ResourceState.Started))
            from++;
        return from;
    }

    private void StopFrom(int cursor)
    {
        _phase = Phase.Stopping;
        _cursor = cursor;
        _stopFailed = false;
        Aggregate = LocalResources.Stopping;
    }

    private void Issue(int i, ResourceVerb verb, List<NodeCommand> outbox)
    {
        _inFlight = i;
        if (verb is ResourceVerb.Start or ResourceVerb.Stop)
            _states[i] = verb == ResourceVerb.Start ? ResourceState.Starting : ResourceState.Stopping;
        else if (verb == ResourceVerb.Finish)
            _details[i] = "finishing its start, after every resource started";
        outbox.Add(new RunResource(i, verb, _specs[i].Timeout));
    }

    /// <summary>The outcome of the outstanding action on resource <paramref name="i"/>.</summary>
    public void Done(TimeSpan now, int i, ResourceVerb verb, ResourceOutcome outcome)
    {
        if (i != _inFlight)
            throw new InvalidOperationException($"resource {i} reported {verb} but the outstanding action is on {_inFlight}");
        _inFlight = -1;
        var s = _specs[i];
        switch (verb)
        {
            case ResourceVerb.Monitor:
                if (outcome.Ok)
                {
                    _monitorDue[i] = now + s.MonitorInterval;
                    return;
                }
                _details[i] = $"monitor failed ({outcome.Reason}): restarting";
                _phase = Phase.RestartStop;
                _cursor = i;
                return;
            case ResourceVerb.Start when outcome.Ok:
                _states[i] = ResourceState.Started;
                if (_phase == Phase.RestartStart && s.FinishesLast)
                {
                    _phase = Phase.RestartFinish; // its finish again, then it is back
                }
                else if (_phase == Phase.RestartStart)
                {
                    _details[i] = $"restarted after its monitor failed ({_details[i]})";
                    _monitorDue[i] = now + s.MonitorInterval;
                    _phase = Phase.Idle;
                }
                else
                {
                    _details[i] = outcome.Reason;
                    _cursor++;
                }
                return;
            case ResourceVerb.Finish when outcome.Ok:
                if (_phase == Phase.RestartFinish)
                {
                    _details[i] = $"restarted ({outcome.Reason})";
                    _monitorDue[i] = now + s.MonitorInterval;
                    _phase = Phase.Idle;
                }
                else
                {
                    _details[i] = outcome.Reason;
                    _cursor = NextToFinish(i + 1);
                }
                return;
            case ResourceVerb.Finish:
                if (_phase == Phase.RestartFinish)
                {
                    Lose(i, $"restarted after its finish failed; failed again ({outcome.Reason})");
                    return;
                }
                // Every other resource is up (the VIPs serve): the node holds them, and this one is
                // restarted in place, as after a failed monitor.
                HoldAll(now);
                _details[i] = $"finish failed ({outcome.Reason}): restarting";
                _phase = Phase.RestartStop;
                _cursor = i;
                return;
            case ResourceVerb.Start:
                _states[i] = ResourceState.Failed;
                if (_phase == Phase.RestartStart)
                {
                    Lose(i, $"monitor failed; restart failed ({outcome.Reason})");
                    return;
                }
                _details[i] = "start failed: " + outcome.Reason;
                Failure = $"{s.Name}: start failed ({outcome.Reason})";
                // Roll back: stop this one too (a start that timed out may have done half its work), then the ones before it.
                StopFrom(i);
                _rollback = true;
                return;
            case ResourceVerb.Stop when outcome.Ok:
                if (_phase == Phase.RestartStop)
                {
                    _phase = Phase.RestartStart;
                    return;
                }
                // A resource whose start failed keeps "failed" in status, with why.
                if (_rollback && _details[i].StartsWith("start failed", StringComparison.Ordinal))
                    _states[i] = ResourceState.Failed;
                else
                {
                    _states[i] = ResourceState.Stopped;
                    _details[i] = outcome.Reason;
                }
                _cursor--;
                return;
            default: // a stop failed
                _states[i] = ResourceState.Failed;
                _details[i] = "stop failed: " + outcome.Reason;
                if (_phase == Phase.RestartStop)
                {
                    Lose(i, $"monitor failed; its stop failed too ({outcome.Reason})");
                    return;
                }
                _stopFailed = true;
                _cursor--;
                return;
        }
    }

    /// <summary>A started resource is gone and could not be restarted: unfit; the arbiter hands over to a healthy peer.</summary>
    private void Lose(int i, string why)
    {
        _lost[i] = true;
        _states[i] = ResourceState.Failed;
        _details[i] = why;
        Failure = $"{_specs[i].Name}: {why}";
        _phase = Phase.Idle;
    }
}
