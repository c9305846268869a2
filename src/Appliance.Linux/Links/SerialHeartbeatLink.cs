using Appliance.Core.Config;
using Appliance.Core.Heartbeat;
using Appliance.Core.Ports;
using Appliance.Linux.Serial;

namespace Appliance.Linux.Links;

/// <summary>
/// A heartbeat link over a null-modem serial cable: <see cref="SerialFraming"/> (COBS + CRC-32,
/// 0x00 delimiters) on a raw <see cref="SerialPort"/>. Send and Drain allocate nothing: the encode
/// buffer, the read buffer and the deframer are allocated once at <see cref="Open"/>.
/// </summary>
/// <remarks>
/// Reopening after the device is lost is the caller's job: when <see cref="Drain"/> returns false
/// (or <see cref="Send"/> keeps returning <see cref="LinkSendResult.Error"/>), dispose the link
/// and call <see cref="Open"/> again later, passing the same <see cref="LinkCounters"/> so the
/// counters survive the reopen.
/// </remarks>
public sealed class SerialHeartbeatLink : IHeartbeatLink
{
    /// <summary>Bytes per read(2): the kernel's N_TTY_BUF_SIZE, the most a tty buffers for us anyway.</summary>
    public const int ReadChunkBytes = 4096;

    /// <summary>
    /// Most bytes one <see cref="Drain"/> consumes: a babbling line (or a peer flooding the cable)
    /// cannot hold the heartbeat thread; what is left wakes poll(2) again at once.
    /// </summary>
    public const int MaxDrainBytes = 16 * ReadChunkBytes;

    private readonly SerialPort _port;
    private readonly SerialDeframer _deframer = new();
    private readonly byte[] _txBuffer = new byte[SerialFraming.MaxEncodedBytes];
    private readonly byte[] _rxBuffer = new byte[ReadChunkBytes];
    private long _discardedCounted;

    private SerialHeartbeatLink(string name, SerialPort port, LinkCounters counters)
    {
        Name = name;
        _port = port;
        Counters = counters;
    }

    public string Name { get; }

    public LinkKind Kind => LinkKind.Serial;

    /// <summary>The tty's fd: POLLIN means bytes to drain, POLLHUP/POLLERR that the device is gone.</summary>
    public int PollFd => _port.Fd;

    /// <summary>Written only for what the node never sees: RxBadFraming and RxNoiseBytes (see <see cref="LinkCounters"/>).</summary>
    public LinkCounters Counters { get; }

    /// <summary>The device path, for logs.</summary>
    public string Device => _port.Device;

    /// <summary>errno of the loss the last failed Drain/Send saw (0 = hung up), for logs.</summary>
    public int LastErrno => _port.LastErrno;

    /// <summary>
    /// Opens the link's device (see <see cref="SerialPort.Open"/>). Throws
    /// <see cref="NativeIoException"/> naming the device when it is missing, busy or not a tty;
    /// nothing is left open then.
    /// </summary>
    /// <param name="counters">Counters to continue after a reopen; a fresh set when null.</param>
    public static SerialHeartbeatLink Open(SerialLinkConfig config, LinkCounters? counters = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        SerialPort port = SerialPort.Open(config.Device, config.Baud);
        return new SerialHeartbeatLink(config.Name, port, counters ?? new LinkCounters());
    }

    /// <summary>
    /// Encodes <paramref name="frame"/> and writes it in one write(2). A full output queue or a
    /// partial write drops the frame (the caller counts the result in TxDropped; the receiver
    /// resyncs at the next 0x00 and counts the torn piece as bad framing). Never throws.
    /// </summary>
    public LinkSendResult Send(ReadOnlySpan<byte> frame)
    {
        if (frame.Length > SerialFraming.MaxPayloadBytes)
            return LinkSendResult.Error;

        int length = SerialFraming.Encode(frame, _txBuffer);
        int written;
        try
        {
            written = _port.Write(_txBuffer.AsSpan(0, length));
        }
        catch (NativeIoException)
        {
            written = SerialPort.DeviceGone;
        }

        if (written == length)
            return LinkSendResult.Sent;
        return written == SerialPort.DeviceGone ? LinkSendResult.Error : LinkSendResult.WouldBlock;
    }

    /// <summary>
    /// Reads until the tty has nothing more (or <see cref="MaxDrainBytes"/>), hands each frame with
    /// a good CRC to <paramref name="receiver"/> (which counts them in RxFrames), counts every bad frame in
    /// RxBadFraming and the bytes thrown away in RxNoiseBytes. Returns false when the device is gone.
    /// </summary>
    public bool Drain(IFrameReceiver receiver)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        bool alive = true;
        int total = 0;
        while (total < MaxDrainBytes)
        {
            int n;
            try
            {
                n = _port.Read(_rxBuffer);
            }
            catch (NativeIoException)
            {
                n = SerialPort.DeviceGone;
            }
            if (n == SerialPort.DeviceGone)
            {
                alive = false;
                break;
            }
            if (n == 0)
                break;
            total += n;
            Deframe(_rxBuffer.AsSpan(0, n), receiver);
            if (n < _rxBuffer.Length)
                break; // a short read emptied the queue; anything newer wakes poll(2) again
        }

        long discarded = _deframer.DiscardedBytes;
        if (discarded != _discardedCounted)
        {
            Interlocked.Add(ref Counters.RxNoiseBytes, discarded - _discardedCounted);
            _discardedCounted = discarded;
        }
        return alive;
    }

    private void Deframe(ReadOnlySpan<byte> input, IFrameReceiver receiver)
    {
        while (!input.IsEmpty)
        {
            int consumed = _deframer.Push(input, out DeframeEvent? evt);
            input = input[consumed..];
            switch (evt)
            {
                case null:
                    break;
                case DeframeEvent.Frame:
                    receiver.OnFrame(_deframer.Frame);
                    break;
                default:
                    Interlocked.Increment(ref Counters.RxBadFraming);
                    break;
            }
        }
    }

    public void Dispose() => _port.Dispose();
}
