using Appliance.Core.Config;
using Appliance.Core.Heartbeat;
using Appliance.Core.Values;

namespace Appliance.Core.Membership;

public enum LinkState { Down, Up }

/// <summary>The peer as judged by this node (DESIGN.md sections 4 and 6).</summary>
/// <remarks>
/// <see cref="Stopped"/>: the peer's latest sign of life said it is leaving and holds nothing (a clean
/// shutdown); it is not alive, but unlike <see cref="Dead"/> it needs no fence.
/// </remarks>
public enum PeerState { Unknown, Up, Warn, Dead, Stopped }

/// <summary>What one received frame meant.</summary>
public enum FrameVerdict
{
    /// <summary>Authentic, fresh and acknowledging this boot: a sign of life.</summary>
    Life,
    /// <summary>Authentic and fresh but not (yet) acknowledging this boot: the handshake of a new meeting. Not a sign of life.</summary>
    Hello,
    /// <summary>Authentic but proves nothing: replayed, duplicated, of a retired boot, or acknowledging something too old.</summary>
    Stale,
    /// <summary>Not from the peer, or sent on another link than the one it arrived on.</summary>
    Misdirected,
}

/// <summary>
/// The stall guard's question to the peer after this node was not scheduled for longer than deadtime
/// (<see cref="Membership.CheckStall"/>): did the peer stay standby, or did it move?
/// </summary>
public enum StallAnswer
{
    /// <summary>No question open: no stall since the last was dealt with, or this node claimed nothing when it stalled.</summary>
    None,
    /// <summary>Waiting for the peer's answer: an authentic frame that acknowledges a tick sent after the stall.</summary>
    Awaited,
    /// <summary>The peer acknowledged a tick sent after the stall as a standby holding nothing, and no frame since the stall said otherwise.</summary>
    PeerStayedStandby,
    /// <summary>A frame of the peer since the stall claimed resources (taking over, fencing, active, holding).</summary>
    PeerMoved,
    /// <summary>No answer within the slowest link's deadtime.</summary>
    Unanswered,
}

public enum MembershipEventKind { LinkUp, LinkDown, PeerUp, PeerWarn, PeerDead, PeerRebooted, Stall, PeerStopped, LinkFault, LinkFaultCleared,
    /// <summary>The stall guard's question answered (<see cref="StallAnswer"/>); Silence is the time since the stall was noticed.</summary>
    StallPeerStayed, StallPeerMoved, StallUnanswered,
    /// <summary>
    /// This node's thread was held inside its pass and its watcher sent keepalives for it (<see cref="Heartbeat.KeepaliveCover"/>):
    /// Count ticks, the first at At minus Silence, the last at At.
    /// </summary>
    Covered }

/// <summary>A change of judgement, for the log and (later) the arbiter.</summary>
public readonly record struct MembershipEvent(MembershipEventKind Kind, TimeSpan At, int LinkIndex, TimeSpan Silence, int Count = 0);

