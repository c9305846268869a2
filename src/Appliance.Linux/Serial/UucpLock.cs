using System.Globalization;
using System.Text;

namespace Appliance.Linux.Serial;

/// <summary>
/// A UUCP (HDB) lock file, <c>/var/lock/LCK..&lt;name&gt;</c>: the convention by which cluster-glue's
/// stonith plugins (st_ttylock.c), minicom and friends share a tty between processes. TIOCEXCL
/// does not do it for us: root bypasses it. Format: the owner's PID right-aligned in 10 columns
/// and a newline. A lock whose PID is gone is stale and is taken over.
/// </summary>
internal sealed class UucpLock : IDisposable
{
    public const string DefaultDirectory = "/var/lock";

    /// <summary>st_ttylock.c skips this many characters of the device path (meant to drop "/dev/").</summary>
    private const int SkippedPrefixChars = 5;

    /// <summary>Stale-lock takeovers tried before giving up (another process may race us for the same stale lock).</summary>
    private const int AcquireAttemptsMax = 3;

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
        string tmp = $"{path}.{pid}.tmp";
        try
        {
            // Written whole first, then linked into place (File.Move without overwrite fails if the
            // lock exists): a reader never sees a half-written PID.
            File.WriteAllText(tmp, string.Format(CultureInfo.InvariantCulture, "{0,10}\n", pid));
            for (int attempt = 0; attempt < AcquireAttemptsMax; attempt++)
            {
                try
                {
                    File.Move(tmp, path, overwrite: false);
                    reason = "";
                    return new UucpLock(path);
                }
                catch (IOException) when (File.Exists(path))
                {
                    int? holder = ReadPid(path);
                    if (holder is { } h && Directory.Exists($"/proc/{h}"))
                    {
                        reason = $"{device} is locked by pid {h} ({path})";
                        return null;
                    }
                    File.Delete(path); // stale: its owner is gone (or never wrote a PID)
                }
            }
            reason = $"{device}: could not take over the stale lock {path}";
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            reason = $"{device}: cannot lock {path}: {e.Message}";
            return null;
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    private static int? ReadPid(string path)
    {
        try
        {
            return int.TryParse(File.ReadAllText(path).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && pid > 0 ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Removes the lock if it is still ours (a stale-lock takeover by someone else is theirs).</summary>
    public void Dispose()
    {
        if (ReadPid(Path) == Environment.ProcessId)
            File.Delete(Path);
    }
}
