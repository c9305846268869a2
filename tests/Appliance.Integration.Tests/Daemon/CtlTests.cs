using System.Diagnostics;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>appliancectl as an operator runs it: exit codes and messages of DESIGN.md section 6.</summary>
public sealed class CtlTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("apl-ctl-").FullName;

    private static (int Exit, string Out, string Err) Ctl(params string[] args)
    {
        string bin = Environment.GetEnvironmentVariable("APPLIANCE_BIN") ?? Path.Combine(Lab.Lab.RepoRoot(), "out", "bin");
        var psi = new ProcessStartInfo(Path.Combine(bin, "appliancectl")) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(30_000), "appliancectl hung");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private string WriteConfig(string keyMode, string deadtime)
    {
        string key = Path.Combine(_dir, "authkey");
        File.WriteAllBytes(key, new byte[32].Select((_, i) => (byte)(i + 1)).ToArray());
        File.SetUnixFileMode(key, keyMode == "0600" ? UnixFileMode.UserRead | UnixFileMode.UserWrite
            : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        string path = Path.Combine(_dir, "appliance.yaml");
        File.WriteAllText(path, $$"""
            cluster:
              name: edge
              key_file: {{key}}
              timers: {keepalive: 200ms, deadtime: {{deadtime}}}
            nodes:
              - name: alpha
                links:
                  - {name: serial0, kind: serial, device: /dev/ttyS1}
                  - {name: lan1, kind: udp, local: 192.168.80.1, peer: 192.168.80.2}
              - name: beta
                links:
                  - {name: serial0, kind: serial, device: /dev/ttyS1}
                  - {name: lan1, kind: udp, local: 192.168.80.2, peer: 192.168.80.1}
            """);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    [Fact]
    public void Config_check_accepts_a_good_file()
    {
        var r = Ctl("config", "check", WriteConfig("0600", "1s"));
        Assert.Equal(0, r.Exit);
        Assert.Contains("OK", r.Out);
        Assert.Equal("", r.Err);
    }

    [Fact]
    public void Config_check_names_the_place_of_a_bad_timer_and_exits_2()
    {
        string path = WriteConfig("0600", "300ms");
        var r = Ctl("config", "check", path);
        Assert.Equal(2, r.Exit);
        Assert.StartsWith($"{path}:4:", r.Err);
        Assert.Contains("deadtime (300ms) must be more than 2 x keepalive (200ms)", r.Err);
    }

    [Fact]
    public void Config_check_refuses_a_key_file_others_can_read()
    {
        var r = Ctl("config", "check", WriteConfig("0644", "1s"));
        Assert.Equal(2, r.Exit);
        Assert.Contains("authkey", r.Err);
    }

    [Fact]
    public void Config_check_warns_about_a_config_others_can_read_and_refuses_one_they_can_write()
    {
        string path = WriteConfig("0600", "1s");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var r = Ctl("config", "check", path);
        Assert.Equal(0, r.Exit);
        Assert.Contains($"warning: {path}: mode 0644 lets every local user read it", r.Err);

        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherWrite);
        r = Ctl("config", "check", path);
        Assert.Equal(2, r.Exit);
        Assert.Contains("chmod go-w", r.Err);
    }

    [Fact]
    public void Bad_usage_exits_2_and_an_unreachable_daemon_exits_1()
    {
        Assert.Equal(2, Ctl("frobnicate").Exit);
        Assert.Equal(2, Ctl("status", "--yaml").Exit);
        var r = Ctl("--control", Path.Combine(_dir, "nobody.sock"), "status");
        Assert.Equal(1, r.Exit);
        Assert.Contains("cannot reach applianced", r.Err);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