/// <summary>
/// Decides whether the peer is alive from the frames that reach each link (sans-I/O: time comes in
/// as a value). Rules:
/// <list type="bullet">
/// <item>A frame is a sign of life only if it is fresh on its link (sequence above the last one seen
/// there, within the peer's current boot) and acknowledges this node's current boot with a sequence
/// sent within the last <see cref="AckWindowTicks"/> ticks. A recorded frame replayed later fails
/// one of these: its sequence is old, its boot was retired, or what it acknowledges is too old.</item>
/// <item>Each link is judged against its own cadence (<see cref="LinkTimers"/>: a serial link may send
/// every n-th tick, and its warntime and deadtime are n times the cluster's). A link is up while it
/// carried a sign of life within its deadtime; the peer is up while any link is fresh (within its
/// warntime), warn while some link is still within its deadtime, dead when every link has been
/// silent for its own deadtime; before the first sign of life it is unknown until initdead, then dead.</item>
/// <item>A link that reports a fault of its own (a send refused with ENETUNREACH, a serial port that
/// errors: <see cref="OnLinkFault"/>) is a signal to look, never proof of death: it is reported, and
/// changes no judgement. Only silence does.</item>
/// <item>Stall guard: if <see cref="CheckStall"/> sees that this node was not scheduled for longer than
/// deadtime, it reports a stall and restarts judgement from that instant (the silence was ours), and
/// asks the peer whether it moved (<see cref="StallAnswerAt"/>). A
/// shorter lateness (more than two keepalives between wake-ups) passes no death or link-down verdict
/// for two keepalives after this node resumes: if whatever froze us froze the peer too (one host, one
/// hypervisor), our overdue keepalive and the peer's answer to it are on their way.</item>
/// <item>After a stall, for <see cref="StallGraceWindow"/>, links and peer are judged against twice
/// their deadtime: freezes of a virtual machine come in bursts, and the one that froze this node
/// often holds the peer a little longer than it held us (measured on the bench host: a whole-VM
/// freeze, then 18-25 ms more for one node alone). A real death in that window is found one deadtime
/// later; where nothing freezes (a dedicated board) this never applies.</item>
/// </list>
/// Single-threaded: one thread at a time (the heartbeat thread, or its watcher while it runs the loop
/// in the heartbeat thread's stead) owns it.
/// </summary>
public sealed class Membership
{
    /// <summary>How long after a stall of its own this node judges the peer against twice deadtime (see the class remarks).</summary>
    public static readonly TimeSpan StallGraceWindow = TimeSpan.FromSeconds(10);

    /// <summary>Old peer boots remembered to refuse their replays; a peer restarting more often than this within our lifetime is not a use case.</summary>
    public const int RetiredBootsMax = 16;

    /// <summary>Events buffered between drains; the heartbeat thread drains every loop, so this only overflows on a bug.</summary>
    public const int PendingEventsMax = 256;

    /// <summary>
    /// Send times remembered for our own ticks; an acknowledgement older than this many ticks is stale
    /// anyway. The slowest link sends every <see cref="LinkCadence.MaxEveryTicks"/> ticks and accepts
    /// acknowledgements up to about 5 of its own keepalives old, which this covers.
    /// </summary>
    public const int TickTimesRemembered = 1024;

    private readonly Timers _timers;
    private readonly TimeSpan _slowestDeadtime;
    private readonly LinkTimers[] _linkTimers;
    private readonly bool[] _linkFault;
    private readonly NodeId _peer;
    private readonly NodeId _self;
    private readonly int _linkCount;
    private readonly Sequence[] _linkSeq;
    private readonly TimeSpan[] _linkLife;
    private readonly bool[] _linkHeard;
    private readonly LinkState[] _linkState;
    private readonly BootId[] _retired = new BootId[RetiredBootsMax];
    private readonly Queue<MembershipEvent> _events = new(PendingEventsMax);
    private int _retiredNext;
    /// <summary>The peer boot whose frames last acknowledged ours (None before the first).</summary>
    private BootId _provenBoot;
    private TimeSpan _lastLife;
    private bool _everHeard;
    private TimeSpan _judgeFrom;
    private TimeSpan _lastCheck;
    /// <summary>No death or link-down verdict before this instant (two keepalives after a late wake-up).</summary>
    private TimeSpan _settleUntil;
    /// <summary>Until this instant (<see cref="StallGraceWindow"/> after a stall) every deadtime counts twice.</summary>
    private TimeSpan _graceUntil;
    private readonly TimeSpan _started;
    private readonly TimeSpan[] _tickTimes = new TimeSpan[TickTimesRemembered];

    /// <summary>Every link at the cluster's cadence (UDP links, tests).</summary>
    public Membership(Timers timers, NodeId self, NodeId peer, BootId selfBoot, int linkCount, TimeSpan now)
        : this(timers, Uniform(timers, linkCount), self, peer, selfBoot, now)
    {
    }

