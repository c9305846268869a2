using Microsoft.Win32.SafeHandles;

namespace Appliance.Linux;

/// <summary>
/// Replaces a small file so that after a power cut it holds the old content or the new, whole:
/// write a temporary file beside it, fsync it, rename it over the target, fsync the directory
/// (rename(2) is atomic, but the new directory entry is durable only once the directory is synced).
/// </summary>
public static class DurableFile
{
    /// <summary>
    /// Writes <paramref name="content"/> to <paramref name="path"/> durably. Throws
    /// <see cref="IOException"/> (or <see cref="UnauthorizedAccessException"/>) when it cannot; the
    /// old file is then untouched and the temporary file removed. With <paramref name="mode"/> the new
    /// file has exactly that mode (set on the temporary file before it is renamed, whatever the umask),
    /// so a config that must stay 0600 is never visible with another mode.
    /// </summary>
    /// <param name="mode">The new file's permissions from its creation (e.g. 0600 for a file with secrets); null: the umask's default.</param>
    public static void Replace(string path, ReadOnlySpan<byte> content, UnixFileMode? mode = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full)!;
        string tmp = full + ".tmp";
        try
        {
            TryDelete(tmp); // a leftover of a crash would keep its own mode: create afresh
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (mode is { } m)
                options.UnixCreateMode = m;
            using (var f = new FileStream(tmp, options))
            {
                if (mode is { } exact)
                    File.SetUnixFileMode(f.SafeFileHandle, exact); // the umask may have narrowed the create mode
                f.Write(content);
                f.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
        SyncDirectory(directory);
    }

    /// <summary>fsync(2) of a directory, so a rename or a new entry in it survives a power cut.</summary>
    public static void SyncDirectory(string directory)
    {
        int fd = Interop.Files.Open(directory, Interop.Files.O_RDONLY | Interop.Files.O_DIRECTORY | Interop.Sys.O_CLOEXEC, 0);
        if (fd < 0)
            throw Interop.Sys.CreateIoExceptionForLastError("open", directory);
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (Interop.Files.Fsync(handle) != 0)
            throw Interop.Sys.CreateIoExceptionForLastError("fsync", directory);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
