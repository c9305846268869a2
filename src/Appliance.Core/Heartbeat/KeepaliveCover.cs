using Appliance.Core.Values;

namespace Appliance.Core.Heartbeat;

/// <summary>
/// Keepalives sent by a second thread (the host's watcher) while the thread that owns the node is
/// held inside its pass: on a virtual machine whose host stopped that thread's CPU mid-pass, or on a
/// board whose CPU an SMI holds. Such a thread cannot be moved or replaced before its CPU runs again
/// (it holds the node's state), and a silence of two deadtimes of a live node is a false death at the
/// peer. The cover repeats, at the keepalive cadence, exactly what the node last announced (its role
/// and resources), with a fresh sequence and an acknowledgement of the peer's newest tick that the
/// watcher read itself, so the peer's membership takes the frames as signs of life under the ordinary
/// rules (DESIGN.md section 4: fresh sequence, authentic, acknowledging a recent tick). It never judges
/// or decides anything: what the node does next is its owner's, once it runs again.
/// <para>Bounded: a cover lasts at most <see cref="LongestCover"/> after the owner was due, so a heartbeat
/// thread that hangs in our own code is still seen dead by the peer, that much later.</para>
/// <para>Threads: <see cref="Publish"/> and <see cref="Adopt"/> on the owner (the thread holding the
/// node), the rest on the watcher; the host keeps the owner's <see cref="Adopt"/> and the watcher's
/// calls apart (they share the episode). Publish is a seqlock over two slots, so the watcher always
/// finds a whole announcement even when the owner stopped in the middle of writing one. Allocation-free.
/// "Owner" and "watcher" are roles, not threads: a host whose watcher runs passes for a late owner has
/// the owner cover for the watcher when the watcher is the one held inside a pass.</para>
/// </summary>
public sealed class KeepaliveCover
{
    /// <summary>Most keepalives one cover sends (its time limit is reached first: 250 at the 2 ms floor).</summary>
    public const int MaxTicks = 256;

    /// <summary>Most runs of ticks one cover has: it begins one, and each <see cref="TryResume"/> another.</summary>
    public const int MaxSegments = 8;

    /// <summary>
    /// A cover ends this long after the owner was due at the latest, whatever the timers (with a
    /// deadtime above it a cover changes nothing the peer judges anyway). A heartbeat thread hung in
    /// our own code is seen dead by the peer at most this much later than a silent one; a power cut or
    /// a crash takes the watcher with it and is seen as before. Stops of one CPU measured on the
    /// bench host while the other ran, in 600 s windows at 3ms/15ms under full load: up to 137 ms in
    /// the first (a limit of four deadtimes, 60 ms there, let two through as deaths), then 206, 251,
    /// 264 and 300 ms past a limit of 200 ms; one of 677 ms. Half a second bridges all but the last
    /// and still finds a hung heartbeat thread well within a second.
    /// </summary>
    public static readonly TimeSpan LongestCover = TimeSpan.FromMilliseconds(500);

    private readonly HeartbeatCodec _codec;
    private readonly NodeId _self;
    private readonly NodeId _peer;
    private readonly BootId _selfBoot;
    private readonly Slot[] _slots = [new(), new()];
    private long _published;

    // The episode: written by the watcher while it covers, read and reset by the owner's Adopt.
    private readonly TimeSpan[] _times = new TimeSpan[MaxTicks];
    private readonly long[] _sentPerLink;
    private bool _active;
    /// <summary>The announcement the episode began from: when the owner announces again, it runs, and the cover sends no more.</summary>
    private long _beganAt;
    // Runs of consecutive sequence numbers: segment k numbers ticks _segStart[k].. from _segFirst[k].
    private readonly ulong[] _segFirst = new ulong[MaxSegments];
    private readonly int[] _segStart = new int[MaxSegments];
    private int _segments;
    private int _count;
    private BootId _ackBoot;
    private Sequence _ackSeq;
    private StateSummary _state;

    public KeepaliveCover(HeartbeatCodec codec, NodeId self, NodeId peer, BootId selfBoot, int linkCount)
    {
        _codec = codec;
        _self = self;
        _peer = peer;
        _selfBoot = selfBoot;
        _sentPerLink = new long[linkCount];
    }