    /// <param name="links">Each link's cadence and judging timers (<see cref="LinkCadence.OfNode"/>).</param>
    public Membership(Timers timers, IReadOnlyList<LinkTimers> links, NodeId self, NodeId peer, BootId selfBoot, TimeSpan now)
    {
        ArgumentNullException.ThrowIfNull(links);
        int linkCount = links.Count;
        ArgumentOutOfRangeException.ThrowIfLessThan(linkCount, 1);
        _timers = timers;
        _linkTimers = [.. links];
        _linkFault = new bool[linkCount];
        foreach (var lt in _linkTimers)
            if (lt.EveryTicks < 1 || lt.EveryTicks > LinkCadence.MaxEveryTicks || lt.Deadtime < timers.Deadtime)
                throw new ArgumentException($"link timers out of range: {lt}", nameof(links));
        _self = self;
        _peer = peer;
        SelfBoot = selfBoot;
        _linkCount = linkCount;
        _linkSeq = new Sequence[linkCount];
        _linkLife = new TimeSpan[linkCount];
        _linkHeard = new bool[linkCount];
        _linkState = new LinkState[linkCount];
        _started = now;
        _judgeFrom = now;
        _lastCheck = now;
        AckFreshness = Min(3 * timers.Keepalive, timers.Deadtime);
        _slowestDeadtime = timers.Deadtime;
        foreach (var lt in _linkTimers)
            _slowestDeadtime = Max(_slowestDeadtime, lt.Deadtime);
    }

    private static LinkTimers[] Uniform(Timers timers, int linkCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(linkCount, 1);
        var links = new LinkTimers[linkCount];
        Array.Fill(links, LinkTimers.Uniform(timers));
        return links;
    }

    public BootId SelfBoot { get; }

    /// <summary>The peer's node id (frames of anyone else are misdirected).</summary>
    public NodeId PeerId => _peer;

    /// <summary>This node's sequence of its latest tick (what the peer acknowledges).</summary>
    public Sequence SelfSeq { get; private set; }

    /// <summary>The peer's boot this node acknowledges in its frames (None until a frame arrives).</summary>
    public BootId PeerBoot { get; private set; }

    /// <summary>The highest sequence seen from <see cref="PeerBoot"/> on any link (acknowledged back).</summary>
    public Sequence PeerSeq { get; private set; }

    /// <summary>
    /// How long ago the tick a frame acknowledges may have been sent for the frame to prove life, on a
    /// link at the cluster's cadence. The peer acknowledges the newest tick it heard, so in normal
    /// operation the lag is one keepalive plus transit; three keepalives tolerate a lost frame or two.
    /// This bounds what a frame held back and replayed can do: it can make a dead peer look alive for
    /// at most this much beyond deadtime. A slower link has its own (<see cref="LinkTimers.AckFreshness"/>).
    /// </summary>
    public TimeSpan AckFreshness { get; }

    /// <summary>The cadence and judging timers of link <paramref name="link"/>.</summary>
    public LinkTimers LinkTimersOf(int link) => _linkTimers[link];

    /// <summary>The link reported a fault of its own and has not sent successfully since (see <see cref="OnLinkFault"/>).</summary>
    public bool LinkFaulted(int link) => _linkFault[link];

    public PeerState Peer { get; private set; } = PeerState.Unknown;

    /// <summary>Our newest tick the peer has acknowledged in a sign of life (what it has surely seen of us).</summary>
    public Sequence PeerAckedSelfSeq { get; private set; }

    /// <summary>The peer's state summary from its latest sign of life.</summary>
    public StateSummary PeerSummary { get; private set; }

    public TimeSpan? LastLife => _everHeard ? _lastLife : null;

    /// <summary>The peer's latest sign of life said it is shutting down cleanly, holding nothing.</summary>
    private bool PeerLeaving => (PeerSummary.Health & HealthFlags.Leaving) != 0 && PeerSummary.ResourcesHeld == 0 && PeerSummary.ResourcesStarting == 0;

