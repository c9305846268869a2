using Appliance.Core.Arbiter;
using Appliance.Core.Heartbeat;
using Appliance.Core.Membership;

namespace Appliance.Daemon;

/// <summary>
/// Runs the <see cref="Arbiter"/> on the heartbeat thread, right after each wake-up's frames are
/// read and before the next keepalive goes out, so the role and resource bits a frame announces are
/// always the arbiter's latest. Inputs from the daemon (resource state, local health, operator
/// requests) arrive through <see cref="HeartbeatThread.InvokeAsync{T}"/>; each decision that differs
/// from the last goes to <c>onDecision</c>. No allocation per step.
/// </summary>
internal sealed class ArbiterHost(Arbiter arbiter, uint resourceMask, Action<ArbiterDecision, long> onDecision)
{
    /// <summary>The peer-life token of a peer never heard.</summary>
    public const long NeverHeard = -1;

    private long _fencedLife = long.MinValue;
    private LocalResources _resources = LocalResources.Stopped;
    private bool _healthy = true;
    private OperatorRequest _pending;
    private bool _stallSeen;
    private ArbiterDecision _last;

    public NodeRole Role => arbiter.Role;

    public ArbiterDecision Last => _last;

    public bool StandbyRequested => arbiter.StandbyRequested;

    public LocalResources Resources => _resources;

    public void SetResources(LocalResources r) => _resources = r;

    public void SetHealthy(bool healthy) => _healthy = healthy;

    public void Request(OperatorRequest r) => _pending = r;

    /// <summary>
    /// The fencing service verified the peer off. <paramref name="lifeToken"/> is the token sent with
    /// the FencePeer decision: when the peer was last heard. It counts only if the peer has not been
    /// heard since, which is DESIGN.md's "fenced after it was last heard".
    /// </summary>
    public void PeerFenced(long lifeToken) => _fencedLife = lifeToken;

    /// <summary>When the peer was last heard, as a token for <see cref="PeerFenced"/>.</summary>
    public static long LifeToken(TimeSpan? lastLife) => lastLife is { } t ? t.Ticks : NeverHeard;

    /// <summary>One arbiter step; true when the decision changed (the caller announces it at once).</summary>
    public bool Step(HeartbeatNode node, TimeSpan now, bool stalled)
    {
        var m = node.Membership;
        m.Evaluate(now);
        _stallSeen |= stalled;
        long life = LifeToken(m.LastLife);
        bool fenced = _fencedLife == life && m.Peer == PeerState.Dead;
        var view = new ArbiterView(now, m.Peer, m.PeerSummary, m.SelfSeq, m.PeerAckedSelfSeq, _stallSeen,
            _healthy, _resources, fenced, _pending);
        _pending = OperatorRequest.None;
        var d = arbiter.Step(view);
        if (d.Role is NodeRole.Standby or NodeRole.Active)
            _stallSeen = false; // stepped down (or never held): the stall has been dealt with
        uint held = _resources == LocalResources.Stopped ? 0 : resourceMask;
        uint starting = _resources == LocalResources.Starting ? resourceMask : 0;
        node.LocalState = new StateSummary(d.Role, arbiter.Health, 0, held, starting, 0);
        if (d.Role == _last.Role && d.Action == _last.Action)
            return false;
        _last = d;
        onDecision(d, life);
        return true;
    }
}
