using System.Runtime.InteropServices;

namespace Appliance.Linux.Gpio;

/// <summary>
/// Owns a GPIO character device fd: a chip (from <see cref="Open"/>) or a line request (from
/// <see cref="Adopt"/>, the fd GPIO_V2_GET_LINE_IOCTL returns). Closing a request fd releases its
/// lines; the runtime closes it exactly once, even when the owner forgets.
/// </summary>
internal sealed class SafeGpioHandle : SafeHandle
{
    private const int InvalidFd = -1;

    /// <summary>open(2) flags of a chip: the line ioctls need write access; children (fence agents) must not inherit it.</summary>
    private const int ChipOpenFlags = Interop.Sys.O_RDWR | Interop.Sys.O_CLOEXEC;

    private SafeGpioHandle(int fd)
        : base((nint)InvalidFd, ownsHandle: true)
    {
        SetHandle(fd);
    }

    public override bool IsInvalid => handle == (nint)InvalidFd;

    /// <summary>
    /// Opens the chip at <paramref name="path"/> and checks with GPIO_GET_CHIPINFO_IOCTL that it is
    /// one. Throws <see cref="GpioException"/> (about <paramref name="line"/>) otherwise; never leaks the fd.
    /// </summary>
    public static unsafe SafeGpioHandle Open(string path, string line, out Interop.Gpio.GpioChipInfo info)
    {
        int fd = Interop.Sys.Open(path, ChipOpenFlags);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw Interop.Gpio.CreateException(path, line, errno,
                errno == Interop.Sys.ENOENT ? $"no such GPIO chip; {ListChips()}" : null);
        }

        var handle = new SafeGpioHandle(fd);
        info = default;
        fixed (Interop.Gpio.GpioChipInfo* p = &info)
        {
            if (Interop.Gpio.Ioctl(handle, Interop.Gpio.GPIO_GET_CHIPINFO_IOCTL, p) == 0)
                return handle;
        }
        int chipInfoErrno = Marshal.GetLastPInvokeError();
        handle.Dispose();
        throw Interop.Gpio.CreateException(path, line, chipInfoErrno,
            chipInfoErrno is Interop.Sys.ENOTTY or Interop.Sys.EINVAL ? "not a GPIO character device" : null);
    }

    /// <summary>Takes ownership of a line request fd returned by the kernel.</summary>
    public static SafeGpioHandle Adopt(int fd) => new(fd);

    protected override bool ReleaseHandle() => Interop.Sys.Close((int)handle) == 0;

    /// <summary>The chips present, for a "no such chip" message.</summary>
    private static string ListChips()
    {
        string[] chips = Directory.Exists("/dev") ? Directory.GetFiles("/dev", "gpiochip*") : [];
        Array.Sort(chips, StringComparer.Ordinal);
        return chips.Length == 0
            ? "this system has no /dev/gpiochip* at all, so no GPIO driver is loaded"
            : "chips present: " + string.Join(", ", chips.Take(GpioChips.NamesShownMax));
    }
}
