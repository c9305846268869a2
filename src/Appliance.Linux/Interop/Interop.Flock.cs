using System.Runtime.InteropServices;

internal static partial class Interop
{
    /// <summary>
    /// Plain files with advisory locks, for the simulated GPIO chip. Native rather than
    /// <see cref="FileStream"/>: .NET's own FileShare locking takes flock(LOCK_SH) on every open
    /// (readers included), can be switched off by DOTNET_SYSTEM_IO_DISABLEFILELOCKING, and reports a
    /// conflict only as an IOException message. Kept out of <see cref="Sys"/>: pinned by
    /// native/gpio_abi.c (Edge/GpioAbiTests).
    /// </summary>
    internal static partial class Files
    {
        /// <summary>open(2): create the file if missing (needs a mode). &lt;asm-generic/fcntl.h&gt; 00000100</summary>
        internal const int O_CREAT = 0x40;

        /// <summary>open(2): read only. &lt;asm-generic/fcntl.h&gt; 00000000</summary>
        internal const int O_RDONLY = 0x0;

        /// <summary>open(2): fail (ENOTDIR) unless the path is a directory (to fsync it). &lt;asm-generic/fcntl.h&gt; 00200000</summary>
        internal const int O_DIRECTORY = 0x10000;

        // O_NOFOLLOW differs between architectures: it is Fs.O_NOFOLLOW.

        // ---- flock(2) operations: <asm-generic/fcntl.h> (via <sys/file.h>) ----
        /// <summary>Shared lock. &lt;asm-generic/fcntl.h&gt;</summary>
        internal const int LOCK_SH = 1;
        /// <summary>Exclusive lock. &lt;asm-generic/fcntl.h&gt;</summary>
        internal const int LOCK_EX = 2;
        /// <summary>Fail with EWOULDBLOCK (= EAGAIN on Linux) instead of waiting. &lt;asm-generic/fcntl.h&gt;</summary>
        internal const int LOCK_NB = 4;
        /// <summary>Release. &lt;asm-generic/fcntl.h&gt;</summary>
        internal const int LOCK_UN = 8;

        /// <summary>
        /// open(2) with a mode (for <see cref="O_CREAT"/>). glibc declares open variadic; a fixed
        /// three-argument call passes the mode in the same register on x86-64, aarch64 and armhf.
        /// Returns an fd or -1 (errno). Wrap it at once in a SafeHandle.
        /// </summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int Open(string path, int flags, uint mode);

        /// <summary>
        /// flock(2): advisory lock on the open file description (released when its last fd closes,
        /// also when the process dies). 0 or -1 (errno EWOULDBLOCK with LOCK_NB while another holds it).
        /// </summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "flock", SetLastError = true)]
        internal static partial int Flock(SafeHandle fd, int operation);

        /// <summary>fsync(2): the file's data and metadata (for a directory: its entries) reach the disk. 0 or -1 (errno).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "fsync", SetLastError = true)]
        internal static partial int Fsync(SafeHandle fd);
    }
}
