using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Linux.Serial;

/// <summary>
/// A UUCP (HDB) lock file, <c>/var/lock/LCK..&lt;name&gt;</c>: the convention by which cluster-glue's
/// stonith plugins (st_ttylock.c), minicom and friends share a tty between processes. TIOCEXCL
/// does not do it for us: root bypasses it. Format: the owner's PID right-aligned in 10 columns
/// and a newline. A lock whose PID is gone is stale and is taken over.
/// <para>
/// The lock directory is world-writable, so nothing found there is trusted. Our lock is written to
/// an unpredictably named temp file (O_EXCL|O_NOFOLLOW) and link(2)ed into place, never written
/// through the lock path. An existing lock is opened O_NOFOLLOW|O_NONBLOCK and read (at most
/// <see cref="LockBytesMax"/> bytes) only if fstat says it is a regular file; a regular file naming
/// no running process, or holding garbage, is stale and is taken over. Anything else at the lock
/// path (symlink, FIFO, socket, device, directory) was not written by a UUCP locker: it is neither
/// followed, read nor removed, and locking fails with a reason naming the path. A local user can
/// thus keep the port locked, as anyone already can with a regular lock naming a live PID such as
/// 1: that is the UUCP convention itself, which cluster-glue shares, and it is loud (the device's
/// health says why), never silent harm.
/// </para>
/// </summary>
internal sealed class UucpLock : IDisposable
{
    public const string DefaultDirectory = "/var/lock";

    /// <summary>st_ttylock.c skips this many characters of the device path (meant to drop "/dev/").</summary>
    private const int SkippedPrefixChars = 5;

    /// <summary>Stale-lock takeovers tried before giving up (another process may race us for the same stale lock).</summary>
    private const int AcquireAttemptsMax = 3;

    /// <summary>Most bytes read from a lock: an HDB lock is 11 ("%10d\n"); anything longer is garbage anyway.</summary>
    private const int LockBytesMax = 64;

    /// <summary>rw-r--r-- (0644), as cluster-glue and minicom create theirs: others read the PID.</summary>
    private const uint LockFileMode = 0x1A4;

    private UucpLock(string path) => Path = path;

    public string Path { get; }

    /// <summary>
    /// cluster-glue's name: the device path without its first 5 characters, alphanumerics only
    /// (<c>/dev/ttyS1</c> → <c>ttyS1</c>, <c>/tmp/pdu/ttyPDU0</c> → <c>pduttyPDU0</c>), so both
    /// of us lock the same file for the same path.
    /// </summary>
    public static string NameFor(string device)
    {
        ReadOnlySpan<char> tail = device.Length > SkippedPrefixChars ? device.AsSpan(SkippedPrefixChars) : device;
        var sb = new StringBuilder(tail.Length);
        foreach (char c in tail)
        {
            if (char.IsAsciiLetterOrDigit(c))
                sb.Append(c);
        }
        return "LCK.." + sb;
    }

    /// <summary>Takes the lock for <paramref name="device"/>; on failure <paramref name="reason"/> says who holds it or why not.</summary>
    public static UucpLock? TryAcquire(string directory, string device, out string reason)
    {
        string path = System.IO.Path.Combine(directory, NameFor(device));
        int pid = Environment.ProcessId;
        string tmp = System.IO.Path.Combine(directory, $"LTMP.{pid}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}");
        try
        {
            WriteTemp(tmp, Encoding.ASCII.GetBytes(string.Format(CultureInfo.InvariantCulture, "{0,10}\n", pid)));
        }
        catch (NativeIoException e)
        {
            reason = $"{device}: cannot lock {path}: {e.Message}";
            return null;
        }
        try
        {
            // Written whole first, then linked into place: link(2) fails with EEXIST if anything is
            // at the lock path (a symlink there is not followed), and a reader never sees half a PID.
            for (int attempt = 0; attempt < AcquireAttemptsMax; attempt++)
            {
                if (Interop.Fs.Link(tmp, path) == 0)
                {
                    reason = "";
                    return new UucpLock(path);
                }
                int errno = Marshal.GetLastPInvokeError();
                if (errno != Interop.Sys.EEXIST)
                {
                    reason = $"{device}: cannot lock {path}: {Interop.Sys.DescribeErrno(errno)}";
                    return null;
                }
                Holder holder = Inspect(path, out string problem);
                switch (holder.Kind)
                {
                    case HolderKind.Gone:
                        continue; // removed meanwhile: try again
                    case HolderKind.NotALockFile:
                        reason = $"{device}: {problem}";
                        return null;
                    case HolderKind.Alive:
                        reason = $"{device} is locked by pid {holder.Pid} ({path})";
                        return null;
                    default:
                        // Stale. unlink(2) removes the name only, never what a symlink points to; if
                        // the file was swapped for something else meanwhile, that name goes instead.
                        if (Interop.Fs.Unlink(path) != 0 && Marshal.GetLastPInvokeError() is int e && e != Interop.Sys.ENOENT)
                        {
                            reason = $"{device}: cannot remove the stale lock {path}: {Interop.Sys.DescribeErrno(e)}";
                            return null;
                        }
                        break;
                }
            }
            reason = $"{device}: could not take over the stale lock {path}";
            return null;
        }
        finally
        {
            _ = Interop.Fs.Unlink(tmp);
        }
    }

