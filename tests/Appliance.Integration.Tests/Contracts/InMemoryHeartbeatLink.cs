using System.IO.Pipes;
using Appliance.Core.Config;
using Appliance.Core.Heartbeat;
using Appliance.Core.Ports;

namespace Appliance.Integration.Tests.Contracts;

/// <summary>
/// One end of an in-memory heartbeat link pair, honouring <see cref="IHeartbeatLink"/>'s contract
/// the way the real links do (<see cref="HeartbeatLinkContract"/> holds it to that): frames are
/// copied into the peer's bounded inbox and arrive whole, in order, through <see cref="Drain"/>;
/// <see cref="PollFd"/> is a real file descriptor (the read end of a pipe that holds one byte while
/// frames wait), so a poll(2) loop like the heartbeat thread's can wait on it; an oversized frame is
/// <see cref="LinkSendResult.Error"/> as on the serial link; a full inbox is
/// <see cref="LinkSendResult.WouldBlock"/> as a full socket buffer; a peer that is gone swallows
/// frames as a UDP peer whose daemon is down does.
/// </summary>
internal sealed class InMemoryHeartbeatLink : IHeartbeatLink
{
    /// <summary>Largest frame: the serial link's, the smallest any real link carries (the heartbeat frame is 88 bytes).</summary>
    public const int MaxFrameBytes = SerialFraming.MaxPayloadBytes;

    /// <summary>Frames waiting in one inbox, like a socket's receive buffer; beyond it a send is WouldBlock.</summary>
    public const int InboxFramesMax = 256;

    private readonly Lock _gate = new();
    private readonly Queue<byte[]> _inbox = new();
    private readonly AnonymousPipeServerStream _signalRead = new(PipeDirection.In);
    private readonly AnonymousPipeClientStream _signalWrite;
    private InMemoryHeartbeatLink? _peer;
    private bool _signalled;
    private bool _disposed;

    private InMemoryHeartbeatLink(string name, LinkKind kind)
    {
        Name = name;
        Kind = kind;
        _signalWrite = new AnonymousPipeClientStream(PipeDirection.Out, _signalRead.ClientSafePipeHandle);
        PollFd = (int)_signalRead.SafePipeHandle.DangerousGetHandle();
    }

    /// <summary>Two ends joined like a cable: what one sends the other drains.</summary>
    public static (InMemoryHeartbeatLink A, InMemoryHeartbeatLink B) CreatePair(string name, LinkKind kind = LinkKind.Udp)
    {
        var a = new InMemoryHeartbeatLink(name, kind);
        var b = new InMemoryHeartbeatLink(name, kind);
        (a._peer, b._peer) = (b, a);
        return (a, b);
    }

    public string Name { get; }

    public LinkKind Kind { get; }

    public int PollFd { get; }

    public LinkCounters Counters { get; } = new();

    public LinkSendResult Send(ReadOnlySpan<byte> frame)
    {
        if (Volatile.Read(ref _disposed) || frame.Length > MaxFrameBytes)
        {
            Interlocked.Increment(ref Counters.TxDropped);
            return LinkSendResult.Error;
        }
        if (_peer is { } peer && !peer.Deliver(frame))
        {
            Interlocked.Increment(ref Counters.TxDropped);
            return LinkSendResult.WouldBlock;
        }
        Interlocked.Increment(ref Counters.TxFrames);
        return LinkSendResult.Sent;
    }

    public bool Drain(IFrameReceiver receiver)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        byte[][] frames;
        lock (_gate)
        {
            if (_disposed)
                return false;
            frames = _inbox.ToArray();
            _inbox.Clear();
            if (_signalled)
            {
                _signalRead.ReadByte(); // present: written when the inbox went from empty to not
                _signalled = false;
            }
        }
        foreach (byte[] frame in frames)
        {
            Interlocked.Increment(ref Counters.RxFrames);
            receiver.OnFrame(frame);
        }
        return true;
    }

    /// <summary>The peer's send: queue a copy and wake this end's poller. False when the inbox is full.</summary>
    private bool Deliver(ReadOnlySpan<byte> frame)
    {
        lock (_gate)
        {
            if (_disposed)
                return true; // nobody listens: the frame is lost on the way, as a datagram to a stopped daemon
            if (_inbox.Count >= InboxFramesMax)
                return false;
            _inbox.Enqueue(frame.ToArray());
            if (!_signalled)
            {
                _signalWrite.WriteByte(1);
                _signalWrite.Flush();
                _signalled = true;
            }
            return true;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            _inbox.Clear();
            _signalWrite.Dispose();
            _signalRead.Dispose();
        }
    }
}
