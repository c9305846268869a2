using System.Runtime.CompilerServices;
using System.Text.Json;
using Appliance.Core.Arbiter;
using Appliance.Core.Config;
using Appliance.Core.Fencing;
using Appliance.Core.Heartbeat;
using Appliance.Core.Membership;
using Appliance.Core.Node;
using Appliance.Core.Ports;
using Appliance.Core.Values;
using Appliance.Daemon;
using Appliance.Daemon.Fencing;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>
/// `appliancectl status --json` and `status` pinned by golden files (DESIGN.md section 6 is an
/// interface scripts depend on): a node mid-failover, fencing its dead peer with a failed round
/// behind it. APPLIANCE_UPDATE_GOLDEN=1 rewrites them from the current output.
/// </summary>
public sealed class StatusGoldenTests
{
    private const string UpdateSwitch = "APPLIANCE_UPDATE_GOLDEN";

    private static string Golden(string name, [CallerFilePath] string here = "") =>
        Path.Combine(Path.GetDirectoryName(here)!, "Golden", name);

    private const string Config = """
        cluster: {name: edge, key_file: /etc/appliance/authkey, fencing: required}
        nodes:
          - name: alpha
            priority: 100
            links:
              - {name: serial0, kind: serial, device: /dev/ttyS1, baud: 115200}
              - {name: lan1, kind: udp, local: 192.168.80.1, peer: 192.168.80.2, port: 694}
            fence: [relay-alpha]
          - name: beta
            priority: 90
            links:
              - {name: serial0, kind: serial, device: /dev/ttyS1, baud: 115200}
              - {name: lan1, kind: udp, local: 192.168.80.2, peer: 192.168.80.1, port: 694}
            fence: [relay-beta, pdu]
        fence_devices:
          - {name: relay-alpha, kind: gpio-relay, chip: /dev/gpiochip0, line: 17}
          - {name: relay-beta, kind: gpio-relay, chip: /dev/gpiochip0, line: 18}
          - {name: pdu, kind: serial-pdu, protocol: rps10, device: /dev/ttyUSB0, outlets: {alpha: 1, beta: 2}}
        resources:
          - {name: vip-web, kind: vip, address: 203.0.113.10/24, interface: eth0}
          - {name: web, kind: exec, start: "systemctl start nginx", stop: "systemctl stop nginx", timeout: 30s}
        """;

    internal static byte[] Document()
    {
        var loaded = ConfigLoader.Load("/etc/appliance/appliance.yaml", Config);
        var config = loaded.Config ?? throw new InvalidOperationException(string.Join("\n", loaded.Errors));
        var counters = new LinkCountersSnapshot(5012, 0, 4990, 2, 1, 3, 17);
        var node = new NodeView(NodeRole.Fencing, "the peer is dead and must be fenced before takeover", false, false, LocalResources.Stopped,
            [new ResourceView("vip-web", "vip", ResourceState.Stopped, "was not present"), new ResourceView("web", "exec", ResourceState.Stopped, "")],
            "", true, new FencingView(FencingPhase.Retrying, "beta",
                "retrying relay-beta in 200 ms (attempt 2 of 2): timeout (no answer)", 1, null), false);
        var hb = new HeartbeatStatus(PeerState.Dead, new StateSummary(NodeRole.Active, HealthFlags.None, 0, 3, 0, 3), TimeSpan.FromMilliseconds(1432),
            [new LinkStatus("serial0", LinkKind.Serial, "/dev/ttyS1@115200", LinkState.Down, true, TimeSpan.FromMilliseconds(1432), counters),
             new LinkStatus("lan1", LinkKind.Udp, "192.168.80.1->192.168.80.2:694", LinkState.Down, true, null, counters)],
            1, TimeSpan.FromMilliseconds(2100), new BootId(0x1234_5678_9abc_def1), new Sequence(5012), new BootId(0xfedc_ba98_7654_3211),
            412, TimeSpan.FromMilliseconds(201), true, 0, TimeSpan.Zero, node.Role, node.RoleReason, false, node)
        {
            Cpus = "0",
            Rescue = new RescueStatus(1, 17, 3, TimeSpan.FromMicroseconds(2140), 0, null) { Covers = 2, CoverTicks = 23 },
        };
        var last = new FenceHistoryEntry(new DateTimeOffset(2026, 12, 4, 2, 13, 7, 120, TimeSpan.Zero), "beta", "relay-beta", "off", "timeout", false,
            "every fence device failed for beta: relay-beta: timeout", 4210, "peer dead");
        return StatusJson.Write("alpha", "beta", config, hb,
            [("upstream", "ping", Appliance.Core.Monitors.MonitorState.Up, "203.0.113.1 answered in 0.4 ms")], "", TimeSpan.FromMinutes(93),
            [("relay-beta", "gpio-relay", ""), ("pdu", "serial-pdu", "session up, last check 0.4 s ago")], last, "",
            [new WatchedVip("203.0.113.10", "eth0", true, "02:00:00:00:00:01", null, false, "holds nothing; listening")], [],
            System.Globalization.CultureInfo.InvariantCulture, includeRuntime: false,
            ["service web: peak of 812 active connections in the last 24h exceeds the 500 its real servers can carry without the busiest (10.0.0.11:8080): not N-1 redundant"]);
    }

