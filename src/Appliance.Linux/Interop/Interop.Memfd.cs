using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Fs
    {
        /// <summary>memfd_create(2): close on exec. &lt;linux/memfd.h&gt; (via &lt;sys/mman.h&gt;)</summary>
        internal const uint MFD_CLOEXEC = 0x1;

        /// <summary>
        /// memfd_create(2): an anonymous file in memory (no path, gone with its last fd). The nft
        /// applier hands its transaction to libnftables as /proc/self/fd/N, so that nft's error
        /// messages carry the line and column (for a plain buffer 1.0.6 prints neither, and quotes
        /// the buffer's first line instead of the failing one). Returns an fd or -1 (errno).
        /// </summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "memfd_create", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int MemfdCreate(string name, uint flags);
    }
}
