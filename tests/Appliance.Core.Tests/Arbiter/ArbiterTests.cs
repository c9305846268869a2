using Appliance.Core.Arbiter;
using Appliance.Core.Config;
using Appliance.Core.Heartbeat;
using Appliance.Core.Membership;
using Appliance.Core.Values;
using A = Appliance.Core.Arbiter.Arbiter;

namespace Appliance.Core.Tests.Arbiter;

/// <summary>The arbiter's rules one step at a time (the simulation checks them under faults).</summary>
public class ArbiterTests
{
    private static readonly StateSummary PeerStandby = new(NodeRole.Standby, HealthFlags.None, 0, 0, 0, 0);
    private static readonly StateSummary PeerActive = new(NodeRole.Active, HealthFlags.None, 0, 1, 0, 0);

    private static ArbiterView View(PeerState peer, StateSummary summary, ulong selfSeq = 10, ulong acked = 10,
        LocalResources res = LocalResources.Stopped, bool fenced = false, bool stalled = false, bool healthy = true,
        OperatorRequest request = OperatorRequest.None) =>
        new(TimeSpan.FromSeconds(1), peer, summary, new Sequence(selfSeq), new Sequence(acked), stalled, healthy, res, fenced, request);

    /// <summary>An arbiter (fencing off) that took over from a dead peer and holds the resources.</summary>
    private static A ActiveAlone(bool selfPreferred)
    {
        var a = new A(selfPreferred, false, FencingMode.Off);
        a.Step(View(PeerState.Dead, default));
        a.Step(View(PeerState.Dead, default));
        a.Step(View(PeerState.Dead, default, res: LocalResources.Started));
        return a;
    }

    [Fact]
    public void Waits_in_starting_until_the_peer_is_judged()
    {
        var a = new A(true, false, FencingMode.Required);
        Assert.Equal(NodeRole.Starting, a.Step(View(PeerState.Unknown, default)).Role);
        Assert.Equal(NodeRole.Standby, a.Step(View(PeerState.Up, PeerStandby)).Role);
    }

    [Fact]
    public void A_peer_never_heard_is_fenced_before_anything_starts()
    {
        var a = new A(true, false, FencingMode.Required);
        a.Step(View(PeerState.Dead, default));
        var d = a.Step(View(PeerState.Dead, default));
        Assert.Equal((NodeRole.Fencing, ArbiterAction.FencePeer), (d.Role, d.Action));
        d = a.Step(View(PeerState.Dead, default, fenced: true));
        Assert.Equal((NodeRole.Takeover, ArbiterAction.StartResources), (d.Role, d.Action));
        Assert.Equal(NodeRole.Active, a.Step(View(PeerState.Dead, default, res: LocalResources.Started, fenced: true)).Role);
    }

    [Fact]
    public void The_active_node_fences_a_dead_standby_and_keeps_its_resources()
    {
        var a = new A(true, false, FencingMode.Required);
        a.Step(View(PeerState.Dead, default));
        a.Step(View(PeerState.Dead, default, fenced: true));
        Assert.Equal(NodeRole.Active, a.Step(View(PeerState.Dead, default, res: LocalResources.Started, fenced: true)).Role);
        // The peer came back, then went silent: it may be partitioned, not dead; fence it first.
        Assert.Equal(NodeRole.Active, a.Step(View(PeerState.Up, PeerStandby, res: LocalResources.Started)).Role);
        var d = a.Step(View(PeerState.Dead, PeerStandby, res: LocalResources.Started));
        Assert.Equal((NodeRole.Active, ArbiterAction.FencePeer), (d.Role, d.Action));
        d = a.Step(View(PeerState.Dead, PeerStandby, res: LocalResources.Started, fenced: true));
        Assert.Equal((NodeRole.Active, ArbiterAction.None), (d.Role, d.Action));
        var off = new A(true, false, FencingMode.Off);
        off.Step(View(PeerState.Dead, default));
        off.Step(View(PeerState.Dead, default));
        Assert.Equal(ArbiterAction.None, off.Step(View(PeerState.Dead, default, res: LocalResources.Started)).Action);
    }

