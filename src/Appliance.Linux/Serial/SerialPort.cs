using System.Runtime.InteropServices;

namespace Appliance.Linux.Serial;

/// <summary>
/// A tty in raw 8N1 mode, no flow control, at any integer baud rate, driven without blocking:
/// the owner waits with poll(2) on <see cref="Fd"/> and calls <see cref="Read"/>/<see cref="Write"/>.
/// Everything goes through the kernel termios2 ioctls (reference termios-serial.md §4), so neither
/// glibc's struct termios layout nor glibc 2.42's speed_t change matters.
/// </summary>
/// <remarks>
/// Errors: <see cref="Open"/> throws <see cref="NativeIoException"/> naming the device.
/// <see cref="Read"/> and <see cref="Write"/> return <see cref="DeviceGone"/> (-1) when the device
/// went away (end of file on a hung-up tty, EIO, ENXIO, ENODEV: a pty whose master closed, an
/// unplugged USB adapter); the owner disposes the port and opens it again later. They throw only on
/// errors that mean a programming error (EFAULT, EINVAL, ...).
/// </remarks>
public sealed class SerialPort : IDisposable
{
    /// <summary>Returned by <see cref="Read"/> and <see cref="Write"/> when the device is gone.</summary>
    public const int DeviceGone = -1;

    /// <summary>Lowest baud rate we configure: below it a heartbeat frame takes longer than a keepalive tick.</summary>
    public const int MinBaud = 300;

    /// <summary>Highest baud rate we configure: the fastest common USB UARTs (FT232H, CP2108) top out at 12 Mbaud.</summary>
    public const int MaxBaud = 12_000_000;

    /// <summary>
    /// How far the rate the driver reports may be from the one asked (percent): UART receivers
    /// sample mid-bit and tolerate about 2-3 % total clock mismatch between the two ends.
    /// </summary>
    public const int BaudTolerancePercent = 2;

    /// <summary>open(2) flags: read/write; never our controlling tty; do not wait for carrier; not inherited by children.</summary>
    private const int OpenFlags = Interop.Sys.O_RDWR | Interop.Sys.O_NOCTTY | Interop.Sys.O_NONBLOCK | Interop.Sys.O_CLOEXEC;

    private readonly SafeSerialHandle _handle;

    internal SerialPort(SafeSerialHandle handle, string device, int baud)
    {
        _handle = handle;
        Device = device;
        Baud = baud;
    }

    public string Device { get; }

    /// <summary>The baud rate asked for at <see cref="Open"/>.</summary>
    public int Baud { get; }

    /// <summary>The fd to poll (POLLIN; POLLHUP/POLLERR mean the device is gone). Valid until <see cref="Dispose"/>.</summary>
    public int Fd => _handle.Fd;

    /// <summary>The errno of the last <see cref="DeviceGone"/> result (0 for end of file), for the log.</summary>
    public int LastErrno { get; private set; }

