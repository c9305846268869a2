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
}