    private static void Compare(string name, string actual)
    {
        string path = Golden(name);
        if (Environment.GetEnvironmentVariable(UpdateSwitch) == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, actual);
        }
        Assert.True(File.Exists(path), $"no golden file {path}; run with {UpdateSwitch}=1 to create it");
        Assert.Equal(File.ReadAllText(path), actual);
    }

    [Fact]
    public void Status_json_matches_the_golden_file_and_has_every_field_of_the_design()
    {
        using var doc = JsonDocument.Parse(Document());
        var s = doc.RootElement;
        Compare("status.json", JsonSerializer.Serialize(s, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n");
        // DESIGN.md section 6: the fields every consumer may rely on.
        Assert.Equal(JsonValueKind.String, s.GetProperty("node").ValueKind);
        Assert.Equal(JsonValueKind.String, s.GetProperty("role").ValueKind);
        var peer = s.GetProperty("peer");
        Assert.Contains(peer.GetProperty("state").GetString(), new[] { "up", "warn", "dead", "fenced", "stopped", "unknown" });
        foreach (var name in new[] { "name", "role" })
            Assert.Equal(JsonValueKind.String, peer.GetProperty(name).ValueKind);
        foreach (var l in peer.GetProperty("links").EnumerateArray())
        {
            Assert.Contains(l.GetProperty("kind").GetString(), new[] { "serial", "udp" });
            Assert.Contains(l.GetProperty("state").GetString(), new[] { "up", "down" });
            Assert.Equal(JsonValueKind.String, l.GetProperty("name").ValueKind);
        }
        foreach (var r in s.GetProperty("resources").EnumerateArray())
        {
            Assert.Contains(r.GetProperty("state").GetString(), new[] { "started", "stopped", "starting", "stopping", "failed" });
            Assert.Equal(JsonValueKind.String, r.GetProperty("name").ValueKind);
            Assert.Equal(JsonValueKind.String, r.GetProperty("kind").ValueKind);
        }
        var lastFence = s.GetProperty("fencing").GetProperty("last");
        Assert.Equal(JsonValueKind.String, lastFence.GetProperty("target").ValueKind);
        Assert.Equal(JsonValueKind.String, lastFence.GetProperty("result").ValueKind);
        foreach (var t in new[] { "keepalive_ms", "warntime_ms", "deadtime_ms", "initdead_ms" })
            Assert.Equal(JsonValueKind.Number, s.GetProperty("timers").GetProperty(t).ValueKind);
    }

    [Fact]
    public void Status_text_matches_the_golden_file()
    {
        using var doc = JsonDocument.Parse(Document());
        Compare("status.txt", Appliance.Ctl.StatusText.Render(doc.RootElement));
    }
}
