using System.Runtime.InteropServices;

namespace Appliance.Linux.Serial;

/// <summary>
/// Owns the file descriptor of an open tty. Created only by <see cref="Open"/>, which validates
/// that the path is a terminal; closed exactly once by the runtime, even when the owner forgets.
/// </summary>
internal sealed class SafeSerialHandle : SafeHandle
{
    private const int InvalidFd = -1;

    private SafeSerialHandle(int fd)
        : base((nint)InvalidFd, ownsHandle: true)
    {
        SetHandle(fd);
    }

    public override bool IsInvalid => handle == (nint)InvalidFd;

    /// <summary>The raw fd for poll(2); valid until the handle is disposed.</summary>
    public int Fd => (int)handle;

    /// <summary>
    /// Opens <paramref name="device"/> with <paramref name="flags"/> and checks that it is a tty
    /// (TCGETS2 succeeds). Throws <see cref="NativeIoException"/> naming the device otherwise; never
    /// leaks the fd.
    /// </summary>
    public static SafeSerialHandle Open(string device, int flags, out Interop.Sys.Termios2 termios)
    {
        int fd = Interop.Sys.Open(device, flags);
        if (fd < 0)
            throw Interop.Sys.CreateIoExceptionForLastError("open", device);

        var handle = new SafeSerialHandle(fd);
        try
        {
            termios = default;
            unsafe
            {
                fixed (Interop.Sys.Termios2* t = &termios)
                {
                    if (Interop.Sys.Ioctl(handle, Interop.Sys.TCGETS2, t) != 0)
                    {
                        int errno = Marshal.GetLastPInvokeError();
                        throw Interop.Sys.CreateIoException(
                            nameof(Interop.Sys.TCGETS2), device, errno,
                            errno == Interop.Sys.ENOTTY ? "not a serial device" : null);
                    }
                }
            }
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    protected override bool ReleaseHandle() => Interop.Sys.Close((int)handle) == 0;
}
