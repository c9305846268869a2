using Appliance.Core.Config;
using Appliance.Linux;

namespace Appliance.Ctl;

/// <summary>
/// <c>appliancectl config check FILE</c>: loads and validates a config without a daemon, and reads
/// the key file it names. Exit 0 and a one-line summary on stdout when all is well, then one line per
/// link with the cadence it runs at and why (the bound a serial link's baud rate enforces); exit 2 and
/// every error, one per line as <c>file:line:column: path: message</c>, on stderr otherwise. The
/// file itself is read by <see cref="ConfigFile"/>, as the daemon reads it: its refusals exit 2,
/// its warnings ("warning: ...") go to stderr and do not change the exit code.
/// </summary>
public static class ConfigCheck
{
    public const int ExitOk = 0;
    public const int ExitBadInput = 2;

    public static int Run(string path, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);

        string? text = Read(path, stderr);
        if (text is null)
            return ExitBadInput;

        var result = ConfigLoader.Load(path, text, BoardFiles.Catalog());
        if (result.Config is not { } config)
        {
            foreach (var error in result.Errors)
                stderr.WriteLine(error.ToString());
            return ExitBadInput;
        }

        var key = KeyFile.Load(config.Cluster.KeyFile);
        if (key.Error is not null)
        {
            stderr.WriteLine(result.ErrorAt(ConfigPaths.KeyFile, key.Error).ToString());
            return ExitBadInput;
        }

        // Links pair up by name across the nodes (validated), so the first node's list names them all.
        stdout.WriteLine(
            $"{path}: OK (cluster {config.Cluster.Name}, nodes {string.Join('+', config.Nodes.Select(n => n.Name))}, " +
            $"links {string.Join(' ', config.Nodes[0].Links.Select(l => l.Name))})");
        var timers = config.Cluster.Timers;
        foreach (var link in config.Nodes[0].Links)
            stdout.WriteLine($"  link {link.Name} ({(link.Kind == LinkKind.Serial ? "serial" : "udp")}): " +
                Appliance.Core.Heartbeat.LinkCadence.Of(timers, link).Explanation);
        return ExitOk;
    }

    /// <summary>The file's text, or null after saying on <paramref name="stderr"/> why not; warnings go there too (the daemon prints the same).</summary>
    private static string? Read(string path, TextWriter stderr)
    {
        var file = ConfigFile.Read(path);
        foreach (string warning in file.Warnings)
            stderr.WriteLine($"warning: {warning}");
        if (file.Error is not null)
            stderr.WriteLine(file.Error);
        return file.Text;
    }
}
