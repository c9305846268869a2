using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Sys
    {
        // errno values: <asm-generic/errno-base.h> (1..34) and <asm-generic/errno.h> (35..).
        /// <summary>No such file or directory. &lt;asm-generic/errno-base.h&gt;</summary>
        internal const int ENOENT = 2;
        /// <summary>Operation not permitted (a capability is missing). &lt;asm-generic/errno-base.h&gt;</summary>
        internal const int EPERM = 1;
        /// <summary>Interrupted system call. &lt;asm-generic/errno-base.h&gt;</summary>
        internal const int EINTR = 4;
        /// <summary>No such process or thread (one that ended meanwhile). &lt;asm-generic/errno-base.h&gt;</summary>
        internal const int ESRCH = 3;
        /// <summary>I/O error; a tty whose hardware or pty master went away. &lt;asm-generic/errno-base.h&gt;</summary>
        internal const int EIO = 5;
        /// <summary>No such device or address (USB serial adapter unplugged). &lt;asm-generic/errno-base.h&gt;</summary>
        internal const int ENXIO = 6;
        /// <summary>Bad file descriptor. &lt;asm-generic/errno-base.h&gt;</summary>
        internal const int EBADF = 9;
        /// <summary>Try again: a non-blocking call would block. &lt;asm-generic/errno-base.h&gt;</summary>
        internal const int EAGAIN = 11;
        /// <summary>Permission denied. &lt;asm-generic/errno-base.h&gt;</summary>
        internal const int EACCES = 13;
        /// <summary>Device or resource busy (TIOCEXCL held by another opener). &lt;asm-generic/errno-base.h&gt;</summary>
        internal const int EBUSY = 16;
        /// <summary>File exists: rtnetlink's answer to adding an address that is there. &lt;asm-generic/errno-base.h&gt;</summary>
        internal const int EEXIST = 17;
        /// <summary>No such device (also: rtnetlink, an interface that is not there). &lt;asm-generic/errno-base.h&gt;</summary>
        internal const int ENODEV = 19;
        /// <summary>Not a directory: a component of a path is a file (a state dir that is a file). &lt;asm-generic/errno-base.h&gt;</summary>
        internal const int ENOTDIR = 20;
        /// <summary>Invalid argument (also: a baud rate the UART cannot produce). &lt;asm-generic/errno-base.h&gt;</summary>
        internal const int EINVAL = 22;
        /// <summary>Not a typewriter: the termios ioctls on something that is not a tty. &lt;asm-generic/errno-base.h&gt;</summary>
        internal const int ENOTTY = 25;
        /// <summary>Too many symbolic links: with O_NOFOLLOW, the last component is a symlink. &lt;asm-generic/errno.h&gt;</summary>
        internal const int ELOOP = 40;
        /// <summary>Cannot assign requested address: rtnetlink's answer to removing an address that is not there. &lt;asm-generic/errno.h&gt;</summary>
        internal const int EADDRNOTAVAIL = 99;
        /// <summary>Connection refused: ICMP port unreachable reported on a connected UDP socket. &lt;asm-generic/errno.h&gt;</summary>
        internal const int ECONNREFUSED = 111;

        /// <summary>
        /// The one place that turns an errno into an exception: <see cref="Appliance.Linux.NativeIoException"/>
        /// carrying the operation, the device (path or link name) and the errno.
        /// </summary>
        internal static Appliance.Linux.NativeIoException CreateIoException(
            string operation, string device, int errno, string? reason = null, Exception? inner = null)
            => new(operation, device, errno, reason, inner);

        /// <summary>Reads errno saved by the last <c>SetLastError = true</c> call and wraps it (see <see cref="CreateIoException"/>).</summary>
        internal static Appliance.Linux.NativeIoException CreateIoExceptionForLastError(string operation, string device, string? reason = null)
            => CreateIoException(operation, device, Marshal.GetLastPInvokeError(), reason);

        /// <summary>The symbolic name of the errno values the edge handles by name, else null.</summary>
        internal static string? ErrnoName(int errno) => errno switch
        {
            EPERM => nameof(EPERM),
            ENOENT => nameof(ENOENT),
            EINTR => nameof(EINTR),
            EIO => nameof(EIO),
            ENXIO => nameof(ENXIO),
            EBADF => nameof(EBADF),
            EAGAIN => nameof(EAGAIN),
            EACCES => nameof(EACCES),
            EBUSY => nameof(EBUSY),
            EEXIST => nameof(EEXIST),
            ENODEV => nameof(ENODEV),
            ENOTDIR => nameof(ENOTDIR),
            ELOOP => nameof(ELOOP),
            EINVAL => nameof(EINVAL),
            ENOTTY => nameof(ENOTTY),
            EADDRNOTAVAIL => nameof(EADDRNOTAVAIL),
            ECONNREFUSED => nameof(ECONNREFUSED),
            _ => null,
        };

        /// <summary>"File exists (EEXIST, errno 17)": strerror(3) text, then the symbolic name when we have one, and the number.</summary>
        internal static string DescribeErrno(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} ({NameAndNumber(errno)})";

        /// <summary>"EEXIST, errno 17", or "errno 17" for a value without a name here.</summary>
        internal static string NameAndNumber(int errno) => ErrnoName(errno) is { } name ? $"{name}, errno {errno}" : $"errno {errno}";
    }
}

namespace Appliance.Linux
{
    /// <summary>
    /// A system call on a device failed. Carries the failed <see cref="Operation"/>, the
    /// <see cref="Device"/> (a path, or a link name for sockets) and the raw <see cref="Errno"/>;
    /// the message adds strerror(3) text. Created only through <c>Interop.Sys.CreateIoException</c>.
    /// </summary>
    public sealed class NativeIoException : IOException
    {
        internal NativeIoException(string operation, string device, int errno, string? reason = null, Exception? inner = null)
            : base(Format(operation, device, errno, reason), inner)
        {
            Operation = operation;
            Device = device;
            Errno = errno;
            Reason = reason;
            HResult = errno;
        }

        /// <summary>The call or ioctl that failed ("open", "TCSETS2", "bind", ...).</summary>
        public string Operation { get; }

        /// <summary>The device path or link the call was about.</summary>
        public string Device { get; }

        /// <summary>The Linux errno.</summary>
        public int Errno { get; }

        /// <summary>What the failure means for us ("not a serial device"), when more than strerror.</summary>
        public string? Reason { get; }

        private static string Format(string operation, string device, int errno, string? reason)
        {
            return reason is null
                ? $"{operation} {device}: {Interop.Sys.DescribeErrno(errno)}"
                : $"{device}: {reason} ({operation}: {Marshal.GetPInvokeErrorMessage(errno)}, {Interop.Sys.NameAndNumber(errno)})";
        }
    }
}
