using System.Diagnostics;
using Appliance.Core.Config;
using Appliance.Core.Config.Import;
using Appliance.Integration.Tests.Edge;
using Appliance.Linux;

namespace Appliance.Integration.Tests.Import;

/// <summary>
/// The config importers against the real programs: keepalived's own parser (<c>keepalived -t</c>)
/// decides which of its package's sample configs are valid, and every one it accepts must import,
/// pass our checker and account for every statement; and <c>appliancectl config import-*</c> as an
/// operator runs it (the NativeAOT binary in out/bin), its output accepted by <c>config check</c>.
/// </summary>
public sealed class ConfigImportTests : IDisposable
{
    private const string Samples = "/usr/share/doc/keepalived/samples";

    /// <summary>Every interface the samples and our own configs name, so keepalived -t does not refuse them for a missing one.</summary>
    private static readonly string[] Interfaces = ["eth0", "eth1", "eth2", "eth3", "eth0.1", "veth-a"];

    private readonly string _dir = Directory.CreateTempSubdirectory("apl-import-it-").FullName;
    private readonly string _ns = $"aplimp{Environment.ProcessId % 100000}";
    private bool _nsMade;

    private static string Inputs => Path.Combine(Lab.Lab.RepoRoot(), "tests", "Appliance.Core.Tests", "Config", "Import", "Inputs");

    public void Dispose()
    {
        if (_nsMade)
            Run("ip", "netns", "delete", _ns);
        Directory.Delete(_dir, recursive: true);
    }

    private static (int Exit, string Out, string Err) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', args)} hung");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>A network namespace holding an interface of every name the configs use (veth pairs: not every kernel has dummy).</summary>
    private void MakeNamespace()
    {
        Assert.Equal(0, Run("ip", "netns", "add", _ns).Exit);
        _nsMade = true;
        foreach (string i in Interfaces)
        {
            var r = Run("ip", "-n", _ns, "link", "add", i, "type", "veth", "peer", "name", i + "p");
            Assert.True(r.Exit == 0, $"ip link add {i}: {r.Err}");
            Assert.Equal(0, Run("ip", "-n", _ns, "link", "set", i, "up").Exit);
        }
        Assert.Equal(0, Run("ip", "-n", _ns, "link", "set", "lo", "up").Exit);
    }

    private (int Exit, string Output) KeepalivedTest(string file)
    {
        var r = Run("ip", "netns", "exec", _ns, "keepalived", "--config-test", "-f", file);
        return (r.Exit, r.Out + r.Err);
    }

    [RootFact]
    public void Every_sample_keepalived_accepts_imports_and_lists_what_it_skipped()
    {
        Assert.True(Directory.Exists(Samples), $"{Samples} is missing: run scripts/install-deps.sh test (it installs keepalived, whose samples are the inputs)");
        Assert.True(File.Exists("/usr/sbin/keepalived"), "keepalived is not installed: run scripts/install-deps.sh test");
        MakeNamespace();
        var options = new ImportOptions
        {
            Addresses = [AddressHint.Parse("alpha=192.0.2.1", out _)!, AddressHint.Parse("beta=192.0.2.2", out _)!],
        };
        var accepted = new List<string>();
        var refused = new List<string>();
        foreach (string file in Directory.GetFiles(Samples, "keepalived.conf.*").Order())
        {
            var (exit, output) = KeepalivedTest(file);
            var result = KeepalivedImporter.Import(file, new ImportSourceFiles(), options);
            if (exit != 0)
            {
                // keepalived refuses it: the importer may import it or refuse it, but says why either way.
                refused.Add($"{Path.GetFileName(file)} ({exit}: {output.Split('\n')[0]})");
                Assert.True(result.Ok || !result.Errors.IsEmpty);
                continue;
            }
            accepted.Add(Path.GetFileName(file));
            Assert.True(result.Ok, $"{file}: keepalived -t accepts it but the import failed: {string.Join('\n', result.Errors)}");
            var check = ConfigLoader.Load("imported.yaml", result.Yaml!);
            Assert.True(check.Ok, $"{file}: {string.Join('\n', check.Errors)}");
            Assert.DoesNotContain(result.Notes, n => n.Reason.Contains("the importer has no mapping for it here", StringComparison.Ordinal));
        }
        // Most samples are valid keepalived; if none were, the namespace (or keepalived) is broken, not the samples.
        Assert.True(accepted.Count >= 15, $"keepalived -t accepted only {accepted.Count}: {string.Join(", ", accepted)}; refused: {string.Join("; ", refused)}");
    }

