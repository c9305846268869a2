using System.Runtime.InteropServices;

internal static partial class Interop
{
    /// <summary>
    /// inotify(7): change notifications on files, for the lab's simulated GPIO chip, whose input
    /// lines are level files that the lab writes (<c>lab press</c>): the driver is told a button's
    /// file changed instead of reading it every few milliseconds. Kept out of <see cref="Sys"/>:
    /// pinned by native/inotify_abi.c (Edge/GpioAbiTests).
    /// </summary>
    internal static partial class Inotify
    {
        // ---- inotify_init1(2) flags: <sys/inotify.h> (= O_NONBLOCK / O_CLOEXEC, <asm-generic/fcntl.h>) ----
        /// <summary>read(2) returns -1/EAGAIN instead of waiting when no event is queued. &lt;sys/inotify.h&gt;</summary>
        internal const int IN_NONBLOCK = 0x800;
        /// <summary>Close on exec. &lt;sys/inotify.h&gt;</summary>
        internal const int IN_CLOEXEC = 0x80000;

        // ---- event masks: <linux/inotify.h> ----
        /// <summary>The file was written (also truncated). &lt;linux/inotify.h&gt;</summary>
        internal const uint IN_MODIFY = 0x2;
        /// <summary>The file's metadata changed (also its link count: deleted while open). &lt;linux/inotify.h&gt;</summary>
        internal const uint IN_ATTRIB = 0x4;
        /// <summary>A file opened for writing was closed. &lt;linux/inotify.h&gt;</summary>
        internal const uint IN_CLOSE_WRITE = 0x8;
        /// <summary>The watched file itself was deleted. &lt;linux/inotify.h&gt;</summary>
        internal const uint IN_DELETE_SELF = 0x400;
        /// <summary>The kernel's event queue overflowed: events were lost (wd is -1). &lt;linux/inotify.h&gt;</summary>
        internal const uint IN_Q_OVERFLOW = 0x4000;
        /// <summary>The watch was removed (explicitly, or its file is gone). &lt;linux/inotify.h&gt;</summary>
        internal const uint IN_IGNORED = 0x8000;

        /// <summary>
        /// The fixed part of <c>struct inotify_event</c> (&lt;linux/inotify.h&gt;), 16 bytes; <see cref="len"/>
        /// bytes of NUL-padded name follow it (none for a watch on a file rather than a directory).
        /// </summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct InotifyEvent
        {
            public int wd;
            public uint mask;
            public uint cookie;
            public uint len;
        }

        /// <summary>inotify_init1(2). A new inotify fd or -1 (errno). Wrap it at once in a SafeHandle.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "inotify_init1", SetLastError = true)]
        internal static partial int Init(int flags);

        /// <summary>inotify_add_watch(2): watch <paramref name="path"/> for <paramref name="mask"/>. A watch descriptor or -1 (errno).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "inotify_add_watch", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int AddWatch(SafeHandle fd, string path, uint mask);

        /// <summary>read(2) of queued events (whole records only; EINVAL if the buffer cannot hold the next one). Bytes, or -1 (errno; EAGAIN: none).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "read", SetLastError = true)]
        internal static unsafe partial nint Read(SafeHandle fd, byte* buffer, nuint count);
    }
}