    /// <summary>
    /// Opens <paramref name="device"/> (O_RDWR|O_NOCTTY|O_NONBLOCK|O_CLOEXEC), checks it is a tty,
    /// takes it exclusively (TIOCEXCL: other non-root openers get EBUSY; root bypasses it), sets raw
    /// 8N1, no flow control, CLOCAL|CREAD, VMIN=1 VTIME=0, <paramref name="baud"/> through BOTHER,
    /// verifies what the driver accepted, and discards both queues.
    /// </summary>
    /// <exception cref="NativeIoException">A call failed; the message names the device and errno.</exception>
    public static SerialPort Open(string device, int baud)
    {
        ArgumentException.ThrowIfNullOrEmpty(device);
        ArgumentOutOfRangeException.ThrowIfLessThan(baud, MinBaud);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(baud, MaxBaud);

        SafeSerialHandle handle = SafeSerialHandle.Open(device, OpenFlags, out Interop.Sys.Termios2 termios);
        try
        {
            if (Interop.Sys.Ioctl(handle, Interop.Sys.TIOCEXCL, 0) != 0)
                throw Interop.Sys.CreateIoExceptionForLastError(nameof(Interop.Sys.TIOCEXCL), device);

            MakeRaw(ref termios, (uint)baud);
            Set(handle, device, ref termios);
            Verify(handle, device, (uint)baud);

            if (Interop.Sys.Ioctl(handle, Interop.Sys.TCFLSH, Interop.Sys.TCIOFLUSH) != 0)
                throw Interop.Sys.CreateIoExceptionForLastError(nameof(Interop.Sys.TCFLSH), device);

            return new SerialPort(handle, device, baud);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads what is available without blocking. Returns the byte count, 0 when nothing is
    /// available (EAGAIN), or <see cref="DeviceGone"/>. With VMIN=1 a non-blocking read of an idle
    /// tty fails with EAGAIN, so a 0 return from read(2) is end of file: the tty was hung up.
    /// </summary>
    public unsafe int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
            return 0;
        fixed (byte* p = buffer)
        {
            while (true)
            {
                nint n = Interop.Sys.Read(_handle, p, (nuint)buffer.Length);
                if (n > 0)
                    return (int)n;
                if (n == 0)
                {
                    LastErrno = 0;
                    return DeviceGone;
                }
                int errno = Marshal.GetLastPInvokeError();
                switch (errno)
                {
                    case Interop.Sys.EINTR:
                        continue;
                    case Interop.Sys.EAGAIN:
                        return 0;
                    case Interop.Sys.EIO or Interop.Sys.ENXIO or Interop.Sys.ENODEV:
                        LastErrno = errno;
                        return DeviceGone;
                    default:
                        throw Interop.Sys.CreateIoException("read", Device, errno);
                }
            }
        }
    }

    /// <summary>
    /// Writes without blocking. Returns the bytes accepted (possibly fewer than asked, 0 when the
    /// output queue is full: EAGAIN), or <see cref="DeviceGone"/>.
    /// </summary>
    public unsafe int Write(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
            return 0;
        fixed (byte* p = data)
        {
            while (true)
            {
                nint n = Interop.Sys.Write(_handle, p, (nuint)data.Length);
                if (n >= 0)
                    return (int)n;
                int errno = Marshal.GetLastPInvokeError();
                switch (errno)
                {
                    case Interop.Sys.EINTR:
                        continue;
                    case Interop.Sys.EAGAIN:
                        return 0;
                    case Interop.Sys.EIO or Interop.Sys.ENXIO or Interop.Sys.ENODEV:
                        LastErrno = errno;
                        return DeviceGone;
                    default:
                        throw Interop.Sys.CreateIoException("write", Device, errno);
                }
            }
        }
    }

    /// <summary>
    /// Hangs the line up (<paramref name="hangup"/> true: speed B0) or restores the speed asked at
    /// <see cref="Open"/>. B0 is how software drops DTR on a UART (termios(3): "B0 hangs up";
    /// serial_core clears DTR and RTS on the change to B0 and raises them on the change back), which
    /// a WTI RPS-10 takes as "start a new session"; cluster-glue's rps10.c does the same. A pty has
    /// no modem lines: it only records the speed, which the other side can read from the slave.
    /// </summary>
    /// <exception cref="NativeIoException">The ioctl failed (EIO: the device is gone).</exception>
    public void SetHangup(bool hangup)
    {
        Interop.Sys.Termios2 t = Get(_handle, Device);
        t.c_cflag &= ~(Interop.Sys.CBAUD | Interop.Sys.CIBAUD);
        if (hangup)
        {
            // CIBAUD B0 too: input speed "same as output", as cfsetispeed(B0) asks.
            t.c_cflag |= Interop.Sys.B0 | (Interop.Sys.B0 << Interop.Sys.IBSHIFT);
            t.c_ispeed = t.c_ospeed = 0;
        }
        else
        {
            t.c_cflag |= Interop.Sys.BOTHER | (Interop.Sys.BOTHER << Interop.Sys.IBSHIFT);
            t.c_ispeed = t.c_ospeed = (uint)Baud;
        }
        Set(_handle, Device, ref t);
    }

    /// <summary>The output speed the driver holds now (termios2 c_ospeed), for tests and diagnostics.</summary>
    public int ReadBackBaud() => (int)Get(_handle, Device).c_ospeed;

    public void Dispose() => _handle.Dispose();

    /// <summary>What cfmakeraw(3) does, plus no flow control, CLOCAL|CREAD, VMIN=1 VTIME=0 and BOTHER speed.</summary>
    internal static unsafe void MakeRaw(ref Interop.Sys.Termios2 t, uint baud)
    {
        t.c_iflag &= ~(Interop.Sys.IGNBRK | Interop.Sys.BRKINT | Interop.Sys.PARMRK | Interop.Sys.ISTRIP
            | Interop.Sys.INLCR | Interop.Sys.IGNCR | Interop.Sys.ICRNL
            | Interop.Sys.IXON | Interop.Sys.IXOFF | Interop.Sys.IXANY | Interop.Sys.INPCK);
        t.c_oflag &= ~Interop.Sys.OPOST;
        t.c_lflag &= ~(Interop.Sys.ECHO | Interop.Sys.ECHONL | Interop.Sys.ICANON | Interop.Sys.ISIG | Interop.Sys.IEXTEN);
        t.c_cflag &= ~(Interop.Sys.CSIZE | Interop.Sys.PARENB | Interop.Sys.PARODD | Interop.Sys.CMSPAR
            | Interop.Sys.CSTOPB | Interop.Sys.CRTSCTS | Interop.Sys.CBAUD | Interop.Sys.CIBAUD);
        t.c_cflag |= Interop.Sys.CS8 | Interop.Sys.CREAD | Interop.Sys.CLOCAL
            | Interop.Sys.BOTHER | (Interop.Sys.BOTHER << Interop.Sys.IBSHIFT);
        t.c_cc[Interop.Sys.VMIN] = 1;
        t.c_cc[Interop.Sys.VTIME] = 0;
        t.c_ispeed = baud;
        t.c_ospeed = baud;
    }

    internal static unsafe void Set(SafeSerialHandle handle, string device, ref Interop.Sys.Termios2 termios)
    {
        fixed (Interop.Sys.Termios2* t = &termios)
        {
            if (Interop.Sys.Ioctl(handle, Interop.Sys.TCSETS2, t) != 0)
                throw Interop.Sys.CreateIoExceptionForLastError(nameof(Interop.Sys.TCSETS2), device);
        }
    }

    internal static unsafe Interop.Sys.Termios2 Get(SafeSerialHandle handle, string device)
    {
        Interop.Sys.Termios2 termios;
        if (Interop.Sys.Ioctl(handle, Interop.Sys.TCGETS2, &termios) != 0)
            throw Interop.Sys.CreateIoExceptionForLastError(nameof(Interop.Sys.TCGETS2), device);
        return termios;
    }

    /// <summary>
    /// TCSETS2 succeeds when the driver accepts any part of the request, so read it back: a UART
    /// that cannot make the rate reports the one it chose; raw mode must have stuck.
    /// </summary>
    private static unsafe void Verify(SafeSerialHandle handle, string device, uint baud)
    {
        Interop.Sys.Termios2 got = Get(handle, device);
        long deviation = Math.Abs((long)got.c_ospeed - baud) * 100;
        if (deviation > (long)baud * BaudTolerancePercent)
            throw Interop.Sys.CreateIoException(nameof(Interop.Sys.TCSETS2), device, Interop.Sys.EINVAL,
                $"baud {baud} not supported (the driver set {got.c_ospeed})");
        const uint mustBeClear = Interop.Sys.ICANON | Interop.Sys.ECHO | Interop.Sys.ISIG | Interop.Sys.IEXTEN;
        if ((got.c_lflag & mustBeClear) != 0 || (got.c_oflag & Interop.Sys.OPOST) != 0
            || (got.c_cflag & Interop.Sys.CSIZE) != Interop.Sys.CS8 || got.c_cc[Interop.Sys.VMIN] != 1)
            throw Interop.Sys.CreateIoException(nameof(Interop.Sys.TCSETS2), device, Interop.Sys.EINVAL,
                $"raw mode did not stick (iflag 0x{got.c_iflag:x} oflag 0x{got.c_oflag:x} cflag 0x{got.c_cflag:x} lflag 0x{got.c_lflag:x})");
    }
}
