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
    private readonly DirectorDaemonHarness _h = new("rld");

    public void Dispose() => _h.Dispose();

    private static JsonElement Server(JsonElement services, string service, string address) =>
        services.GetProperty("services").EnumerateArray().Single(s => s.GetProperty("name").GetString() == service)
            .GetProperty("servers").EnumerateArray().Single(x => x.GetProperty("address").GetString() == address);

    /// <summary>The config: <paramref name="director"/> is the services list; <paramref name="deadtime"/> a path that needs a restart.</summary>
    private void WriteConfig(string services, string deadtime = "1s")
    {
        _h.WriteConfig($$"""
            cluster:
              name: reloadtest
              key_file: {{_h.KeyPath}}
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
        foreach (var cmd in new[] { "link add eth0 type veth peer name eth0p", "link set eth0p up", "link set eth0 up", "addr add 192.0.2.1/24 dev eth0",
                     "link add in0 type veth peer name in0p", "link set in0p up", "link set in0 up", "addr add 10.77.0.1/24 dev in0" })
            _h.Ip(cmd);
        _h.WriteKey();
        WriteConfig(Web);

        var (daemon, log) = _h.StartDaemon();
        using var _ = daemon;
        try
        {
            Lab.Lab.WaitUntil(() => _h.Ctl("services", "--json") is { Exit: 0 } r && r.Out.Contains("\"loaded\":true"), TimeSpan.FromSeconds(20), "the table loaded");
            Assert.Equal(0, _h.Ctl("drain", "web", "10.77.0.11:8080").Exit);
            Assert.Equal(0, _h.Ctl("weight", "web", "10.77.0.12:8080", "5").Exit);
            long generation = _h.Json("services", "--json").GetProperty("generation").GetInt64();
            output.WriteLine($"generation before the reloads: {generation}");
            string handle = _h.InNs("nft", "-a", "list", "table", "inet", "appliance").Out.Split('\n')[0];

            // The same file: nothing to do, nothing in the kernel changes.
            var same = _h.Ctl("reload");
            Assert.True(same.Exit == 0, same.Out + same.Err);
            Assert.Contains("nothing changed", same.Out);
            Assert.Equal(generation, _h.Json("services", "--json").GetProperty("generation").GetInt64());

            // The director's difference, and one path that needs a restart.
            WriteConfig(WebChangedAndApi, deadtime: "2s");
            var applied = _h.Ctl("reload");
            output.WriteLine(applied.Out);
            Assert.True(applied.Exit == 0, applied.Out + applied.Err);
            Assert.Contains("director.services[web].scheduler: rr -> wrr", applied.Out);
            Assert.Contains("director.services[web].real_servers[10.77.0.13:8080]: added (weight 3)", applied.Out);
            Assert.Contains("director.services[api]: added", applied.Out);
            Assert.Matches(@"needs a restart of applianced[^\n]*\n  cluster\.timers\.deadtime", applied.Out);
            var ms = Regex.Match(applied.Out, @"kernel ([0-9.]+) ms, reload ([0-9.]+) ms");
            Assert.True(ms.Success, applied.Out);
            output.WriteLine($"measured: kernel {ms.Groups[1].Value} ms, whole reload {ms.Groups[2].Value} ms");

            var s = _h.Json("services", "--json");
            // One transaction (plus one more if the api server's first check already brought it up: a check flip is its own).
            bool apiUp = Server(s, "api", "10.77.0.21:8443").GetProperty("state").GetString() == "up";
            Assert.Equal(generation + 1 + (apiUp ? 1 : 0), s.GetProperty("generation").GetInt64());
            Assert.Equal("wrr", s.GetProperty("services")[0].GetProperty("scheduler").GetString());
            // The operator's drain and weight survive; the config's new weight shows under the drain.
            Assert.Equal("drain", Server(s, "web", "10.77.0.11:8080").GetProperty("state").GetString());
            Assert.Equal(2, Server(s, "web", "10.77.0.11:8080").GetProperty("weight").GetInt32());
            Assert.Equal(5, Server(s, "web", "10.77.0.12:8080").GetProperty("weight").GetInt32());
            Assert.Equal("up", Server(s, "web", "10.77.0.13:8080").GetProperty("state").GetString());
            Assert.Equal(handle, _h.InNs("nft", "-a", "list", "table", "inet", "appliance").Out.Split('\n')[0]); // never replaced
            Assert.Contains("10.77.0.13", _h.InNs("nft", "list", "map", "inet", "appliance", "rs4").Out);
            Assert.Equal(0, _h.InNs("nft", "list", "chain", "inet", "appliance", "svc_api").Exit);
            // The api server's check started with the reload: down at first (start: down), up after one pass.
            Lab.Lab.WaitUntil(() => Server(_h.Json("services", "--json"), "api", "10.77.0.21:8443").GetProperty("state").GetString() == "up",
                TimeSpan.FromSeconds(10), "the added server's check brings it up");

            var config = _h.Json("status", "--json").GetProperty("config");
            Assert.True(config.GetProperty("differs_from_file").GetBoolean());
            Assert.Equal(["cluster.timers.deadtime"], config.GetProperty("restart_needed").EnumerateArray().Select(p => p.GetString()));
            Assert.Contains("restart applianced for: cluster.timers.deadtime", _h.Ctl("status").Out);

            // A bad file: refused whole with file:line:col, and the kernel keeps every byte.
            generation = _h.Json("services", "--json").GetProperty("generation").GetInt64();
            string before = _h.InNs("nft", "list", "table", "inet", "appliance").Out;
            WriteConfig(WebChangedAndApi.Replace("scheduler: wrr", "scheduler: fastest", StringComparison.Ordinal), deadtime: "2s");
            var bad = _h.Ctl("reload");
            output.WriteLine(bad.Err);
            Assert.Equal(1, bad.Exit);
            Assert.Matches(Regex.Escape(_h.ConfigPath) + @":\d+:\d+: director\.services\[0\]\.scheduler", bad.Err);
            Assert.Equal(before, _h.InNs("nft", "list", "table", "inet", "appliance").Out);
            Assert.Equal(generation, _h.Json("services", "--json").GetProperty("generation").GetInt64());
            Assert.Contains("refused", _h.Json("status", "--json").GetProperty("config").GetProperty("last_reload").GetString());

            // SIGHUP: the file back to the first one (the restart-needed path goes away with it); .13
            // and api leave, the drain of .11 stays.
            WriteConfig(Web);
            using (var hup = Process.Start("kill", $"-HUP {daemon.Id}"))
                hup.WaitForExit();
            Lab.Lab.WaitUntil(() => _h.Json("services", "--json").GetProperty("services").GetArrayLength() == 1, TimeSpan.FromSeconds(10), "SIGHUP applied");
            s = _h.Json("services", "--json");
            Assert.Equal("rr", s.GetProperty("services")[0].GetProperty("scheduler").GetString());
            Assert.Equal("drain", Server(s, "web", "10.77.0.11:8080").GetProperty("state").GetString());
            Assert.DoesNotContain("10.77.0.13", _h.InNs("nft", "list", "map", "inet", "appliance", "rs4").Out);
            Assert.NotEqual(0, _h.InNs("nft", "list", "chain", "inet", "appliance", "svc_api").Exit);
            config = _h.Json("status", "--json").GetProperty("config");
            Assert.False(config.GetProperty("differs_from_file").GetBoolean());
            Assert.Equal(3, config.GetProperty("reloads").GetInt64()); // same, changed, SIGHUP (the refused one does not count)
            Assert.Equal(handle, _h.InNs("nft", "-a", "list", "table", "inet", "appliance").Out.Split('\n')[0]);
            // The console logger writes on its own thread: the line may trail the change a little.
            Lab.Lab.WaitUntil(() => { lock (log) return log.ToString().Contains("reload (SIGHUP) applied"); }, TimeSpan.FromSeconds(5), "the SIGHUP reload logged");

            // A new heartbeat key in the same file: read once at start, so it is listed for a restart.
            _h.WriteKey(step: 11);
            var rekeyed = _h.Ctl("reload");
            Assert.True(rekeyed.Exit == 0, rekeyed.Out + rekeyed.Err);
            Assert.Contains("  cluster.key_file (the key in the file changed)", rekeyed.Out);
        }
        finally
        {
            DirectorDaemonHarness.Stop(daemon, log, output);
        }
    }
}
