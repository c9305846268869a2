using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>
/// The plumbing of the director's daemon-level tests: a network namespace (and any more the test
/// adds) and a temporary directory of their own, removed in <see cref="Dispose"/> whatever the test
/// did; commands run in a namespace; the key and config files written as the daemon's trust rules
/// want them (mode 0600); one `applianced` (node alpha) started in the namespace with its output
/// captured, and `appliancectl` against its control socket.
/// </summary>
internal sealed class DirectorDaemonHarness : IDisposable
{
    private readonly List<string> _namespaces = [];

    /// <param name="name">A short name for the test: the namespace is apl-NAME-RANDOM, the directory apl-NAME-*.</param>
    public DirectorDaemonHarness(string name)
    {
        Dir = Directory.CreateTempSubdirectory($"apl-{name}-").FullName;
        Ns = AddNamespace($"apl-{name}-{Guid.NewGuid().ToString("N")[..8]}");
    }

    /// <summary>The daemon's namespace.</summary>
    public string Ns { get; }

    public string Dir { get; }

    public static string Bin => Environment.GetEnvironmentVariable("APPLIANCE_BIN") ?? Path.Combine(Lab.Lab.RepoRoot(), "out", "bin");

    public string KeyPath => Path.Combine(Dir, "authkey");

    public string ConfigPath => Path.Combine(Dir, "appliance.yaml");

    public string ControlPath => Path.Combine(Dir, "control.sock");

    /// <summary>Adds a namespace (loopback up) that <see cref="Dispose"/> deletes.</summary>
    public string AddNamespace(string ns)
    {
        Edge.Edge.Run("ip", "netns", "add", ns);
        _namespaces.Add(ns);
        Edge.Edge.Run("ip", "-n", ns, "link", "set", "lo", "up");
        return ns;
    }

    public static (int Exit, string Out, string Err) In(string ns, string file, params string[] args)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "netns", "exec", ns, file }.Concat(args))
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string o = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, o, err.Result);
    }

    public (int Exit, string Out, string Err) InNs(string file, params string[] args) => In(Ns, file, args);

    /// <summary>`ip COMMAND` in <paramref name="ns"/> (default: the daemon's), which must succeed.</summary>
    public void Ip(string command, string? ns = null)
    {
        var r = In(ns ?? Ns, "ip", command.Split(' '));
        Assert.True(r.Exit == 0, $"ip {command}: {r.Err}");
    }

    public (int Exit, string Out, string Err) Ctl(params string[] args) =>
        InNs(Path.Combine(Bin, "appliancectl"), new[] { "--control", ControlPath }.Concat(args).ToArray());

    /// <summary>`appliancectl ARGS` (exit 0 asserted), its output parsed.</summary>
    public JsonElement Json(params string[] args)
    {
        var r = Ctl(args);
        Assert.True(r.Exit == 0, $"{string.Join(' ', args)}: {r.Out}{r.Err}");
        return JsonDocument.Parse(r.Out).RootElement.Clone();
    }

    /// <summary>A 32-byte key from <paramref name="step"/> (bytes i * step + 1), mode 0600.</summary>
    public void WriteKey(int step = 5) =>
        WritePrivate(KeyPath, Enumerable.Range(0, 32).Select(i => (byte)(i * step + 1)).ToArray());

    /// <summary>The config file, mode 0600.</summary>
    public void WriteConfig(string yaml) => WritePrivate(ConfigPath, Encoding.UTF8.GetBytes(yaml));

    private static void WritePrivate(string path, byte[] bytes)
    {
        File.WriteAllBytes(path, bytes);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    /// <summary>applianced as node alpha in the daemon's namespace; its stdout and stderr go to the returned log.</summary>
    public (Process Daemon, StringBuilder Log) StartDaemon()
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "netns", "exec", Ns, Path.Combine(Bin, "applianced"), "--config", ConfigPath, "--node", "alpha",
                     "--control", ControlPath, "--state-dir", Path.Combine(Dir, "state") })
            psi.ArgumentList.Add(a);
        var daemon = Process.Start(psi)!;
        var log = new StringBuilder();
        daemon.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        daemon.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        daemon.BeginErrorReadLine();
        daemon.BeginOutputReadLine();
        return (daemon, log);
    }

    /// <summary>SIGTERM (as systemd stops it), SIGKILL after 10 s; then its log to the test's output.</summary>
    public static void Stop(Process daemon, StringBuilder log, Xunit.Abstractions.ITestOutputHelper output)
    {
        using (var kill = Process.Start("kill", $"-TERM {daemon.Id}"))
            kill.WaitForExit();
        if (!daemon.WaitForExit(10_000))
            daemon.Kill(entireProcessTree: true);
        daemon.WaitForExit();
        lock (log)
            output.WriteLine(log.ToString());
    }

    public void Dispose()
    {
        foreach (var ns in _namespaces)
        {
            try
            {
                if (File.Exists("/run/netns/" + ns))
                    Edge.Edge.Run("ip", "netns", "delete", ns);
            }
            catch (InvalidOperationException)
            {
            }
        }
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
