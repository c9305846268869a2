using System.Collections.Concurrent;
using Appliance.Core.Config;
using Appliance.Core.ConfigSync;
using Appliance.Core.Heartbeat;
using Appliance.Core.Membership;
using Appliance.Core.Ports;
using Appliance.Core.Values;

namespace Appliance.Daemon;

/// <summary>Sync message counts of one link, for status.</summary>
internal sealed record SyncLinkCounters(string Name, long TxMessages, long TxBytes, long RxMessages, long RxRejected);

/// <summary>
/// Config-sync messages on the heartbeat links, beside the keepalives, in the heartbeat worker
/// (README "Keeping the pair's config in sync"). Every link is wrapped (<see cref="Wrap"/>): a frame
/// that starts with the sync magic is taken aside (authenticated and checked against the heartbeat's
/// boots by <see cref="SyncGate"/>, its payload copied into a fixed ring for the worker's writer
/// thread), every other frame goes to the node as before, and every keepalive written on a serial link
/// is shown to that link's <see cref="SerialPacer"/>. Payloads to send come from the daemon through a
/// bounded queue; <see cref="Pump"/>, called by the heartbeat thread after the node's step (so the
/// keepalive of that step has gone), sends them on the first UDP link that is up, else on the first
/// serial link that is up when its pacer allows. Nothing here allocates on the heartbeat thread: the
/// ring and the send buffer are allocated once, and the queued payloads were allocated by the thread
/// that read them from the daemon.
/// </summary>
internal sealed class SyncSideChannel
{
    /// <summary>
    /// Payloads waiting to be sent. The daemon's engine has at most a window of 16 fragments plus a
    /// few control messages out; beyond this the daemon is ahead of the link, and the surplus is
    /// dropped (counted) and retransmitted by the engine.
    /// </summary>
    public const int QueueMax = 64;

    /// <summary>Received payloads waiting for the writer thread: a full window and then some.</summary>
    public const int RingSlots = 128;

    /// <summary>Most messages one pump sends on UDP, so one wake-up of the heartbeat thread stays short.</summary>
    public const int MaxPerPump = 32;

    private readonly SyncGate _gate;
    private readonly IReadOnlyList<LinkConfig> _links;
    private readonly SerialPacer?[] _pacers;
    private readonly ConcurrentQueue<byte[]> _queue = new();
    private readonly byte[] _tx = new byte[SyncEnvelope.MaxMessageBytes];
    private readonly byte[][] _ring = new byte[RingSlots][];
    private readonly int[] _ringLength = new int[RingSlots];
    private readonly int[] _ringLink = new int[RingSlots];
    private readonly long[] _txMessages, _txBytes, _rxMessages, _rxRejected;
    private int _queued;
    private long _ringHead; // written by the heartbeat thread
    private long _ringTail; // written by the writer thread
    private long _dropped;
    private long _ringOverflow;
    private bool _ready;
    private HeartbeatNode? _node;

    public SyncSideChannel(SyncGate gate, IReadOnlyList<LinkConfig> links, Timers timers)
    {
        _gate = gate;
        _links = links;
        _pacers = links.Select(l => l is SerialLinkConfig s ? new SerialPacer(s.Baud, timers.Keepalive) : null).ToArray();
        for (int i = 0; i < RingSlots; i++)
            _ring[i] = new byte[SyncEnvelope.MaxPayloadBytes];
        _txMessages = new long[links.Count];
        _txBytes = new long[links.Count];
        _rxMessages = new long[links.Count];
        _rxRejected = new long[links.Count];
    }

    /// <summary>The heartbeat thread's time of the current wake-up (set first thing each loop).</summary>
    public TimeSpan Now { get; set; }

    /// <summary>Payloads dropped: queue full, or no link up to the peer.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public void Attach(HeartbeatNode node) => _node = node;

    public IHeartbeatLink Wrap(int index, IHeartbeatLink link) => new SideLink(this, index, link);