    [Fact]
    public void With_fencing_off_a_dead_peer_is_taken_over_and_the_reason_says_so()
    {
        var a = new A(false, false, FencingMode.Off);
        a.Step(View(PeerState.Dead, default));
        var d = a.Step(View(PeerState.Dead, default));
        Assert.Equal(ArbiterAction.StartResources, d.Action);
        Assert.Contains("FENCING IS OFF", d.Reason);
    }

    [Fact]
    public void The_preferred_node_starts_only_after_the_peer_acknowledged_its_takeover()
    {
        var a = new A(true, false, FencingMode.Required);
        a.Step(View(PeerState.Up, PeerStandby));
        var d = a.Step(View(PeerState.Up, PeerStandby, selfSeq: 10, acked: 10));
        Assert.Equal((NodeRole.Takeover, ArbiterAction.None), (d.Role, d.Action)); // announced with seq 11
        d = a.Step(View(PeerState.Up, PeerStandby, selfSeq: 11, acked: 10));
        Assert.Equal(ArbiterAction.None, d.Action);
        d = a.Step(View(PeerState.Up, PeerStandby, selfSeq: 12, acked: 11));
        Assert.Equal(ArbiterAction.StartResources, d.Action);
    }

    [Fact]
    public void The_other_node_stays_standby_while_the_preferred_one_is_eligible_or_holds()
    {
        var b = new A(false, false, FencingMode.Required);
        b.Step(View(PeerState.Up, PeerStandby));
        Assert.Equal(ArbiterAction.None, b.Step(View(PeerState.Up, PeerStandby, acked: 11)).Action);
        Assert.Equal(NodeRole.Standby, b.Step(View(PeerState.Up, PeerActive, acked: 11)).Role);
        // The preferred peer's monitor fails: now this node takes over (after the handshake).
        var failing = PeerStandby with { Health = HealthFlags.MonitorFailing };
        Assert.Equal(NodeRole.Takeover, b.Step(View(PeerState.Up, failing, selfSeq: 20, acked: 20)).Role);
        Assert.Equal(ArbiterAction.StartResources, b.Step(View(PeerState.Up, failing, selfSeq: 22, acked: 21)).Action);
    }

    [Fact]
    public void Simultaneous_takeovers_resolve_to_the_preferred_node()
    {
        var b = new A(false, false, FencingMode.Required);
        b.Step(View(PeerState.Up, PeerStandby));
        b.Step(View(PeerState.Up, PeerStandby with { Health = HealthFlags.MonitorFailing }, selfSeq: 5, acked: 5));
        Assert.Equal(NodeRole.Takeover, b.Role);
        var peerTakingOver = new StateSummary(NodeRole.Takeover, HealthFlags.None, 0, 0, 0, 0);
        Assert.Equal(NodeRole.Standby, b.Step(View(PeerState.Up, peerTakingOver, selfSeq: 7, acked: 7)).Role);
    }

    [Fact]
    public void Planned_switchover_stops_first_then_the_peer_starts()
    {
        var a = new A(true, false, FencingMode.Required);
        a.Step(View(PeerState.Dead, default));
        a.Step(View(PeerState.Dead, default, fenced: true));
        a.Step(View(PeerState.Up, PeerStandby, res: LocalResources.Started));
        Assert.Equal(NodeRole.Active, a.Role);
        var d = a.Step(View(PeerState.Up, PeerStandby, res: LocalResources.Started, request: OperatorRequest.Standby));
        Assert.Equal((NodeRole.Releasing, ArbiterAction.StopResources), (d.Role, d.Action));
        Assert.Equal(HealthFlags.Declines, a.Health & HealthFlags.Declines);
        Assert.Equal(NodeRole.Standby, a.Step(View(PeerState.Up, PeerStandby, res: LocalResources.Stopped)).Role);
        // It does not take the resources back while the operator's standby is in force.
        Assert.Equal(ArbiterAction.None, a.Step(View(PeerState.Up, PeerStandby, selfSeq: 30, acked: 30)).Action);
    }

