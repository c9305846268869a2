using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Appliance.Integration.Tests.Edge;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>
/// Active and new connections per real server and the N-1 capacity warning in a real daemon (issue 9
/// part 5), in network namespaces of their own: a client namespace opens real connections through
/// the director's DNAT (they count as new, once each), conntrack(8) adds entries with the servers'
/// marks (an independent writer; TIME_WAIT ones must not count as active), and the daemon's figures
/// are compared with what conntrack(8) lists. The peak over the servers' N-1 capacity shows as a
/// warning in `services --json`, `status` (json and text) and the Prometheus page, and once in the log.
/// </summary>
public sealed class DirectorCapacityDaemonTests(ITestOutputHelper output) : IDisposable
{
    private readonly DirectorDaemonHarness _h = new("cap");
    private string _client = "";

    public void Dispose() => _h.Dispose();

    private static (int Exit, string Out, string Err) In(string ns, string file, params string[] args) => DirectorDaemonHarness.In(ns, file, args);

    private void Ip(string ns, string command) => _h.Ip(command, ns);

    [RootFact]
    public void Counts_active_and_new_connections_and_warns_once_when_n_minus_1_cannot_carry_the_peak()
    {
        _client = _h.AddNamespace(_h.Ns + "c");
        foreach (var cmd in new[] { $"link add eth0 type veth peer name eth0p netns {_client}", "link set eth0 up", "addr add 192.0.2.1/24 dev eth0",
                     "link add in0 type veth peer name in0p", "link set in0p up", "link set in0 up", "addr add 10.77.0.1/24 dev in0" })
            Ip(_h.Ns, cmd);
        Assert.Equal(0, In(_h.Ns, "sysctl", "-qw", "net.ipv4.ip_forward=1").Exit);
        string eth0Mac = In(_h.Ns, "cat", "/sys/class/net/eth0/address").Out.Trim();
        string in0pMac = In(_h.Ns, "cat", "/sys/class/net/in0p/address").Out.Trim();
        // The client reaches the VIP whether or not this lone node has taken it yet; the real servers
        // are in0p's MAC (nobody answers there: the SYNs are balanced, counted and lost).
        foreach (var cmd in new[] { "link set eth0p up", "addr add 192.0.2.2/24 dev eth0p", $"neigh add 192.0.2.10 lladdr {eth0Mac} dev eth0p" })
            Ip(_client, cmd);
        foreach (var rs in new[] { "10.77.0.11", "10.77.0.12" })
            Ip(_h.Ns, $"neigh add {rs} lladdr {in0pMac} dev in0");

        _h.WriteKey();
        _h.WriteConfig($$"""
            cluster:
              name: captest
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
                  check: {kind: none}
                  real_servers:
                    - {address: 10.77.0.11:8080, capacity: 4}
                    - {address: 10.77.0.12:8080, capacity: 4}
                - name: api
                  listen: 192.0.2.10:443/tcp
                  check: {kind: none}
                  real_servers:
                    - {address: 10.77.0.11:8443, capacity: 1}
                    - {address: 10.77.0.12:8443}
            metrics: {listen: 127.0.0.1:9470}
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
            JsonElement Service(JsonElement doc, string name) => doc.GetProperty("services").EnumerateArray().Single(s => s.GetProperty("name").GetString() == name);
            Lab.Lab.WaitUntil(() => _h.Ctl("services", "--json") is { Exit: 0 } r && r.Out.Contains("\"loaded\":true") && r.Out.Contains("\"active\":0"),
                TimeSpan.FromSeconds(30), "the table loaded and a first sample taken");
            var web = Service(Services(), "web");
            Assert.Equal(0, web.GetProperty("capacity").GetProperty("peak").GetInt64());
            Assert.Equal(4, web.GetProperty("capacity").GetProperty("without_busiest").GetInt64());
            Assert.Equal(JsonValueKind.Null, web.GetProperty("capacity").GetProperty("warning").ValueKind);
            string[] ids = [.. web.GetProperty("servers").EnumerateArray().Select(s => s.GetProperty("id").GetString()!)];

            // Three real connections through the DNAT, each from a new source port: three new connections.
            for (int i = 0; i < 3; i++)
                In(_client, "timeout", "0.5", "bash", "-c", "exec 3<>/dev/tcp/192.0.2.10/80");
            // conntrack(8) adds entries with the servers' marks: 2 + 1 established, 3 in TIME_WAIT (not active).
            var lines = new List<string>();
            void Add(int n, string state, string mark) => lines.AddRange(Enumerable.Range(lines.Count, n).Select(i =>
                $"-I -p tcp -s 198.51.100.{i + 1} -d 10.77.0.1 --sport 40000 --dport 8080 --state {state} --timeout 600 --mark {Convert.ToUInt32(mark, 16)}"));
            Add(2, "ESTABLISHED", ids[0]);
            Add(1, "ESTABLISHED", ids[1]);
            Add(3, "TIME_WAIT", ids[0]);
            string file = Path.Combine(_h.Dir, "entries.ct");
            File.WriteAllText(file, string.Join('\n', lines) + "\n");
            Assert.Equal(0, In(_h.Ns, "conntrack", "-R", file).Exit);

            // What conntrack(8) lists per mark, TIME_WAIT and CLOSE left out: the daemon must agree.
            long Listed(string id) => In(_h.Ns, "conntrack", "-L", "-m", $"{id}/0xffff0000").Out
                .Split('\n').Count(l => l.Length > 0 && !l.Contains(" TIME_WAIT ") && !l.Contains(" CLOSE "));
            long[] expected = [.. ids.Select(Listed)];
            output.WriteLine($"conntrack -L per server (open): {string.Join(", ", expected)}");
            Assert.Equal(2 + 1 + 3, expected.Sum()); // 3 established + 3 SYN_SENT from the client

            Lab.Lab.WaitUntil(() => Service(Services(), "web").GetProperty("servers").EnumerateArray()
                    .Select(s => s.GetProperty("connections").GetProperty("active").GetInt64()).SequenceEqual(expected),
                TimeSpan.FromSeconds(20), "the next sample");
            var doc = Services();
            web = Service(doc, "web");
            output.WriteLine(web.ToString());
            var servers = web.GetProperty("servers").EnumerateArray().ToList();
            Assert.Equal(3, servers.Sum(s => s.GetProperty("connections").GetProperty("new").GetInt64()));
            // rr: the three new connections went 2 and 1 (or 1 and 2), and active = established + the SYNs of each.
            Assert.Equal(new long[] { 2, 1 }.Zip(servers.Select(s => s.GetProperty("connections").GetProperty("new").GetInt64()), (a, b) => a + b), expected);
            var capacity = web.GetProperty("capacity");
            Assert.Equal(6, capacity.GetProperty("peak").GetInt64());
            string warning = capacity.GetProperty("warning").GetString()!;
            Assert.Equal("service web: peak of 6 active connections in the last 24h exceeds the 4 its real servers can carry without the busiest (10.77.0.11:8080): not N-1 redundant", warning);
            // api: a server without capacity: no check, and it says why.
            var api = Service(doc, "api").GetProperty("capacity");
            Assert.Equal(JsonValueKind.Null, api.GetProperty("without_busiest").ValueKind);
            Assert.Equal(JsonValueKind.Null, api.GetProperty("warning").ValueKind);
            Assert.Equal("no N-1 check: 10.77.0.12:8443 has no capacity", api.GetProperty("note").GetString());

            var status = JsonDocument.Parse(_h.Ctl("status", "--json").Out).RootElement;
            Assert.Equal([warning], status.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()));
            Assert.Contains("WARNING: " + warning, _h.Ctl("status").Out);
            string table = _h.Ctl("services").Out;
            output.WriteLine(table);
            Assert.Contains("NOT N-1 REDUNDANT", table);
            Assert.Contains("ACTIVE", table);

            var page = In(_h.Ns, "curl", "-s", "http://127.0.0.1:9470/metrics").Out;
            Assert.Contains("appliance_director_capacity_warning{node=\"alpha\",service=\"web\"} 1", page);
            Assert.Contains("appliance_director_capacity_warning{node=\"alpha\",service=\"api\"} 0", page);
            Assert.Contains("appliance_director_capacity_peak_connections{node=\"alpha\",service=\"web\"} 6", page);
            Assert.Contains($"appliance_director_server_active_connections{{node=\"alpha\",service=\"web\",server=\"10.77.0.11:8080\"}} {expected[0]}", page);

            // Later samples keep the warning without logging it again.
            Thread.Sleep(TimeSpan.FromSeconds(6));
            Assert.Equal(warning, Service(Services(), "web").GetProperty("capacity").GetProperty("warning").GetString());
            string text;
            lock (log)
                text = log.ToString();
            Assert.Equal(1, text.Split('\n').Count(l => l.Contains("CAPACITY WARNING", StringComparison.Ordinal) && l.Contains("service web", StringComparison.Ordinal)));
        }
        finally
        {
            DirectorDaemonHarness.Stop(daemon, log, output);
        }
    }
}
