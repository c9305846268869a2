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
public sealed class LinkCounters
{
    public long TxFrames;
    public long TxDropped;
    public long RxFrames;
    /// <summary>Frames that passed framing but failed decoding or authentication (wrong key, wrong cluster, malformed).</summary>
    public long RxRejected;
    /// <summary>Authentic frames that proved nothing: replayed, old boot, duplicate, unacknowledged.</summary>
    public long RxStale;
    /// <summary>Serial only: frames dropped by the framing layer (bad CRC, bad COBS, oversize).</summary>
    public long RxBadFraming;
    /// <summary>Serial only: bytes discarded while resynchronising.</summary>
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

    LinkCounters Counters { get; }

    /// <summary>Sends one heartbeat frame (a serial link adds its own framing). Never throws.</summary>
    LinkSendResult Send(ReadOnlySpan<byte> frame);

    /// <summary>
    /// Reads everything available now without blocking and hands each complete frame to
    /// <paramref name="receiver"/>. Returns false when the device is gone (the thread reopens it).
    /// </summary>
    bool Drain(IFrameReceiver receiver);
}
