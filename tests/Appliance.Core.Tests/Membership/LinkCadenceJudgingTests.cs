using Appliance.Core.Config;
using Appliance.Core.Heartbeat;
using Appliance.Core.Membership;
using Appliance.Core.Values;
using M = Appliance.Core.Membership.Membership;

namespace Appliance.Core.Tests.Membership;

/// <summary>
/// Membership with links at different cadences: link 0 is a serial link sending every 5th tick and
/// judged against 5 x the cluster's timers, link 1 is UDP at the cluster's. The peer is dead only when
/// every link has been silent for its own deadtime, and a link's own fault report changes nothing.
/// </summary>
public class LinkCadenceJudgingTests
{
    private static readonly Timers T = new(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(20),
        TimeSpan.FromMilliseconds(30), TimeSpan.FromSeconds(1));

    private const int Every = 5;

    private static readonly LinkTimers SerialTimers = new(Every, Every * T.Keepalive, Every * T.Warntime, Every * T.Deadtime,
        TimeSpan.FromMilliseconds(8), Every * T.Deadtime);

    private static readonly NodeId A = new(1), B = new(2);

    private TimeSpan _now = TimeSpan.FromSeconds(Random.Shared.Next(1, 1_000_000)) + TimeSpan.FromTicks(Random.Shared.Next());
    private readonly M _a;
    private readonly M _b;
    private long _tick;

    public LinkCadenceJudgingTests()
    {
        LinkTimers[] links = [SerialTimers, LinkTimers.Uniform(T)];
        _a = new M(T, links, A, B, new BootId(0xA1), _now);
        _b = new M(T, links, B, A, new BootId(0xB1), _now);
    }

    private static HeartbeatFrame Frame(M m, NodeId id, byte link, Sequence seq) =>
        new(link, id, m.SelfBoot, seq, m.PeerBoot, m.PeerSeq, new StateSummary(NodeRole.Standby, HealthFlags.None, 0, 0, 0, 0));

    /// <summary>
    /// One keepalive tick of both nodes, 10 ms after the previous: each sends on the links that are
    /// let through and due (serial every 5th tick), the other receives.
    /// </summary>
    private void Tick(bool serial, bool udp)
    {
        _now += T.Keepalive;
        _tick++;
        var sa = _a.NextTick(_now);
        var sb = _b.NextTick(_now);
        bool serialDue = _tick % Every == 0;
        if (serial && serialDue)
        {
            _b.OnFrame(0, Frame(_a, A, 0, sa), _now);
            _a.OnFrame(0, Frame(_b, B, 0, sb), _now);
        }
        if (udp)
        {
            _b.OnFrame(1, Frame(_a, A, 1, sa), _now);
            _a.OnFrame(1, Frame(_b, B, 1, sb), _now);
        }
        _a.Evaluate(_now);
        _b.Evaluate(_now);
    }

    private static List<MembershipEventKind> Events(M m)
    {
        var list = new List<MembershipEventKind>();
        while (m.TryDequeueEvent(out var e)) list.Add(e.Kind);
        return list;
    }

    private void Healthy(int ticks = 20)
    {
        for (int i = 0; i < ticks; i++)
            Tick(serial: true, udp: true);
        Assert.Equal(PeerState.Up, _a.Peer);
        Assert.Equal(LinkState.Up, _a.LinkStateOf(0));
        Assert.Equal(LinkState.Up, _a.LinkStateOf(1));
        Events(_a);
    }

    [Fact]
    public void A_serial_link_at_a_fifth_of_the_cadence_alone_keeps_the_peer_up()
    {
        Healthy();
        // UDP cut: only the serial link, a frame every 50 ms, far past the cluster's 30 ms deadtime.
        for (int i = 0; i < 100; i++)
        {
            Tick(serial: true, udp: false);
            Assert.Equal(PeerState.Up, _a.Peer);
        }
        Assert.Equal(LinkState.Down, _a.LinkStateOf(1));
        Assert.Equal(LinkState.Up, _a.LinkStateOf(0));
        Assert.Equal(new[] { MembershipEventKind.LinkDown }, Events(_a));
    }

