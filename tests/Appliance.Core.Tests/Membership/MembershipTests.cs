using Appliance.Core.Config;
using Appliance.Core.Heartbeat;
using Appliance.Core.Membership;
using Appliance.Core.Values;
using M = Appliance.Core.Membership.Membership;

namespace Appliance.Core.Tests.Membership;

/// <summary>
/// Membership on a manual clock that starts at a random instant (a leak of real time would show).
/// Two nodes exchange frames by hand; link 0 and link 1 are independent.
/// </summary>
public class MembershipTests
{
    private static readonly Timers T = new(TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(600),
        TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));

    private static readonly NodeId A = new(1), B = new(2);

    private sealed class Side(M m, NodeId id, Func<TimeSpan> clock)
    {
        public M M { get; set; } = m;
        public NodeId Id { get; } = id;

        public HeartbeatFrame Tick(byte link) => Frame(link, M.NextTick(clock()));

        public HeartbeatFrame Frame(byte link, Sequence seq) =>
            new(link, Id, M.SelfBoot, seq, M.PeerBoot, M.PeerSeq, new StateSummary(NodeRole.Standby, HealthFlags.None, 0, 0, 0, 0));
    }

    private TimeSpan _now = TimeSpan.FromSeconds(Random.Shared.Next(1, 1_000_000)) + TimeSpan.FromTicks(Random.Shared.Next());
    private readonly Side _a;
    private readonly Side _b;

    public MembershipTests()
    {
        _a = new Side(new M(T, A, B, new BootId(0xA1), 2, _now), A, () => _now);
        _b = new Side(new M(T, B, A, new BootId(0xB1), 2, _now), B, () => _now);
    }

    private void Advance(int ms) => _now += TimeSpan.FromMilliseconds(ms);

    /// <summary>One keepalive round on the given links: A sends, B receives, B sends, A receives.</summary>
    private (FrameVerdict AtB, FrameVerdict AtA) Round(params byte[] links)
    {
        FrameVerdict atB = FrameVerdict.Stale, atA = FrameVerdict.Stale;
        var fa = links.Select(l => _a.Tick(l)).ToArray();
        foreach (var f in fa) atB = _b.M.OnFrame(f.LinkIndex, f, _now);
        var fb = links.Select(l => _b.Tick(l)).ToArray();
        foreach (var f in fb) atA = _a.M.OnFrame(f.LinkIndex, f, _now);
        _a.M.Evaluate(_now);
        _b.M.Evaluate(_now);
        return (atB, atA);
    }

    private static List<MembershipEventKind> Events(M m)
    {
        var list = new List<MembershipEventKind>();
        while (m.TryDequeueEvent(out var e)) list.Add(e.Kind);
        return list;
    }

    [Fact]
    public void First_contact_is_a_hello_then_life_once_each_acknowledges_the_other()
    {
        Assert.Equal(PeerState.Unknown, _a.M.Peer);
        var first = _a.Tick(0);
        Assert.Equal(FrameVerdict.Hello, _b.M.OnFrame(0, first, _now)); // A has not heard B yet
        var reply = _b.Tick(0);
        Assert.Equal(FrameVerdict.Life, _a.M.OnFrame(0, reply, _now)); // B acknowledges A's boot
        Assert.Equal(FrameVerdict.Life, _b.M.OnFrame(0, _a.Tick(0), _now));
        Assert.Equal(PeerState.Up, _a.M.Peer);
        Assert.Equal(PeerState.Up, _b.M.Peer);
        Assert.Equal(LinkState.Up, _a.M.LinkStateOf(0));
        Assert.Equal(LinkState.Down, _a.M.LinkStateOf(1));
    }

    [Fact]
    public void Warn_at_warntime_dead_at_exactly_deadtime()
    {
        Round(0, 1);
        Round(0, 1);
        Events(_a.M);
        TimeSpan last = _now;
        _now = last + T.Warntime - TimeSpan.FromMilliseconds(1);
        _a.M.Evaluate(_now);
        Assert.Equal(PeerState.Up, _a.M.Peer);
        _now = last + T.Warntime;
        _a.M.Evaluate(_now);
        Assert.Equal(PeerState.Warn, _a.M.Peer);
        _now = last + T.Deadtime - TimeSpan.FromTicks(1);
        _a.M.Evaluate(_now);
        Assert.Equal(PeerState.Warn, _a.M.Peer);
        Assert.Equal(last + T.Deadtime, _a.M.NextDeadline(_now));
        _now = last + T.Deadtime;
        _a.M.Evaluate(_now);
        Assert.Equal(PeerState.Dead, _a.M.Peer);
        Assert.Equal(new[] { MembershipEventKind.PeerWarn, MembershipEventKind.LinkDown, MembershipEventKind.LinkDown, MembershipEventKind.PeerDead },
            Events(_a.M));
    }

    [Fact]
    public void One_link_cut_downs_that_link_only()
    {
        Round(0, 1);
        Round(0, 1);
        for (int i = 0; i < 10; i++)
        {
            Advance(200);
            Round(1);
        }
        Assert.Equal(LinkState.Down, _a.M.LinkStateOf(0));
        Assert.Equal(LinkState.Up, _a.M.LinkStateOf(1));
        Assert.Equal(PeerState.Up, _a.M.Peer);
    }

    [Fact]
    public void Duplicates_and_replays_within_a_boot_are_stale()
    {
        Round(0);
        var f = _a.Tick(0);
        Assert.Equal(FrameVerdict.Life, _b.M.OnFrame(0, f, _now));
        Assert.Equal(FrameVerdict.Stale, _b.M.OnFrame(0, f, _now));
        // The same sequence on the other link is fresh there (the sender puts one seq on every link).
        var onOther = f with { LinkIndex = 1 };
        Assert.Equal(FrameVerdict.Life, _b.M.OnFrame(1, onOther, _now));
    }

    [Fact]
    public void A_frame_replayed_on_another_link_than_its_own_is_refused()
    {
        Round(0);
        var f = _a.Tick(0);
        Assert.Equal(FrameVerdict.Misdirected, _b.M.OnFrame(1, f, _now));
    }

    [Fact]
    public void Frames_of_a_restarted_peer_s_old_boot_are_refused()
    {
        for (int i = 0; i < 3; i++) { Advance(200); Round(0); }
        var recorded = Enumerable.Range(0, 5).Select(_ => { Advance(200); var f = _a.Tick(0); _b.M.OnFrame(0, f, _now); return f; }).ToList();
        // A restarts with a new boot. While B still believes the old boot alive, an unacknowledging
        // frame of an unknown boot is indistinguishable from a replay: ignored.
        _a.M = new M(T, A, B, new BootId(0xA2), 2, _now);
        Advance(200);
        Assert.Equal(FrameVerdict.Stale, _b.M.OnFrame(0, _a.Tick(0), _now));
        Advance(1000);
        _b.M.Evaluate(_now);
        Assert.Equal(PeerState.Dead, _b.M.Peer);
        // Once the old boot is judged dead, the new one is met again.
        Assert.Equal(FrameVerdict.Hello, _b.M.OnFrame(0, _a.Tick(0), _now));
        Round(0);
        Round(0);
        Assert.Contains(MembershipEventKind.PeerRebooted, Events(_b.M));
        foreach (var f in recorded)
            Assert.Equal(FrameVerdict.Stale, _b.M.OnFrame(0, f with { Seq = new Sequence(f.Seq.Value + 1000) }, _now));
    }

    [Fact]
    public void Recorded_frames_never_prove_life_after_this_node_restarts()
    {
        for (int i = 0; i < 3; i++) { Advance(200); Round(0); }
        var recorded = Enumerable.Range(0, 5).Select(_ => { Advance(200); return _a.Tick(0); }).ToList();
        _b.M = new M(T, B, A, new BootId(0xB2), 2, _now); // B restarts; A is really dead now
        foreach (var f in recorded)
        {
            Advance(200);
            Assert.NotEqual(FrameVerdict.Life, _b.M.OnFrame(0, f, _now));
            _b.M.NextTick(_now);
            _b.M.Evaluate(_now);
        }
        Assert.Equal(PeerState.Unknown, _b.M.Peer);
    }

    /// <summary>B keeps its cadence for <paramref name="ms"/> ms, its frames lost (A hears none of them).</summary>
    private void BTicksAlone(int ms)
    {
        for (int t = 200; t <= ms; t += 200)
        {
            Advance(200);
            _b.Tick(0);
        }
        Advance(ms % 200);
    }

    [Fact]
    public void An_acknowledgement_older_than_the_freshness_bound_proves_nothing()
    {
        Round(0);
        var f = _a.Tick(0); // acknowledges B's current tick, sent just now
        Assert.Equal(TimeSpan.FromMilliseconds(600), _b.M.AckFreshness); // 3 x keepalive
        BTicksAlone(601); // the frame was held back (recorded) meanwhile, while B kept sending
        Assert.Equal(FrameVerdict.Hello, _b.M.OnFrame(0, f, _now));
        Round(0);
        var g = _a.Tick(0);
        BTicksAlone(600); // just within the bound it still proves life
        Assert.Equal(FrameVerdict.Life, _b.M.OnFrame(0, g, _now));
    }

    [Fact]
    public void Our_own_stall_does_not_make_the_peers_frames_stale()
    {
        Round(0);
        var f = _a.Tick(0); // acknowledges B's newest tick; B is not scheduled to read it for 700 ms
        Advance(700); // past the 600 ms bound, within deadtime: B sent nothing newer meanwhile
        Assert.Equal(FrameVerdict.Life, _b.M.OnFrame(0, f, _now));
        // B resumes and sends at once; A's next frame still acknowledges the tick before the stall,
        // and is timed from B's new tick, not from the one it acknowledges.
        Round(0);
        var g = _a.Tick(0);
        Advance(700); // B not scheduled
        _b.Tick(0); // B resumes and ticks
        Advance(1);
        Assert.Equal(FrameVerdict.Life, _b.M.OnFrame(0, g, _now));
        // The newest tick's acknowledgement is bounded by deadtime (beyond is the stall guard's).
        Round(0);
        var h = _a.Tick(0);
        Advance(1001);
        Assert.Equal(FrameVerdict.Hello, _b.M.OnFrame(0, h, _now));
    }

    [Fact]
    public void After_a_late_wake_up_within_deadtime_the_peer_has_two_keepalives_to_be_heard()
    {
        Round(0);
        Round(0);
        Events(_b.M);
        _b.M.CheckStall(_now);
        Advance(150);
        _b.M.CheckStall(_now);
        Advance(900); // the whole host froze: B's wake-up came 900 ms late, A's frames too
        Assert.False(_b.M.CheckStall(_now)); // not a stall (within deadtime), a late wake-up
        Assert.Equal(1, _b.M.LateWakes);
        _b.M.Evaluate(_now);
        Assert.Equal(PeerState.Warn, _b.M.Peer); // 1050 ms silent, but not judged before A can answer B's overdue keepalive
        Assert.Equal(LinkState.Up, _b.M.LinkStateOf(0));
        Assert.Equal(_now + 2 * T.Keepalive, _b.M.NextDeadline(_now));
        Assert.Equal(FrameVerdict.Hello, _b.M.OnFrame(0, _a.Tick(0), _now)); // A's overdue frame acknowledges B's tick from before the freeze
        var resumed = _b.Tick(0);
        Advance(1);
        _a.M.OnFrame(0, resumed, _now);
        Advance(150);
        Assert.Equal(FrameVerdict.Life, _b.M.OnFrame(0, _a.Tick(0), _now));
        _b.M.Evaluate(_now);
        Assert.Equal(PeerState.Up, _b.M.Peer);
        // A truly silent peer is found dead one keepalive after the late wake-up.
        Advance(150);
        _b.M.CheckStall(_now);
        Advance(800);
        Assert.False(_b.M.CheckStall(_now));
        _b.M.Evaluate(_now);
        Assert.Equal(PeerState.Warn, _b.M.Peer);
        Advance(399);
        _b.M.CheckStall(_now);
        _b.M.Evaluate(_now);
        Assert.Equal(PeerState.Warn, _b.M.Peer);
        Advance(1);
        _b.M.CheckStall(_now);
        _b.M.Evaluate(_now);
        Assert.Equal(PeerState.Dead, _b.M.Peer);
    }

    [Fact]
    public void A_frame_from_ourselves_or_a_third_node_is_misdirected()
    {
        Round(0);
        var own = _b.Tick(0);
        Assert.Equal(FrameVerdict.Misdirected, _b.M.OnFrame(0, own, _now));
        var third = _a.Tick(0) with { Sender = new NodeId(3) };
        Assert.Equal(FrameVerdict.Misdirected, _b.M.OnFrame(0, third, _now));
    }

    [Fact]
    public void A_peer_never_heard_is_unknown_until_initdead_then_dead()
    {
        Advance((int)T.Initdead.TotalMilliseconds - 1);
        _a.M.Evaluate(_now);
        Assert.Equal(PeerState.Unknown, _a.M.Peer);
        Advance(1);
        _a.M.Evaluate(_now);
        Assert.Equal(PeerState.Dead, _a.M.Peer);
        Assert.Equal(new[] { MembershipEventKind.PeerDead }, Events(_a.M));
    }

    [Fact]
    public void A_dead_peer_comes_back_only_with_a_sign_of_life()
    {
        Round(0);
        Advance(1000);
        _a.M.Evaluate(_now);
        Assert.Equal(PeerState.Dead, _a.M.Peer);
        _a.M.CheckStall(_now);
        Advance(2000); // a stall resets judgement; it must not resurrect the peer
        Assert.True(_a.M.CheckStall(_now));
        _a.M.Evaluate(_now);
        Assert.Equal(PeerState.Dead, _a.M.Peer);
        Advance(10);
        Round(0);
        Assert.Equal(PeerState.Up, _a.M.Peer);
    }

    /// <summary>A stalls past deadtime; B, which may have declared it dead meanwhile, answers.</summary>
    private void AStallsPastDeadtime()
    {
        Round(0);
        Round(0);
        _a.M.CheckStall(_now);
        Advance(1500);
        Assert.True(_a.M.CheckStall(_now));
        Assert.Equal(StallAnswer.Awaited, _a.M.StallAnswerAt(_now));
        Events(_a.M);
    }

    [Fact]
    public void After_a_stall_only_an_answer_to_a_later_tick_says_the_peer_stayed_standby()
    {
        AStallsPastDeadtime();
        // B's frames written during A's stall acknowledge A's tick from before it: no answer yet,
        // B cannot have seen that A is back.
        var during = _b.Tick(0);
        _a.M.OnFrame(0, during, _now);
        Assert.Equal(StallAnswer.Awaited, _a.M.StallAnswerAt(_now));
        var resumed = _a.Tick(0); // A's first keepalive after the stall
        Advance(1);
        _b.M.OnFrame(0, resumed, _now);
        Advance(1);
        Assert.Equal(FrameVerdict.Life, _a.M.OnFrame(0, _b.Tick(0), _now)); // acknowledges it, standby, holding nothing
        Assert.Equal(StallAnswer.PeerStayedStandby, _a.M.StallAnswerAt(_now));
        Assert.Equal(new[] { MembershipEventKind.StallPeerStayed }, Events(_a.M));
        _a.M.StallDealtWith();
        Assert.Equal(StallAnswer.None, _a.M.StallAnswerAt(_now));
    }

    [Theory]
    [InlineData(NodeRole.Takeover, 0u, 0u)]
    [InlineData(NodeRole.Fencing, 0u, 0u)]
    [InlineData(NodeRole.Active, 1u, 0u)]
    [InlineData(NodeRole.Standby, 0u, 1u)] // starting resources, whatever the role says
    [InlineData(NodeRole.Releasing, 1u, 0u)]
    public void After_a_stall_any_frame_that_claims_resources_says_the_peer_moved(NodeRole role, uint held, uint starting)
    {
        AStallsPastDeadtime();
        var claim = new StateSummary(role, HealthFlags.None, 0, held, starting, 0);
        // Even a frame too old to prove life (it acknowledges A's tick from before the stall).
        Assert.Equal(FrameVerdict.Hello, _a.M.OnFrame(0, _b.Tick(0) with { State = claim }, _now));
        Assert.Equal(StallAnswer.PeerMoved, _a.M.StallAnswerAt(_now));
        // A later "standby" does not undo it: B moved at some point since the stall.
        var resumed = _a.Tick(0);
        _b.M.OnFrame(0, resumed, _now);
        _a.M.OnFrame(0, _b.Tick(0), _now);
        Assert.Equal(StallAnswer.PeerMoved, _a.M.StallAnswerAt(_now));
        Assert.Equal(new[] { MembershipEventKind.StallPeerMoved }, Events(_a.M));
    }

    [Fact]
    public void After_a_stall_silence_is_no_answer_once_the_slowest_link_deadtime_passed()
    {
        var slow = new[] { LinkTimers.Uniform(T), LinkTimers.Uniform(T) with { Deadtime = TimeSpan.FromSeconds(3) } };
        _a.M = new M(T, slow, A, B, new BootId(0xA2), _now);
        AStallsPastDeadtime();
        Advance(3000);
        Assert.Equal(StallAnswer.Awaited, _a.M.StallAnswerAt(_now));
        Advance(1);
        Assert.Equal(StallAnswer.Unanswered, _a.M.StallAnswerAt(_now));
        Assert.Equal(new[] { MembershipEventKind.StallUnanswered }, Events(_a.M));
    }

    [Fact]
    public void Stall_guard_fires_past_deadtime_and_the_silence_is_not_blamed_on_the_peer()
    {
        Round(0);
        Events(_a.M);
        _a.M.CheckStall(_now);
        Advance(999);
        Assert.False(_a.M.CheckStall(_now));
        Advance(1500); // frozen (SIGSTOP) for 1.5 s > deadtime
        Assert.True(_a.M.CheckStall(_now));
        _a.M.Evaluate(_now);
        Assert.Equal(PeerState.Up, _a.M.Peer); // judgement restarts now, not from before the freeze
        Assert.Equal(1, _a.M.StallCount);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), _a.M.LastStall);
        Assert.Equal(new[] { MembershipEventKind.Stall }, Events(_a.M));
        Advance(1000);
        _a.M.Evaluate(_now);
        Assert.Equal(PeerState.Warn, _a.M.Peer); // within the stall's grace: twice deadtime
        Assert.Equal(_now + T.Deadtime, _a.M.NextDeadline(_now));
        Advance(1000);
        _a.M.Evaluate(_now);
        Assert.Equal(PeerState.Dead, _a.M.Peer); // a truly silent peer is still found dead, two deadtimes later
    }

    /// <summary>
    /// The bench host's pattern: a whole-VM freeze past deadtime, then the peer held ~20 ms more on its
    /// own (deadtime 15 ms there). After its stall, A gives B twice deadtime for the grace window.
    /// </summary>
    [Fact]
    public void After_a_stall_the_peer_is_judged_against_twice_deadtime_for_the_grace_window()
    {
        Round(0, 1);
        Round(0, 1);
        _a.M.CheckStall(_now);
        Advance(1500);
        Assert.True(_a.M.CheckStall(_now));
        Round(0, 1); // both back: B heard right after
        Events(_a.M);
        TimeSpan heard = _now;
        _now = heard + T.Deadtime + TimeSpan.FromMilliseconds(300); // B alone held on: silent past deadtime
        _a.M.Evaluate(_now);
        Assert.Equal(PeerState.Warn, _a.M.Peer);
        Assert.Equal(LinkState.Up, _a.M.LinkStateOf(0));
        Assert.Equal(heard + 2 * T.Deadtime, _a.M.NextDeadline(_now));
        Round(0, 1); // and B is back: no verdict was passed
        Assert.Equal(PeerState.Up, _a.M.Peer);
        Assert.DoesNotContain(MembershipEventKind.PeerDead, Events(_a.M));
        // A silence of twice deadtime is a death even inside the window.
        heard = _now;
        _now = heard + 2 * T.Deadtime;
        _a.M.Evaluate(_now);
        Assert.Equal(PeerState.Dead, _a.M.Peer);
    }

    [Fact]
    public void After_the_grace_window_a_deadtime_of_silence_is_a_death_again()
    {
        AStallsPastDeadtime();
        TimeSpan stalled = _now;
        for (_now = stalled + TimeSpan.FromMilliseconds(100); _now < stalled + M.StallGraceWindow; _now += TimeSpan.FromMilliseconds(100))
        {
            _a.M.CheckStall(_now);
            Round(0);
        }
        Round(0);
        Events(_a.M);
        TimeSpan heard = _now;
        Assert.True(heard >= stalled + M.StallGraceWindow);
        Assert.Equal(heard + T.Deadtime, _a.M.NextDeadline(heard + T.Warntime));
        _now = heard + T.Deadtime;
        _a.M.Evaluate(_now);
        Assert.Equal(PeerState.Dead, _a.M.Peer);
    }

    [Fact]
    public void A_late_wake_up_within_deadtime_gives_no_grace()
    {
        Round(0);
        _a.M.CheckStall(_now);
        Advance(900);
        Assert.False(_a.M.CheckStall(_now));
        Round(0);
        Events(_a.M);
        TimeSpan heard = _now;
        while (_now < heard + T.Deadtime)
        {
            Advance(100);
            Assert.False(_a.M.CheckStall(_now));
        }
        _a.M.Evaluate(_now);
        Assert.Equal(PeerState.Dead, _a.M.Peer);
    }
}
