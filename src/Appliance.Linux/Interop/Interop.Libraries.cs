/// <summary>
/// The single home of every native entry point of the appliance (STYLE.md, "Interop at the edge").
/// One file per syscall family; <c>[LibraryImport]</c> with <c>SetLastError = true</c>; blittable
/// structs only. Constants carry their C names so that
/// <c>tests/Appliance.Integration.Tests/native/termios_abi.c</c> can pin each one against the
/// installed kernel and libc headers; each cites the uapi header it comes from.
/// </summary>
/// <remarks>
/// All values assume the asm-generic ioctl and fcntl layout shared by x86-64, aarch64 and armhf
/// (our boards and CI). Alpha, MIPS, PowerPC and SPARC use different numbers and are not supported.
/// </remarks>
internal static partial class Interop
{
    internal static class Libraries
    {
        /// <summary>The C library (glibc or musl); the runtime resolves the name "libc" to it (libc.so.6 on glibc).</summary>
        internal const string Libc = "libc";

        /// <summary>
        /// libnftables (Debian: libnftables1), the library behind nft(8). Loaded on first use, so a
        /// board without it only loses the director's in-process applier (see Nft/NftApplier).
        /// The soname, not "libnftables": only the -dev package installs the unversioned link.
        /// </summary>
        internal const string Nftables = "libnftables.so.1";
    }

    /// <summary>Entry points and constants of the C library and the kernel uapi.</summary>
    internal static partial class Sys
    {
    }
}
