using System.Diagnostics;
using System.Text.Json;
using Appliance.Integration.Tests.Edge;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>
/// Real-server checks in a real daemon, in a network namespace of its own (issue 9 part 3): real
/// servers are socat listeners on inside addresses; one whose listener stops leaves the scheduler
/// chain within fall x interval (+ apply), comes back after rise, and `services --json` says why.
/// Two services on the same servers with the same check share one target each (keepalived#2111).
/// </summary>
public sealed class DirectorChecksDaemonTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);
    private const int Rise = 2, Fall = 2;

    private readonly DirectorDaemonHarness _h = new("chk");
    private readonly Dictionary<string, Process> _listeners = [];

    public void Dispose()
    {
        foreach (var p in _listeners.Values)
            Stop(p);
        _h.Dispose();
    }

    private static void Stop(Process p)
    {
        try
        {
            if (!p.HasExited)
                p.Kill();
            p.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }
        p.Dispose();
    }

    /// <summary>A real server: socat accepting on ADDRESS:8080 inside the namespace (ip netns exec execs it, so the pid is socat's).</summary>
    private void Listen(string address)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "netns", "exec", _h.Ns, "socat", "-u", $"TCP-LISTEN:8080,bind={address},fork,reuseaddr", "OPEN:/dev/null" })
            psi.ArgumentList.Add(a);
        _listeners[address] = Process.Start(psi)!;
        Lab.Lab.WaitUntil(() => _h.InNs("ss", "-Hltn", $"src {address}:8080").Out.Contains("LISTEN"), TimeSpan.FromSeconds(5), $"socat listening on {address}");
    }

    private void Unlisten(string address)
    {
        Stop(_listeners[address]);
        _listeners.Remove(address);
    }

    [RootFact]
    public void A_server_whose_listener_stops_leaves_within_fall_intervals_and_returns_after_rise()
    {
        foreach (var cmd in new[] { "link add eth0 type veth peer name eth0p", "link set eth0p up", "link set eth0 up", "addr add 192.0.2.1/24 dev eth0",
                     "link add in0 type veth peer name in0p", "link set in0p up", "link set in0 up", "addr add 10.77.0.1/24 dev in0",
                     "addr add 10.77.0.11/32 dev in0", "addr add 10.77.0.12/32 dev in0" })
            _h.Ip(cmd);
        Listen("10.77.0.11");
        Listen("10.77.0.12");

        _h.WriteKey();
        string check = $"{{kind: tcp, interval: {Interval.TotalMilliseconds}ms, timeout: 200ms, rise: {Rise}, fall: {Fall}}}";
        _h.WriteConfig($$"""
            cluster:
              name: chktest
              key_file: {{_h.KeyPath}}
              fencing: off
              timers: {keepalive: 200ms, warntime: 600ms, deadtime: 1s, initdead: 2s}
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
                - name: web
                  listen: 192.0.2.10:80/tcp
                  scheduler: rr
                  forwarding: nat
                  check: {{check}}
                  real_servers:
                    - {address: 10.77.0.11:8080}
                    - {address: 10.77.0.12:8080}
                - name: api
                  listen: 192.0.2.10:81/tcp
                  scheduler: rr
                  forwarding: nat
                  check: {{check}}
                  real_servers:
                    - {address: 10.77.0.11:8080}
                    - {address: 10.77.0.12:8080}
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
            JsonElement Server(JsonElement s, string service, int i) =>
                s.GetProperty("services").EnumerateArray().First(x => x.GetProperty("name").GetString() == service).GetProperty("servers")[i];
            string Scheduler(string chain) => _h.InNs("nft", "list", "chain", "inet", "appliance", chain).Out.Split('\n').Where(l => l.Contains("ct mark set")).Aggregate("", (a, l) => a + l);

            Lab.Lab.WaitUntil(() => _h.Ctl("services", "--json") is { Exit: 0 } r && r.Out.Contains("\"loaded\":true"), TimeSpan.FromSeconds(20), "the table loaded");
            Lab.Lab.WaitUntil(() => Server(Services(), "web", 0).GetProperty("check").GetProperty("result").GetString() == "pass", TimeSpan.FromSeconds(5), "the first check passed");
            var s = Services();
            Assert.Equal(2, s.GetProperty("checks").GetProperty("targets").GetInt32()); // 4 (service, server) pairs, 2 probes per interval
            string id11 = Server(s, "web", 0).GetProperty("id").GetString()!;
            string id12 = Server(s, "web", 1).GetProperty("id").GetString()!;
            string api11 = Server(s, "api", 0).GetProperty("id").GetString()!; // ids are per service
            Assert.Contains(id11, Scheduler("svc_web"));
            Assert.Contains(api11, Scheduler("svc_api"));
            Assert.Equal("connected", Server(s, "web", 0).GetProperty("check").GetProperty("reason").GetString());

            // The listener stops: down within fall x interval, plus up to one interval until the next check, plus the apply.
            var watch = Stopwatch.StartNew();
            Unlisten("10.77.0.11");
            var bound = Fall * Interval + Interval + TimeSpan.FromSeconds(1);
            Lab.Lab.WaitUntil(() => !Scheduler("svc_web").Contains(id11), bound + TimeSpan.FromSeconds(5), "10.77.0.11 left svc_web");
            var left = watch.Elapsed;
            output.WriteLine($"down and out of the scheduler after {left.TotalMilliseconds:F0} ms (fall {Fall} x {Interval.TotalMilliseconds} ms)");
            Assert.True(left < bound, $"left after {left}, bound {bound}");
            Assert.DoesNotContain(api11, Scheduler("svc_api")); // the shared target took it out of both services
            Assert.Contains(id12, Scheduler("svc_web"));
            s = Services();
            var c11 = Server(s, "web", 0);
            Assert.Equal("down", c11.GetProperty("state").GetString());
            Assert.Equal("fail", c11.GetProperty("check").GetProperty("result").GetString());
            Assert.Contains("connection refused", c11.GetProperty("check").GetProperty("reason").GetString());
            Assert.Equal("up", Server(s, "web", 1).GetProperty("state").GetString());
            Assert.Equal("pass", Server(s, "web", 1).GetProperty("check").GetProperty("result").GetString());

            // Back after rise passes.
            watch.Restart();
            Listen("10.77.0.11");
            Lab.Lab.WaitUntil(() => Scheduler("svc_web").Contains(id11), Rise * Interval + Interval + TimeSpan.FromSeconds(6), "10.77.0.11 back in svc_web");
            output.WriteLine($"back after {watch.Elapsed.TotalMilliseconds:F0} ms (rise {Rise} x {Interval.TotalMilliseconds} ms)");
            Assert.True(watch.Elapsed < Rise * Interval + Interval + TimeSpan.FromSeconds(1), $"back after {watch.Elapsed}");
            Assert.Equal("up", Server(Services(), "web", 0).GetProperty("state").GetString());

            // The operator's drain wins over a passing check; a failing check wins over the drain; when it passes again the drain stands.
            Assert.Equal(0, _h.Ctl("drain", "web", "10.77.0.11:8080").Exit);
            Assert.Equal("drain", Server(Services(), "web", 0).GetProperty("state").GetString());
            Unlisten("10.77.0.11");
            Lab.Lab.WaitUntil(() => Server(Services(), "web", 0).GetProperty("state").GetString() == "down", bound + TimeSpan.FromSeconds(5), "drained and failing: down");
            Listen("10.77.0.11");
            Lab.Lab.WaitUntil(() => Server(Services(), "web", 0).GetProperty("state").GetString() == "drain", TimeSpan.FromSeconds(8), "passing again: drained, as the operator said");
            Assert.DoesNotContain(id11, Scheduler("svc_web"));
            Assert.Contains(api11, Scheduler("svc_api"));

            s = Services();
            output.WriteLine(s.GetProperty("checks").ToString());
            Assert.Equal(0, s.GetProperty("checks").GetProperty("skipped").GetInt64());
        }
        finally
        {
            DirectorDaemonHarness.Stop(daemon, log, output);
        }
        lock (log)
        {
            Assert.Contains("check: web 10.77.0.11:8080 DOWN: connecting: connection refused", log.ToString()); // event 1820
            Assert.Contains("check: web 10.77.0.11:8080 up: connected", log.ToString());
        }
    }
}