    [Fact]
    public void An_operators_standby_holds_until_the_peer_has_started_not_merely_announced()
    {
        // The switchover benchmark at 20 ms caught the preferred node racing its peer for the
        // resources it had just handed over: the peer's announced takeover ended the standby.
        var a = new A(true, false, FencingMode.Required);
        a.Step(View(PeerState.Dead, default));
        a.Step(View(PeerState.Dead, default, fenced: true));
        a.Step(View(PeerState.Up, PeerStandby, res: LocalResources.Started));
        a.Step(View(PeerState.Up, PeerStandby, res: LocalResources.Started, request: OperatorRequest.Standby));
        a.Step(View(PeerState.Up, PeerStandby, res: LocalResources.Stopped));
        var announcing = new StateSummary(NodeRole.Takeover, HealthFlags.None, 0, 0, 0, 0);
        for (int i = 0; i < 3; i++)
        {
            var d = a.Step(View(PeerState.Up, announcing, selfSeq: 40, acked: 40));
            Assert.Equal((NodeRole.Standby, ArbiterAction.None), (d.Role, d.Action));
            Assert.True(a.Health.HasFlag(HealthFlags.Declines), "still declining while the peer has only announced");
        }
        var starting = new StateSummary(NodeRole.Takeover, HealthFlags.None, 0, 1, 1, 0);
        a.Step(View(PeerState.Up, starting, selfSeq: 41, acked: 41));
        Assert.False(a.StandbyRequested); // done: the peer has them
        Assert.Equal(NodeRole.Standby, a.Step(View(PeerState.Up, PeerActive, selfSeq: 42, acked: 42)).Role);
    }

    [Fact]
    public void A_failed_stop_is_announced_and_nothing_else_happens()
    {
        var a = new A(true, false, FencingMode.Required);
        var d = a.Step(View(PeerState.Up, PeerStandby, res: LocalResources.StopFailed));
        Assert.Equal((NodeRole.Failed, ArbiterAction.None), (d.Role, d.Action));
        Assert.True(a.Health.HasFlag(HealthFlags.StopFailed));
    }

    [Fact]
    public void While_the_stall_guard_awaits_the_peers_answer_the_node_announces_the_stall_and_keeps_still()
    {
        var a = ActiveAlone(selfPreferred: true);
        var asking = View(PeerState.Up, PeerStandby, res: LocalResources.Started) with { StallAsking = true };
        var d = a.Step(asking);
        Assert.Equal((NodeRole.Active, ArbiterAction.None), (d.Role, d.Action));
        Assert.Equal(HealthFlags.Stalled, a.Health);
        d = a.Step(View(PeerState.Up, PeerStandby, res: LocalResources.Started)); // answered: the peer stayed standby
        Assert.Equal((NodeRole.Active, ArbiterAction.None), (d.Role, d.Action));
        Assert.Equal(HealthFlags.None, a.Health);
    }

    [Fact]
    public void An_active_node_does_not_release_to_a_preferred_peer_that_announces_a_stall()
    {
        // The preferred peer froze, this node took over; the peer, thawed, still says active and
        // stalled. It releases by itself once this node's answer says active: if this node released
        // too, nobody would hold the resources.
        var a = ActiveAlone(selfPreferred: false);
        Assert.Equal(NodeRole.Active, a.Role);
        var stalledPeer = PeerActive with { Health = HealthFlags.Stalled };
        Assert.Equal(NodeRole.Active, a.Step(View(PeerState.Up, stalledPeer, res: LocalResources.Started)).Role);
        var d = a.Step(View(PeerState.Up, PeerActive, res: LocalResources.Started)); // a partition healed: the usual rule
        Assert.Equal((NodeRole.Releasing, ArbiterAction.StopResources), (d.Role, d.Action));
    }

    [Fact]
    public void The_stall_guard_steps_down_at_once_when_the_peer_moved_or_did_not_answer()
    {
        var a = ActiveAlone(selfPreferred: true);
        Assert.Equal(NodeRole.Active, a.Role);
        var d = a.Step(View(PeerState.Up, PeerActive, res: LocalResources.Started, stalled: true));
        Assert.Equal((NodeRole.Releasing, ArbiterAction.StopResources), (d.Role, d.Action));
    }
}
