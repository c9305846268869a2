using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Linux;

/// <summary>A second daemon for the same node: another process holds the lock.</summary>
public sealed class InstanceLockedException(string path, string node, int? holderPid)
    : IOException($"applianced for node {node} is already running ({(holderPid is { } pid ? $"pid {pid}" : "pid unknown")}, " +
                  $"holding {path}); refusing to start a second one")
{
    public string Path { get; } = path;

    /// <summary>The pid the holder wrote into the lock file; null when it could not be read.</summary>
    public int? HolderPid { get; } = holderPid;
}

/// <summary>
/// One daemon per node (DESIGN.md section 3): an exclusive flock(2) on
/// <c>&lt;statedir&gt;/applianced-&lt;node&gt;.lock</c>, held for the daemon's life and released by the
/// kernel when the process dies however it dies (no stale lock to clean up). The holder's pid is
/// written into the file after locking, for the refusal message of a second daemon.
/// </summary>
/// <remarks>
/// The file is opened with O_NOFOLLOW (a symlink planted at the path is refused, never followed to
/// whatever it points at) and O_CLOEXEC (the heartbeat worker and every script the daemon runs would
/// otherwise inherit the lock and keep it past the daemon's death), and must be a regular file.
/// flock locks belong to the open file description: a second open, even in the same process,
/// conflicts. A refused daemon changes nothing: it only opens and reads the existing file.
/// The file is left in place on exit; removing it could let two daemons lock two different files.
/// </remarks>
public sealed class InstanceLock : IDisposable
{
    /// <summary>Mode of a lock file we create: the pid is no secret.</summary>
    private const uint LockFileMode = 0b110_100_100; // 0644

    /// <summary>Most of the file read for the holder's pid ("4194304\n" is the longest pid_max).</summary>
    private const int PidBytesMax = 32;

    private readonly SafeFileHandle _handle;

    private InstanceLock(string path, SafeFileHandle handle)
    {
        Path = path;
        _handle = handle;
    }

    /// <summary>The lock file.</summary>
    public string Path { get; }

    public static string PathFor(string stateDir, string node) => System.IO.Path.Combine(stateDir, $"applianced-{node}.lock");

    /// <summary>
    /// Takes the lock of <paramref name="node"/> in <paramref name="stateDir"/> (created if missing).
    /// Throws <see cref="InstanceLockedException"/> when another process holds it, and
    /// <see cref="IOException"/> naming the path when the path is not a regular file or cannot be opened.
    /// </summary>
    public static InstanceLock Acquire(string stateDir, string node)
    {
        ArgumentException.ThrowIfNullOrEmpty(stateDir);
        ArgumentException.ThrowIfNullOrEmpty(node);
        Directory.CreateDirectory(stateDir);
        string path = System.IO.Path.GetFullPath(PathFor(stateDir, node));

        // Before open: a FIFO or a device at the path must not even be opened.
        PathKind kind = PathKinds.Of(path);
        if (kind is not (PathKind.Missing or PathKind.RegularFile))
            throw NotARegularFile(path, kind);

        int fd = Interop.Files.Open(path, Interop.Sys.O_RDWR | Interop.Files.O_CREAT | Interop.Fs.O_NOFOLLOW | Interop.Sys.O_CLOEXEC, LockFileMode);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw errno == Interop.Sys.ELOOP
                ? NotARegularFile(path, PathKind.Symlink)
                : Interop.Sys.CreateIoException("open", path, errno);
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            // After open too: what we opened is what we lock (the path may have changed in between).
            if (Interop.Fs.StatxFd(handle, "", Interop.Fs.AT_EMPTY_PATH, Interop.Fs.STATX_TYPE, out var st) != 0)
                throw Interop.Sys.CreateIoExceptionForLastError("statx", path);
            if (PathKinds.KindOf(st.stx_mode) != PathKind.RegularFile)
                throw NotARegularFile(path, PathKinds.KindOf(st.stx_mode));

            if (Interop.Files.Flock(handle, Interop.Files.LOCK_EX | Interop.Files.LOCK_NB) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != Interop.Sys.EAGAIN) // EWOULDBLOCK is EAGAIN on Linux
                    throw Interop.Sys.CreateIoException("flock", path, errno);
                throw new InstanceLockedException(path, node, ReadPid(handle));
            }

            byte[] pid = Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
            RandomAccess.SetLength(handle, 0);
            RandomAccess.Write(handle, pid, 0);
            return new InstanceLock(path, handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// <see cref="Acquire"/> for a caller that only reports: the lock, or null and
    /// <paramref name="error"/> saying why (another daemon holds it, the path is bad or unusable).
    /// </summary>
    public static InstanceLock? TryAcquire(string stateDir, string node, out string? error)
    {
        try
        {
            error = null;
            return Acquire(stateDir, node);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = e.Message;
            return null;
        }
    }

    private static int? ReadPid(SafeFileHandle handle)
    {
        try
        {
            var buffer = new byte[PidBytesMax];
            int n = RandomAccess.Read(handle, buffer, 0);
            return int.TryParse(Encoding.ASCII.GetString(buffer, 0, n).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && pid > 0
                ? pid
                : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static IOException NotARegularFile(string path, PathKind kind) =>
        new($"instance lock {path} is a {kind.ToString().ToLowerInvariant()}, not a regular file; refusing to use it (remove it by hand)");

    /// <summary>Releases the lock (closing the file releases the flock); the file stays.</summary>
    public void Dispose() => _handle.Dispose();
}