    public LinkState LinkStateOf(int link) => _linkState[link];

    public TimeSpan? LinkLastLife(int link) => _linkHeard[link] ? _linkLife[link] : null;

    /// <summary>Bit i set when link i is up (sent to the peer in the state summary).</summary>
    public byte LinksUpMask
    {
        get
        {
            int mask = 0;
            for (int i = 0; i < _linkCount && i < 8; i++)
                if (_linkState[i] == LinkState.Up)
                    mask |= 1 << i;
            return (byte)mask;
        }
    }

    /// <summary>Until this instant the peer and links are judged against twice deadtime (<see cref="StallGraceWindow"/> after the last stall).</summary>
    public TimeSpan StallGraceUntil => _graceUntil;

    public int StallCount { get; private set; }
    public TimeSpan LastStall { get; private set; }

    /// <summary>This node's newest tick when the last stall was noticed: the peer's answer acknowledges a later one.</summary>
    public Sequence StallTick { get; private set; }

    // While a question is open, _judgeFrom is the instant the stall was noticed (it is set nowhere else).
    private StallAnswer _stallAnswer;

    /// <summary>
    /// The peer's answer to the last stall at <paramref name="now"/>. A node that held resources keeps
    /// them only on <see cref="StallAnswer.PeerStayedStandby"/>: a peer that declared this node dead
    /// while it was not running is taking over or fencing from that moment, and every frame it sends
    /// says so (<see cref="StateSummary.ClaimsResources"/>), so its answer to a tick this node sent
    /// after the stall cannot be "standby, holding nothing" unless it never moved. The answer takes one
    /// round trip; it is awaited up to the slowest link's deadtime (a peer that went silent is judged
    /// by membership as usual, and the node steps down as the stall guard always did).
    /// </summary>
    public StallAnswer StallAnswerAt(TimeSpan now)
    {
        if (_stallAnswer == StallAnswer.Awaited && now > _judgeFrom + _slowestDeadtime)
            Answer(StallAnswer.Unanswered, now);
        return _stallAnswer;
    }

    private void Answer(StallAnswer answer, TimeSpan now)
    {
        _stallAnswer = answer;
        var kind = answer switch
        {
            StallAnswer.PeerStayedStandby => MembershipEventKind.StallPeerStayed,
            StallAnswer.PeerMoved => MembershipEventKind.StallPeerMoved,
            _ => MembershipEventKind.StallUnanswered,
        };
        Emit(new MembershipEvent(kind, now, -1, now - _judgeFrom));
    }

    /// <summary>The host acted on the answer (kept or stepped down): the next stall asks afresh.</summary>
    public void StallDealtWith() => _stallAnswer = StallAnswer.None;

    /// <summary>Wake-ups more than two keepalives after the previous one but within deadtime (see <see cref="CheckStall"/>).</summary>
    public long LateWakes { get; private set; }

    /// <summary>Advances this node's sequence for a new keepalive tick and returns it.</summary>
    public Sequence NextTick(TimeSpan now)
    {
        SelfSeq = new Sequence(SelfSeq.Value + 1);
        _tickTimes[SelfSeq.Value % TickTimesRemembered] = now;
        return SelfSeq;
    }

