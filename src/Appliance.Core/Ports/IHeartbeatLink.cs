using Appliance.Core.Config;

namespace Appliance.Core.Ports;

/// <summary>Receives whole heartbeat frames (still unauthenticated) from a link, without allocation.</summary>
public interface IFrameReceiver
{
    void OnFrame(ReadOnlySpan<byte> frame);
}

/// <summary>Outcome of one send. Links never throw on the heartbeat path.</summary>
public enum LinkSendResult
{
    Sent,
    /// <summary>The device or socket buffer is full; the frame was dropped (the next tick sends a fresh one).</summary>
    WouldBlock,
    /// <summary>The kernel refused (network down, device gone); counted, retried next tick.</summary>
    Error,
}

/// <summary>
/// Counters of one link, updated by the heartbeat thread and read by the control socket.
/// Plain longs written by one thread and read with <see cref="Volatile"/>; no locks.
/// </summary>
/// <remarks>
/// Each counter has exactly one owner, the layer that sees the event, so no frame is counted twice
/// (the host passes the node's counters to the link it opens, so both write into one object):
/// <list type="bullet">
/// <item><see cref="Heartbeat.HeartbeatNode"/> owns the frame counts: <see cref="TxFrames"/> and
/// <see cref="TxDropped"/> from every <see cref="IHeartbeatLink.Send"/> result (and a tick whose slot
/// has no open link), <see cref="RxFrames"/> for every frame a link hands it, and
/// <see cref="RxRejected"/> and <see cref="RxStale"/> from decoding and membership.</item>
/// <item>The link adapter owns only what never reaches the node: <see cref="RxBadFraming"/> and
/// <see cref="RxNoiseBytes"/>. A link never counts frames it sends or delivers.</item>
/// </list>
/// </remarks>
public sealed class LinkCounters
{
    /// <summary>Owner: the node. Frames a link accepted (<see cref="LinkSendResult.Sent"/>).</summary>
    public long TxFrames;
    /// <summary>Owner: the node. Frames not sent: the link said WouldBlock or Error, or the slot had no open link.</summary>
    public long TxDropped;
    /// <summary>Owner: the node. Whole frames a link delivered (before decoding).</summary>
    public long RxFrames;
    /// <summary>Owner: the node. Frames that passed framing but failed decoding or authentication (wrong key, wrong cluster, malformed).</summary>
    public long RxRejected;
    /// <summary>Owner: the node. Authentic frames that proved nothing: replayed, old boot, duplicate, unacknowledged.</summary>
    public long RxStale;
    /// <summary>Owner: the link (serial only). Frames dropped by the framing layer (bad CRC, bad COBS, oversize).</summary>
    public long RxBadFraming;
    /// <summary>Owner: the link (serial only). Bytes discarded while resynchronising.</summary>
    public long RxNoiseBytes;

    public LinkCountersSnapshot Snapshot() => new(
        Volatile.Read(ref TxFrames), Volatile.Read(ref TxDropped), Volatile.Read(ref RxFrames),
        Volatile.Read(ref RxRejected), Volatile.Read(ref RxStale), Volatile.Read(ref RxBadFraming),
        Volatile.Read(ref RxNoiseBytes));
}

public readonly record struct LinkCountersSnapshot(
    long TxFrames, long TxDropped, long RxFrames, long RxRejected, long RxStale, long RxBadFraming, long RxNoiseBytes);

/// <summary>
/// One heartbeat medium (serial null-modem cable, UDP socket). Implemented by the Linux edge and by
/// the simulation. All members are called from the heartbeat thread only.
/// </summary>
public interface IHeartbeatLink : IDisposable
{
    string Name { get; }
    LinkKind Kind { get; }

    /// <summary>The file descriptor the heartbeat thread polls for input.</summary>
    int PollFd { get; }

    /// <summary>
    /// The counters this link writes (framing-level only, see <see cref="LinkCounters"/>); the host
    /// passes the node's slot counters at open so they survive a reopen.
    /// </summary>
    LinkCounters Counters { get; }

    /// <summary>Sends one heartbeat frame (a serial link adds its own framing). Never throws; does not count (the caller counts the result).</summary>
    LinkSendResult Send(ReadOnlySpan<byte> frame);

    /// <summary>
    /// Reads everything available now without blocking and hands each complete frame to
    /// <paramref name="receiver"/>. Returns false when the device is gone (the thread reopens it).
    /// </summary>
    bool Drain(IFrameReceiver receiver);

    /// <summary>
    /// The link's datagrams as a second thread may use them while the heartbeat thread is inside
    /// <see cref="Send"/> or <see cref="Drain"/> (the watcher's <see cref="Heartbeat.KeepaliveCover"/>);
    /// null when that is unsafe, as for a serial byte stream whose frames two writers would interleave.
    /// </summary>
    ISharedDatagramLink? Shared => null;
}

/// <summary>
/// Whole datagrams, sent and received by any thread at any time: each send and each receive is one
/// system call on one datagram, so nothing interleaves with the owner's own. Never throws for the
/// link's state (a closed link reports an error or nothing waiting).
/// </summary>
public interface ISharedDatagramLink
{
    /// <summary>Sends one datagram (like <see cref="IHeartbeatLink.Send"/>).</summary>
    LinkSendResult Send(ReadOnlySpan<byte> frame);

    /// <summary>Takes one waiting datagram into <paramref name="buffer"/> without blocking; false when none waits.</summary>
    bool TryReceive(Span<byte> buffer, out int length);
}
