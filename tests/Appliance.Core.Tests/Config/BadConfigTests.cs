using Appliance.Core.Config;

namespace Appliance.Core.Tests.Config;

/// <summary>
/// Table of bad configs: each edits <see cref="ConfigSamples.Base"/> and lists the exact error
/// lines expected, positions included. Messages are an interface (operators read them, scripts
/// grep them), so a change to one shows up here.
/// </summary>
public class BadConfigTests
{
    /// <summary>A bad config: <see cref="Edits"/> applied to the base (each old text must occur exactly once).</summary>
    public sealed record Case(string Name, (string Old, string New)[] Edits, string[] Expected, string? Text = null, string? On = null)
    {
        public string Yaml()
        {
            if (Text is not null)
                return Text;
            var yaml = On ?? ConfigSamples.Base;
            foreach (var (old, @new) in Edits)
            {
                int at = yaml.IndexOf(old, StringComparison.Ordinal);
                Assert.True(at >= 0 && yaml.IndexOf(old, at + 1, StringComparison.Ordinal) < 0, $"'{old}' must occur exactly once in the base");
                yaml = yaml[..at] + @new + yaml[(at + old.Length)..];
            }
            return yaml;
        }
    }

    private const string F = ConfigSamples.File;
    private const string D = ConfigSamples.WithDirector;

    /// <summary>The last fence device of the base; cases append devices after it.</summary>
    private const string Pdu = "outlets: {alpha: 1, beta: 2}}";

