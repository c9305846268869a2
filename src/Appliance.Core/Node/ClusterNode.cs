using System.Collections.Immutable;
using Appliance.Core.Arbiter;
using Appliance.Core.Config;
using Appliance.Core.Fencing;
using Appliance.Core.Heartbeat;
using Appliance.Core.Membership;
using Appliance.Core.Ports;
using Appliance.Core.Values;

namespace Appliance.Core.Node;

/// <summary>What status shows of the node's host logic.</summary>
public sealed record NodeView(
    NodeRole Role,
    string RoleReason,
    bool StandbyRequested,
    bool Leaving,
    LocalResources Resources,
    IReadOnlyList<ResourceView> ResourceList,
    string ResourceFailure,
    bool MonitorsHealthy,
    FencingView Fencing,
    bool PeerFenced);

/// <summary>
/// One node's host logic, step-driven and sans-I/O (DESIGN.md sections 3 and 5; STYLE.md "a
/// sans-I/O core"): the arbiter, the stall guard, resource sequencing, the fencing rounds and the
/// clean shutdown. Time comes in as a value; I/O goes out as <see cref="NodeCommand"/>s that the host
/// carries out and reports back (<see cref="ResourceDone"/>, <see cref="FenceDone"/>). The daemon runs
/// it on its heartbeat thread; the simulation runs two of them. Single-threaded, no locks.
/// <para>
/// Host contract: call <see cref="Step"/> after every wake-up (frames read, stall guard checked) and
/// after every input; send a keepalive at once when it returns true; take the commands from
/// <see cref="Outbox"/>; wake again by <see cref="NextWake"/> at the latest.
/// </para>
/// </summary>
public sealed class ClusterNode
{
    private readonly Arbiter.Arbiter _arbiter;
    private readonly ResourceSequencer _resources;
    private readonly FencingRounds _fencing;
    private readonly string _self;
    private readonly string _peer;
    private readonly uint _mask;
    private readonly List<NodeCommand> _outbox = [];
    private OperatorRequest _pending;
    private bool _healthy = true;
    private bool _stallSeen;
    private bool _leaving;
    private Sequence _leavingAnnouncedAt;
    private bool _left;
    private ArbiterDecision _last;
    private bool _peerFenced;

    public ClusterNode(ApplianceConfig config, int selfIndex, Func<double> random01)
    {
        var self = config.Nodes[selfIndex];
        var peer = config.PeerOf(self.Name);
        int peerIndex = config.Nodes.IndexOf(peer);
        _self = self.Name;
        _peer = peer.Name;
        bool preferred = Arbiter.Arbiter.IsPreferred(self, peer, new NodeId((byte)(selfIndex + 1)), new NodeId((byte)(peerIndex + 1)));
        _arbiter = new Arbiter.Arbiter(preferred, config.Cluster.AutoFailback, config.Cluster.Fencing);
        var resources = Director.NodeResources.Of(config);
        _resources = new ResourceSequencer([.. resources.Select(ResourceSpec.From)]);
        _mask = resources.Length == 0 ? 0 : (uint)((1UL << Math.Min(32, resources.Length)) - 1);
        var devices = config.FenceLevels(peer);
        _fencing = new FencingRounds(config.Cluster, peer.Name, [.. devices.Select(FenceLevel.From)],
            devices.OfType<ManualFenceConfig>().Select(d => d.Name), random01);
        Summary = new StateSummary(NodeRole.Starting, HealthFlags.None, 0, _mask, 0, 0);
    }

    /// <summary>
    /// The config version word the keepalives carry (<see cref="ConfigSync.KeepaliveWord"/>; 0: not
    /// reported). Set by the host when the config sync's stamp changes; the next step announces it.
    /// </summary>
    public uint ConfigWord { get; set; }

    /// <summary>What this node's keepalives announce (role, health, resources held and starting).</summary>
    public StateSummary Summary { get; private set; }

    public NodeRole Role => _arbiter.Role;

    public ArbiterDecision Last => _last;

    public LocalResources Resources => _resources.Aggregate;

    /// <summary>Commands to carry out, in order; the host takes them all after each call.</summary>
    public List<NodeCommand> Outbox => _outbox;

    public bool Leaving => _leaving;

    public ResourceSequencer Sequencer => _resources;

    public FencingRounds Fencing => _fencing;

    /// <summary>Fit to hold resources: every local monitor up and no resource failure.</summary>
    public bool Healthy => _healthy && _resources.Failure.Length == 0;

    public void SetHealthy(bool healthy) => _healthy = healthy;

    /// <summary>An operator's standby or takeover; a takeover also clears a resource failure (a failed start may be retried).</summary>
    public void Request(OperatorRequest r)
    {
        _pending = r;
        if (r == OperatorRequest.Takeover)
            _resources.ClearFailure();
    }

    /// <summary>SIGTERM: release the resources to the peer, say goodbye, then <see cref="Left"/>.</summary>
    public void Leave() => _leaving = true;

    /// <summary>`fence NODE`; null when started (the answer comes as an <see cref="OperatorReply"/>), else why not.</summary>
    public string? RequestFence(TimeSpan now, string target, long requestId)
    {
        if (target == _self)
            return $"refusing to fence {target}: it is this node (fence it from {_peer})";
        if (target != _peer)
            return $"unknown node '{target}' (the peer is {_peer})";
        return _fencing.RequestFence(now, requestId, _outbox);
    }

    /// <summary>`fence on NODE`; null when started, else why not.</summary>
    public string? RequestPowerOn(TimeSpan now, string target, long requestId)
    {
        if (target != _peer)
            return target == _self ? $"{target} is this node; it is on" : $"unknown node '{target}' (the peer is {_peer})";
        return _fencing.RequestPowerOn(now, requestId, _outbox);
    }

