using Appliance.Core.Config;
using Appliance.Core.Membership;
using Appliance.Core.Ports;
using Appliance.Core.Values;

namespace Appliance.Core.Heartbeat;

/// <summary>
/// The heartbeat of one node, sans-I/O: the host owns the thread, the clock and the poll loop and
/// calls, on each wake-up, <see cref="Wake"/> (stall guard first), <see cref="Receive"/> for each
/// readable link, then <see cref="Evaluate"/>. Links are ports; a slot may be empty while its device
/// is being reopened. No allocation per frame.
/// <para>The node ticks at the cluster keepalive; each link sends on every n-th tick, n being its
/// <see cref="LinkTimers.EveryTicks"/> (a serial link whose baud rate cannot carry the cluster's
/// cadence), and <see cref="SendNow"/> sends on every link at once.</para>
/// </summary>
public sealed class HeartbeatNode
{
    private readonly HeartbeatCodec _codec;
    private readonly NodeId _self;
    private readonly Timers _timers;
    private readonly IHeartbeatLink?[] _links;
    private readonly LinkReceiver[] _receivers;
    /// <summary>Per link: the tick number at which it next sends.</summary>
    private readonly long[] _linkDueTick;
    private long _tick;
    private readonly byte[] _txBuffer = new byte[HeartbeatCodec.FrameBytes];
    private TimeSpan _nextSend;
    private TimeSpan _now;
    private bool _sentOnce;
    private TimeSpan _lastSendAt;

    public HeartbeatNode(HeartbeatCodec codec, Membership.Membership membership, NodeId self, Timers timers, int linkCount)
    {
        _codec = codec;
        Membership = membership;
        _self = self;
        _timers = timers;
        _links = new IHeartbeatLink?[linkCount];
        LinkCounters = new LinkCounters[linkCount];
        _receivers = new LinkReceiver[linkCount];
        _linkDueTick = new long[linkCount];
        for (int i = 0; i < linkCount; i++)
        {
            LinkCounters[i] = new LinkCounters();
            _receivers[i] = new LinkReceiver(this, i);
        }
        Cover = new KeepaliveCover(codec, self, membership.PeerId, membership.SelfBoot, linkCount);
    }

    /// <summary>
    /// Keepalives the host's watcher sends while the thread holding this node is stopped inside its
    /// pass; each tick publishes to it what it announced, and <see cref="AdoptCover"/> takes it back.
    /// </summary>
    public KeepaliveCover Cover { get; }

    /// <summary>
    /// First call of a pass (begun at <paramref name="now"/>), before <see cref="Wake"/>: takes over the
    /// ticks a cover sent while this node's thread was held (the host keeps the watcher out meanwhile).
    /// </summary>
    public void AdoptCover(TimeSpan now) => Cover.Adopt(Membership, LinkCounters, now);

    /// <summary>
    /// Hands the node a frame that reached link <paramref name="index"/> by another way than
    /// <see cref="Receive"/> (the watcher read it off the link during a cover), as if drained now.
    /// </summary>
    public void Deliver(int index, ReadOnlySpan<byte> frame) => OnFrame(index, frame);

    public Membership.Membership Membership { get; }

    /// <summary>
    /// Counters per link slot; they survive a reopen of the link's device. The node is the one owner
    /// of the frame counts in them (see <see cref="Ports.LinkCounters"/>); links add only framing errors.
    /// </summary>
    public LinkCounters[] LinkCounters { get; }

    /// <summary>What this node tells the peer about itself; set by the owner of the node's state.</summary>
    public StateSummary LocalState { get; set; }

    public int LinkCount => _links.Length;

    /// <summary>Longest interval between two consecutive keepalive sends since the last reset (cadence under load).</summary>
    public TimeSpan WorstSendGap { get; private set; }

    public void ResetWorstSendGap() => WorstSendGap = TimeSpan.Zero;

    public IHeartbeatLink? LinkAt(int index) => _links[index];