    /// <summary>Any thread: queues a payload for the peer. False (and counted) when the queue is full.</summary>
    public bool Enqueue(byte[] payload)
    {
        if (payload.Length > SyncEnvelope.MaxPayloadBytes || Interlocked.Increment(ref _queued) > QueueMax)
        {
            if (payload.Length <= SyncEnvelope.MaxPayloadBytes)
                Interlocked.Decrement(ref _queued);
            Interlocked.Increment(ref _dropped);
            return false;
        }
        _queue.Enqueue(payload);
        return true;
    }

    /// <summary>Heartbeat thread, after the node's step: sends what the links allow now.</summary>
    public void Pump(TimeSpan now)
    {
        var node = _node;
        if (node is null)
            return;
        var m = node.Membership;
        bool peerAlive = m.Peer is PeerState.Up or PeerState.Warn;
        int sent = 0;
        while (sent < MaxPerPump && _queue.TryPeek(out var payload))
        {
            if (!peerAlive || m.PeerBoot == BootId.None)
            {
                Drop(); // nobody to send to: the engine learns the peer is gone and gives up
                continue;
            }
            int link = ChooseLink(node, m);
            if (link < 0)
                return; // the peer is alive but no link judged up can carry it yet
            if (_pacers[link] is { } pacer && !pacer.MaySend(now, SyncEnvelope.MessageLength(payload.Length)))
                return;
            int n = _gate.Seal((byte)link, m.SelfBoot, m.PeerBoot, payload, _tx);
            var target = node.LinkAt(link)!;
            var result = target is SideLink side ? side.SendSync(_tx.AsSpan(0, n)) : target.Send(_tx.AsSpan(0, n));
            _pacers[link]?.Written(now, n);
            _queue.TryDequeue(out _);
            Interlocked.Decrement(ref _queued);
            if (result == LinkSendResult.Sent)
            {
                Interlocked.Increment(ref _txMessages[link]);
                Interlocked.Add(ref _txBytes[link], n);
            }
            else
                Interlocked.Increment(ref _dropped);
            sent++;
        }
    }

    /// <summary>When the heartbeat thread must wake to pump again (MaxValue: its next keepalive will do).</summary>
    public TimeSpan NextWake(TimeSpan now)
    {
        if (_node is not { } node || !_queue.TryPeek(out var payload))
            return TimeSpan.MaxValue;
        int link = ChooseLink(node, node.Membership);
        if (link < 0)
            return TimeSpan.MaxValue;
        return _pacers[link] is { } pacer ? pacer.NextChance(now, SyncEnvelope.MessageLength(payload.Length)) : now;
    }

    /// <summary>Heartbeat thread: true once after messages arrived (wake the writer).</summary>
    public bool TakeReady()
    {
        bool ready = _ready;
        _ready = false;
        return ready;
    }

    /// <summary>Writer thread: the next received payload (copied out), with its link's index.</summary>
    public bool TryTakeIncoming(out byte[] payload, out int link)
    {
        long tail = Volatile.Read(ref _ringTail);
        if (tail == Volatile.Read(ref _ringHead))
        {
            payload = [];
            link = -1;
            return false;
        }
        int slot = (int)(tail % RingSlots);
        payload = _ring[slot].AsSpan(0, _ringLength[slot]).ToArray();
        link = _ringLink[slot];
        Volatile.Write(ref _ringTail, tail + 1);
        return true;
    }

    public IReadOnlyList<SyncLinkCounters> Counters() => [.. _links.Select((l, i) => new SyncLinkCounters(l.Name,
        Interlocked.Read(ref _txMessages[i]), Interlocked.Read(ref _txBytes[i]), Interlocked.Read(ref _rxMessages[i]), Interlocked.Read(ref _rxRejected[i])))];

    public long RingOverflow => Interlocked.Read(ref _ringOverflow);

    public int Queued => Volatile.Read(ref _queued);

    private void Drop()
    {
        _queue.TryDequeue(out _);
        Interlocked.Decrement(ref _queued);
        Interlocked.Increment(ref _dropped);
    }

