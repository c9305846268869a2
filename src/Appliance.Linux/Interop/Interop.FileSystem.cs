using System.Runtime.InteropServices;

internal static partial class Interop
{
    /// <summary>
    /// Files we must open without trusting the path: lock files in world-writable /run/lock, the
    /// key file, the config. open(2) with O_NOFOLLOW / O_EXCL, statx(2) on the opened descriptor
    /// (type, mode, owner: what <see cref="File"/> cannot tell us), link(2), unlink(2).
    /// Pinned by native/fs_abi.c (Edge/FileSystemAbiTests).
    /// </summary>
    internal static partial class Fs
    {
        // ---- open(2) flags not in Sys/Files: <asm-generic/fcntl.h> ----
        /// <summary>Open for writing only. &lt;asm-generic/fcntl.h&gt; 00000001</summary>
        internal const int O_WRONLY = 0x1;
        /// <summary>With O_CREAT: fail with EEXIST if the name exists, even as a (dangling) symlink. &lt;asm-generic/fcntl.h&gt; 00000200</summary>
        internal const int O_EXCL = 0x80;

        /// <summary>
        /// Fail with ELOOP if the last path component is a symlink. Not a constant: arm and arm64
        /// override it in &lt;asm/fcntl.h&gt; (0100000, with O_DIRECTORY 040000) while x86-64 uses
        /// &lt;asm-generic/fcntl.h&gt; (00400000). Pinned against the build machine's headers by
        /// FileSystemAbiTests.
        /// </summary>
        internal static readonly int O_NOFOLLOW =
            RuntimeInformation.ProcessArchitecture is Architecture.Arm or Architecture.Arm64 or Architecture.Armv6 ? 0x8000 : 0x20000;

        // ---- statx(2): <linux/stat.h> (the same on every architecture) ----
        /// <summary>statx on the descriptor itself, pathname "". &lt;linux/fcntl.h&gt;</summary>
        internal const int AT_EMPTY_PATH = 0x1000;
        /// <summary>statx flag: do not follow a final symlink (report the link itself). &lt;linux/fcntl.h&gt;</summary>
        internal const int AT_SYMLINK_NOFOLLOW = 0x100;
        /// <summary>Want stx_mode &amp; S_IFMT. &lt;linux/stat.h&gt;</summary>
        internal const uint STATX_TYPE = 0x1;
        /// <summary>Want stx_mode &amp; ~S_IFMT. &lt;linux/stat.h&gt;</summary>
        internal const uint STATX_MODE = 0x2;
        /// <summary>Want stx_uid. &lt;linux/stat.h&gt;</summary>
        internal const uint STATX_UID = 0x8;

        // ---- file types, st_mode &amp; S_IFMT: <linux/stat.h> ----
        /// <summary>Type bits of a mode. &lt;linux/stat.h&gt; 00170000</summary>
        internal const uint S_IFMT = 0xF000;
        /// <summary>Socket. &lt;linux/stat.h&gt;</summary>
        internal const uint S_IFSOCK = 0xC000;
        /// <summary>Symbolic link. &lt;linux/stat.h&gt;</summary>
        internal const uint S_IFLNK = 0xA000;
        /// <summary>Regular file. &lt;linux/stat.h&gt;</summary>
        internal const uint S_IFREG = 0x8000;
        /// <summary>Block device. &lt;linux/stat.h&gt;</summary>
        internal const uint S_IFBLK = 0x6000;
        /// <summary>Directory. &lt;linux/stat.h&gt;</summary>
        internal const uint S_IFDIR = 0x4000;
        /// <summary>Character device. &lt;linux/stat.h&gt;</summary>
        internal const uint S_IFCHR = 0x2000;
        /// <summary>FIFO. &lt;linux/stat.h&gt;</summary>
        internal const uint S_IFIFO = 0x1000;

        /// <summary>
        /// struct statx, &lt;linux/stat.h&gt;: 256 bytes, one layout on every architecture (unlike
        /// struct stat). Only the fields we read are declared; the rest is reserved space.
        /// </summary>
        [StructLayout(LayoutKind.Explicit, Size = 256)]
        internal struct Statx
        {
            [FieldOffset(0)] public uint stx_mask;
            [FieldOffset(20)] public uint stx_uid;
            [FieldOffset(28)] public ushort stx_mode;
        }

        /// <summary>open(2) with a mode (see <see cref="Files.Open"/> for the variadic note). An fd or -1 (errno).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int Open(string path, int flags, uint mode);

        /// <summary>statx(2) (glibc 2.28+) of an open fd (<see cref="AT_EMPTY_PATH"/>, path ""). 0 or -1 (errno).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int StatxFd(SafeHandle dirfd, string pathname, int flags, uint mask, out Statx statxbuf);

        /// <summary>statx(2) of an absolute <paramref name="path"/> (<paramref name="dirfd"/> is then ignored). 0 or -1 (errno).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int StatxPath(int dirfd, string path, int flags, uint mask, out Statx buffer);

        /// <summary>link(2): a new name for an existing file; EEXIST if <paramref name="newPath"/> exists (a symlink there is not followed). 0 or -1.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int Link(string oldPath, string newPath);

        /// <summary>unlink(2): removes the name (a symlink itself, never its target). 0 or -1.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "unlink", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int Unlink(string path);

        /// <summary>geteuid(2): never fails.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "geteuid")]
        internal static partial uint GetEuid();
    }
}
