using Appliance.Core.Config;
using Appliance.Core.Heartbeat;
using Appliance.Core.Membership;
using Appliance.Core.Values;

namespace Appliance.Core.Arbiter;

/// <summary>Where this node's resources are, as the resource manager reports them.</summary>
public enum LocalResources
{
    Stopped,
    Starting,
    Started,
    Stopping,
    /// <summary>A stop failed: the node may still hold something; the peer must fence it before taking over.</summary>
    StopFailed,
}

/// <summary>What the arbiter wants done now.</summary>
public enum ArbiterAction { None, StartResources, StopResources, FencePeer }

/// <summary>Operator requests (appliancectl standby / takeover).</summary>
public enum OperatorRequest { None, Standby, Takeover }

/// <summary>Everything the arbiter looks at in one step. Built by the host from membership, resources and fencing.</summary>
public readonly record struct ArbiterView(
    TimeSpan Now,
    PeerState Peer,
    StateSummary PeerSummary,
    Sequence SelfSeq,
    Sequence PeerAckedSelfSeq,
    bool Stalled,
    bool LocalHealthy,
    LocalResources Resources,
    bool PeerFenced,
    OperatorRequest Request,
    bool Leaving = false,
    bool StallAsking = false);

/// <summary>One step's outcome: the role to announce, an action, and why (for the log).</summary>
public readonly record struct ArbiterDecision(NodeRole Role, ArbiterAction Action, string Reason);

/// <summary>
/// Decides who is active (DESIGN.md section 5). Deterministic, sans-I/O: the host feeds it a view
/// after every heartbeat wake-up and carries out the action. Safety rule: resources start only if
/// (a) the peer's fresh frames, sent after it saw our takeover announcement, say it holds none and
/// is not taking over, or (b) the peer was fenced after it was last heard, or (c) fencing is off and
/// the peer is dead (logged loudly by the host). A stall the peer does not answer with "standby,
/// holding nothing" (<see cref="ArbiterView.Stalled"/>), a failed stop or an operator's standby always
/// steps down first; while that answer is awaited (<see cref="ArbiterView.StallAsking"/>) the node
/// announces the stall and changes nothing.
/// </summary>
public sealed class Arbiter
{
    private readonly bool _selfPreferred;
    private readonly bool _autoFailback;
    private readonly FencingMode _fencing;
    private Sequence _announcedAt;
    private bool _standbyRequested;
    private bool _takeoverRequested;

    /// <param name="selfPreferred">This node wins ties: higher priority, or equal priority and the lower node id.</param>
    public Arbiter(bool selfPreferred, bool autoFailback, FencingMode fencing)
    {
        _selfPreferred = selfPreferred;
        _autoFailback = autoFailback;
        _fencing = fencing;
    }

    public static bool IsPreferred(NodeConfig self, NodeConfig peer, NodeId selfId, NodeId peerId) =>
        self.Priority > peer.Priority || (self.Priority == peer.Priority && selfId.Value < peerId.Value);

    public NodeRole Role { get; private set; } = NodeRole.Starting;

    /// <summary>An operator put this node in standby; it will not take resources until that is done or undone.</summary>
    public bool StandbyRequested => _standbyRequested;

    /// <summary>The health flags to announce alongside the role.</summary>
    public HealthFlags Health { get; private set; }