    /// <summary>
    /// Takes over ticks another thread sent for this node while it was held (<see cref="Heartbeat.KeepaliveCover"/>):
    /// <paramref name="first"/> onwards, one per entry of <paramref name="sentAt"/>. The sequence
    /// continues after the last of them (the peer has seen it), and an acknowledgement of one of them
    /// is judged by when it was sent. A tick this node also sent itself under the same number keeps the
    /// earlier time, the stricter one for the peer's acknowledgements.
    /// </summary>
    public void AdoptTicks(Sequence first, ReadOnlySpan<TimeSpan> sentAt)
    {
        if (sentAt.Length == 0)
            return;
        ArgumentOutOfRangeException.ThrowIfGreaterThan(sentAt.Length, TickTimesRemembered);
        if (first.Value == 0 || first.Value > SelfSeq.Value + 1)
            throw new ArgumentOutOfRangeException(nameof(first), first, $"adopted ticks must continue this node's sequence (now {SelfSeq})");
        for (int k = 0; k < sentAt.Length; k++)
        {
            ulong seq = first.Value + (ulong)k;
            ref TimeSpan slot = ref _tickTimes[seq % TickTimesRemembered];
            slot = seq <= SelfSeq.Value && slot < sentAt[k] ? slot : sentAt[k];
        }
        var last = new Sequence(first.Value + (ulong)sentAt.Length - 1);
        if (last > SelfSeq)
            SelfSeq = last;
        Emit(new MembershipEvent(MembershipEventKind.Covered, sentAt[^1], -1, sentAt[^1] - sentAt[0], sentAt.Length));
    }

    /// <summary>
    /// The stall guard. Call first thing whenever the node wakes. Returns true when this node was not
    /// scheduled for longer than deadtime: the peer has probably declared it dead, and judgement of the
    /// peer restarts now (the silence it saw was its own).
    /// </summary>
    /// <param name="ask">This node claims resources: ask the peer whether it moved (<see cref="StallAnswerAt"/>).</param>
    public bool CheckStall(TimeSpan now, bool ask = true)
    {
        TimeSpan gap = now - _lastCheck;
        _lastCheck = now;
        if (gap <= _timers.Deadtime)
        {
            if (gap > 2 * _timers.Keepalive)
            {
                LateWakes++;
                _settleUntil = now + 2 * _timers.Keepalive;
            }
            return false;
        }
        StallCount++;
        LastStall = gap;
        _judgeFrom = now;
        _graceUntil = now + StallGraceWindow;
        StallTick = SelfSeq;
        _stallAnswer = ask ? StallAnswer.Awaited : StallAnswer.None;
        Emit(new MembershipEvent(MembershipEventKind.Stall, now, -1, gap));
        return true;
    }

    /// <summary>Judges one authenticated frame that arrived on <paramref name="link"/> at <paramref name="now"/>.</summary>
    public FrameVerdict OnFrame(int link, in HeartbeatFrame f, TimeSpan now)
    {
        if ((uint)link >= (uint)_linkCount || f.LinkIndex != link || f.Sender != _peer || f.Sender == _self)
            return FrameVerdict.Misdirected;
        if (f.Boot == BootId.None || IsRetired(f.Boot))
            return FrameVerdict.Stale;

        bool acksUs = f.AckBoot == SelfBoot && f.AckSeq.Value >= 1 && f.AckSeq <= SelfSeq &&
            SelfSeq.Value - f.AckSeq.Value < TickTimesRemembered && AckIsFresh(link, f.AckSeq, now);

        if (f.Boot != PeerBoot)
        {
            bool peerAlive = Peer is PeerState.Up or PeerState.Warn;
            if (!acksUs && peerAlive && PeerBoot == _provenBoot)
                return FrameVerdict.Stale; // another boot while the proven one is alive: a replay
            // Acknowledge this boot from now on so that, if it is real, the handshake completes. The
            // proven boot is not retired yet: an unproven hello may itself be a replay of some older boot.
            PeerBoot = f.Boot;
            PeerSeq = default;
            Array.Clear(_linkSeq);
        }
        else if (f.Seq <= _linkSeq[link])
        {
            return FrameVerdict.Stale;
        }

        _linkSeq[link] = f.Seq;
        if (f.Seq > PeerSeq)
            PeerSeq = f.Seq;
        if (_stallAnswer == StallAnswer.Awaited)
        {
            // A claim in any authentic frame of the peer's boot counts, even one too old to prove
            // life: stepping down on a stale claim costs a switchover, keeping on one could split.
            if (f.State.ClaimsResources)
                Answer(StallAnswer.PeerMoved, now);
            else if (acksUs && f.AckSeq > StallTick && f.State.Role == NodeRole.Standby)
                Answer(StallAnswer.PeerStayedStandby, now);
        }
        if (!acksUs)
            return FrameVerdict.Hello;

        if (f.Boot != _provenBoot)
        {
            if (_provenBoot != BootId.None)
            {
                Retire(_provenBoot); // the peer restarted: frames of its previous life prove nothing now
                Emit(new MembershipEvent(MembershipEventKind.PeerRebooted, now, link, TimeSpan.Zero));
            }
            _provenBoot = f.Boot;
        }
        _linkLife[link] = now;
        _linkHeard[link] = true;
        _lastLife = now;
        _everHeard = true;
        PeerSummary = f.State;
        if (f.AckSeq > PeerAckedSelfSeq)
            PeerAckedSelfSeq = f.AckSeq;
        if (_linkState[link] == LinkState.Down)
        {
            _linkState[link] = LinkState.Up;
            Emit(new MembershipEvent(MembershipEventKind.LinkUp, now, link, TimeSpan.Zero));
        }
        var judged = PeerLeaving ? PeerState.Stopped : PeerState.Up;
        if (Peer != judged)
        {
            Peer = judged;
            Emit(new MembershipEvent(judged == PeerState.Up ? MembershipEventKind.PeerUp : MembershipEventKind.PeerStopped, now, -1, TimeSpan.Zero));
        }
        return FrameVerdict.Life;
    }

