using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Sys
    {
        // ---- eventfd(2) flags: <linux/eventfd.h> (equal to O_CLOEXEC / O_NONBLOCK) ----
        /// <summary>Close on exec. &lt;linux/eventfd.h&gt;</summary>
        internal const int EFD_CLOEXEC = 0x80000;
        /// <summary>Non-blocking: eventfd_read returns -1/EAGAIN when the counter is 0. &lt;linux/eventfd.h&gt;</summary>
        internal const int EFD_NONBLOCK = 0x800;
        /// <summary>Each read returns 1 and decrements. &lt;linux/eventfd.h&gt;</summary>
        internal const int EFD_SEMAPHORE = 0x1;

        /// <summary>
        /// eventfd(2): a kernel counter that polls readable (POLLIN) while non-zero; the heartbeat
        /// thread polls it next to its link fds so other threads can wake it. Returns an fd or -1
        /// (errno). Wrap it at once: <c>new SafeFileHandle((nint)fd, ownsHandle: true)</c>.
        /// </summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "eventfd", SetLastError = true)]
        internal static partial int EventFd(uint initialValue, int flags);

        /// <summary>eventfd_read(3): reads and resets the counter (8 bytes). 0 or -1 (errno EAGAIN when 0 and non-blocking).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "eventfd_read", SetLastError = true)]
        internal static unsafe partial int EventFdRead(SafeHandle fd, ulong* value);

        /// <summary>eventfd_write(3): adds <paramref name="value"/> to the counter, waking pollers. 0 or -1 (errno).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "eventfd_write", SetLastError = true)]
        internal static partial int EventFdWrite(SafeHandle fd, ulong value);
    }
}
