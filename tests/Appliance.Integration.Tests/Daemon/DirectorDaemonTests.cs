using System.Diagnostics;
using System.Text.Json;
using Appliance.Integration.Tests.Edge;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>
/// The director in a real daemon, in a network namespace of its own (issue 9, parts 2 and 5 as far
/// as they go): the table is loaded at start whatever the node's role, `services --json` shows it,
/// `drain`/`weight` change only that service in one transaction, another table stays byte-identical,
/// and the table outlives the daemon (deleting it would reset every balanced connection).
/// </summary>
public sealed class DirectorDaemonTests(ITestOutputHelper output) : IDisposable
{
    private readonly DirectorDaemonHarness _h = new("dir");

    public void Dispose() => _h.Dispose();

    [RootFact]
    public void The_table_is_loaded_at_start_changed_by_one_transaction_and_left_in_place_at_exit()
    {
        foreach (var cmd in new[] { "link add eth0 type veth peer name eth0p", "link set eth0p up", "link set eth0 up", "addr add 192.0.2.1/24 dev eth0",
                     "link add in0 type veth peer name in0p", "link set in0p up", "link set in0 up", "addr add 10.77.0.1/24 dev in0" })
            _h.Ip(cmd);
        // Somebody else's table: ours must never touch it.
        Assert.Equal(0, _h.InNs("nft", "add table ip other; add chain ip other input { type filter hook input priority 0; }; add rule ip other input tcp dport 22 counter accept".Split(' ')).Exit);
        string otherBefore = _h.InNs("nft", "list", "table", "ip", "other").Out;

        _h.WriteKey();
        _h.WriteConfig($$"""
            cluster:
              name: dirtest
              key_file: {{_h.KeyPath}}
              fencing: off
              timers: {keepalive: 200ms, warntime: 600ms, deadtime: 1s, initdead: 2s}
            nodes:
              - name: alpha
                links:
                  - {name: lan0, kind: udp, local: 127.0.0.1, peer: 127.0.0.2, port: 23694}
              - name: beta
                links:
                  - {name: lan0, kind: udp, local: 127.0.0.2, peer: 127.0.0.1, port: 23694}
            resources:
              - {name: vip-web, kind: vip, address: 192.0.2.10/24, interface: eth0}
              - {name: gw-inside, kind: vip, address: 10.77.0.254/24, interface: in0}
            director:
              inside_vips: [gw-inside]
              services:
                - name: web
                  listen: 192.0.2.10:80/tcp
                  scheduler: rr
                  forwarding: nat
                  check: {kind: none}   # nothing listens on the real servers here; DirectorChecksDaemonTests checks them
                  real_servers:
                    - {address: 10.77.0.11:8080}
                    - {address: 10.77.0.12:8080}
            metrics: {listen: 127.0.0.1:9469}
            """);

        var (daemon, log) = _h.StartDaemon();
        using var _ = daemon;
        try
        {
            JsonElement Services()
            {
                var r = _h.Ctl("services", "--json");
                Assert.True(r.Exit == 0, $"services: {r.Out}{r.Err}");
                return JsonDocument.Parse(r.Out).RootElement.Clone();
            }
            // Loaded at start, while the node is still starting (initdead): the role does not matter.
            Lab.Lab.WaitUntil(() => _h.Ctl("services", "--json") is { Exit: 0 } r && r.Out.Contains("\"loaded\":true"), TimeSpan.FromSeconds(20), "the table loaded");
            var s = Services();
            Assert.Equal(1, s.GetProperty("generation").GetInt64());
            var web = s.GetProperty("services")[0];
            Assert.Equal("192.0.2.10:80/tcp", web.GetProperty("listen").GetString());
            Assert.Equal(["up", "up"], web.GetProperty("servers").EnumerateArray().Select(x => x.GetProperty("state").GetString()));
            string table = _h.InNs("nft", "list", "table", "inet", "appliance").Out;
            Assert.Contains("10.77.0.11", table);
            Assert.Contains("10.77.0.12", table);
            string handle = _h.InNs("nft", "-a", "list", "table", "inet", "appliance").Out.Split('\n')[0];
            string id11 = web.GetProperty("servers")[0].GetProperty("id").GetString()!; // its conntrack mark
            string Scheduler() => _h.InNs("nft", "list", "chain", "inet", "appliance", "svc_web").Out.Split('\n').Where(l => l.Contains("ct mark set")).Aggregate("", (a, l) => a + l);
            Assert.Contains(id11, Scheduler());

            var drained = _h.Ctl("drain", "web", "10.77.0.11:8080");
            Assert.True(drained.Exit == 0, drained.Out + drained.Err);
            output.WriteLine(drained.Out.Trim());
            s = Services();
            Assert.Equal(2, s.GetProperty("generation").GetInt64());
            Assert.Equal("drain", s.GetProperty("services")[0].GetProperty("servers")[0].GetProperty("state").GetString());
            Assert.DoesNotContain(id11, Scheduler()); // no new clients for it; its mapping stays for established ones
            Assert.Contains(web.GetProperty("servers")[1].GetProperty("id").GetString()!, Scheduler()); // the other one takes them
            Assert.Contains("10.77.0.11", _h.InNs("nft", "list", "map", "inet", "appliance", "rs4").Out);
            Assert.Equal(handle, _h.InNs("nft", "-a", "list", "table", "inet", "appliance").Out.Split('\n')[0]); // never deleted

            Assert.Equal(1, _h.Ctl("weight", "web", "10.77.0.99:8080", "3").Exit); // unknown server: refused, nothing changes
            Assert.Equal(1, _h.Ctl("weight", "nope", "10.77.0.11:8080", "3").Exit);
            Assert.Equal(2, _h.Ctl("weight", "web", "10.77.0.11:8080", "x").Exit); // bad usage
            Assert.Equal(2, Services().GetProperty("generation").GetInt64());
            Assert.Equal(0, _h.Ctl("undrain", "web", "10.77.0.11:8080").Exit);
            Assert.Equal("up", Services().GetProperty("services")[0].GetProperty("servers")[0].GetProperty("state").GetString());
            Assert.Contains(id11, Scheduler());
            Assert.Contains("SERVER", _h.Ctl("services").Out);

            // The Prometheus endpoint (on the namespace's own loopback) says the same.
            var ask = new ProcessStartInfo("ip") { RedirectStandardInput = true, RedirectStandardOutput = true };
            foreach (var a in new[] { "netns", "exec", _h.Ns, "socat", "-T2", "-", "TCP:127.0.0.1:9469" })
                ask.ArgumentList.Add(a);
            string page;
            using (var socat = Process.Start(ask)!)
            {
                socat.StandardInput.Write("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
                socat.StandardInput.Flush();
                page = socat.StandardOutput.ReadToEnd();
                socat.WaitForExit();
            }
            Assert.StartsWith("HTTP/1.1 200 OK", page);
            Assert.Contains("appliance_director_server_up{node=\"alpha\",service=\"web\",server=\"10.77.0.11:8080\"} 1", page);
            Assert.Contains("appliance_director_generation{node=\"alpha\"} 3", page);

            Assert.Equal(otherBefore, _h.InNs("nft", "list", "table", "ip", "other").Out);
        }
        finally
        {
            DirectorDaemonHarness.Stop(daemon, log, output);
        }
        // A stopped (or restarted, or upgraded) daemon leaves the table: connections keep their NAT.
        Assert.Contains("10.77.0.11", _h.InNs("nft", "list", "table", "inet", "appliance").Out);
    }
}