    /// <summary>
    /// A link's own report of trouble: a send the kernel refused (ENETUNREACH, EPERM), a serial port
    /// that errors or vanished (<paramref name="faulted"/> true), or its first good send after that
    /// (false). A signal to look, never proof of death: it is reported once per change and changes no
    /// judgement (the link stays up, and the peer alive, until the silence says otherwise), because a
    /// local fault says nothing about the peer, and a link that fails to send may still receive.
    /// </summary>
    public void OnLinkFault(int link, TimeSpan now, bool faulted)
    {
        if ((uint)link >= (uint)_linkCount || _linkFault[link] == faulted)
            return;
        _linkFault[link] = faulted;
        Emit(new MembershipEvent(faulted ? MembershipEventKind.LinkFault : MembershipEventKind.LinkFaultCleared, now, link,
            _linkHeard[link] ? now - _linkLife[link] : TimeSpan.Zero));
    }

    /// <summary>Re-judges links and peer against the timers at <paramref name="now"/>.</summary>
    public void Evaluate(TimeSpan now)
    {
        bool anyAlive = false, anyFresh = false;
        bool grace = now < _graceUntil;
        for (int i = 0; i < _linkCount; i++)
        {
            if (!_linkHeard[i])
                continue;
            TimeSpan silence = Silence(_linkLife[i], now);
            var lt = _linkTimers[i];
            if (silence >= lt.Deadtime && (now < _settleUntil || (grace && silence < 2 * lt.Deadtime)))
                silence = lt.Deadtime - Tick; // settling after our own late wake-up, or in a stall's grace: not judged yet
            if (_linkState[i] == LinkState.Up && silence >= lt.Deadtime)
            {
                _linkState[i] = LinkState.Down;
                Emit(new MembershipEvent(MembershipEventKind.LinkDown, now, i, now - _linkLife[i]));
            }
            anyAlive |= silence < lt.Deadtime;
            anyFresh |= silence < lt.Warntime;
        }

        PeerState next;
        if (_everHeard && PeerLeaving)
            next = PeerState.Stopped; // it said goodbye: its silence is not a death (only a new sign of life changes this)
        else if (!_everHeard)
            next = now - _started >= _timers.Initdead && now - _judgeFrom >= _timers.Deadtime ? PeerState.Dead : PeerState.Unknown;
        else
        {
            // Dead only when every link has been silent for its own deadtime.
            next = !anyAlive ? PeerState.Dead
                : !anyFresh ? PeerState.Warn
                : PeerState.Up;
            if (next != PeerState.Dead && Peer is PeerState.Dead or PeerState.Unknown)
                next = Peer; // only a sign of life brings a dead peer back (a stall's restarted judgement does not)
        }
        if (next != Peer)
        {
            Peer = next;
            var kind = next switch
            {
                PeerState.Dead => MembershipEventKind.PeerDead,
                PeerState.Warn => MembershipEventKind.PeerWarn,
                PeerState.Stopped => MembershipEventKind.PeerStopped,
                _ => MembershipEventKind.PeerUp,
            };
            if (next != PeerState.Unknown)
                Emit(new MembershipEvent(kind, now, -1, _everHeard ? now - _lastLife : now - _started));
        }
    }

