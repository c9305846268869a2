using System.Runtime.InteropServices;

namespace Appliance.Linux;

/// <summary>What is at a path, the final symlink not followed (lstat's file type).</summary>
public enum PathKind { Missing, RegularFile, Directory, Symlink, Socket, Other }

public static class PathKinds
{
    /// <summary>
    /// The kind of file at <paramref name="path"/> without following a final symlink (statx(2) with
    /// AT_SYMLINK_NOFOLLOW). Throws <see cref="NativeIoException"/> for anything but ENOENT
    /// (a missing directory on the way is Missing too: ENOENT).
    /// </summary>
    public static PathKind Of(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path); // absolute: statx ignores dirfd then
        if (Interop.Files.StatxPath(-1, full, Interop.Files.AT_SYMLINK_NOFOLLOW, Interop.Files.STATX_TYPE, out var st) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is Interop.Sys.ENOENT or Interop.Sys.ENOTDIR)
                return PathKind.Missing;
            throw Interop.Sys.CreateIoException("statx", full, errno);
        }
        return KindOf(st.stx_mode);
    }

    internal static PathKind KindOf(uint mode) => (mode & Interop.Files.S_IFMT) switch
    {
        Interop.Files.S_IFREG => PathKind.RegularFile,
        Interop.Files.S_IFDIR => PathKind.Directory,
        Interop.Files.S_IFLNK => PathKind.Symlink,
        Interop.Files.S_IFSOCK => PathKind.Socket,
        _ => PathKind.Other,
    };
}