    [RootFact]
    public void Our_own_test_configs_are_valid_keepalived()
    {
        Assert.True(File.Exists("/usr/sbin/keepalived"), "keepalived is not installed: run scripts/install-deps.sh test");
        MakeNamespace();
        foreach (string name in new[] { "nat-director", "lvs-reference" })
        {
            var (exit, output) = KeepalivedTest(Path.Combine(Inputs, name, "keepalived.conf"));
            Assert.True(exit == 0, $"{name}: keepalived -t exit {exit}: {output}");
        }
    }

    // ---- appliancectl -------------------------------------------------------------------------

    private static (int Exit, string Out, string Err) Ctl(params string[] args)
    {
        string bin = Environment.GetEnvironmentVariable("APPLIANCE_BIN") ?? Path.Combine(Lab.Lab.RepoRoot(), "out", "bin");
        return Run(Path.Combine(bin, "appliancectl"), args);
    }

    [Fact]
    public void Ctl_imports_writes_a_new_key_and_config_check_accepts_the_result()
    {
        string yaml = Path.Combine(_dir, "appliance.yaml"), key = Path.Combine(_dir, "authkey");
        var r = Ctl("config", "import-heartbeat", Path.Combine(Inputs, "seed-zeo"), "-o", yaml, "--write-key", key);
        Assert.True(r.Exit == 0, r.Err);
        Assert.Equal("", r.Out);
        Assert.Contains("not imported: ha.cf:5: logfile /var/log/ha-log:", r.Err);
        Assert.Contains($"wrote a new random key to {key} (mode 0600)", r.Err);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(yaml));
        Assert.Equal(32, new FileInfo(key).Length);
        Assert.Contains($"key_file: {key}", File.ReadAllText(yaml));

        var check = Ctl("config", "check", yaml);
        Assert.True(check.Exit == 0, check.Err);
        Assert.Contains("OK (cluster master-slave, nodes master+slave, links serial-ttys0 ucast-eth1)", check.Out);
    }

    [Fact]
    public void Ctl_keepalived_to_stdout_with_the_summary_on_stderr()
    {
        var r = Ctl("config", "import-keepalived", Path.Combine(Inputs, "nat-director", "keepalived.conf"), "--serial", "/dev/ttyS1");
        Assert.True(r.Exit == 0, r.Err);
        Assert.StartsWith("# appliance.yaml imported from a keepalived configuration", r.Out);
        Assert.Contains("director:", r.Out);
        Assert.Matches(@"imported .*keepalived\.conf: \d+ not imported, \d+ changed, \d+ assumed; listed in the header comment", r.Err);
    }

    [Fact]
    public void Ctl_bad_source_exits_2_naming_the_place_and_writes_nothing()
    {
        string conf = Path.Combine(_dir, "keepalived.conf"), yaml = Path.Combine(_dir, "out.yaml"), key = Path.Combine(_dir, "key");
        File.WriteAllText(conf, "vrrp_instance VI_1 {\n  interface eth0\n  priority lots\n}\n");
        var r = Ctl("config", "import-keepalived", conf, "--serial", "/dev/ttyS1", "-o", yaml, "--write-key", key);
        Assert.Equal(2, r.Exit);
        Assert.Equal($"{conf}:3:12: priority: 'lots' is not a number from 1 to 255\n", r.Err);
        Assert.False(File.Exists(yaml));
        Assert.False(File.Exists(key));
    }

    [Fact]
    public void Ctl_never_replaces_an_existing_key()
    {
        string key = Path.Combine(_dir, "authkey"), yaml = Path.Combine(_dir, "out.yaml");
        File.WriteAllBytes(key, [1, 2, 3]);
        var r = Ctl("config", "import-heartbeat", Path.Combine(Inputs, "seed-zeo"), "-o", yaml, "--write-key", key);
        Assert.Equal(1, r.Exit);
        Assert.Contains("already exists; not replacing a key", r.Err);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(key));
        Assert.False(File.Exists(yaml));
    }

    [Fact]
    public void Ctl_bad_usage_exits_2()
    {
        Assert.Equal(2, Ctl("config", "import-keepalived").Exit);
        Assert.Equal(2, Ctl("config", "import-heartbeat", "/etc/ha.d", "--address", "alpha").Exit);
        var help = Ctl("config", "import-heartbeat", "--help");
        Assert.Equal(0, help.Exit);
        Assert.Contains("--write-key FILE", help.Out);
    }
}
