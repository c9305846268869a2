using System.Text;
using Appliance.Core.Config;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Linux;

/// <summary>The outcome of reading the config file: its text, or why there is none; and warnings either way.</summary>
public sealed record ConfigFileResult(string? Text, string? Error, IReadOnlyList<string> Warnings)
{
    public bool Ok => Text is not null;
}

/// <summary>
/// Reads the config file for the daemon and for <c>appliancectl config check</c>, with the same
/// rules for both. The config holds shell commands the daemon runs as root and fence passwords.
/// <para>
/// Refused: a missing file; anything but a regular file at the end of the path (symlinks are
/// followed, as /etc often has them; a FIFO, socket or device is refused without blocking, since it
/// is opened O_NONBLOCK and its type taken from the open descriptor); more than
/// <see cref="ConfigLimits.MaxConfigChars"/> bytes (counted while reading, not trusted from stat);
/// a file the group or others may write, or owned by anyone but root (or the user running us):
/// whoever can change it runs commands as root.
/// </para>
/// <para>
/// Warned about: a file others (not the group) can read, which shows the fence passwords to every
/// local user; the daemon still starts, since the reading alone does not let anyone take it over.
/// </para>
/// </summary>
public static class ConfigFile
{
    /// <summary>Most bytes read: the loader's character limit (a character is at least one byte in UTF-8).</summary>
    public const int MaxBytes = ConfigLimits.MaxConfigChars;

    private const UnixFileMode GroupOrOtherWrite = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    /// <summary>Reads and checks <paramref name="path"/>; never throws for an operating failure.</summary>
    public static ConfigFileResult Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var warnings = new List<string>();
        SafeFileHandle handle;
        try
        {
            handle = UntrustedFile.OpenForReading(path, followLinks: true);
        }
        catch (NativeIoException e) when (e.Errno == Interop.Sys.ENOENT)
        {
            return Failure($"{path}: no such file");
        }
        catch (NativeIoException e) when (e.Errno == Interop.Sys.EACCES)
        {
            return Failure($"{path}: cannot read: permission denied");
        }
        catch (NativeIoException e)
        {
            return Failure($"{path}: cannot read: {e.Message}");
        }
        using (handle)
        {
            try
            {
                FileFacts facts = UntrustedFile.Stat(handle, path);
                if (facts.Type == Interop.Fs.S_IFDIR)
                    return Failure($"{path}: is a directory, not a config file");
                if (!facts.IsRegular)
                    return Failure($"{path}: is {facts.TypeName}, not a config file; it must be a regular file");
                if (facts.OwnerUid != 0 && facts.OwnerUid != UntrustedFile.EffectiveUid)
                    return Failure($"{path}: is owned by uid {facts.OwnerUid}, who could make the daemon run any command; it must be owned by root (chown root {path})");
                if ((facts.Mode & GroupOrOtherWrite) != 0)
                    return Failure($"{path}: mode {facts.ModeOctal} lets the group or others change the commands the daemon runs as root; chmod go-w {path}");
                if ((facts.Mode & UnixFileMode.OtherRead) != 0)
                    warnings.Add($"{path}: mode {facts.ModeOctal} lets every local user read it, fence passwords included; chmod o-r {path}");

                byte[] bytes = UntrustedFile.ReadAtMost(handle, MaxBytes + 1);
                if (bytes.Length > MaxBytes)
                    return Failure($"{path}: is more than {MaxBytes} bytes; a config is at most {MaxBytes}");
                return new ConfigFileResult(new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetString(bytes).TrimStart('\uFEFF'), null, warnings);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
            {
                return Failure($"{path}: cannot read: {e.Message}");
            }
        }

        ConfigFileResult Failure(string error) => new(null, error, warnings);
    }
}
