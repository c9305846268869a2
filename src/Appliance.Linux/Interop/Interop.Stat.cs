using System.Runtime.InteropServices;

internal static partial class Interop
{
    /// <summary>
    /// statx(2): what kind of file a path or an fd is (socket, regular file, symlink), without
    /// following a symlink. statx rather than stat: struct statx is one layout on every architecture,
    /// where struct stat differs between x86-64 and arm64. Pinned by native/gpio_abi.c (Edge/GpioAbiTests).
    /// </summary>
    internal static partial class Files
    {
        /// <summary>statx flag: do not follow a final symlink (report the link itself). &lt;linux/fcntl.h&gt;</summary>
        internal const int AT_SYMLINK_NOFOLLOW = 0x100;

        /// <summary>statx flag: an empty path means the file <c>dirfd</c> refers to (fstat). &lt;linux/fcntl.h&gt;</summary>
        internal const int AT_EMPTY_PATH = 0x1000;

        /// <summary>statx mask: we need stx_mode's type bits only. &lt;linux/stat.h&gt;</summary>
        internal const uint STATX_TYPE = 0x1;

        /// <summary>The file type bits of a mode. &lt;linux/stat.h&gt; 00170000</summary>
        internal const uint S_IFMT = 0xF000;

        /// <summary>Socket. &lt;linux/stat.h&gt; 0140000</summary>
        internal const uint S_IFSOCK = 0xC000;

        /// <summary>Symbolic link. &lt;linux/stat.h&gt; 0120000</summary>
        internal const uint S_IFLNK = 0xA000;

        /// <summary>Regular file. &lt;linux/stat.h&gt; 0100000</summary>
        internal const uint S_IFREG = 0x8000;

        /// <summary>Directory. &lt;linux/stat.h&gt; 0040000</summary>
        internal const uint S_IFDIR = 0x4000;

        /// <summary>
        /// struct statx &lt;linux/stat.h&gt;: 256 bytes on every architecture; only the fields we read
        /// are declared (their offsets are pinned, the size too).
        /// </summary>
        [StructLayout(LayoutKind.Explicit, Size = 256)]
        internal struct Statx
        {
            [FieldOffset(0)] public uint stx_mask;
            [FieldOffset(28)] public ushort stx_mode;
        }

        /// <summary>
        /// statx(2) on an absolute <paramref name="path"/> (then <paramref name="dirfd"/> is ignored), or with
        /// <see cref="AT_EMPTY_PATH"/> and an empty path on the open file <paramref name="dirfd"/>. 0 or -1 (errno).
        /// </summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int StatxPath(int dirfd, string path, int flags, uint mask, out Statx buffer);

        /// <summary>statx(2) of an open fd (<see cref="AT_EMPTY_PATH"/>, path ""): fstat without struct stat. 0 or -1 (errno).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int StatxFd(SafeHandle fd, string path, int flags, uint mask, out Statx buffer);
    }
}