    public ArbiterDecision Step(in ArbiterView v)
    {
        if (v.Request == OperatorRequest.Standby)
            (_standbyRequested, _takeoverRequested) = (true, false);
        else if (v.Request == OperatorRequest.Takeover)
            (_standbyRequested, _takeoverRequested) = (false, true);
        if (Role == NodeRole.Active)
            _takeoverRequested = false; // done

        Health = (v.LocalHealthy ? HealthFlags.None : HealthFlags.MonitorFailing)
               | (v.Resources == LocalResources.StopFailed ? HealthFlags.StopFailed : HealthFlags.None)
               | (v.Stalled || v.StallAsking ? HealthFlags.Stalled : HealthFlags.None)
               | (_standbyRequested || v.Leaving ? HealthFlags.Declines : HealthFlags.None)
               | (_takeoverRequested ? HealthFlags.WantsResources : HealthFlags.None);

        if (v.Resources == LocalResources.StopFailed)
            return Become(NodeRole.Failed, ArbiterAction.None, "a resource failed to stop: this node may still hold it, the peer must fence it");

        if (v.Stalled && Holding(v.Resources))
            return Become(NodeRole.Releasing, ArbiterAction.StopResources, "stall guard: the peer moved or did not answer after this node was not running");

        // SIGTERM (DESIGN.md section 3): a planned switchover, then nothing more in this boot.
        if (v.Leaving)
            return Holding(v.Resources)
                ? Become(NodeRole.Releasing, ArbiterAction.StopResources, "shutting down: releasing the resources to the peer")
                : Become(NodeRole.Standby, ArbiterAction.None, "shutting down");

        bool peerAlive = v.Peer is PeerState.Up or PeerState.Warn;
        var p = v.PeerSummary;
        bool peerHolds = peerAlive && p.ClaimsResources;
        // An operator's standby moves the resources once: done when the peer has them (with
        // auto_failback it lasts, or the preferred node would take them straight back), or moot when
        // the peer is dead, since then this node is all there is. "Has them" means started or
        // starting, not a takeover merely announced: an announcement can still back off (a takeover
        // race), and a preferred node that stopped declining at that moment would race the peer
        // for the resources it was asked to hand over (seen in the switchover benchmark at 20 ms).
        bool peerHasThem = peerAlive && (p.ResourcesHeld != 0 || p.ResourcesStarting != 0) && (p.Health & HealthFlags.StopFailed) == 0;
        if (_standbyRequested && (v.Peer is PeerState.Dead or PeerState.Stopped || (peerHasThem && !_autoFailback)) && !Holding(v.Resources))
            _standbyRequested = false;
        bool peerEligible = peerAlive && (p.Health & (HealthFlags.MonitorFailing | HealthFlags.StopFailed | HealthFlags.Declines)) == 0 &&
                            p.Role != NodeRole.Failed;

        switch (Role)
        {
            case NodeRole.Starting:
                if (v.Peer == PeerState.Unknown)
                    return Stay(ArbiterAction.None, "waiting for the peer (initdead)");
                return Become(NodeRole.Standby, ArbiterAction.None, peerAlive ? "peer met" : v.Peer == PeerState.Stopped ? "the peer has shut down" : "peer not heard within initdead");

            case NodeRole.Active:
                if (_standbyRequested)
                    return Become(NodeRole.Releasing, ArbiterAction.StopResources, "operator asked for standby");
                if (!v.LocalHealthy && peerEligible && !peerHolds)
                    return Become(NodeRole.Releasing, ArbiterAction.StopResources, "a local monitor fails and the peer is healthy: switching over");
                if (peerEligible && !peerHolds && (p.Health & HealthFlags.WantsResources) != 0)
                    return Become(NodeRole.Releasing, ArbiterAction.StopResources, "an operator asked the peer to take over: switching over");
                // Not to a peer that announces a stall: it asks this node first and releases by itself.
                if (peerAlive && p.Role == NodeRole.Active && p.ResourcesHeld != 0 && !_selfPreferred && (p.Health & HealthFlags.Stalled) == 0)
                    return Become(NodeRole.Releasing, ArbiterAction.StopResources, "both nodes active (after a partition): the preferred peer keeps the resources");
                if (_autoFailback && !_selfPreferred && peerEligible && !peerHolds && p.Role == NodeRole.Standby)
                    return Become(NodeRole.Releasing, ArbiterAction.StopResources, "auto_failback: the preferred peer is back");
                // A dead peer that is not fenced may only be partitioned away, and will fence this node
                // and take over after its fence_delay: fence it first, so service continues here.
                if (v.Peer == PeerState.Dead && _fencing == FencingMode.Required && !v.PeerFenced && v.Resources == LocalResources.Started)
                    return Stay(ArbiterAction.FencePeer, "the peer is dead: fencing it before it can fence this node and take over");
                return Stay(v.Resources == LocalResources.Started ? ArbiterAction.None : ArbiterAction.StartResources, "active");

            case NodeRole.Releasing:
                if (v.Resources == LocalResources.Stopped)
                    return Become(NodeRole.Standby, ArbiterAction.None, "resources released");
                return Stay(ArbiterAction.StopResources, "releasing");

            case NodeRole.Takeover:
            case NodeRole.Fencing:
                // Once the start is under way the decision is made; the Active rules take it from there.
                if (v.Resources == LocalResources.Started)
                    return Become(NodeRole.Active, ArbiterAction.None, "resources started");
                if (v.Resources == LocalResources.Starting)
                    return Stay(ArbiterAction.None, "starting resources");
                if (!v.LocalHealthy && v.Resources == LocalResources.Stopped)
                    return Become(NodeRole.Standby, ArbiterAction.None, "unfit (a monitor or a resource failed): not taking over");
                return Proceed(v, peerAlive, peerHolds, peerEligible);

            default: // Standby, Failed (after the failed stop was cleared)
                if (Holding(v.Resources))
                    return Become(NodeRole.Releasing, ArbiterAction.StopResources, "standby must hold nothing");
                if (_standbyRequested || !v.LocalHealthy)
                    return Become(NodeRole.Standby, ArbiterAction.None, _standbyRequested ? "standby by operator request" : "a local monitor fails: not taking over");
                if (peerAlive)
                {
                    if (peerHolds)
                        return Become(NodeRole.Standby, ArbiterAction.None, "the peer holds the resources");
                    if ((p.Health & HealthFlags.WantsResources) != 0 && peerEligible && !_takeoverRequested)
                        return Become(NodeRole.Standby, ArbiterAction.None, "an operator asked the peer to take over");
                    if (!_selfPreferred && peerEligible && !_takeoverRequested && (p.Health & HealthFlags.WantsResources) == 0)
                        return Become(NodeRole.Standby, ArbiterAction.None, "the preferred peer takes the resources");
                }
                _announcedAt = new Sequence(v.SelfSeq.Value + 1);
                Role = NodeRole.Takeover;
                return Proceed(v, peerAlive, peerHolds, peerEligible);
        }
    }