    public void ResourceDone(TimeSpan now, int index, ResourceVerb verb, ResourceOutcome outcome) =>
        _resources.Done(now, index, verb, outcome);

    public void FenceDone(TimeSpan now, long op, FenceResult result) => _fencing.Done(now, op, result, _outbox);

    /// <summary>When the node wants to be stepped again at the latest (a fence wait, a round, a monitor).</summary>
    public TimeSpan NextWake()
    {
        var a = _fencing.NextWake();
        var b = _resources.NextWake();
        return a < b ? a : b;
    }

    /// <summary>
    /// One step: judge the peer, decide, carry the decision into resources and fencing, and update
    /// <see cref="Summary"/>. True when the announcement changed (the host sends a keepalive at once).
    /// </summary>
    public bool Step(TimeSpan now, Membership.Membership m, bool stalled)
    {
        m.Evaluate(now);
        _stallSeen |= stalled;
        // While this node was not running the peer may have been powered on again (reboot action, an
        // operator): a fence verified before the stall proves nothing about the peer now.
        if (stalled)
            _fencing.ForgetVerified();
        _peerFenced = m.Peer == PeerState.Dead && _fencing.VerifiedAt is { } verified && (m.LastLife is not { } life || life < verified);
        // The stall guard asks the peer before it steps down (Membership.StallAnswerAt): resources
        // held through a stall are kept only if the peer answers that it stayed standby.
        bool asking = false, stepDown = false;
        if (_stallSeen)
        {
            switch (m.StallAnswerAt(now))
            {
                case StallAnswer.Awaited: asking = true; break;
                case StallAnswer.PeerStayedStandby: _stallSeen = false; m.StallDealtWith(); break;
                default: stepDown = true; break; // moved, unanswered, or a stall the membership never saw
            }
        }
        var view = new ArbiterView(now, m.Peer, m.PeerSummary, m.SelfSeq, m.PeerAckedSelfSeq, stepDown,
            Healthy, _resources.Aggregate, _peerFenced, _pending, _leaving, asking);
        _pending = OperatorRequest.None;
        var d = _arbiter.Step(view);
        if (stepDown && d.Role is NodeRole.Standby or NodeRole.Active)
        {
            _stallSeen = false; // stepped down (or never held): the stall has been dealt with
            m.StallDealtWith();
        }

        _resources.Want(d.Action, d.Role);
        _resources.Advance(now, _outbox);
        _fencing.Step(now, d.Action == ArbiterAction.FencePeer, _resources.Aggregate == LocalResources.Started, d.Reason, _outbox);

        var before = Summary;
        var aggregate = _resources.Aggregate;
        bool saysLeaving = _leaving && aggregate == LocalResources.Stopped && d.Role == NodeRole.Standby;
        Summary = new StateSummary(d.Role, _arbiter.Health | (saysLeaving ? HealthFlags.Leaving : HealthFlags.None), ConfigWord,
            aggregate == LocalResources.Stopped ? 0 : _mask, aggregate == LocalResources.Starting ? _mask : 0, 0);
        if (_leaving && !_left)
            StepLeaving(m, saysLeaving, before);

        bool changed = d.Role != _last.Role || d.Action != _last.Action;
        if (changed)
        {
            _last = d;
            _outbox.Add(new Decided(d));
        }
        return changed || Summary != before;
    }

    private void StepLeaving(Membership.Membership m, bool saysLeaving, StateSummary before)
    {
        if (_resources.Aggregate == LocalResources.StopFailed)
        {
            _left = true;
            _outbox.Add(new Left(false, "a resource failed to stop: exiting without saying goodbye, so the peer fences this node"));
            return;
        }
        if (!saysLeaving)
            return;
        if ((before.Health & HealthFlags.Leaving) == 0)
            _leavingAnnouncedAt = new Sequence(m.SelfSeq.Value + 1); // the next keepalive carries it
        bool peerThere = m.Peer is PeerState.Up or PeerState.Warn;
        if (!peerThere || m.PeerAckedSelfSeq >= _leavingAnnouncedAt)
        {
            _left = true;
            _outbox.Add(new Left(true, peerThere ? $"{_peer} has seen this node leave, holding nothing" : $"{_peer} is not there; this node holds nothing"));
        }
    }

    /// <summary>
    /// The host loop's step after a wake-up's frames were read (the daemon's heartbeat thread and the
    /// simulation both run this): decide, put the decision in the keepalive, and send it at once when
    /// it changed or when the peer's role or holdings just changed (it may wait for our
    /// acknowledgement of its takeover); otherwise keep the cadence.
    /// </summary>
    public void Tick(HeartbeatNode hb, TimeSpan now, bool stalled, StateSummary peerBefore)
    {
        bool changed = Step(now, hb.Membership, stalled);
        hb.LocalState = Summary;
        var peerAfter = hb.Membership.PeerSummary;
        bool peerChanged = peerAfter.Role != peerBefore.Role || peerAfter.ResourcesHeld != peerBefore.ResourcesHeld ||
                           peerAfter.Health != peerBefore.Health;
        if (changed || peerChanged)
            hb.SendNow();
        else
            hb.Evaluate();
    }

    public NodeView Snapshot() => new(_arbiter.Role, _last.Reason, _arbiter.StandbyRequested, _leaving, _resources.Aggregate,
        _resources.Snapshot(), _resources.Failure, _healthy, _fencing.View(), _peerFenced);
}