    /// <summary>Covers the owner adopted (each one episode of a held owner).</summary>
    public long Covers { get; private set; }

    /// <summary>Keepalive ticks sent by covers and adopted by the owner.</summary>
    public long CoverTicks { get; private set; }

    /// <summary>Whether the watcher is inside a cover that the owner has not adopted yet.</summary>
    public bool Active => _active;

    /// <summary>Owner, in every keepalive tick before its frames go out: what this tick announces.</summary>
    public void Publish(Sequence seq, BootId peerBoot, Sequence peerSeq, in StateSummary state, TimeSpan at)
    {
        long next = _published + 1;
        var slot = _slots[next & 1];
        Volatile.Write(ref slot.Version, slot.Version + 1); // odd: being written
        Interlocked.MemoryBarrier();
        slot.Seq = seq.Value;
        slot.PeerBoot = peerBoot.Value;
        slot.PeerSeq = peerSeq.Value;
        slot.State = state;
        slot.At = at;
        Volatile.Write(ref slot.Version, slot.Version + 1);
        Volatile.Write(ref _published, next);
    }

    /// <summary>
    /// Watcher: starts a cover from the owner's latest whole announcement. False when nothing was
    /// announced yet (or both slots were being written, which a stopped owner cannot do).
    /// </summary>
    public bool TryBegin()
    {
        if (!TryReadLatest(out long published, out var a))
            return false;
        _segFirst[0] = a.Seq + 1;
        _segStart[0] = 0;
        _segments = 1;
        _count = 0;
        _ackBoot = new BootId(a.PeerBoot);
        _ackSeq = new Sequence(a.PeerSeq);
        _state = a.State;
        Array.Clear(_sentPerLink);
        _beganAt = published;
        _active = true;
        return true;
    }

    /// <summary>
    /// Watcher: the owner announced since this cover began (its ticks stopped) but is held again before
    /// its next pass took the cover over: a pass the host stopped twice. Continues the cover from that
    /// newest announcement, once it is <paramref name="quiet"/> old at <paramref name="now"/> (the
    /// owner's next keepalive is due and has not come), numbering after both the cover's ticks and the
    /// owner's. False otherwise, or when the cover has no room for another run of ticks.
    /// </summary>
    public bool TryResume(TimeSpan now, TimeSpan quiet)
    {
        if (!_active || OwnerSilent || !TryReadLatest(out long published, out var a) || published == _beganAt || now - a.At < quiet)
            return false;
        int last = _segments - 1;
        int ticksInLast = _count - _segStart[last];
        ulong coverLast = _segFirst[last] + (ulong)ticksInLast - 1;
        ulong first = Math.Max(coverLast, a.Seq) + 1;
        if (ticksInLast == 0)
            _segFirst[last] = first; // the run before has no tick: renumber it
        else if (_segments == MaxSegments)
            return false;
        else
        {
            _segFirst[_segments] = first;
            _segStart[_segments] = _count;
            _segments++;
        }
        TakeAck(a);
        _state = a.State;
        _beganAt = published;
        return true;
    }

    /// <summary>The acknowledgement to send from here on: the announcement's, or the newer one the watcher read of the same peer boot.</summary>
    private void TakeAck(in Announcement a)
    {
        if (a.PeerBoot != _ackBoot.Value)
        {
            _ackBoot = new BootId(a.PeerBoot);
            _ackSeq = new Sequence(a.PeerSeq);
        }
        else if (a.PeerSeq > _ackSeq.Value)
            _ackSeq = new Sequence(a.PeerSeq);
    }

    private readonly record struct Announcement(ulong Seq, ulong PeerBoot, ulong PeerSeq, StateSummary State, TimeSpan At);