    private ArbiterDecision Proceed(in ArbiterView v, bool peerAlive, bool peerHolds, bool peerEligible)
    {
        var p = v.PeerSummary;
        if (peerAlive && Role == NodeRole.Fencing)
        {
            // The peer came back while we were fencing it: what it knew of us is stale. Announce the
            // takeover afresh and let the handshake below decide.
            Role = NodeRole.Takeover;
            _announcedAt = new Sequence(v.SelfSeq.Value + 1);
            return Stay(ArbiterAction.None, "the peer is heard again: takeover announced afresh");
        }
        if (peerAlive)
        {
            if (p.Role is NodeRole.Takeover or NodeRole.Fencing && p.ResourcesHeld == 0 && p.ResourcesStarting == 0)
            {
                // Both announced a takeover at once: the preferred node goes on, the other backs off.
                if (!_selfPreferred)
                    return Become(NodeRole.Standby, ArbiterAction.None, "the peer is taking over too and is preferred");
                if (v.PeerAckedSelfSeq < _announcedAt)
                    return Stay(ArbiterAction.None, "takeover announced; waiting for the peer to see it");
                return Stay(ArbiterAction.None, "takeover race: waiting for the peer to back off");
            }
            if (peerHolds)
                return Become(NodeRole.Standby, ArbiterAction.None, "the peer holds the resources");
            if (v.PeerAckedSelfSeq < _announcedAt)
                return Stay(ArbiterAction.None, "takeover announced; waiting for the peer to see it");
            return Start(v, "the peer saw our takeover and holds nothing");
        }
        // It said it was leaving with nothing held, and never takes anything again in that boot.
        if (v.Peer == PeerState.Stopped)
            return Start(v, "the peer shut down cleanly and holds nothing");
        // The peer is dead (or silent since its last life): only a fence, or fencing off, allows a start.
        if (v.PeerFenced)
            return Start(v, "the peer is fenced");
        if (_fencing == FencingMode.Off && v.Peer == PeerState.Dead)
            return Start(v, "FENCING IS OFF: taking over from a dead peer that was not fenced");
        if (v.Peer == PeerState.Dead)
            return Become(NodeRole.Fencing, ArbiterAction.FencePeer, "the peer is dead and must be fenced before takeover");
        return Stay(ArbiterAction.None, "waiting for the peer's state");
    }

    private ArbiterDecision Start(in ArbiterView v, string why)
    {
        if (v.Resources == LocalResources.Started)
            return Become(NodeRole.Active, ArbiterAction.None, why);
        Role = NodeRole.Takeover;
        return new ArbiterDecision(Role, ArbiterAction.StartResources, why);
    }

    private static bool Holding(LocalResources r) => r is LocalResources.Starting or LocalResources.Started or LocalResources.Stopping;

    private ArbiterDecision Become(NodeRole role, ArbiterAction action, string reason)
    {
        Role = role;
        return new ArbiterDecision(role, action, reason);
    }

    private ArbiterDecision Stay(ArbiterAction action, string reason) => new(Role, action, reason);
}
