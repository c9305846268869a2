using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Appliance.Integration.Tests.Edge;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>
/// The config reload in a real daemon, in a network namespace of its own (issue 9 part 5): `appliancectl
/// reload` and SIGHUP apply the director's difference as one transaction (the table is never
/// replaced), operator overrides survive for servers still present, checks start for added
/// targets with their `start:`, paths outside the director are listed for a restart and shown by
/// `status`, and a bad file is refused with file:line:col and changes nothing in the kernel.
/// </summary>
public sealed class DirectorReloadDaemonTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("apl-reload-").FullName;
    private readonly string _ns = "apl-rld-" + Guid.NewGuid().ToString("N")[..8];

    public void Dispose()
    {
        try
        {
            if (File.Exists("/run/netns/" + _ns))
                Edge.Edge.Run("ip", "netns", "delete", _ns);
            Directory.Delete(_dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
        }
    }

    private static string Bin => Environment.GetEnvironmentVariable("APPLIANCE_BIN") ?? Path.Combine(Lab.Lab.RepoRoot(), "out", "bin");

    private string ConfigPath => Path.Combine(_dir, "appliance.yaml");

    private (int Exit, string Out, string Err) InNs(string file, params string[] args)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "netns", "exec", _ns, file }.Concat(args))
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string o = p.StandardOutput.ReadToEnd(), e = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, o, e);
    }

    private (int Exit, string Out, string Err) Ctl(params string[] args) =>
        InNs(Path.Combine(Bin, "appliancectl"), new[] { "--control", Path.Combine(_dir, "control.sock") }.Concat(args).ToArray());

    private JsonElement Json(params string[] args)
    {
        var r = Ctl(args);
        Assert.True(r.Exit == 0, $"{string.Join(' ', args)}: {r.Out}{r.Err}");
        return JsonDocument.Parse(r.Out).RootElement.Clone();
    }

    private static JsonElement Server(JsonElement services, string service, string address) =>
        services.GetProperty("services").EnumerateArray().Single(s => s.GetProperty("name").GetString() == service)
            .GetProperty("servers").EnumerateArray().Single(x => x.GetProperty("address").GetString() == address);

    /// <summary>The config: <paramref name="director"/> is the services list; <paramref name="deadtime"/> a path that needs a restart.</summary>
    private void WriteConfig(string services, string deadtime = "1s")
    {
        string key = Path.Combine(_dir, "authkey");
        File.WriteAllText(ConfigPath, $$"""
            cluster:
              name: reloadtest
              key_file: {{key}}
              fencing: off
              timers: {keepalive: 200ms, warntime: 600ms, deadtime: {{deadtime}}, initdead: 2s}
            nodes:
              - name: alpha
                links:
                  - {name: lan0, kind: udp, local: 127.0.0.1, peer: 127.0.0.2, port: 23695}
              - name: beta
                links:
                  - {name: lan0, kind: udp, local: 127.0.0.2, peer: 127.0.0.1, port: 23695}
            resources:
              - {name: vip-web, kind: vip, address: 192.0.2.10/24, interface: eth0}
              - {name: gw-inside, kind: vip, address: 10.77.0.254/24, interface: in0}
            director:
              inside_vips: [gw-inside]
              services:
            {{services}}
            """);
        File.SetUnixFileMode(ConfigPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private const string Web = """
            - name: web
              listen: 192.0.2.10:80/tcp
              scheduler: rr
              check: {kind: none}
              real_servers:
                - {address: 10.77.0.11:8080}
                - {address: 10.77.0.12:8080}
        """;

    // wrr, a configured weight for .11, a new server .13, a new service api whose exec check starts down.
    private const string WebChangedAndApi = """
            - name: web
              listen: 192.0.2.10:80/tcp
              scheduler: wrr
              check: {kind: none}
              real_servers:
                - {address: 10.77.0.11:8080, weight: 2}
                - {address: 10.77.0.12:8080}
                - {address: 10.77.0.13:8080, weight: 3}
            - name: api
              listen: 192.0.2.10:8443/tcp
              check: {kind: exec, command: 'true', interval: 200ms, timeout: 150ms, rise: 1, fall: 1, start: down}
              real_servers:
                - {address: 10.77.0.21:8443}
        """;

    [RootFact]
    public void Reload_applies_the_director_difference_in_one_transaction_and_refuses_a_bad_file_whole()
    {
        Edge.Edge.Run("ip", "netns", "add", _ns);
        foreach (var cmd in new[] { "link set lo up", "link add eth0 type veth peer name eth0p", "link set eth0p up", "link set eth0 up", "addr add 192.0.2.1/24 dev eth0",
                     "link add in0 type veth peer name in0p", "link set in0p up", "link set in0 up", "addr add 10.77.0.1/24 dev in0" })
            Assert.Equal(0, InNs("ip", cmd.Split(' ')).Exit);
        string key = Path.Combine(_dir, "authkey");
        File.WriteAllBytes(key, Enumerable.Range(0, 32).Select(i => (byte)(i * 7 + 1)).ToArray());
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        WriteConfig(Web);

        var psi = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "netns", "exec", _ns, Path.Combine(Bin, "applianced"), "--config", ConfigPath, "--node", "alpha",
                     "--control", Path.Combine(_dir, "control.sock"), "--state-dir", Path.Combine(_dir, "state") })
            psi.ArgumentList.Add(a);
        using var daemon = Process.Start(psi)!;
        var log = new System.Text.StringBuilder();
        daemon.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        daemon.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        daemon.BeginErrorReadLine();
        daemon.BeginOutputReadLine();
        try
        {
            Lab.Lab.WaitUntil(() => Ctl("services", "--json") is { Exit: 0 } r && r.Out.Contains("\"loaded\":true"), TimeSpan.FromSeconds(20), "the table loaded");
            Assert.Equal(0, Ctl("drain", "web", "10.77.0.11:8080").Exit);
            Assert.Equal(0, Ctl("weight", "web", "10.77.0.12:8080", "5").Exit);
            long generation = Json("services", "--json").GetProperty("generation").GetInt64();
            output.WriteLine($"generation before the reloads: {generation}");
            string handle = InNs("nft", "-a", "list", "table", "inet", "appliance").Out.Split('\n')[0];

            // The same file: nothing to do, nothing in the kernel changes.
            var same = Ctl("reload");
            Assert.True(same.Exit == 0, same.Out + same.Err);
            Assert.Contains("nothing changed", same.Out);
            Assert.Equal(generation, Json("services", "--json").GetProperty("generation").GetInt64());

            // The director's difference, and one path that needs a restart.
            WriteConfig(WebChangedAndApi, deadtime: "2s");
            var applied = Ctl("reload");
            output.WriteLine(applied.Out);
            Assert.True(applied.Exit == 0, applied.Out + applied.Err);
            Assert.Contains("director.services[web].scheduler: rr -> wrr", applied.Out);
            Assert.Contains("director.services[web].real_servers[10.77.0.13:8080]: added (weight 3)", applied.Out);
            Assert.Contains("director.services[api]: added", applied.Out);
            Assert.Matches(@"needs a restart of applianced[^\n]*\n  cluster\.timers\.deadtime", applied.Out);
            var ms = Regex.Match(applied.Out, @"kernel ([0-9.]+) ms, reload ([0-9.]+) ms");
            Assert.True(ms.Success, applied.Out);
            output.WriteLine($"measured: kernel {ms.Groups[1].Value} ms, whole reload {ms.Groups[2].Value} ms");

            var s = Json("services", "--json");
            // One transaction (plus one more if the api server's first check already brought it up: a check flip is its own).
            bool apiUp = Server(s, "api", "10.77.0.21:8443").GetProperty("state").GetString() == "up";
            Assert.Equal(generation + 1 + (apiUp ? 1 : 0), s.GetProperty("generation").GetInt64());
            Assert.Equal("wrr", s.GetProperty("services")[0].GetProperty("scheduler").GetString());
            // The operator's drain and weight survive; the config's new weight shows under the drain.
            Assert.Equal("drain", Server(s, "web", "10.77.0.11:8080").GetProperty("state").GetString());
            Assert.Equal(2, Server(s, "web", "10.77.0.11:8080").GetProperty("weight").GetInt32());
            Assert.Equal(5, Server(s, "web", "10.77.0.12:8080").GetProperty("weight").GetInt32());
            Assert.Equal("up", Server(s, "web", "10.77.0.13:8080").GetProperty("state").GetString());
            Assert.Equal(handle, InNs("nft", "-a", "list", "table", "inet", "appliance").Out.Split('\n')[0]); // never replaced
            Assert.Contains("10.77.0.13", InNs("nft", "list", "map", "inet", "appliance", "rs4").Out);
            Assert.Equal(0, InNs("nft", "list", "chain", "inet", "appliance", "svc_api").Exit);
            // The api server's check started with the reload: down at first (start: down), up after one pass.
            Lab.Lab.WaitUntil(() => Server(Json("services", "--json"), "api", "10.77.0.21:8443").GetProperty("state").GetString() == "up",
                TimeSpan.FromSeconds(10), "the added server's check brings it up");

            var config = Json("status", "--json").GetProperty("config");
            Assert.True(config.GetProperty("differs_from_file").GetBoolean());
            Assert.Equal(["cluster.timers.deadtime"], config.GetProperty("restart_needed").EnumerateArray().Select(p => p.GetString()));
            Assert.Contains("restart applianced for: cluster.timers.deadtime", Ctl("status").Out);

            // A bad file: refused whole with file:line:col, and the kernel keeps every byte.
            generation = Json("services", "--json").GetProperty("generation").GetInt64();
            string before = InNs("nft", "list", "table", "inet", "appliance").Out;
            WriteConfig(WebChangedAndApi.Replace("scheduler: wrr", "scheduler: fastest", StringComparison.Ordinal), deadtime: "2s");
            var bad = Ctl("reload");
            output.WriteLine(bad.Err);
            Assert.Equal(1, bad.Exit);
            Assert.Matches(Regex.Escape(ConfigPath) + @":\d+:\d+: director\.services\[0\]\.scheduler", bad.Err);
            Assert.Equal(before, InNs("nft", "list", "table", "inet", "appliance").Out);
            Assert.Equal(generation, Json("services", "--json").GetProperty("generation").GetInt64());
            Assert.Contains("refused", Json("status", "--json").GetProperty("config").GetProperty("last_reload").GetString());

            // SIGHUP: the file back to the first one (the restart-needed path goes away with it); .13
            // and api leave, the drain of .11 stays.
            WriteConfig(Web);
            using (var hup = Process.Start("kill", $"-HUP {daemon.Id}"))
                hup.WaitForExit();
            Lab.Lab.WaitUntil(() => Json("services", "--json").GetProperty("services").GetArrayLength() == 1, TimeSpan.FromSeconds(10), "SIGHUP applied");
            s = Json("services", "--json");
            Assert.Equal("rr", s.GetProperty("services")[0].GetProperty("scheduler").GetString());
            Assert.Equal("drain", Server(s, "web", "10.77.0.11:8080").GetProperty("state").GetString());
            Assert.DoesNotContain("10.77.0.13", InNs("nft", "list", "map", "inet", "appliance", "rs4").Out);
            Assert.NotEqual(0, InNs("nft", "list", "chain", "inet", "appliance", "svc_api").Exit);
            config = Json("status", "--json").GetProperty("config");
            Assert.False(config.GetProperty("differs_from_file").GetBoolean());
            Assert.Equal(3, config.GetProperty("reloads").GetInt64()); // same, changed, SIGHUP (the refused one does not count)
            Assert.Equal(handle, InNs("nft", "-a", "list", "table", "inet", "appliance").Out.Split('\n')[0]);
            // The console logger writes on its own thread: the line may trail the change a little.
            Lab.Lab.WaitUntil(() => { lock (log) return log.ToString().Contains("reload (SIGHUP) applied"); }, TimeSpan.FromSeconds(5), "the SIGHUP reload logged");

            // A new heartbeat key in the same file: read once at start, so it is listed for a restart.
            File.WriteAllBytes(key, Enumerable.Range(0, 32).Select(i => (byte)(i * 11 + 2)).ToArray());
            var rekeyed = Ctl("reload");
            Assert.True(rekeyed.Exit == 0, rekeyed.Out + rekeyed.Err);
            Assert.Contains("  cluster.key_file (the key in the file changed)", rekeyed.Out);
        }
        finally
        {
            using (var kill = Process.Start("kill", $"-TERM {daemon.Id}"))
                kill.WaitForExit();
            if (!daemon.WaitForExit(10_000))
                daemon.Kill(entireProcessTree: true);
            daemon.WaitForExit();
            lock (log)
                output.WriteLine(log.ToString());
        }
    }
}
