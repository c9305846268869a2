using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Sys
    {
        /// <summary>
        /// posix_openpt(3): opens a new pseudo-terminal master (flags O_RDWR | O_NOCTTY [| O_CLOEXEC]).
        /// Returns an fd or -1 (errno). The lab and the tests use a pty as a serial cable.
        /// </summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "posix_openpt", SetLastError = true)]
        internal static partial int PosixOpenpt(int flags);

        /// <summary>grantpt(3): gives the slave to the caller (a no-op with devpts). 0 or -1 (errno).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "grantpt", SetLastError = true)]
        internal static partial int Grantpt(SafeHandle master);

        /// <summary>unlockpt(3): allows the slave to be opened. 0 or -1 (errno).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "unlockpt", SetLastError = true)]
        internal static partial int Unlockpt(SafeHandle master);

        /// <summary>ptsname_r(3): writes the slave path (NUL-terminated). Returns 0 or an errno value (not -1).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "ptsname_r", SetLastError = true)]
        internal static unsafe partial int PtsnameR(SafeHandle master, byte* buffer, nuint length);
    }
}
