using System.Runtime.InteropServices;
using Appliance.Core.Config;
using Appliance.Core.Heartbeat;
using Appliance.Core.Ports;
using Appliance.Linux.Serial;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Linux.Links;

/// <summary>
/// A heartbeat link over a null-modem serial cable: <see cref="SerialFraming"/> (COBS + CRC-32,
/// 0x00 delimiters) on a raw <see cref="SerialPort"/>. Send and Drain allocate nothing: the encode
/// buffer, the read buffer, the deframer and the frame ring are allocated once at <see cref="Open"/>.
/// </summary>
/// <remarks>
/// <para><b>Reading happens on a thread of the link's own.</b> poll(2) and read(2) on a tty with no
/// input pending wait for the tty's buffer work (flush_to_ldisc, run by an ordinary kworker) to
/// finish (n_tty_poll and n_tty_read call tty_buffer_flush_work). Under CPU load that kworker
/// waits its turn behind everything else, and the real-time heartbeat thread waited with it:
/// measured in the lab at 2 ms keepalive with both CPUs saturated, the heartbeat loops of both
/// nodes stalled together for 8-16 ms (stall guards, false deaths), and not once with the serial
/// cable quiet. So the heartbeat thread never polls or reads the tty: a reader thread (SCHED_FIFO,
/// one step below the heartbeat, <see cref="ReaderPriority"/>) does, deframes, and hands whole
/// frames over through a single-producer single-consumer ring; <see cref="PollFd"/> is an eventfd
/// that counts the frames handed over, so it polls readable exactly while frames wait. Writing
/// stays on the caller's thread: a non-blocking write only queues bytes and schedules that work.</para>
/// <para>Reopening after the device is lost is the caller's job: when <see cref="Drain"/> returns false
/// (or <see cref="Send"/> keeps returning <see cref="LinkSendResult.Error"/>), dispose the link
/// and call <see cref="Open"/> again later, passing the same <see cref="LinkCounters"/> so the
/// counters survive the reopen.</para>
/// </remarks>
public sealed class SerialHeartbeatLink : IHeartbeatLink
{
    /// <summary>Bytes per read(2): the kernel's N_TTY_BUF_SIZE, the most a tty buffers for us anyway.</summary>
    public const int ReadChunkBytes = 4096;

    /// <summary>
    /// Most bytes the reader consumes before it lets the ring's consumer catch up (it polls again):
    /// a babbling line (or a peer flooding the cable) cannot keep it busy for ever.
    /// </summary>
    public const int MaxDrainBytes = 16 * ReadChunkBytes;

    /// <summary>
    /// Frames the ring holds between the reader and the heartbeat thread: 128 ms of frames at a 2 ms
    /// cadence. A heartbeat that has not taken them by then has stalled (its stall guard fires);
    /// frames that find the ring full are dropped and their bytes counted as noise.
    /// </summary>
    public const int RingFrames = 64;

    /// <summary>
    /// The reader's SCHED_FIFO priority: below the heartbeat thread
    /// (<see cref="RealtimeThread.HeartbeatPriority"/>), so a line full of noise keeps the reader busy
    /// but never the heartbeat; above everything ordinary, so frames do not wait behind load.
    /// </summary>
    public const int ReaderPriority = RealtimeThread.HeartbeatPriority - 1;

    private readonly SerialPort _port;
    private readonly SerialDeframer _deframer = new();
    private readonly byte[] _txBuffer = new byte[SerialFraming.MaxEncodedBytes];
    private readonly byte[] _rxBuffer = new byte[ReadChunkBytes];
    private readonly byte[][] _ring = new byte[RingFrames][];
    private readonly int[] _ringLength = new int[RingFrames];
    private readonly SafeFileHandle _ready;
    private readonly Poller _readerWait;
    private readonly Thread _reader;
    private long _head; // next slot the reader fills (written by the reader only)
    private long _tail; // next slot Drain takes (written by Drain only)
    private long _discardedCounted;
    private volatile bool _gone;
    private volatile bool _stopping;
    private int _disposed;

    private SerialHeartbeatLink(string name, SerialPort port, LinkCounters counters)
    {
        Name = name;
        _port = port;
        Counters = counters;
        for (int i = 0; i < RingFrames; i++)
            _ring[i] = new byte[SerialFraming.MaxPayloadBytes];
        int fd = Interop.Sys.EventFd(0, Interop.Sys.EFD_CLOEXEC | Interop.Sys.EFD_NONBLOCK);
        if (fd < 0)
            throw Interop.Sys.CreateIoExceptionForLastError("eventfd", port.Device);
        _ready = new SafeFileHandle(fd, ownsHandle: true);
        PollFd = fd;
        _readerWait = new Poller(1);
        _reader = new Thread(ReadLoop) { Name = $"serial-{name}", IsBackground = true };
        _reader.Start();
    }

