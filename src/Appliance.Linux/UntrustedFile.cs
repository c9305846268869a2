using Microsoft.Win32.SafeHandles;

namespace Appliance.Linux;

/// <summary>What statx(2) says about an opened file: its type, permission bits and owner.</summary>
internal readonly record struct FileFacts(uint Type, UnixFileMode Mode, uint OwnerUid)
{
    public bool IsRegular => Type == Interop.Fs.S_IFREG;

    /// <summary>"a FIFO", "a directory", ... for messages.</summary>
    public string TypeName => Type switch
    {
        Interop.Fs.S_IFREG => "a regular file",
        Interop.Fs.S_IFDIR => "a directory",
        Interop.Fs.S_IFIFO => "a FIFO",
        Interop.Fs.S_IFSOCK => "a socket",
        Interop.Fs.S_IFCHR => "a character device",
        Interop.Fs.S_IFBLK => "a block device",
        Interop.Fs.S_IFLNK => "a symbolic link",
        _ => "of unknown type",
    };

    /// <summary>"0644".</summary>
    public string ModeOctal => Convert.ToString((int)Mode & 0xFFF, 8).PadLeft(4, '0');
}

/// <summary>
/// Opens files whose path someone else may control (lock files in world-writable /run/lock) or
/// whose content we must not trust blindly (key, config): opened O_NONBLOCK, so a FIFO or a device
/// at the path never blocks open(2); O_NOCTTY and O_CLOEXEC; optionally O_NOFOLLOW. The type,
/// mode and owner are then read from the descriptor with statx(2) (no window between check and
/// use) and the content is read with a bound, whatever the file's size claims.
/// </summary>
internal static class UntrustedFile
{
    /// <summary>Opens <paramref name="path"/> read-only without blocking; throws <see cref="NativeIoException"/> (ELOOP: a symlink with <paramref name="followLinks"/> false).</summary>
    public static SafeFileHandle OpenForReading(string path, bool followLinks)
    {
        int flags = Interop.Files.O_RDONLY | Interop.Sys.O_NONBLOCK | Interop.Sys.O_NOCTTY | Interop.Sys.O_CLOEXEC;
        if (!followLinks)
            flags |= Interop.Fs.O_NOFOLLOW;
        int fd = Interop.Fs.Open(path, flags, 0);
        if (fd < 0)
            throw Interop.Sys.CreateIoExceptionForLastError("open", path);
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>statx(2) of the opened file: type, mode, owner.</summary>
    public static FileFacts Stat(SafeFileHandle handle, string path)
    {
        if (Interop.Fs.StatxFd(handle, "", Interop.Fs.AT_EMPTY_PATH,
                Interop.Fs.STATX_TYPE | Interop.Fs.STATX_MODE | Interop.Fs.STATX_UID, out Interop.Fs.Statx st) != 0)
            throw Interop.Sys.CreateIoExceptionForLastError("statx", path);
        return new FileFacts(st.stx_mode & Interop.Fs.S_IFMT, (UnixFileMode)(st.stx_mode & 0xFFF), st.stx_uid);
    }

    /// <summary>
    /// Reads at most <paramref name="limit"/> bytes from the start (call with max + 1 to tell "too
    /// big" from "exactly max"). Only for regular files: a FIFO would wait for a writer.
    /// </summary>
    public static byte[] ReadAtMost(SafeFileHandle handle, int limit)
    {
        var buffer = new byte[limit];
        int total = 0;
        while (total < limit)
        {
            int n = RandomAccess.Read(handle, buffer.AsSpan(total), total);
            if (n == 0)
                break;
            total += n;
        }
        return buffer[..total];
    }

    /// <summary>The effective uid of this process (the daemon: root).</summary>
    public static uint EffectiveUid => Interop.Fs.GetEuid();
}