    /// <summary>Puts a (re)opened link in its slot, or empties the slot (returns the old link to dispose).</summary>
    public IHeartbeatLink? SetLink(int index, IHeartbeatLink? link)
    {
        var old = _links[index];
        _links[index] = link;
        return old;
    }

    /// <summary>
    /// First call of every wake-up. Returns true when the stall guard fired. The peer is asked
    /// whether it moved only when this node claims resources: a standby has nothing to keep.
    /// </summary>
    public bool Wake(TimeSpan now)
    {
        _now = now;
        return Membership.CheckStall(now, ask: LocalState.ClaimsResources);
    }

    /// <summary>Drains link <paramref name="index"/>; false when its device is gone.</summary>
    public bool Receive(int index)
    {
        var link = _links[index];
        return link is null || link.Drain(_receivers[index]);
    }

    /// <summary>Re-judges the peer and sends the keepalive if it is due.</summary>
    public void Evaluate()
    {
        Membership.Evaluate(_now);
        if (!_sentOnce || _now >= _nextSend)
            SendTick();
    }

    /// <summary>Sends a keepalive now, out of cadence (a new role must reach the peer at once).</summary>
    public void SendNow()
    {
        Membership.Evaluate(_now);
        SendTick(everyLink: true);
    }

    /// <summary>When the host must wake up next (keepalive or a membership timer).</summary>
    public TimeSpan NextWake()
    {
        TimeSpan deadline = Membership.NextDeadline(_now);
        return deadline < _nextSend ? deadline : _nextSend;
    }

    private void SendTick(bool everyLink = false)
    {
        // Keep the cadence anchored to the schedule, but never try to catch up a backlog of ticks.
        _nextSend = _sentOnce && _now >= _nextSend && _now - _nextSend < _timers.Keepalive ? _nextSend + _timers.Keepalive : _now + _timers.Keepalive;
        if (_sentOnce && _now - _lastSendAt > WorstSendGap)
            WorstSendGap = _now - _lastSendAt;
        _lastSendAt = _now;
        _sentOnce = true;
        Sequence seq = Membership.NextTick(_now);
        _tick++;
        StateSummary state = LocalState with { LinksHeard = Membership.LinksUpMask };
        Cover.Publish(seq, Membership.PeerBoot, Membership.PeerSeq, state, _now);
        for (int i = 0; i < _links.Length; i++)
        {
            if (!everyLink && _tick < _linkDueTick[i])
                continue;
            _linkDueTick[i] = _tick + Membership.LinkTimersOf(i).EveryTicks;
            var link = _links[i];
            var counters = LinkCounters[i];
            if (link is null)
            {
                counters.TxDropped++;
                continue;
            }
            var frame = new HeartbeatFrame((byte)i, _self, Membership.SelfBoot, seq, Membership.PeerBoot, Membership.PeerSeq, state);
            int n = _codec.Encode(frame, _txBuffer);
            switch (link.Send(_txBuffer.AsSpan(0, n)))
            {
                case LinkSendResult.Sent:
                    counters.TxFrames++;
                    Membership.OnLinkFault(i, _now, faulted: false);
                    break;
                case LinkSendResult.WouldBlock:
                    counters.TxDropped++; // a full queue is congestion, not a fault
                    break;
                default:
                    counters.TxDropped++;
                    Membership.OnLinkFault(i, _now, faulted: true); // a signal to look, never proof of death
                    break;
            }
        }
    }

    private void OnFrame(int index, ReadOnlySpan<byte> bytes)
    {
        var counters = LinkCounters[index];
        counters.RxFrames++;
        if (_codec.TryDecode(bytes, out var frame) != DecodeStatus.Ok)
        {
            counters.RxRejected++;
            return;
        }
        var verdict = Membership.OnFrame(index, frame, _now);
        if (verdict is FrameVerdict.Stale or FrameVerdict.Misdirected)
            counters.RxStale++;
    }

    private sealed class LinkReceiver(HeartbeatNode node, int index) : IFrameReceiver
    {
        public void OnFrame(ReadOnlySpan<byte> frame) => node.OnFrame(index, frame);
    }
}