    public static readonly Case[] Cases =
    [
        new("syntax error", [("name: edge", "name: edge: x")],
            ["appliance.yaml:2:13: syntax error: while scanning a plain scalar value, found invalid mapping"]),
        new("unclosed bracket", [("name: edge", "name: [edge")],
            ["appliance.yaml:2:9: syntax error: the YAML cannot be read past this point; look for an unclosed bracket, brace or quote"]),
        new("unclosed flow sequence (YamlDotNet throws InvalidOperationException)", [("fence: [relay-alpha, pdu]", "fence: [relay-alpha, pdu\n    priority: 3")],
            ["appliance.yaml:18:24: syntax error: the YAML cannot be read past this point; look for an unclosed bracket, brace or quote"]),
        new("unterminated quote", [("name: edge", "name: 'edge")],
            ["appliance.yaml:2:9: syntax error: while scanning a quoted scalar, found unexpected end of stream"]),
        new("unknown key with suggestion", [("keepalive: 200ms", "keepalve: 200ms")],
            ["appliance.yaml:7:5: cluster.timers.keepalve: unknown key 'keepalve'; did you mean 'keepalive'?"]),
        new("unknown key without suggestion", [("auto_failback: false", "colour: blue")],
            ["appliance.yaml:4:3: cluster.colour: unknown key 'colour'; valid keys are name, key_file, auto_failback, fencing, fence_delay, fence_delay_random, timers"]),
        new("unknown top-level key", [("nodes:\n", "directors: []\nnodes:\n")],
            ["appliance.yaml:11:1: directors: unknown key 'directors'; did you mean 'director'?"]),
        new("vip prefix too long", [("nodes:\n", "resources:\n  - {name: vip, kind: vip, address: 10.0.0.1/33, interface: eth0}\nnodes:\n")],
            ["appliance.yaml:12:37: resources[0].address: address (10.0.0.1/33): the prefix length must be 1 to 32"]),
        new("vip without prefix", [("nodes:\n", "resources:\n  - {name: vip, kind: vip, address: 10.0.0.1, interface: eth0}\nnodes:\n")],
            ["appliance.yaml:12:37: resources[0].address: expected an address with a prefix length, like 203.0.113.10/24, got '10.0.0.1'"]),
        new("duplicate resource name", [("nodes:\n", "resources:\n  - {name: vip, kind: vip, address: 10.0.0.1/24, interface: eth0}\n  - {name: vip, kind: vip, address: 10.0.0.2/24, interface: eth0}\nnodes:\n")],
            ["appliance.yaml:13:12: resources[1].name: resource name 'vip' is already used by resources[0]"]),
        new("monitor timeout not below interval", [("nodes:\n", "monitors:\n  - {name: web, kind: tcp, address: 127.0.0.1:80, interval: 1s, timeout: 1s}\nnodes:\n")],
            ["appliance.yaml:12:74: monitors[0].timeout: timeout (1s) must be less than interval (1s)"]),
        new("http monitor with a bad url", [("nodes:\n", "monitors:\n  - {name: web, kind: http, url: ftp://x/}\nnodes:\n")],
            ["appliance.yaml:12:34: monitors[0].url: expected an http:// URL, like http://127.0.0.1:8080/health, got 'ftp://x/'"]),
        new("unknown resource kind", [("nodes:\n", "resources:\n  - {name: web, kind: systemd, unit: nginx}\nnodes:\n")],
            [
                "appliance.yaml:12:23: resources[0].kind: expected vip, exec, lsb or ocf, got 'systemd'",
                "appliance.yaml:12:32: resources[0].unit: unknown key 'unit'; valid keys are name, kind, monitor_interval",
            ]),
        new("ocf agent without provider", [("nodes:\n", "resources:\n  - {name: web, kind: ocf, agent: Dummy}\nnodes:\n")],
            ["appliance.yaml:12:35: resources[0].agent: expected an OCF agent as provider:type, like heartbeat:Dummy, got 'Dummy'"]),
        new("key of the other link kind", [("peer: 192.168.80.2, port: 694", "peer: 192.168.80.2, baud: 694")],
            ["appliance.yaml:16:74: nodes[0].links[1].baud: unknown key 'baud' for a udp link; valid keys are name, kind, keepalive, local, peer, group, port"]),
        new("wrong type: list for an integer", [("priority: 100", "priority: [100]")],
            ["appliance.yaml:13:15: nodes[0].priority: expected an integer from 0 to 255, got a list"]),
        new("wrong type: list for a map", [("  timers:\n    keepalive: 200ms\n    warntime: 600ms\n    deadtime: 1s\n    initdead: 10s\n", "  timers: [200ms]\n")],
            ["appliance.yaml:6:11: cluster.timers: expected a map, got a list"]),
        new("wrong type: scalar for a list", [("fence: [relay-alpha, pdu]", "fence: pdu")],
            ["appliance.yaml:18:12: nodes[0].fence: expected a list of fence device names, got 'pdu'"]),
        new("quoted integer", [("priority: 100", "priority: \"100\"")],
            ["appliance.yaml:13:15: nodes[0].priority: expected an integer from 0 to 255, got the quoted string '100'"]),
        new("missing required key", [("  key_file: /etc/appliance/authkey\n", "")],
            ["appliance.yaml:2:3: cluster.key_file: required key is missing; expected an absolute path"]),
        new("missing required key of a link kind", [("device: /dev/ttyS1, ", "")],
            ["appliance.yaml:15:9: nodes[0].links[0].device: required key is missing; expected an absolute path"]),
        new("bad duration unit", [("deadtime: 1s", "deadtime: 1sec")],
            ["appliance.yaml:9:15: cluster.timers.deadtime: unknown unit 'sec' in '1sec'; expected ms, s or m"]),
        new("bare number duration", [("keepalive: 200ms", "keepalive: 200")],
            ["appliance.yaml:7:16: cluster.timers.keepalive: expected a duration with a unit, like 200ms or 1s, got '200'"]),
        new("deadtime not more than 2 x keepalive", [("warntime: 600ms", "warntime: 300ms"), ("deadtime: 1s", "deadtime: 350ms")],
            ["appliance.yaml:9:15: cluster.timers.deadtime: deadtime (350ms) must be more than 2 x keepalive (200ms)"]),
        new("warntime not more than keepalive", [("warntime: 600ms", "warntime: 200ms")],
            ["appliance.yaml:8:15: cluster.timers.warntime: warntime (200ms) must be more than keepalive (200ms)"]),
        new("deadtime not more than warntime", [("deadtime: 1s", "deadtime: 500ms")],
            ["appliance.yaml:9:15: cluster.timers.deadtime: deadtime (500ms) must be more than warntime (600ms)"]),
        new("initdead less than deadtime", [("initdead: 10s", "initdead: 500ms")],
            ["appliance.yaml:10:15: cluster.timers.initdead: initdead (500ms) must be at least deadtime (1s)"]),
        new("deadtime beyond the acknowledgement window",
            [("keepalive: 200ms", "keepalive: 20ms"), ("warntime: 600ms", "warntime: 100ms"), ("deadtime: 1s", "deadtime: 30s"), ("initdead: 10s", "initdead: 30s")],
            ["appliance.yaml:9:15: cluster.timers.deadtime: deadtime (30s) must be at most 1000 x keepalive (20ms), the acknowledgement window"]),
        new("keepalive below 2ms", [("keepalive: 200ms", "keepalive: 1ms")],
            ["appliance.yaml:7:16: cluster.timers.keepalive: keepalive (1ms) must be at least 2ms"]),
        new("link keepalive not a multiple of the cluster's",
            [("peer: 192.168.80.2, port: 694}", "peer: 192.168.80.2, port: 694, keepalive: 300ms}"),
             ("peer: 192.168.80.1, port: 694}", "peer: 192.168.80.1, port: 694, keepalive: 300ms}")],
            ["appliance.yaml:16:96: nodes[0].links[1].keepalive: keepalive (300ms) must be a whole multiple of cluster.timers.keepalive (200ms): the link sends on every n-th tick, like 400ms",
             "appliance.yaml:23:96: nodes[1].links[1].keepalive: keepalive (300ms) must be a whole multiple of cluster.timers.keepalive (200ms): the link sends on every n-th tick, like 400ms"]),
        new("serial link too slow for the cluster's keepalive",
            [("keepalive: 200ms", "keepalive: 2ms"), ("device: /dev/ttyS1, baud: 115200", "device: /dev/ttyS1, baud: 1200"),
             ("device: /dev/ttyS0, baud: 115200", "device: /dev/ttyS0, baud: 1200")],
            ["appliance.yaml:15:65: nodes[0].links[0].baud: a keepalive of 990ms is 495 cluster keepalives (2ms); a link may be at most 200 times slower than the cluster (at 1200 baud a 95-byte frame takes 791.67ms (0.12 bytes/ms) and keepalives may use 80% of the line, so at least 989.58ms): use a faster baud or a slower cluster keepalive",
             "appliance.yaml:22:65: nodes[1].links[0].baud: a keepalive of 990ms is 495 cluster keepalives (2ms); a link may be at most 200 times slower than the cluster (at 1200 baud a 95-byte frame takes 791.67ms (0.12 bytes/ms) and keepalives may use 80% of the line, so at least 989.58ms): use a faster baud or a slower cluster keepalive"]),
        new("serial link keepalive faster than its baud carries",
            [("keepalive: 200ms", "keepalive: 2ms"), ("device: /dev/ttyS1, baud: 115200}", "device: /dev/ttyS1, baud: 115200, keepalive: 4ms}"),
             ("device: /dev/ttyS0, baud: 115200}", "device: /dev/ttyS0, baud: 115200, keepalive: 4ms}")],
            ["appliance.yaml:15:84: nodes[0].links[0].keepalive: keepalive (4ms) is faster than the link can carry: at 115200 baud a 95-byte frame takes 8.25ms (11.52 bytes/ms) and keepalives may use 80% of the line, so at least 10.31ms; use at least 12ms, or a faster baud",
             "appliance.yaml:22:84: nodes[1].links[0].keepalive: keepalive (4ms) is faster than the link can carry: at 115200 baud a 95-byte frame takes 8.25ms (11.52 bytes/ms) and keepalives may use 80% of the line, so at least 10.31ms; use at least 12ms, or a faster baud"]),
        new("link keepalive differs between the nodes",
            [("peer: 192.168.80.2, port: 694}", "peer: 192.168.80.2, port: 694, keepalive: 400ms}"),
             ("peer: 192.168.80.1, port: 694}", "peer: 192.168.80.1, port: 694, keepalive: 600ms}")],
            ["appliance.yaml:23:96: nodes[1].links[1].keepalive: keepalive (600ms) must equal keepalive on node alpha (400ms); both ends of link 'lan1' send at one cadence"]),
        new("link keepalive on one node only",
            [("peer: 192.168.80.1, port: 694}", "peer: 192.168.80.1, port: 694, keepalive: 400ms}")],
            ["appliance.yaml:23:96: nodes[1].links[1].keepalive: keepalive (400ms) is set here but not on node alpha; both ends of link 'lan1' send at one cadence"]),
        new("deadtime above 60s", [("deadtime: 1s", "deadtime: 90s"), ("initdead: 10s", "initdead: 2m")],
            ["appliance.yaml:9:15: cluster.timers.deadtime: deadtime (90s) must be at most 60s"]),
        new("bad IP address", [("local: 192.168.80.1", "local: 192.168.80.300")],
            ["appliance.yaml:16:40: nodes[0].links[1].local: expected an IP address, got '192.168.80.300'"]),
        new("peer and group both set", [("peer: 192.168.80.2, port: 694", "peer: 192.168.80.2, group: 239.1.1.9, port: 694")],
            ["appliance.yaml:16:81: nodes[0].links[1].group: peer and group are both set; set peer for unicast or group for multicast, not both"]),
        new("neither peer nor group", [("local: 10.1.0.2, group: 239.1.1.1", "local: 10.1.0.2")],
            ["appliance.yaml:24:9: nodes[1].links[2]: a udp link needs peer (unicast) or group (multicast)"]),
        new("group not multicast", [("local: 10.1.0.1, group: 239.1.1.1", "local: 10.1.0.1, group: 10.1.1.1")],
            ["appliance.yaml:17:55: nodes[0].links[2].group: group (10.1.1.1) must be a multicast address (224.0.0.0/4 or ff00::/8)"]),
        new("link missing on the other node", [("      - {name: mc, kind: udp, local: 10.1.0.2, group: 239.1.1.1}\n", "")],
            ["appliance.yaml:22:7: nodes[1].links: link 'mc' of node alpha is missing on node beta"]),
        new("link kind mismatch", [("{name: serial0, kind: serial, device: /dev/ttyS0, baud: 115200}", "{name: serial0, kind: udp, local: 10.2.0.2, peer: 10.2.0.1}")],
            ["appliance.yaml:22:31: nodes[1].links[0].kind: link 'serial0' is serial on node alpha but udp on node beta"]),
        new("unicast peer is not the other node's local", [("peer: 192.168.80.2", "peer: 192.168.80.9")],
            ["appliance.yaml:16:60: nodes[0].links[1].peer: peer (192.168.80.9) must be node beta's local address (192.168.80.2) on link 'lan1'"]),
        new("ports differ", [("peer: 192.168.80.1, port: 694", "peer: 192.168.80.1, port: 695")],
            ["appliance.yaml:23:80: nodes[1].links[1].port: port (695) must equal port on node alpha (694) for link 'lan1'"]),
        new("groups differ", [("local: 10.1.0.2, group: 239.1.1.1", "local: 10.1.0.2, group: 239.1.1.2")],
            ["appliance.yaml:24:55: nodes[1].links[2].group: group (239.1.1.2) must equal group on node alpha (239.1.1.1) for link 'mc'"]),
        new("baud differs", [("/dev/ttyS0, baud: 115200", "/dev/ttyS0, baud: 9600")],
            ["appliance.yaml:22:65: nodes[1].links[0].baud: baud (9600) must equal baud on node alpha (115200); both ends of link 'serial0' run at one speed"]),
        new("duplicate node name", [("- name: beta", "- name: alpha")],
            ["appliance.yaml:19:11: nodes[1].name: node name 'alpha' is already used by nodes[0]"]),
        new("duplicate link name", [("{name: mc, kind: udp, local: 10.1.0.1", "{name: lan1, kind: udp, local: 10.1.0.1")],
            [
                "appliance.yaml:15:7: nodes[0].links: link 'mc' of node beta is missing on node alpha",
                "appliance.yaml:17:16: nodes[0].links[2].name: link name 'lan1' is already used by nodes[0].links[1]",
            ]),
        new("three nodes", [("    fence: [relay-beta, pdu]\n", "    fence: [relay-beta, pdu]\n  - name: gamma\n    links: [{name: serial0, kind: serial, device: /dev/ttyS1}]\n")],
            ["appliance.yaml:12:3: nodes: expected exactly 2 nodes, got 3"]),
        new("bad baud", [("/dev/ttyS1, baud: 115200", "/dev/ttyS1, baud: 100000")],
            ["appliance.yaml:15:65: nodes[0].links[0].baud: baud (100000) must be one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600"]),
        new("port out of range", [("peer: 192.168.80.2, port: 694", "peer: 192.168.80.2, port: 0")],
            ["appliance.yaml:16:80: nodes[0].links[1].port: port (0) must be from 1 to 65535"]),
        new("duplicate key", [("  fencing: required\n", "  fencing: required\n  fencing: off\n")],
            ["appliance.yaml:6:3: cluster.fencing: duplicate key 'fencing'; it is first set at line 5, column 3"]),
        new("bad node name", [("- name: beta", "- name: Beta")],
            ["appliance.yaml:19:11: nodes[1].name: expected a name of 1 to 32 characters a-z, 0-9 or '-', starting with a letter, got 'Beta'"]),
        new("bad cluster name", [("name: edge", "name: edge_1")],
            ["appliance.yaml:2:9: cluster.name: expected a name of 1 to 32 characters a-z, 0-9 or '-', got 'edge_1'"]),
        new("bad link name", [("{name: lan1, kind: udp, local: 192.168.80.1", "{name: 1lan, kind: udp, local: 192.168.80.1")],
            ["appliance.yaml:16:16: nodes[0].links[1].name: expected a name of 1 to 32 characters a-z, 0-9 or '-', starting with a letter, got '1lan'"]),
        new("bad link kind", [("{name: mc, kind: udp, local: 10.1.0.2", "{name: mc, kind: tcp, local: 10.1.0.2")],
            ["appliance.yaml:24:26: nodes[1].links[2].kind: expected serial or udp, got 'tcp'"]),
        new("bad boolean", [("auto_failback: false", "auto_failback: no")],
            ["appliance.yaml:4:18: cluster.auto_failback: expected true or false, got 'no'"]),
        new("bad fencing mode", [("fencing: required", "fencing: maybe")],
            ["appliance.yaml:5:12: cluster.fencing: expected required or off, got 'maybe'"]),
        new("relative path", [("key_file: /etc/appliance/authkey", "key_file: authkey")],
            ["appliance.yaml:3:13: cluster.key_file: expected an absolute path, got 'authkey'"]),
        new("fence device listed twice", [("fence: [relay-alpha, pdu]", "fence: [pdu, relay-alpha, pdu]")],
            ["appliance.yaml:18:31: nodes[0].fence[2]: 'pdu' is already listed at nodes[0].fence[0]"]),
        new("no links", [("      - {name: serial0, kind: serial, device: /dev/ttyS0, baud: 115200}\n      - {name: lan1, kind: udp, local: 192.168.80.2, peer: 192.168.80.1, port: 694}\n      - {name: mc, kind: udp, local: 10.1.0.2, group: 239.1.1.1}\n", "      []\n")],
            ["appliance.yaml:22:7: nodes[1].links: expected 1 to 8 links, got 0"]),
        new("address families differ", [("peer: 192.168.80.2, port: 694", "peer: \"fd00::2\", port: 694")],
            ["appliance.yaml:16:60: nodes[0].links[1].peer: peer (fd00::2) and local (192.168.80.1) must be of the same address family"]),
        new("empty file", [],
            ["appliance.yaml:1:1: the file is empty; expected a map with the keys cluster, nodes, fence_devices, resources, monitors, director, metrics, board and panel"], Text: ""),
        new("only comments", [],
            ["appliance.yaml:1:1: the file is empty; expected a map with the keys cluster, nodes, fence_devices, resources, monitors, director, metrics, board and panel"], Text: "# nothing yet\n"),
        new("not a map", [],
            ["appliance.yaml:1:1: expected a map with the keys cluster, nodes, fence_devices, resources, monitors, director, metrics, board and panel, got a list"], Text: "- cluster\n- nodes\n"),
        new("fence list names an unknown device", [("fence: [relay-beta, pdu]", "fence: [relay-bet, pdu]")],
            ["appliance.yaml:25:12: nodes[1].fence: fence device 'relay-bet' is not defined; did you mean 'relay-beta'?"]),
        new("pdu without an outlet for the node it fences", [("outlets: {alpha: 1, beta: 2}", "outlets: {alpha: 1}")],
            ["appliance.yaml:29:83: fence_devices[2].outlets: fence device 'pdu' fences node beta but has no outlet for it; add beta to outlets"]),
        new("pdu outlet out of range", [("outlets: {alpha: 1, beta: 2}", "outlets: {alpha: 1, beta: 12}")],
            ["appliance.yaml:29:100: fence_devices[2].outlets.beta: beta (12) must be from 0 to 9"]),
        new("relay without a line", [("chip: /dev/gpiochip0, line: 18}", "chip: /dev/gpiochip0}")],
            ["appliance.yaml:28:5: fence_devices[1].line: required key is missing; expected a line offset (0 or more) or a line name of 1 to 31 printable characters"]),
        new("bad gpio chip", [("chip: /dev/gpiochip0, line: 18}", "chip: gpio0, line: 18}")],
            ["appliance.yaml:28:48: fence_devices[1].chip: expected a GPIO chip: /dev/gpiochipN, gpiochipN or sim:/directory, got 'gpio0'"]),
        new("duplicate fence device", [("{name: relay-beta, kind: gpio-relay", "{name: relay-alpha, kind: gpio-relay")],
            ["appliance.yaml:28:12: fence_devices[1].name: fence device name 'relay-alpha' is already used by fence_devices[0]"]),
        // What the daemon refuses when it builds a fence-agent device (FenceAgentProtocol.ParameterError)
        // must fail here, not at every start (a crash loop under Restart=always).
        new("fence agent parameter with a line break", [(Pdu, Pdu + "\n  - {name: ipmi, kind: fence-agent, agent: fence_ipmilan, params: [ipaddr=10.0.0.5, \"passwd=a\\nlogin=root\"]}")],
            ["appliance.yaml:30:85: fence_devices[3].params[1]: fence agent option passwd: a value cannot contain a line break"]),
        new("fence agent parameter the fencer sets", [(Pdu, Pdu + "\n  - {name: ipmi, kind: fence-agent, agent: fence_ipmilan, params: [plug=3]}")],
            ["appliance.yaml:30:68: fence_devices[3].params[0]: fence agent parameter 'plug' is set by the fencer, not the configuration"]),
        new("fence agent parameters action, nodename and the alias port", [(Pdu, Pdu + "\n  - {name: ipmi, kind: fence-agent, agent: fence_ipmilan, params: [action=off, ipaddr=10.0.0.5, nodename=beta, port=3]}")],
            [
                "appliance.yaml:30:68: fence_devices[3].params[0]: fence agent parameter 'action' is set by the fencer, not the configuration",
                "appliance.yaml:30:97: fence_devices[3].params[2]: fence agent parameter 'nodename' is set by the fencer, not the configuration",
                "appliance.yaml:30:112: fence_devices[3].params[3]: fence agent parameter 'port' is set by the fencer, not the configuration",
            ]),
        new("fence agent parameter longer than an agent reads", [(Pdu, Pdu + "\n  - {name: ipmi, kind: fence-agent, agent: fence_ipmilan, params: [ipaddr=" + new string('x', 4090) + "]}")],
            ["appliance.yaml:30:68: fence_devices[3].params[0]: fence agent option ipaddr: longer than 4096 characters"]),
        new("two documents", [],
            ["appliance.yaml:30:1: expected a single YAML document, found a second one here"], Text: ConfigSamples.Base + "---\nmore: 1\n"),
        new("missing sections", [],
            [
                "appliance.yaml:1:1: cluster: required key is missing; expected a map",
                "appliance.yaml:1:1: nodes: required key is missing; expected a list of exactly 2 nodes",
            ], Text: "{}\n"),
        new("undefined alias", [],
            ["appliance.yaml:1:10: alias '*c' refers to no anchor defined before it"], Text: "cluster: *c\n"),
        new("complex key", [],
            [
                "appliance.yaml:1:1: cluster: required key is missing; expected a map",
                "appliance.yaml:1:1: nodes: required key is missing; expected a list of exactly 2 nodes",
                "appliance.yaml:1:3: expected a key name, got a list",
            ], Text: "? [a, b]\n: c\n"),
        // ---- director (issue 9): edits of ConfigSamples.WithDirector ----
        new("director: listen is not a vip's address", [("listen: 203.0.113.10:80/tcp", "listen: 203.0.113.99:80/tcp")],
            ["appliance.yaml:40:15: director.services[0].listen: listen address 203.0.113.99 is not the address of a vip resource (vip resources: vip-web 203.0.113.10/24, vip-web6 2001:db8::10/64, gw-inside 10.0.0.254/24, gw-inside6 fd00:77::254/64); the director balances only addresses the pair floats"], On: D),
        new("director: nat without an inside VIP of the family", [("inside_vips: [gw-inside, gw-inside6]", "inside_vips: [gw-inside6]")],
            ["appliance.yaml:42:19: director.services[0].forwarding: forwarding nat needs an IPv4 inside VIP: add a vip resource on the real servers' side and name it in director.inside_vips"], On: D),
        new("director: inside_vips names no vip resource", [("inside_vips: [gw-inside, gw-inside6]", "inside_vips: [gw-insde, gw-inside6]")],
            ["appliance.yaml:36:16: director.inside_vips: vip resource 'gw-insde' is not defined; did you mean 'gw-inside'?"], On: D),
        new("director: two inside VIPs of one family", [("inside_vips: [gw-inside, gw-inside6]", "inside_vips: [gw-inside, vip-web]")],
            ["appliance.yaml:36:16: director.inside_vips: 'gw-inside' and 'vip-web' are both IPv4; name at most one inside VIP per address family"], On: D),
        new("director: nat real server off the inside subnet", [("address: 10.0.0.11:8080", "address: 10.0.1.11:8080")],
            ["appliance.yaml:47:21: director.services[0].real_servers[0].address: real server 10.0.1.11 is not on the inside VIP's subnet (gw-inside 10.0.0.254/24); in nat mode it must route back through that VIP (or use forwarding: snat)"], On: D),
        new("director: weight above 256", [("weight: 2, capacity: 500", "weight: 257, capacity: 500")],
            ["appliance.yaml:47:45: director.services[0].real_servers[0].weight: weight (257) must be from 0 to 256"], On: D),
        new("director: persistence timeout beyond a day", [("timeout: 300s, granularity: 24", "timeout: 1500m, granularity: 24")],
            ["appliance.yaml:43:30: director.services[0].persistence.timeout: timeout (1500m) must be at most 1440m"], On: D),
        new("director: persistence timeout below a second", [("timeout: 300s, granularity: 24", "timeout: 500ms, granularity: 24")],
            ["appliance.yaml:43:30: director.services[0].persistence.timeout: timeout (500ms) must be at least 1s"], On: D),
        new("director: granularity above 32 for IPv4", [("timeout: 300s, granularity: 24", "timeout: 300s, granularity: 64")],
            ["appliance.yaml:43:49: director.services[0].persistence.granularity: granularity (64) must be at most 32 for an IPv4 service"], On: D),
        new("director: duplicate service name", [("- name: dns6", "- name: web")],
            ["appliance.yaml:50:13: director.services[1].name: service name 'web' is already used by director.services[0]"], On: D),
        new("director: duplicate listen", [("listen: \"[2001:db8::10]:53/udp\"", "listen: 203.0.113.10:80/tcp"), ("real_servers: [{address: \"[2001:db8:1::11]:53\"}, {address: \"[2001:db8:1::12]:53\", weight: 3}]", "real_servers: [{address: 10.0.0.13:53}]")],
            ["appliance.yaml:51:15: director.services[1].listen: listen 203.0.113.10:80/tcp is already used by service 'web'"], On: D),
        new("director: sorry server of the other family", [("sorry_server: 10.0.0.250:80", "sorry_server: \"[fd00:77::250]:80\"")],
            ["appliance.yaml:49:21: director.services[0].sorry_server: sorry server [fd00:77::250]:80 is IPv6 but the service listens on IPv4; the director does not translate between families"], On: D),
        new("director: real server of the other family", [("{address: \"[2001:db8:1::12]:53\", weight: 3}", "{address: 10.0.0.12:53}")],
            ["appliance.yaml:54:66: director.services[1].real_servers[1].address: real server 10.0.0.12:53 is IPv4 but the service listens on IPv6; the director does not translate between families"], On: D),
        new("director: duplicate real server", [("address: 10.0.0.12:8080", "address: 10.0.0.11:8080")],
            ["appliance.yaml:48:21: director.services[0].real_servers[1].address: real server 10.0.0.11:8080 is already listed at director.services[0].real_servers[0]"], On: D),
        new("director: bad protocol", [("listen: 203.0.113.10:80/tcp", "listen: 203.0.113.10:80/sctp")],
            ["appliance.yaml:40:15: director.services[0].listen: listen (203.0.113.10:80/sctp): the protocol must be tcp or udp"], On: D),
        new("director: unbracketed IPv6 real server", [("address: \"[2001:db8:1::11]:53\"", "address: \"2001:db8:1::11:53\"")],
            ["appliance.yaml:54:32: director.services[1].real_servers[0].address: expected an address and port, like 10.0.0.11:8080 or [fd00::11]:8080, got the quoted string '2001:db8:1::11:53'"], On: D),
        new("director: bad scheduler", [("scheduler: wrr", "scheduler: lc")],
            ["appliance.yaml:41:18: director.services[0].scheduler: expected rr, wrr, sh or random, got 'lc'"], On: D),
        new("director: check timeout not below interval", [("interval: 2s, timeout: 1s", "interval: 2s, timeout: 2s")],
            ["appliance.yaml:45:78: director.services[0].check.timeout: timeout (2s) must be less than interval (2s)"], On: D),
        new("director: no real servers", [("real_servers: [{address: \"[2001:db8:1::11]:53\"}, {address: \"[2001:db8:1::12]:53\", weight: 3}]", "real_servers: []")],
            ["appliance.yaml:54:21: director.services[1].real_servers: expected 1 to 4096 real servers, got 0"], On: D),
        new("director: sync peer of another family", [("peer: 10.99.0.2}", "peer: \"fd00:99::2\"}")],
            ["appliance.yaml:37:51: director.sync.peer: peer (fd00:99::2) and local (10.99.0.1) must be of the same address family"], On: D),
        new("null value", [("name: edge", "name:")],
            ["appliance.yaml:2:8: cluster.name: expected a name of 1 to 32 characters a-z, 0-9 or '-', got nothing"]),
    ];