    /// <summary>The owner's latest whole announcement; false when there is none (or both slots were being written, which a stopped owner cannot do).</summary>
    private bool TryReadLatest(out long published, out Announcement a)
    {
        published = Volatile.Read(ref _published);
        a = default;
        if (published == 0)
            return false;
        for (int attempt = 0; attempt < 2; attempt++)
        {
            var slot = _slots[(published - attempt) & 1];
            long before = Volatile.Read(ref slot.Version);
            if ((before & 1) != 0 || before == 0)
                continue;
            a = new Announcement(slot.Seq, slot.PeerBoot, slot.PeerSeq, slot.State, slot.At);
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref slot.Version) == before)
                return true;
        }
        return false;
    }

    /// <summary>
    /// Watcher: an authentic frame of the peer's announced boot that the watcher read off a link; a
    /// newer sequence is what the next cover tick acknowledges. Anything else changes nothing (the
    /// bytes go to the owner all the same).
    /// </summary>
    public void NotePeerFrame(ReadOnlySpan<byte> bytes)
    {
        if (_active && _codec.TryDecode(bytes, out var f) == DecodeStatus.Ok &&
            f.Sender == _peer && f.Boot == _ackBoot && f.Seq > _ackSeq)
            _ackSeq = f.Seq;
    }

    /// <summary>
    /// Watcher: the owner has announced nothing since the cover began. Once it has, it is running and
    /// its announcements are the node's: a cover frame after one could repeat a role it just left.
    /// </summary>
    public bool OwnerSilent => _active && Volatile.Read(ref _published) == _beganAt;

    /// <summary>Watcher: a new cover tick at <paramref name="now"/>; false when the cover is over or full, or the owner runs again.</summary>
    public bool TryTick(TimeSpan now)
    {
        if (!OwnerSilent || _count == MaxTicks)
            return false;
        _times[_count++] = now;
        return true;
    }

    /// <summary>Watcher: the current cover tick's frame for link <paramref name="link"/>.</summary>
    public int Encode(int link, Span<byte> dst)
    {
        int last = _segments - 1;
        var seq = new Sequence(_segFirst[last] + (ulong)(_count - 1 - _segStart[last]));
        return _codec.Encode(new HeartbeatFrame((byte)link, _self, _selfBoot, seq, _ackBoot, _ackSeq, _state), dst);
    }

    /// <summary>Watcher: link <paramref name="link"/> took the current tick's frame.</summary>
    public void Sent(int link) => _sentPerLink[link]++;

    /// <summary>
    /// Watcher: the owner has neither announced nor taken a cover over for <paramref name="quiet"/> at
    /// <paramref name="now"/>. A thread held again in the same pass after it took a cover over (its CPU
    /// stopped twice) is covered again only then: a thread that runs on through its pass announces well
    /// within a keepalive.
    /// </summary>
    public bool QuietFor(TimeSpan now, TimeSpan quiet) => TryReadLatest(out _, out var a) && now - a.At >= quiet;

    /// <summary>
    /// Owner, first thing in its next pass (at <paramref name="now"/>): takes over the cover's ticks (its
    /// sequence continues after them, and the peer's acknowledgements of them are judged by when they
    /// were sent) and its frame counts, and ends the episode. The host must keep the watcher out
    /// meanwhile. What the cover sent counts as the owner's announcement from then on, so a cover that
    /// begins before the owner's next keepalive (it is held again in the same pass) numbers after it.
    /// </summary>
    public void Adopt(Membership.Membership membership, Ports.LinkCounters[] counters, TimeSpan now)
    {
        if (!_active)
            return;
        _active = false;
        if (_count > 0)
        {
            for (int k = 0; k < _segments; k++)
            {
                int start = _segStart[k], end = k + 1 < _segments ? _segStart[k + 1] : _count;
                if (end > start)
                    membership.AdoptTicks(new Sequence(_segFirst[k]), _times.AsSpan(start, end - start));
            }
            for (int i = 0; i < _sentPerLink.Length && i < counters.Length; i++)
                counters[i].TxFrames += _sentPerLink[i];
            Covers++;
            CoverTicks += _count;
            _count = 0;
        }
        // The owner's latest announcement (the owner is its only writer), renumbered and timed.
        if (TryReadLatest(out _, out var a))
        {
            TakeAck(a);
            Publish(membership.SelfSeq, _ackBoot, _ackSeq, a.State, now);
        }
    }

    private sealed class Slot
    {
        public long Version;
        public ulong Seq;
        public ulong PeerBoot;
        public ulong PeerSeq;
        public StateSummary State;
        public TimeSpan At;
    }
}