    /// <summary>The first UDP link judged up, else the first serial link judged up; -1 if none.</summary>
    private int ChooseLink(HeartbeatNode node, Membership m)
    {
        int serial = -1;
        for (int i = 0; i < _links.Count; i++)
        {
            if (m.LinkStateOf(i) != LinkState.Up || node.LinkAt(i) is null)
                continue;
            if (_links[i].Kind == LinkKind.Udp)
                return i;
            if (serial < 0)
                serial = i;
        }
        return serial;
    }

    /// <summary>Heartbeat thread: a frame with the sync magic arrived on link <paramref name="index"/> (or was read off it by the watcher and is replayed now).</summary>
    internal void OnSyncFrame(int index, ReadOnlySpan<byte> frame)
    {
        var node = _node;
        if (node is null)
            return;
        var m = node.Membership;
        var status = _gate.Admit(frame, index, m.SelfBoot, m.PeerBoot, m.Peer is PeerState.Up or PeerState.Warn, out var payload);
        if (status != EnvelopeStatus.Ok)
        {
            Interlocked.Increment(ref _rxRejected[index]);
            return;
        }
        Interlocked.Increment(ref _rxMessages[index]);
        long head = _ringHead;
        if (head - Volatile.Read(ref _ringTail) >= RingSlots)
        {
            Interlocked.Increment(ref _ringOverflow); // the writer is behind: the engine retransmits
            return;
        }
        int slot = (int)(head % RingSlots);
        payload.CopyTo(_ring[slot]);
        _ringLength[slot] = payload.Length;
        _ringLink[slot] = index;
        Volatile.Write(ref _ringHead, head + 1);
        _ready = true;
    }

    private void KeepaliveSent(int index, int bytes) => _pacers[index]?.KeepaliveWritten(Now, bytes);

    /// <summary>
    /// A link as the node sees it, with the sync messages taken out of what it receives and its
    /// keepalives shown to the pacer. Allocation-free: the demultiplexing receiver is made once.
    /// </summary>
    private sealed class SideLink : IHeartbeatLink, IFrameReceiver
    {
        private readonly SyncSideChannel _channel;
        private readonly int _index;
        private readonly IHeartbeatLink _inner;
        private IFrameReceiver? _target;

        public SideLink(SyncSideChannel channel, int index, IHeartbeatLink inner)
        {
            _channel = channel;
            _index = index;
            _inner = inner;
        }

        public string Name => _inner.Name;
        public LinkKind Kind => _inner.Kind;
        public int PollFd => _inner.PollFd;
        public LinkCounters Counters => _inner.Counters;
        public ISharedDatagramLink? Shared => _inner.Shared;

        /// <summary>The node's keepalives (sync messages go through the inner link directly).</summary>
        public LinkSendResult Send(ReadOnlySpan<byte> frame)
        {
            var result = _inner.Send(frame);
            if (result == LinkSendResult.Sent)
                _channel.KeepaliveSent(_index, frame.Length);
            return result;
        }

        /// <summary>A sync message: straight to the link, not counted as a keepalive.</summary>
        public LinkSendResult SendSync(ReadOnlySpan<byte> message) => _inner.Send(message);

        public bool Drain(IFrameReceiver receiver)
        {
            _target = receiver;
            return _inner.Drain(this);
        }

        public void OnFrame(ReadOnlySpan<byte> frame)
        {
            if (SyncEnvelope.IsSyncMessage(frame))
                _channel.OnSyncFrame(_index, frame);
            else
                _target!.OnFrame(frame);
        }

        public void Dispose() => _inner.Dispose();
    }
}

/// <summary>Config sync's payloads and keepalive word through the heartbeat worker.</summary>
internal sealed class ProxySyncTransport(HeartbeatProxy proxy) : ISyncTransport
{
    public void Send(byte[] payload) => proxy.SendSync(payload);

    public void SetWord(uint word) => proxy.SetConfigWord(word);
}