    /// <summary>When <see cref="Evaluate"/> next needs to run for a timer to fire on time.</summary>
    public TimeSpan NextDeadline(TimeSpan now)
    {
        TimeSpan next = TimeSpan.MaxValue;
        void Consider(TimeSpan t) { if (t > now && t < next) next = t; }
        Consider(_settleUntil);
        Consider(_graceUntil);
        if (!_everHeard)
            Consider(Max(_started + _timers.Initdead, _judgeFrom + _timers.Deadtime));
        for (int i = 0; i < _linkCount; i++)
        {
            if (!_linkHeard[i])
                continue;
            TimeSpan basis = Max(_linkLife[i], _judgeFrom);
            Consider(basis + _linkTimers[i].Warntime);
            Consider(basis + _linkTimers[i].Deadtime);
            if (now < _graceUntil)
                Consider(basis + 2 * _linkTimers[i].Deadtime);
        }
        return next;
    }

    public bool TryDequeueEvent(out MembershipEvent e) => _events.TryDequeue(out e);

    private TimeSpan Silence(TimeSpan lastLife, TimeSpan now) => now - Max(lastLife, _judgeFrom);

    /// <summary>
    /// Whether an acknowledgement of our tick <paramref name="ack"/> is recent enough for the frame to
    /// prove life on <paramref name="link"/>. It is timed from our next tick, the newer one the peer
    /// could have heard instead: at a steady cadence that is the same bound as timing it from the acked
    /// tick itself (one keepalive later, one keepalive less allowed), but while this node was not
    /// scheduled it sent no newer tick, and the peer cannot acknowledge what was never sent. Timed from
    /// the acked tick, every frame the peer sent during our own stall of two or three keepalives looked
    /// stale when we read it, and the peer's silence as we judged it grew by our stall: at a 3 ms
    /// keepalive that alone was a false death. An acknowledgement of our newest tick is fresh up to the
    /// link's deadtime after we sent it (a longer silence of ours is the stall guard's).
    /// </summary>
    private bool AckIsFresh(int link, Sequence ack, TimeSpan now)
    {
        if (ack == SelfSeq)
            return now - _tickTimes[ack.Value % TickTimesRemembered] <= _linkTimers[link].Deadtime;
        TimeSpan nextSent = _tickTimes[(ack.Value + 1) % TickTimesRemembered];
        return now - nextSent + _timers.Keepalive <= _linkTimers[link].AckFreshness;
    }

    private static readonly TimeSpan Tick = TimeSpan.FromTicks(1);

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private bool IsRetired(BootId boot)
    {
        foreach (var b in _retired)
            if (b == boot)
                return true;
        return false;
    }

    private void Retire(BootId boot)
    {
        _retired[_retiredNext] = boot;
        _retiredNext = (_retiredNext + 1) % RetiredBootsMax;
    }

    private void Emit(MembershipEvent e)
    {
        if (_events.Count >= PendingEventsMax)
            _events.Dequeue();
        _events.Enqueue(e);
    }
}
