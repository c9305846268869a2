using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Linux;

/// <summary>The outcome of reading or writing a key file: the key, or why there is none.</summary>
public sealed record KeyFileResult(byte[]? Key, string? Error)
{
    public bool Ok => Key is not null;

    internal static KeyFileResult Success(byte[] key) => new(key, null);
    internal static KeyFileResult Failure(string error) => new(null, error);
}

/// <summary>
/// The shared heartbeat key (<c>cluster.key_file</c>), which authenticates every frame with
/// HMAC-SHA256 (DESIGN.md section 4).
/// <para>
/// Format: the file's raw bytes are the key, all of them, as they are: no text encoding, no
/// trailing-newline trimming, no header. Generate one with <see cref="Generate"/> (or
/// <c>head -c 32 /dev/urandom &gt; authkey; chmod 600 authkey</c>) and copy the same file to both
/// nodes.
/// </para>
/// <para>
/// Refused (never merely warned about: a key others can read or change lets them forge frames):
/// a missing file, anything but a regular file (a symlink is followed to one; FIFOs and devices
/// are refused without blocking), a file owned by anyone but root (or the user running us), a mode
/// that gives the group or others any access (it must be 0600 or 0400), fewer than
/// <see cref="MinKeyBytes"/> or more than <see cref="MaxKeyBytes"/> bytes, and a weak key whose
/// bytes are all the same (all zero: a placeholder, not a secret).
/// </para>
/// </summary>
public static class KeyFile
{
    /// <summary>
    /// Least key material: the HMAC-SHA256 output length. RFC 2104 section 3: keys shorter than the
    /// hash output weaken the MAC.
    /// </summary>
    public const int MinKeyBytes = 32;

    /// <summary>Most accepted; HMAC hashes keys longer than its 64-byte block anyway, so more is a mistake.</summary>
    public const int MaxKeyBytes = 4096;

    /// <summary>What <see cref="Generate"/> writes: as much as the MAC can use.</summary>
    public const int GeneratedKeyBytes = 32;

    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Reads and checks the key file at <paramref name="path"/>.</summary>
    public static KeyFileResult Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (OperatingSystem.IsWindows()) // the key's protection is its Unix file mode
            throw new PlatformNotSupportedException("key files rely on Unix file modes");
        SafeFileHandle handle;
        try
        {
            // O_NONBLOCK: a FIFO at the path does not block open(2); its type is refused below.
            handle = UntrustedFile.OpenForReading(path, followLinks: true);
        }
        catch (NativeIoException e) when (e.Errno == Interop.Sys.ENOENT)
        {
            return KeyFileResult.Failure($"{path}: the key file does not exist");
        }
        catch (NativeIoException e) when (e.Errno == Interop.Sys.EACCES)
        {
            return KeyFileResult.Failure($"{path}: cannot read the key file: permission denied");
        }
        catch (NativeIoException e)
        {
            return KeyFileResult.Failure($"{path}: cannot read the key file: {e.Message}");
        }
        using (handle)
        {
            try
            {
                // Every check on what was opened, not on the path: it may be replaced meanwhile.
                FileFacts facts = UntrustedFile.Stat(handle, path);
                if (facts.Type == Interop.Fs.S_IFDIR)
                    return KeyFileResult.Failure($"{path}: is a directory; the key file must be a regular file");
                if (!facts.IsRegular)
                    return KeyFileResult.Failure($"{path}: is {facts.TypeName}; the key file must be a regular file");
                if (facts.OwnerUid != 0 && facts.OwnerUid != UntrustedFile.EffectiveUid)
                    return KeyFileResult.Failure(
                        $"{path}: is owned by uid {facts.OwnerUid}, who could change the key; it must be owned by root (chown root {path})");
                if ((facts.Mode & GroupOrOther) != 0)
                    return ModeError(path, facts.Mode);
                var key = UntrustedFile.ReadAtMost(handle, MaxKeyBytes + 1);
                if (key.Length < MinKeyBytes)
                    return KeyFileResult.Failure(
                        $"{path}: holds {key.Length} bytes; the key file must be a regular file of at least {MinKeyBytes} bytes of key material");
                if (key.Length > MaxKeyBytes)
                    return KeyFileResult.Failure($"{path}: holds more than {MaxKeyBytes} bytes; a key file holds at most {MaxKeyBytes}");
                if (key.AsSpan().IndexOfAnyExcept(key[0]) < 0)
                    return KeyFileResult.Failure(
                        $"{path}: every byte of the key is 0x{key[0]:x2}; that is no secret (head -c 32 /dev/urandom > {path})");
                return KeyFileResult.Success(key);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
            {
                return KeyFileResult.Failure($"{path}: cannot read the key file: {ex.Message}");
            }
        }
    }

    /// <summary>
    /// Writes a new key of <see cref="GeneratedKeyBytes"/> random bytes to <paramref name="path"/>
    /// with mode 0600 (less if the umask says so). The file appears complete or not at all: it is
    /// written beside the target and renamed into place. An existing file is kept unless
    /// <paramref name="overwrite"/>: replacing the key of a running pair splits it.
    /// </summary>
    public static KeyFileResult Generate(string path, bool overwrite = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (OperatingSystem.IsWindows()) // the key's protection is its Unix file mode
            throw new PlatformNotSupportedException("key files rely on Unix file modes");
        if (!overwrite && (File.Exists(path) || Directory.Exists(path)))
            return KeyFileResult.Failure($"{path}: already exists; not replacing a key");

        var key = RandomNumberGenerator.GetBytes(GeneratedKeyBytes);
        string temp = $"{path}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}.tmp";
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            };
            using (var stream = new FileStream(temp, options))
            {
                stream.Write(key);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite);
            return KeyFileResult.Success(key);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            TryDelete(temp);
            return KeyFileResult.Failure($"{path}: cannot write the key file: {ex.Message}");
        }
    }

    private static KeyFileResult ModeError(string path, UnixFileMode mode)
    {
        string octal = Convert.ToString((int)mode & 0xFFF, 8).PadLeft(4, '0');
        return KeyFileResult.Failure(
            $"{path}: mode {octal} gives the group or others access to the key; it must be 0600 or 0400 (chmod 600 {path})");
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Best effort: a stray temp file is left behind, and the caller reports the first failure.
        }
    }
}
