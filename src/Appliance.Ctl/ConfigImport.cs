using Appliance.Core.Config;
using Appliance.Core.Config.Import;
using Appliance.Linux;

namespace Appliance.Ctl;

/// <summary>
/// <c>appliancectl config import-heartbeat DIR</c> and <c>config import-keepalived FILE</c>: writes
/// appliance.yaml (to stdout, or <c>-o FILE</c>) with a header naming the source and listing, with
/// file:line and why, everything not imported as it was. With <c>-o</c> the list also goes to
/// stderr. Exit 0 imported (whatever was skipped), 2 bad usage or a source that cannot be imported
/// (errors name file:line:col), 1 the output or the key could not be written. Nothing is left half
/// written: the key is created only after a successful import, and removed again if the YAML cannot
/// be written.
/// </summary>
public static class ConfigImport
{
    public const string Usage =
        "usage: appliancectl config import-heartbeat DIR [options]    (DIR holds ha.cf, haresources, authkeys)\n" +
        "       appliancectl config import-keepalived FILE [options]\n" +
        "options:\n" +
        "  -o FILE                   write the YAML to FILE (mode 0600) and the report to stderr; default: YAML on stdout\n" +
        "  --write-key FILE          create a new random key file (0600) and point cluster.key_file at it\n" +
        "  --key-file PATH           cluster.key_file without creating it (default /etc/appliance/authkey)\n" +
        "  --cluster NAME            cluster.name\n" +
        "  --node NAME               whose file this is (heartbeat: a node line; keepalived: this node's name, default alpha)\n" +
        "  --peer NAME               keepalived: the other node's name (default beta)\n" +
        "  --address NODE[:IFACE]=IP a node's address on a link the source names no address for (repeatable)\n" +
        "  --serial DEVICE           keepalived: add a serial heartbeat link on DEVICE on both nodes\n";

    public static int Run(string verb, string[] args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(verb);
        ArgumentNullException.ThrowIfNull(args);
        string? source = null, output = null, writeKey = null, keyFile = null;
        var options = new ImportOptions();
        var addresses = new List<AddressHint>();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            bool hasValue = i + 1 < args.Length;
            switch (a)
            {
                case "-o" when hasValue: output = args[++i]; break;
                case "--write-key" when hasValue: writeKey = args[++i]; break;
                case "--key-file" when hasValue: keyFile = args[++i]; break;
                case "--cluster" when hasValue: options = options with { ClusterName = args[++i] }; break;
                case "--node" when hasValue: options = options with { LocalNode = args[++i] }; break;
                case "--peer" when hasValue && verb == "import-keepalived": options = options with { PeerNode = args[++i] }; break;
                case "--serial" when hasValue && verb == "import-keepalived": options = options with { SerialDevice = args[++i] }; break;
                case "--address" when hasValue:
                    if (AddressHint.Parse(args[++i], out string why) is not { } hint)
                        return Bad(stderr, $"--address: {why}");
                    addresses.Add(hint);
                    break;
                default:
                    if (a.StartsWith('-') || source is not null)
                        return Bad(stderr, $"unexpected '{a}'");
                    source = a;
                    break;
            }
        }
        if (source is null)
            return Bad(stderr, $"config {verb} needs a {(verb == "import-heartbeat" ? "directory" : "file")}");
        if (writeKey is not null && keyFile is not null)
            return Bad(stderr, "--write-key and --key-file both name the key file; give one");
        string key = writeKey is not null ? Path.GetFullPath(writeKey) : keyFile is not null ? Path.GetFullPath(keyFile) : ImportOptions.DefaultKeyFile;
        if (writeKey is not null && (File.Exists(key) || Directory.Exists(key)))
            return Fail(stderr, $"{key}: already exists; not replacing a key (a pair's nodes must share it)");
        if (options.ClusterName is { } cn && !IsValidClusterName(cn))
            return Bad(stderr, $"--cluster {cn}: a cluster name is 1 to 32 of a-z, 0-9 and -");
        options = options with { KeyFile = key, KeyWritten = writeKey is not null, Addresses = [.. addresses] };

        var files = new ImportSourceFiles();
        var result = verb == "import-heartbeat"
            ? HeartbeatImporter.Import(source.TrimEnd('/') is { Length: > 0 } d ? d : "/", files, options)
            : KeepalivedImporter.Import(source, files, options);
        if (result.Yaml is not { } yaml)
        {
            foreach (var e in result.Errors)
                stderr.WriteLine(e.ToString());
            return 2;
        }
        // The importer's output must pass the checker; if it does not, that is our bug, not the operator's input.
        var check = ConfigLoader.Load(output ?? "(imported)", yaml, BoardFiles.Catalog());
        if (!check.Ok)
        {
            stderr.WriteLine("appliancectl: internal error: the imported config does not pass the checker:");
            foreach (var e in check.Errors)
                stderr.WriteLine(e.ToString());
            return 1;
        }
        if (writeKey is not null)
        {
            var written = KeyFile.Generate(key);
            if (!written.Ok)
                return Fail(stderr, written.Error!);
        }
        if (output is null)
        {
            stdout.Write(yaml);
            stderr.WriteLine($"appliancectl: imported {source}: {Summary(result)}; listed in the header comment");
        }
        else
        {
            try
            {
                WriteOutput(output, yaml);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                if (writeKey is not null)
                    TryDelete(key);
                return Fail(stderr, $"{output}: cannot write: {e.Message}");
            }
            foreach (var n in result.Notes)
                stderr.WriteLine($"{Word(n.Kind)}: {n}");
            stderr.WriteLine($"appliancectl: imported {source} into {output}: {Summary(result)}");
        }
        if (writeKey is not null)
            stderr.WriteLine($"appliancectl: wrote a new random key to {key} (mode 0600); copy it to both nodes");
        return 0;
    }

    private static bool IsValidClusterName(string name) =>
        name.Length is >= 1 and <= ConfigLimits.MaxNameLength && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-');

    private static string Word(ImportNoteKind kind) => kind switch
    {
        ImportNoteKind.Skipped => "not imported",
        ImportNoteKind.Changed => "changed",
        _ => "assumed",
    };

    private static string Summary(ImportResult r) =>
        $"{r.Notes.Count(n => n.Kind == ImportNoteKind.Skipped)} not imported, {r.Notes.Count(n => n.Kind == ImportNoteKind.Changed)} changed, " +
        $"{r.Notes.Count(n => n.Kind == ImportNoteKind.Assumed)} assumed";

    /// <summary>Writes beside the target and renames, mode 0600 (the config may hold fence passwords); an existing file is replaced whole.</summary>
    private static void WriteOutput(string path, string text)
    {
        string full = Path.GetFullPath(path);
        string temp = full + ".import.tmp";
        var options = new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        try
        {
            using (var stream = new FileStream(temp, options))
            using (var writer = new StreamWriter(stream))
                writer.Write(text);
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort; the caller reports the first failure.
        }
    }

    private static int Bad(TextWriter stderr, string message)
    {
        stderr.Write($"appliancectl: {message}\n{Usage}");
        return 2;
    }

    private static int Fail(TextWriter stderr, string message)
    {
        stderr.WriteLine($"appliancectl: {message}");
        return 1;
    }
}