    public static TheoryData<string> CaseNames() => new(Cases.Select(c => c.Name));

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void BadConfig_GivesExactlyTheseErrors(string name)
    {
        var c = Cases.Single(x => x.Name == name);
        var result = ConfigLoader.Load(F, c.Yaml());

        Assert.False(result.Ok);
        Assert.Null(result.Config);
        var actual = result.Errors.Select(e => e.ToString()).ToArray();
        Assert.True(c.Expected.SequenceEqual(actual),
            $"case '{name}'\nexpected:\n  {string.Join("\n  ", c.Expected)}\nactual:\n  {string.Join("\n  ", actual)}\n" +
            $"as code:\n{string.Join(",\n", actual.Select(a => "\"" + a.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\""))}");
    }

    [Fact]
    public void Table_HasAtLeastTwentyCases_AndUniqueNames()
    {
        Assert.True(Cases.Length >= 20);
        Assert.Equal(Cases.Length, Cases.Select(c => c.Name).Distinct().Count());
    }

    [Fact]
    public void TheBase_IsValid()
    {
        var result = ConfigLoader.Load(F, ConfigSamples.Base);
        Assert.True(result.Ok, string.Join("\n", result.Errors));
    }

    [Fact]
    public void TheDirectorBase_IsValid()
    {
        var result = ConfigLoader.Load(F, ConfigSamples.WithDirector);
        Assert.True(result.Ok, string.Join("\n", result.Errors));
    }
}