    /// <summary>Removes the lock if it is still ours (a stale-lock takeover by someone else is theirs).</summary>
    public void Dispose()
    {
        if (Inspect(Path, out _) is { Kind: HolderKind.Alive } holder && holder.Pid == Environment.ProcessId)
            _ = Interop.Fs.Unlink(Path);
    }

    private enum HolderKind
    {
        /// <summary>Nothing at the path any more.</summary>
        Gone,
        /// <summary>A regular file naming a running process.</summary>
        Alive,
        /// <summary>A regular file naming no running process, or holding no PID: taken over.</summary>
        Stale,
        /// <summary>A symlink, FIFO, socket, device or directory, or unreadable: never touched.</summary>
        NotALockFile,
    }

    private readonly record struct Holder(HolderKind Kind, int Pid);

    /// <summary>
    /// What is at <paramref name="path"/>, without following a symlink (O_NOFOLLOW) or waiting on
    /// a FIFO (O_NONBLOCK): regular files only (fstat of what was opened), at most
    /// <see cref="LockBytesMax"/> bytes read.
    /// </summary>
    private static Holder Inspect(string path, out string problem)
    {
        problem = "";
        SafeFileHandle handle;
        try
        {
            handle = UntrustedFile.OpenForReading(path, followLinks: false);
        }
        catch (NativeIoException e) when (e.Errno == Interop.Sys.ENOENT)
        {
            return new(HolderKind.Gone, 0);
        }
        catch (NativeIoException e) when (e.Errno == Interop.Sys.ELOOP)
        {
            problem = $"{path} is a symbolic link, not a lock file; not following or removing it (remove it by hand)";
            return new(HolderKind.NotALockFile, 0);
        }
        catch (NativeIoException e)
        {
            problem = $"cannot read the lock {path}: {e.Message}";
            return new(HolderKind.NotALockFile, 0);
        }
        using (handle)
        {
            try
            {
                FileFacts facts = UntrustedFile.Stat(handle, path);
                if (!facts.IsRegular)
                {
                    problem = $"{path} is {facts.TypeName}, not a lock file; not reading or removing it (remove it by hand)";
                    return new(HolderKind.NotALockFile, 0);
                }
                string text = Encoding.ASCII.GetString(UntrustedFile.ReadAtMost(handle, LockBytesMax));
                return int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && pid > 0 &&
                       Directory.Exists($"/proc/{pid}")
                    ? new(HolderKind.Alive, pid)
                    : new(HolderKind.Stale, 0);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problem = $"cannot read the lock {path}: {e.Message}";
                return new(HolderKind.NotALockFile, 0);
            }
        }
    }

    /// <summary>Creates <paramref name="tmp"/> (O_EXCL|O_NOFOLLOW: never an existing file or link) holding <paramref name="content"/>.</summary>
    private static void WriteTemp(string tmp, byte[] content)
    {
        int fd = Interop.Fs.Open(tmp,
            Interop.Fs.O_WRONLY | Interop.Files.O_CREAT | Interop.Fs.O_EXCL | Interop.Fs.O_NOFOLLOW | Interop.Sys.O_CLOEXEC,
            LockFileMode);
        if (fd < 0)
            throw Interop.Sys.CreateIoExceptionForLastError("open", tmp);
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            RandomAccess.Write(handle, content, 0);
        }
        catch (IOException e)
        {
            _ = Interop.Fs.Unlink(tmp);
            throw Interop.Sys.CreateIoException("write", tmp, e.HResult, inner: e);
        }
    }
}
