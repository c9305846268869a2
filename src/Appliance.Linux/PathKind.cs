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
        if (Interop.Fs.StatxPath(-1, full, Interop.Fs.AT_SYMLINK_NOFOLLOW, Interop.Fs.STATX_TYPE, out var st) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is Interop.Sys.ENOENT or Interop.Sys.ENOTDIR)
                return PathKind.Missing;
            throw Interop.Sys.CreateIoException("statx", full, errno);
        }
        return KindOf(st.stx_mode);
    }

    internal static PathKind KindOf(uint mode) => (mode & Interop.Fs.S_IFMT) switch
    {
        Interop.Fs.S_IFREG => PathKind.RegularFile,
        Interop.Fs.S_IFDIR => PathKind.Directory,
        Interop.Fs.S_IFLNK => PathKind.Symlink,
        Interop.Fs.S_IFSOCK => PathKind.Socket,
        _ => PathKind.Other,
    };
}