    [Fact]
    public void The_peer_is_warned_and_dead_by_the_slowest_link_s_own_timers()
    {
        Healthy();
        TimeSpan serialLast = _a.LinkLastLife(0)!.Value;
        TimeSpan udpLast = _a.LinkLastLife(1)!.Value;
        // Everything cut: the UDP link goes down at its deadtime, the peer only at the serial link's.
        _now = udpLast + T.Deadtime;
        _a.Evaluate(_now);
        Assert.Equal(LinkState.Down, _a.LinkStateOf(1));
        Assert.Equal(PeerState.Up, _a.Peer); // the serial link is still within its warntime
        _now = serialLast + SerialTimers.Warntime;
        _a.Evaluate(_now);
        Assert.Equal(PeerState.Warn, _a.Peer);
        Assert.Equal(serialLast + SerialTimers.Deadtime, _a.NextDeadline(_now));
        _now = serialLast + SerialTimers.Deadtime - TimeSpan.FromTicks(1);
        _a.Evaluate(_now);
        Assert.Equal(PeerState.Warn, _a.Peer);
        _now = serialLast + SerialTimers.Deadtime;
        _a.Evaluate(_now);
        Assert.Equal(PeerState.Dead, _a.Peer);
        Assert.Equal(new[] { MembershipEventKind.LinkDown, MembershipEventKind.PeerWarn, MembershipEventKind.LinkDown, MembershipEventKind.PeerDead },
            Events(_a));
    }

    [Fact]
    public void The_next_deadline_is_each_link_s_own()
    {
        Healthy();
        TimeSpan udpLast = _a.LinkLastLife(1)!.Value;
        Assert.Equal(udpLast + T.Warntime, _a.NextDeadline(_now)); // the UDP link's warntime comes first
    }

    [Fact]
    public void A_link_s_own_fault_is_reported_and_changes_no_judgement()
    {
        Healthy();
        _a.OnLinkFault(1, _now, faulted: true); // ENETUNREACH on the UDP send
        _a.OnLinkFault(1, _now, faulted: true); // reported once per change
        Assert.True(_a.LinkFaulted(1));
        Assert.Equal(new[] { MembershipEventKind.LinkFault }, Events(_a));
        // It still receives: the link stays up and the peer alive.
        for (int i = 0; i < 20; i++)
            Tick(serial: true, udp: true);
        Assert.Equal(LinkState.Up, _a.LinkStateOf(1));
        Assert.Equal(PeerState.Up, _a.Peer);
        Assert.Empty(Events(_a));
        _a.OnLinkFault(1, _now, faulted: false);
        Assert.False(_a.LinkFaulted(1));
        Assert.Equal(new[] { MembershipEventKind.LinkFaultCleared }, Events(_a));
    }

    [Fact]
    public void Faults_on_every_link_do_not_hasten_death_only_silence_declares_it()
    {
        Healthy();
        TimeSpan serialLast = _a.LinkLastLife(0)!.Value;
        _a.OnLinkFault(0, _now, faulted: true);
        _a.OnLinkFault(1, _now, faulted: true);
        _now = serialLast + SerialTimers.Deadtime - TimeSpan.FromTicks(1);
        _a.Evaluate(_now);
        Assert.NotEqual(PeerState.Dead, _a.Peer);
        _now = serialLast + SerialTimers.Deadtime;
        _a.Evaluate(_now);
        Assert.Equal(PeerState.Dead, _a.Peer);
    }

    [Fact]
    public void An_acknowledgement_is_judged_fresh_against_its_link_s_cadence()
    {
        Healthy();
        // B's next frame acknowledges A's tick of now; held back 100 ms it is too old for the UDP link
        // (3 x 10 ms) but not for the serial link, whose frames lag by up to one of its own 50 ms.
        var onUdp = Frame(_b, B, 1, _b.NextTick(_now));
        var onSerial = Frame(_b, B, 0, _b.NextTick(_now));
        _now += TimeSpan.FromMilliseconds(100);
        Assert.Equal(FrameVerdict.Hello, _a.OnFrame(1, onUdp, _now));
        Assert.Equal(FrameVerdict.Life, _a.OnFrame(0, onSerial, _now));
    }

    [Fact]
    public void Timers_that_break_the_bounds_are_refused()
    {
        LinkTimers tooFast = SerialTimers with { Deadtime = T.Deadtime - TimeSpan.FromMilliseconds(1) };
        Assert.Throws<ArgumentException>(() => new M(T, [tooFast], A, B, new BootId(1), _now));
        LinkTimers tooSlow = SerialTimers with { EveryTicks = LinkCadence.MaxEveryTicks + 1 };
        Assert.Throws<ArgumentException>(() => new M(T, [tooSlow], A, B, new BootId(1), _now));
    }
}
