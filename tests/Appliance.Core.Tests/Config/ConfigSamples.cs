namespace Appliance.Core.Tests.Config;

/// <summary>Config texts shared by the config tests.</summary>
internal static class ConfigSamples
{
    public const string File = "appliance.yaml";

    /// <summary>The DESIGN.md section 6 example (cluster and nodes), both nodes written out.</summary>
    public const string DesignExample = """
        cluster: {name: edge, key_file: /etc/appliance/authkey, auto_failback: false, fencing: required,
                  timers: {keepalive: 200ms, warntime: 600ms, deadtime: 1s, initdead: 10s}}
        nodes:
          - name: alpha
            priority: 100
            links:
              - {name: serial0, kind: serial, device: /dev/ttyS1, baud: 115200}
              - {name: lan1, kind: udp, local: 192.168.80.1, peer: 192.168.80.2, port: 694}
            fence: [relay-alpha, pdu]        # devices that can fence THIS node, tried in order
          - name: beta
            priority: 90
            links:
              - {name: serial0, kind: serial, device: /dev/ttyS0, baud: 115200}
              - {name: lan1, kind: udp, local: 192.168.80.2, peer: 192.168.80.1, port: 694}
            fence: [relay-beta, pdu]
        fence_devices:
          - {name: relay-alpha, kind: gpio-relay, chip: /dev/gpiochip0, line: 17, action: off}
          - {name: relay-beta, kind: gpio-relay, chip: /dev/gpiochip0, line: 18}
          - {name: pdu, kind: serial-pdu, protocol: rps10, device: /dev/ttyUSB0, outlets: {alpha: 1, beta: 2}}

        """;

    /// <summary>
    /// A valid config in block style, the base the bad-config table edits. Line numbers matter to
    /// the golden messages: change this and regenerate them.
    /// </summary>
    public const string Base = """
        cluster:
          name: edge
          key_file: /etc/appliance/authkey
          auto_failback: false
          fencing: required
          timers:
            keepalive: 200ms
            warntime: 600ms
            deadtime: 1s
            initdead: 10s
        nodes:
          - name: alpha
            priority: 100
            links:
              - {name: serial0, kind: serial, device: /dev/ttyS1, baud: 115200}
              - {name: lan1, kind: udp, local: 192.168.80.1, peer: 192.168.80.2, port: 694}
              - {name: mc, kind: udp, local: 10.1.0.1, group: 239.1.1.1}
            fence: [relay-alpha, pdu]
          - name: beta
            priority: 90
            links:
              - {name: serial0, kind: serial, device: /dev/ttyS0, baud: 115200}
              - {name: lan1, kind: udp, local: 192.168.80.2, peer: 192.168.80.1, port: 694}
              - {name: mc, kind: udp, local: 10.1.0.2, group: 239.1.1.1}
            fence: [relay-beta, pdu]
        fence_devices:
          - {name: relay-alpha, kind: gpio-relay, chip: /dev/gpiochip0, line: 17, action: off}
          - {name: relay-beta, kind: gpio-relay, chip: /dev/gpiochip0, line: 18}
          - {name: pdu, kind: serial-pdu, protocol: rps10, device: /dev/ttyUSB0, outlets: {alpha: 1, beta: 2}}

        """;

    /// <summary>
    /// <see cref="Base"/> with VIPs and a director (DESIGN.md section 6 shape): the base the director's
    /// bad-config cases edit. Line numbers matter to the golden messages.
    /// </summary>
    public const string WithDirector = Base + """
        resources:
          - {name: vip-web, kind: vip, address: 203.0.113.10/24, interface: eth0}
          - {name: vip-web6, kind: vip, address: 2001:db8::10/64, interface: eth0}
          - {name: gw-inside, kind: vip, address: 10.0.0.254/24, interface: eth1}
          - {name: gw-inside6, kind: vip, address: fd00:77::254/64, interface: eth1}
        director:
          inside_vips: [gw-inside, gw-inside6]
          sync: {interface: eth2, local: 10.99.0.1, peer: 10.99.0.2}
          services:
            - name: web
              listen: 203.0.113.10:80/tcp
              scheduler: wrr
              forwarding: nat
              persistence: {timeout: 300s, granularity: 24}
              quorum: {min_weight: 1, hysteresis: 0}
              check: {kind: http, path: /health, expect: 200, interval: 2s, timeout: 1s, rise: 2, fall: 3}
              real_servers:
                - {address: 10.0.0.11:8080, weight: 2, capacity: 500}
                - {address: 10.0.0.12:8080, state: drain}
              sorry_server: 10.0.0.250:80
            - name: dns6
              listen: "[2001:db8::10]:53/udp"
              scheduler: sh
              forwarding: snat
              real_servers: [{address: "[2001:db8:1::11]:53"}, {address: "[2001:db8:1::12]:53", weight: 3}]

        """;
}
