using Microsoft.Win32.SafeHandles;

namespace Appliance.Linux.Serial;

/// <summary>
/// The console's terminal (its stdin, a serial console or a pty) in character mode for the line
/// editor, and back as it was. Character mode here: no line discipline editing or echo (ICANON,
/// ECHO, ECHONL off), ^C and ^Z arrive as bytes (ISIG, IEXTEN off), CR arrives as CR (ICRNL, INLCR,
/// IGNCR off), no output processing (OPOST off: the console writes CR LF itself), a read returns
/// each byte as it comes (VMIN 1, VTIME 0). The speed, the character size and XON/XOFF stay as getty
/// set them. termios(3), ioctl_tty(2).
/// </summary>
public sealed class TerminalMode : IDisposable
{
    private readonly SafeFileHandle _fd;
    private readonly Interop.Sys.Termios2 _saved;
    private int _restored;

    private TerminalMode(SafeFileHandle fd, Interop.Sys.Termios2 saved)
    {
        _fd = fd;
        _saved = saved;
    }

    /// <summary>Whether <paramref name="fd"/> is a terminal (TCGETS2 answers; ENOTTY otherwise).</summary>
    public static unsafe bool IsTerminal(int fd)
    {
        using var handle = new SafeFileHandle(fd, ownsHandle: false);
        Interop.Sys.Termios2 t;
        return Interop.Sys.Ioctl(handle, Interop.Sys.TCGETS2, &t) == 0;
    }

    /// <summary>Puts the terminal at <paramref name="fd"/> in character mode; <see cref="Dispose"/> restores it.</summary>
    /// <exception cref="NativeIoException">It is not a terminal, or the mode cannot be set.</exception>
    public static unsafe TerminalMode Enter(int fd)
    {
        var handle = new SafeFileHandle(fd, ownsHandle: false);
        Interop.Sys.Termios2 saved;
        if (Interop.Sys.Ioctl(handle, Interop.Sys.TCGETS2, &saved) != 0)
            throw Interop.Sys.CreateIoExceptionForLastError(nameof(Interop.Sys.TCGETS2), $"fd {fd}");
        var t = saved;
        t.c_lflag &= ~(Interop.Sys.ICANON | Interop.Sys.ECHO | Interop.Sys.ECHONL | Interop.Sys.ISIG | Interop.Sys.IEXTEN);
        t.c_iflag &= ~(Interop.Sys.ICRNL | Interop.Sys.INLCR | Interop.Sys.IGNCR | Interop.Sys.ISTRIP);
        t.c_oflag &= ~Interop.Sys.OPOST;
        t.c_cc[Interop.Sys.VMIN] = 1;
        t.c_cc[Interop.Sys.VTIME] = 0;
        if (Interop.Sys.Ioctl(handle, Interop.Sys.TCSETS2, &t) != 0)
            throw Interop.Sys.CreateIoExceptionForLastError(nameof(Interop.Sys.TCSETS2), $"fd {fd}");
        return new TerminalMode(handle, saved);
    }

    /// <summary>Restores the mode found at <see cref="Enter"/>; safe to call twice and from a signal handler's thread.</summary>
    public unsafe void Dispose()
    {
        if (Interlocked.Exchange(ref _restored, 1) != 0)
            return;
        var t = _saved;
        _ = Interop.Sys.Ioctl(_fd, Interop.Sys.TCSETS2, &t); // a hung-up terminal cannot be restored, nor needs to be
        _fd.Dispose();
    }
}