    public string Name { get; }

    public LinkKind Kind => LinkKind.Serial;

    /// <summary>
    /// An eventfd counting the frames the reader has handed over and Drain has not taken yet: POLLIN
    /// means frames to drain, or that the device is gone (then Drain returns false).
    /// </summary>
    public int PollFd { get; }

    /// <summary>Written only for what the node never sees: RxBadFraming and RxNoiseBytes (see <see cref="LinkCounters"/>).</summary>
    public LinkCounters Counters { get; }

    /// <summary>The device path, for logs.</summary>
    public string Device => _port.Device;

    /// <summary>errno of the loss the reader or the last failed Send saw (0 = hung up), for logs.</summary>
    public int LastErrno => _port.LastErrno;

    /// <summary>
    /// Opens the link's device (see <see cref="SerialPort.Open"/>) and starts its reader. Throws
    /// <see cref="NativeIoException"/> naming the device when it is missing, busy or not a tty;
    /// nothing is left open then.
    /// </summary>
    /// <param name="counters">Counters to continue after a reopen; a fresh set when null.</param>
    public static SerialHeartbeatLink Open(SerialLinkConfig config, LinkCounters? counters = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        SerialPort port = SerialPort.Open(config.Device, config.Baud);
        try
        {
            return new SerialHeartbeatLink(config.Name, port, counters ?? new LinkCounters());
        }
        catch
        {
            port.Dispose();
            throw;
        }
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
    /// Hands every frame the reader has deframed (each with a good CRC) to <paramref name="receiver"/>
    /// (which counts them in RxFrames). Never blocks and never touches the tty. Returns false when the
    /// reader found the device gone and every frame before that has been handed over.
    /// </summary>
    public unsafe bool Drain(IFrameReceiver receiver)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        ulong signalled = 0;
        Interop.Sys.EventFdRead(_ready, &signalled); // 0 and EAGAIN when nothing was signalled
        long head = Volatile.Read(ref _head);
        // Exactly the frames signalled: a frame the reader has pushed but not yet signalled is left
        // for the next wake-up, so PollFd never stays readable with nothing to take.
        for (ulong i = 0; i < signalled && _tail < head; i++)
        {
            int slot = (int)(_tail % RingFrames);
            receiver.OnFrame(_ring[slot].AsSpan(0, _ringLength[slot]));
            Volatile.Write(ref _tail, _tail + 1);
        }
        return !(_gone && _tail >= Volatile.Read(ref _head));
    }

    private unsafe void ReadLoop()
    {
        // Created by the heartbeat thread it would inherit its priority: take the step below.
        RealtimeThread.TryMakeCurrentThreadRealtime(ReaderPriority);
        var receiver = new RingReceiver(this);
        try
        {
            while (!_stopping)
            {
                _readerWait.Clear();
                int p = _readerWait.Add(_port.Fd);
                _readerWait.Wait(null);
                if (_stopping)
                    break;
                if (!_readerWait.IsReady(p))
                    continue;
                if (!ReadAvailable(receiver))
                {
                    _gone = true;
                    Interop.Sys.EventFdWrite(_ready, 1); // wake the heartbeat: Drain says the device is gone
                    break;
                }
            }
        }
        catch (Exception e) when (e is NativeIoException or IOException or ObjectDisposedException)
        {
            _gone = true;
            Interop.Sys.EventFdWrite(_ready, 1);
        }
    }

    /// <summary>Reads until the tty has nothing more (or <see cref="MaxDrainBytes"/>); false when the device is gone.</summary>
    private bool ReadAvailable(RingReceiver receiver)
    {
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

    private void Deframe(ReadOnlySpan<byte> input, RingReceiver receiver)
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

    /// <summary>The reader's side of the ring: copies a frame into the next slot, then signals it.</summary>
    private void Push(ReadOnlySpan<byte> frame)
    {
        long head = _head;
        if (head - Volatile.Read(ref _tail) >= RingFrames)
        {
            // The heartbeat has not taken 64 frames: it stalled. Dropped, and counted as thrown away.
            Interlocked.Add(ref Counters.RxNoiseBytes, frame.Length);
            return;
        }
        int slot = (int)(head % RingFrames);
        frame.CopyTo(_ring[slot]);
        _ringLength[slot] = frame.Length;
        Volatile.Write(ref _head, head + 1);
        Interop.Sys.EventFdWrite(_ready, 1);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _stopping = true;
        _readerWait.Wake();
        if (Thread.CurrentThread != _reader)
            _reader.Join();
        _readerWait.Dispose();
        _port.Dispose();
        _ready.Dispose();
    }

    private sealed class RingReceiver(SerialHeartbeatLink link) : IFrameReceiver
    {
        public void OnFrame(ReadOnlySpan<byte> frame) => link.Push(frame);
    }
}
