using System.Collections.Immutable;
using System.Net;

namespace Appliance.Core.Config;

/// <summary>
/// The option table: every config option, declared once with its type, default, bounds and help.
/// <see cref="ConfigLoader"/> reads the file with it, and <see cref="ConfigReference"/> renders the
/// reference from it. Leaves first: a map's schema needs its options constructed.
/// To add a section (fence_devices, resources, ...): declare its options and schema here, add it to
/// <see cref="Root"/>, and read it in ConfigLoader.
/// </summary>
internal static class ConfigSchema
{
    private static readonly NameType ClusterNameType = new(letterFirst: false);
    internal static readonly NameType NameType = new(letterFirst: true);
    private static readonly AbsolutePathType PathType = new();

    // ---- cluster.timers -------------------------------------------------------------------
    // Bounds: every timer is at least the fastest keepalive; keepalive below half the longest
    // deadtime and warntime below the longest deadtime follow from the rules, stated here so the
    // reference shows them and an out-of-range value gets the simpler message.

    public static readonly ScalarOption<TimeSpan> Keepalive = Option.Defaulted("keepalive",
        new DurationType(ConfigLimits.MinKeepalive, ConfigLimits.MaxDeadtime / 2), Timers.Default.Keepalive,
        "Interval between heartbeat frames on each link.");

    public static readonly ScalarOption<TimeSpan> Warntime = Option.Defaulted("warntime",
        new DurationType(ConfigLimits.MinKeepalive, ConfigLimits.MaxDeadtime), Timers.Default.Warntime,
        "Silence after which the peer is reported `warn` (late heartbeats), before it is declared dead.");

    public static readonly ScalarOption<TimeSpan> Deadtime = Option.Defaulted("deadtime",
        new DurationType(ConfigLimits.MinKeepalive, ConfigLimits.MaxDeadtime), Timers.Default.Deadtime,
        "Silence on every link after which the peer is declared dead and fenced, then its resources taken over.");

    public static readonly ScalarOption<TimeSpan> Initdead = Option.Defaulted("initdead",
        new DurationType(ConfigLimits.MinKeepalive, ConfigLimits.MaxInitdead), Timers.Default.Initdead,
        "At startup, how long to wait for a peer never heard before treating it as dead; covers the peer's boot.");

    /// <summary>The timer sanity rules; the subject is the option the error points at.</summary>
    public static readonly ImmutableArray<TimerRule> TimerRules =
    [
        new(Warntime, "{warntime} must be more than {keepalive}", t => t.Warntime > t.Keepalive),
        new(Deadtime, "{deadtime} must be more than {warntime}", t => t.Deadtime > t.Warntime),
        new(Deadtime, "{deadtime} must be more than 2 x {keepalive}", t => t.Deadtime > 2 * t.Keepalive),
        new(Deadtime, $"{{deadtime}} must be at most {ConfigLimits.AckWindowKeepalives} x {{keepalive}}, the acknowledgement window",
            t => t.Deadtime <= ConfigLimits.AckWindowKeepalives * t.Keepalive),
        new(Initdead, "{initdead} must be at least {deadtime}", t => t.Initdead >= t.Deadtime),
    ];

    public static readonly MapSchema TimersMap = new("cluster.timers",
        "Heartbeat timers (DESIGN.md section 4). The defaults detect a dead peer in about a second.",
        [Keepalive, Warntime, Deadtime, Initdead],
        rules: TimerRules.Select(r => r.Doc));

    // ---- cluster ---------------------------------------------------------------------------

    public static readonly ScalarOption<string> ClusterName = Option.Required("name", ClusterNameType,
        "Name of the cluster; its hash is in every heartbeat frame, so two clusters on one network ignore each other.");

    public static readonly ScalarOption<string> KeyFile = Option.Required("key_file", PathType,
        "File holding the shared heartbeat key (raw bytes, at least 32, mode 0600 or 0400); `appliancectl` can generate one.");

    public static readonly ScalarOption<bool> AutoFailback = Option.Defaulted("auto_failback", new BoolType(), false,
        "Move resources back to the higher-priority node when it recovers. Off by default: a failback is a second outage.");

    public static readonly ScalarOption<FencingMode> Fencing = Option.Defaulted("fencing",
        new EnumType<FencingMode>(("required", FencingMode.Required), ("off", FencingMode.Off)), FencingMode.Required,
        "`required`: never take over from a dead peer until it is fenced. `off`: take over without fencing; two active nodes become possible.");

    public static readonly SectionOption TimersSection = new("timers", Presence.Defaulted, TimersMap,
        "Heartbeat timers; see `cluster.timers`.");

    public static readonly ScalarOption<TimeSpan> FenceDelay = Option.Defaulted("fence_delay",
        new DurationType(TimeSpan.Zero, ConfigLimits.MaxFenceDelay), TimeSpan.FromSeconds(1),
        "How long a node that holds no resources waits before fencing its dead peer, so that in a true partition the active node fences first and service continues. The active node fences at once.");

    public static readonly ScalarOption<TimeSpan> FenceDelayRandom = Option.Defaulted("fence_delay_random",
        new DurationType(TimeSpan.Zero, ConfigLimits.MaxFenceDelay), TimeSpan.FromMilliseconds(500),
        "Upper bound of a random wait added to fence_delay, so two standby nodes never fence each other at the same instant.");

    public static readonly MapSchema ClusterMap = new("cluster",
        "The pair as a whole.",
        [ClusterName, KeyFile, AutoFailback, Fencing, FenceDelay, FenceDelayRandom, TimersSection]);

    // ---- nodes[].links[] -------------------------------------------------------------------

    public static readonly ScalarOption<string> LinkName = Option.Required("name", NameType,
        "Name of the link; the link of the same name on the other node is its other end.");

    public static readonly ScalarOption<LinkKind> LinkKindOption = Option.Required("kind",
        new EnumType<LinkKind>(("serial", LinkKind.Serial), ("udp", LinkKind.Udp)),
        "`serial`: a null-modem cable. `udp`: a network path, unicast or multicast.");

    public static readonly ScalarOption<TimeSpan> LinkKeepalive = Option.Optional("keepalive",
        new DurationType(ConfigLimits.MinKeepalive, ConfigLimits.MaxDeadtime / 2),
        "This link's own interval between frames, a whole multiple of `cluster.timers.keepalive`; its warntime and deadtime scale with it, so the link is judged against its own cadence. Left out: the cluster's keepalive on udp; on serial the smallest multiple whose frames the baud rate carries (`appliancectl config check` shows the figures).");

    public static readonly ScalarOption<string> SerialDevice = Option.Required("device", PathType,
        "Serial device, like `/dev/ttyS1`.");

    /// <summary>Standard termios rates a null-modem link runs at.</summary>
    public static readonly ImmutableArray<int> BaudRates =
        [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600];

    public static readonly ScalarOption<int> SerialBaud = Option.Defaulted("baud", new IntChoiceType(BaudRates), 115200,
        "Line speed, 8N1; both ends must agree.");

    public static readonly ScalarOption<IPAddress> UdpLocal = Option.Required("local", new IpAddressType(AddressRole.Unicast),
        "This node's address on the link; frames are sent from it, and a multicast group is joined on its interface.");

    public static readonly ScalarOption<IPAddress> UdpPeer = Option.Optional("peer", new IpAddressType(AddressRole.Unicast),
        "Unicast: the other node's `local` address. Set `peer` or `group`, not both.");

    public static readonly ScalarOption<IPAddress> UdpGroup = Option.Optional("group", new IpAddressType(AddressRole.Multicast),
        "Multicast: the group both nodes join. Set `peer` or `group`, not both.");

    public static readonly ScalarOption<int> UdpPort = Option.Defaulted("port", new IntRangeType(1, 65535), 694,
        "UDP port, the same on both nodes (694 is heartbeat's well-known port).");

    public static readonly MapSchema LinkMap = new("nodes[].links[]",
        "A heartbeat path to the other node. Both nodes list the same links, by name, with the same kind.",
        [LinkName, LinkKindOption, LinkKeepalive],
        new VariantSpec(LinkKindOption,
        [
            new VariantCase("serial", "a serial link", [SerialDevice, SerialBaud]),
            new VariantCase("udp", "a udp link", [UdpLocal, UdpPeer, UdpGroup, UdpPort]),
        ]),
        rules:
        [
            new("link names are unique within a node"),
            new("both nodes have the same links: same names, same kinds"),
            new("a serial link has the same baud on both nodes"),
            new("a link has the same keepalive on both nodes"),
            new($"a link's keepalive is a whole multiple of cluster.timers.keepalive, at most {Heartbeat.LinkCadence.MaxEveryTicks} of them; a serial link's is at least its frame's wire time over {Heartbeat.LinkCadence.SerialLineSharePercentMax}% (about {Heartbeat.LinkCadence.SerialFloor(115200).TotalMilliseconds.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)}ms at 115200 baud, {Heartbeat.LinkCadence.SerialFloor(921600).TotalMilliseconds.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)}ms at 921600)"),
            new("the peer is dead only when every link has been silent for its own deadtime (the cluster's deadtime times the link's keepalive multiple)"),
            new("a udp link sets exactly one of peer and group, of the same address family as local"),
            new("a unicast udp link: each node's peer is the other node's local"),
            new("a multicast udp link: both nodes use the same group"),
            new("a udp link has the same port on both nodes"),
        ]);

    // ---- nodes[] ---------------------------------------------------------------------------

    public static readonly ScalarOption<string> NodeName = Option.Required("name", NameType,
        "Name of the node (`alpha`, `beta`); `applianced --node` picks which one this machine is.");

    public static readonly ScalarOption<int> Priority = Option.Defaulted("priority", new IntRangeType(0, 255), 100,
        "Preference to hold the resources; the higher wins when both start together.");

    public static readonly ListOption Links = new("links", Presence.Required, LinkMap, 1, ConfigLimits.MaxLinksPerNode,
        "link", "links",
        "Heartbeat links of this node. Use at least two independent paths (serial and network) so one broken cable is not a split brain.");

    public static readonly ScalarOption<ImmutableArray<string>> Fence = Option.Defaulted("fence",
        new NameListType(NameType, ConfigLimits.MaxFenceDevicesPerNode, "fence device names"), [],
        "Devices that can fence THIS node, tried in order.");

    public static readonly MapSchema NodeMap = new("nodes[]",
        "One node of the pair.",
        [NodeName, Priority, Links, Fence],
        rules: [new("node names are unique")]);

    // ---- resources[] -----------------------------------------------------------------------

    public static readonly ScalarOption<string> ResourceName = Option.Required("name", NameType,
        "Name of the resource, shown by `appliancectl resources` and in the log.");

    public static readonly ScalarOption<ResourceKind> ResourceKindOption = Option.Required("kind",
        new EnumType<ResourceKind>(("vip", ResourceKind.Vip), ("exec", ResourceKind.Exec), ("lsb", ResourceKind.Lsb), ("ocf", ResourceKind.Ocf)),
        "`vip`: a virtual IP address that follows the active node. `exec`: start and stop command lines. `lsb`: an init script. `ocf`: an OCF resource agent.");

    public static readonly ScalarOption<string> ExecStart = Option.Required("start", new CommandType(),
        "exec: the command line that starts it (/bin/sh -c); exit 0 is success.");

    public static readonly ScalarOption<string> ExecStop = Option.Required("stop", new CommandType(),
        "exec: the command line that stops it; exit 0 is success, and stopping a stopped resource must succeed.");

    public static readonly ScalarOption<string> LsbScript = Option.Required("script", PathType,
        "lsb: the init script, called with `start` and `stop`, like `/etc/init.d/apache2`.");

    public static readonly ScalarOption<string> OcfAgent = Option.Required("agent", new OcfAgentType(),
        "ocf: the agent as provider:type, run from /usr/lib/ocf/resource.d/provider/type, like `heartbeat:IPaddr2`.");

    public static readonly ScalarOption<ImmutableArray<KeyValuePair<string, string>>> OcfParams = Option.Defaulted("params",
        new ParamListType(ConfigLimits.MaxOcfParams), [],
        "ocf: instance parameters as `name=value`, passed as OCF_RESKEY_name.");

    public static readonly ScalarOption<string> ExecMonitor = Option.Optional("monitor", new CommandType(),
        "exec: the command line that checks the started resource; exit 0 is running. Without it an exec resource is not monitored.");

    public static readonly ScalarOption<TimeSpan> ResourceMonitorInterval = Option.Defaulted("monitor_interval",
        new DurationType(TimeSpan.Zero, TimeSpan.FromHours(1)), TimeSpan.FromSeconds(10),
        "How often the active node checks the started resource (ocf: monitor, lsb: status, exec: monitor, vip: the address is still there). A failed check restarts it in place once; if that fails the node is unfit and hands over to a healthy peer. 0ms: never.");

    public static readonly ScalarOption<TimeSpan> ScriptTimeout = Option.Defaulted("timeout",
        new DurationType(TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10)), TimeSpan.FromSeconds(20),
        "exec, lsb, ocf: the longest a start or stop may take; longer is a failure (and the process is killed).");

    public static readonly ScalarOption<IpPrefix> VipAddress = Option.Required("address", new IpPrefixType(),
        "The virtual IP with its prefix length, like `203.0.113.10/24`; the same on both nodes.");

    public static readonly ScalarOption<string> VipInterface = Option.Required("interface", new InterfaceNameType(),
        "The interface that carries the VIP on each node, like `eth0`.");

    public static readonly ScalarOption<int> VipGarpRepeat = Option.Defaulted("garp_repeat",
        new IntRangeType(0, Net.GarpSchedule.RepeatMax), Net.GarpSchedule.Default.Repeat,
        "vip: announcements (gratuitous ARP request and reply, or unsolicited NA) after the first burst, for neighbours that missed it.");

    public static readonly ScalarOption<TimeSpan> VipGarpInterval = Option.Defaulted("garp_interval",
        new DurationType(TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(1)), Net.GarpSchedule.Default.Interval,
        "vip: time between those repeated announcements.");

    public static readonly ScalarOption<TimeSpan> VipGarpRefresh = Option.Defaulted("garp_refresh",
        new DurationType(TimeSpan.Zero, TimeSpan.FromHours(1)), Net.GarpSchedule.Default.Refresh,
        "vip: after the repeats, announce again every this long while the VIP is held; 0ms: never.");

    public static readonly MapSchema ResourceMap = new("resources[]",
        "Something the active node runs. Started in list order, stopped in reverse order.",
        [ResourceName, ResourceKindOption, ResourceMonitorInterval],
        new VariantSpec(ResourceKindOption,
        [
            new VariantCase("vip", "a vip resource", [VipAddress, VipInterface, VipGarpRepeat, VipGarpInterval, VipGarpRefresh]),
            new VariantCase("exec", "an exec resource", [ExecStart, ExecStop, ExecMonitor, ScriptTimeout]),
            new VariantCase("lsb", "an lsb resource", [LsbScript, ScriptTimeout]),
            new VariantCase("ocf", "an ocf resource", [OcfAgent, OcfParams, ScriptTimeout]),
        ]),
        rules: [new("resource names are unique")]);

    // ---- monitors[] ------------------------------------------------------------------------

    public static readonly ScalarOption<string> MonitorName = Option.Required("name", NameType,
        "Name of the monitor, shown in status and the log.");

    public static readonly ScalarOption<MonitorKind> MonitorKindOption = Option.Required("kind",
        new EnumType<MonitorKind>(("tcp", MonitorKind.Tcp), ("http", MonitorKind.Http), ("exec", MonitorKind.Exec), ("ping", MonitorKind.Ping)),
        "`tcp`: a connection succeeds. `http`: a GET answers `expect`. `exec`: a command exits 0. `ping`: any target answers an ICMP echo.");

    public static readonly ScalarOption<TimeSpan> MonitorInterval = Option.Defaulted("interval",
        new DurationType(TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1)), TimeSpan.FromSeconds(1),
        "Time between two probes.");

    public static readonly ScalarOption<TimeSpan> MonitorTimeout = Option.Defaulted("timeout",
        new DurationType(TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1)), TimeSpan.FromMilliseconds(800),
        "A probe that takes longer fails. Must be less than interval. The time is the service's: a deadline the daemon itself looks at more than 10ms late (held by load) gives the probe that long again, once, and a tcp connect the kernel has completed by then counts.");

    public static readonly ScalarOption<int> MonitorRise = Option.Defaulted("rise", new IntRangeType(1, 100), 2,
        "Passes in a row that bring a down monitor up.");

    public static readonly ScalarOption<int> MonitorFall = Option.Defaulted("fall", new IntRangeType(1, 100), 3,
        "Failures in a row that bring an up monitor down (and the node out of the running).");

    public static readonly ScalarOption<IPEndPoint> MonitorAddress = Option.Required("address", new EndpointType(),
        "tcp: the address and port to connect to, like `127.0.0.1:8080`.");

    public static readonly ScalarOption<string> MonitorUrl = Option.Required("url", new HttpUrlType(),
        "http: the URL to GET, like `http://127.0.0.1:8080/health`.");

    public static readonly ScalarOption<int> MonitorExpect = Option.Defaulted("expect", new IntRangeType(100, 599), 200,
        "http: the status code that passes.");

    public static readonly ScalarOption<string> MonitorCommand = Option.Required("command", new CommandType(),
        "exec: the command line (run with /bin/sh -c); exit status 0 passes.");

    public static readonly ScalarOption<ImmutableArray<IPAddress>> MonitorTargets = Option.Required("targets",
        new IpListType(ConfigLimits.MaxPingTargets),
        "ping: the addresses to ping, like the upstream gateway; the probe passes if any answers.");

    public static readonly MapSchema MonitorMap = new("monitors[]",
        "A local check. While any monitor is down the node does not hold resources: the active node hands them over to a healthy peer, a standby does not take them.",
        [MonitorName, MonitorKindOption, MonitorInterval, MonitorTimeout, MonitorRise, MonitorFall],
        new VariantSpec(MonitorKindOption,
        [
            new VariantCase("tcp", "a tcp monitor", [MonitorAddress]),
            new VariantCase("http", "an http monitor", [MonitorUrl, MonitorExpect]),
            new VariantCase("exec", "an exec monitor", [MonitorCommand]),
            new VariantCase("ping", "a ping monitor", [MonitorTargets]),
        ]),
        rules: [new("monitor names are unique"), new("timeout must be less than interval")]);

    // ---- fence_devices[] -------------------------------------------------------------------

    public static readonly ScalarOption<string> FenceDeviceName = Option.Required("name", NameType,
        "Name of the device; nodes list it in their `fence` list.");

    public static readonly ScalarOption<FenceDeviceKind> FenceDeviceKindOption = Option.Required("kind",
        new EnumType<FenceDeviceKind>(("gpio-relay", FenceDeviceKind.GpioRelay), ("serial-pdu", FenceDeviceKind.SerialPdu),
            ("fence-agent", FenceDeviceKind.FenceAgent), ("manual", FenceDeviceKind.Manual)),
        "`gpio-relay`: a relay on a GPIO line of this board in the target's power feed. `serial-pdu`: a power switch on a serial line. `fence-agent`: an external `fence_*` program. `manual`: an operator pulls the plug and confirms.");

    public static readonly ScalarOption<FenceFinalAction> FenceAction = Option.Defaulted("action",
        new EnumType<FenceFinalAction>(("off", FenceFinalAction.Off), ("reboot", FenceFinalAction.Reboot)), FenceFinalAction.Off,
        "`off`: the fenced node stays off until an operator acts (`appliancectl fence on NODE`). `reboot`: power it on again once it is verified off.");

    public static readonly ScalarOption<TimeSpan> FenceTimeout = Option.Defaulted("timeout",
        new DurationType(TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1)), TimeSpan.FromSeconds(10),
        "The longest one action (off, on, status) may take; longer counts as a timeout and is retried. For `manual`, how long one wait for the operator lasts before it is logged again.");

    public static readonly ScalarOption<int> FenceAttempts = Option.Defaulted("attempts", new IntRangeType(1, ConfigLimits.MaxFenceAttempts), 2,
        "Tries of this device in one fencing round before the node's next device is tried.");

    public static readonly ScalarOption<string> RelayChip = Option.Required("chip", new GpioChipType(),
        "gpio-relay: the GPIO chip, like `/dev/gpiochip0`; `sim:/dir` is the simulated chip of the lab.");

    public static readonly ScalarOption<string> RelayLine = Option.Required("line", new GpioLineType(),
        "gpio-relay: the line, by offset (`17`) or by its name in the board profile (`RELAY_BETA`). The relay cuts power while the line is active.");

    public static readonly ScalarOption<bool> RelayActiveLow = Option.Defaulted("active_low", new BoolType(), false,
        "gpio-relay: the line is active when low (the relay driver inverts).");

    public static readonly ScalarOption<FencePduProtocol> PduProtocol = Option.Defaulted("protocol",
        new EnumType<FencePduProtocol>(("rps10", FencePduProtocol.Rps10)), FencePduProtocol.Rps10,
        "serial-pdu: the switch's protocol; `rps10` is the WTI RPS-10 (9600 8N1).");

    public static readonly ScalarOption<string> PduDevice = Option.Required("device", PathType,
        "serial-pdu: the serial port the switch is on, like `/dev/ttyUSB0`.");

    public static readonly ScalarOption<ImmutableArray<KeyValuePair<string, int>>> PduOutlets = Option.Required("outlets",
        new NodeMapType<int>(new IntRangeType(0, 9), "outlets 0-9"),
        "serial-pdu: which outlet feeds which node, like `{alpha: 1, beta: 2}`.");

    public static readonly ScalarOption<TimeSpan> PduMonitor = Option.Defaulted("monitor_interval",
        new DurationType(TimeSpan.FromMilliseconds(500), TimeSpan.FromHours(1)), TimeSpan.FromSeconds(5),
        "serial-pdu: how often the open session is checked with a status query; a switch that stops answering is reported before it is needed.");

    public static readonly ScalarOption<string> AgentPath = Option.Required("agent", new FenceAgentPathType(),
        "fence-agent: the agent, like `fence_ipmilan` (in /usr/sbin) or an absolute path.");

    public static readonly ScalarOption<ImmutableArray<KeyValuePair<string, string>>> AgentParams = Option.Defaulted("params",
        new ParamListType(ConfigLimits.MaxFenceAgentParams, Core.Fencing.FenceAgentProtocol.ParameterError), [],
        $"fence-agent: options passed on the agent's stdin as `name=value`, like `ipaddr=10.0.0.5`; one line each, at most {Core.Fencing.FenceAgentProtocol.LineCharsMax} characters. `action`, `plug`, `nodename` (and the aliases `option`, `port`) are set by the fencer for each request and cannot be given here.");

    public static readonly ScalarOption<ImmutableArray<KeyValuePair<string, string>>> AgentPlugs = Option.Defaulted("plugs",
        new NodeMapType<string>(new PlugType(), "plug names"), [],
        "fence-agent: the plug (port) of each node; a node not listed is passed by its name.");

    public static readonly MapSchema FenceDeviceMap = new("fence_devices[]",
        "A STONITH device. A node is fenced by the devices its `fence` list names, tried in order; an off is verified by a status read before it counts.",
        [FenceDeviceName, FenceDeviceKindOption, FenceAction, FenceTimeout, FenceAttempts],
        new VariantSpec(FenceDeviceKindOption,
        [
            new VariantCase("gpio-relay", "a gpio-relay device", [RelayChip, RelayLine, RelayActiveLow]),
            new VariantCase("serial-pdu", "a serial-pdu device", [PduProtocol, PduDevice, PduOutlets, PduMonitor]),
            new VariantCase("fence-agent", "a fence-agent device", [AgentPath, AgentParams, AgentPlugs]),
            new VariantCase("manual", "a manual device", []),
        ]),
        rules:
        [
            new("fence device names are unique"),
            new("every name in a node's fence list is a fence device"),
            new("a serial-pdu in a node's fence list has an outlet for that node"),
        ]);

    // ---- director ---------------------------------------------------------------------------

    public static readonly ScalarOption<int> PersistenceGranularity = Option.Optional("granularity", new IntRangeType(1, 128),
        "Prefix length of the client address that sticks: clients of one prefix go to one real server. 1 to 32 for an IPv4 service, 1 to 128 for IPv6. Default 32 for IPv4 (one client address) and 64 for IPv6 (one client network: privacy addresses change).");

    public static readonly ScalarOption<TimeSpan> PersistenceTimeout = Option.Required("timeout",
        new DurationType(ConfigLimits.MinPersistenceTimeout, ConfigLimits.MaxPersistenceTimeout),
        "How long a client prefix stays on its real server after its last new connection.");

    public static readonly MapSchema PersistenceMap = new("director.services[].persistence",
        "Client affinity, like keepalived's persistence_timeout and persistence_granularity. Kept in the kernel (a dynamic map written by the packet path); not synced to the peer, so a failover starts fresh affinity (established connections survive anyway).",
        [PersistenceTimeout, PersistenceGranularity],
        rules: [new("granularity is at most 32 for an IPv4 service")]);

    public static readonly ScalarOption<int> QuorumMinWeight = Option.Defaulted("min_weight",
        new IntRangeType(0, ConfigLimits.MaxRealServersPerService * ConfigLimits.MaxRealServerWeight), QuorumConfig.Default.MinWeight,
        "Live weight (the sum of the weights of the real servers that are up and not draining) below which the service has no quorum and the sorry server takes new clients.");

    public static readonly ScalarOption<int> QuorumHysteresis = Option.Defaulted("hysteresis",
        new IntRangeType(0, ConfigLimits.MaxRealServersPerService * ConfigLimits.MaxRealServerWeight), QuorumConfig.Default.Hysteresis,
        "Damps flapping: quorum is lost below min_weight - hysteresis and comes back at min_weight + hysteresis.");

    public static readonly MapSchema QuorumMap = new("director.services[].quorum",
        "keepalived's quorum and hysteresis. Whatever the quorum, the sorry server takes new clients when no real server can.",
        [QuorumMinWeight, QuorumHysteresis]);

    public static readonly ScalarOption<DirectorCheckKind> CheckKindOption = Option.Required("kind",
        new EnumType<DirectorCheckKind>(("tcp", DirectorCheckKind.Tcp), ("http", DirectorCheckKind.Http), ("exec", DirectorCheckKind.Exec), ("none", DirectorCheckKind.None)),
        "`tcp`: a connection to the real server succeeds. `http`: a GET answers `expect`. `exec`: a command exits 0. `none`: always up (the operator drains by hand).");

    public static readonly ScalarOption<TimeSpan> CheckInterval = Option.Defaulted("interval",
        new DurationType(TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1)), DirectorCheckConfig.Default.Interval,
        "Time between two checks of one real server.");

    public static readonly ScalarOption<TimeSpan> CheckTimeout = Option.Defaulted("timeout",
        new DurationType(TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1)), DirectorCheckConfig.Default.Timeout,
        "A hard deadline on the whole check (connect, request and answer); must be less than interval. The time is the server's: a deadline the daemon itself looks at more than 10ms late (held by load) gives the check that long again, once.");

    public static readonly ScalarOption<int> CheckRise = Option.Defaulted("rise", new IntRangeType(1, 100), DirectorCheckConfig.Default.Rise,
        "Passes in a row that bring a down real server up.");

    public static readonly ScalarOption<int> CheckFall = Option.Defaulted("fall", new IntRangeType(1, 100), DirectorCheckConfig.Default.Fall,
        "Failures in a row that take an up real server out of scheduling.");

    public static readonly ScalarOption<string> CheckPath = Option.Defaulted("path", new UrlPathType(), "/",
        "http: the path to GET from the real server's address and port.");

    public static readonly ScalarOption<HttpStatusRange> CheckExpect = Option.Defaulted("expect", new StatusRangeType(), HttpStatusRange.Single(200),
        "http: the status code that passes, or a range of them (`200-299`).");

    public static readonly ScalarOption<string> CheckBody = Option.Optional("body", new BodyMatchType(),
        "http: a text the answer's body must contain (read up to 64 KiB, within the timeout); left out: the status alone decides.");

    public static readonly ScalarOption<CheckStart> CheckStartOption = Option.Defaulted("start",
        new EnumType<CheckStart>(("up", CheckStart.Up), ("down", CheckStart.Down)), CheckStart.Up,
        "A real server's state before its check has judged it. `up` (keepalived's default): a restarted daemon keeps sending new clients to its servers while the first checks run, and a dead one leaves after `fall` failures. `down` (keepalived's `alpha`): it takes new clients only after `rise` passes.");

    public static readonly ScalarOption<string> CheckHost = Option.Optional("host", new HostHeaderType(),
        "http: the Host header; default the real server's address.");

    public static readonly ScalarOption<string> CheckCommand = Option.Required("command", new CommandType(),
        "exec: the command line (run with /bin/sh -c, with the real server in $REAL_ADDRESS and $REAL_PORT); exit status 0 passes.");

    public static readonly MapSchema CheckMap = new("director.services[].check",
        "How each real server of the service is checked. Left out: `tcp` with the defaults below.",
        [CheckKindOption, CheckInterval, CheckTimeout, CheckRise, CheckFall, CheckStartOption],
        new VariantSpec(CheckKindOption,
        [
            new VariantCase("tcp", "a tcp check", []),
            new VariantCase("http", "an http check", [CheckPath, CheckExpect, CheckHost, CheckBody]),
            new VariantCase("exec", "an exec check", [CheckCommand]),
            new VariantCase("none", "a none check", []),
        ]),
        rules: [new("timeout must be less than interval")]);

    public static readonly ScalarOption<IPEndPoint> RealServerAddress = Option.Required("address", new ServerEndpointType(),
        "The real server's address and port, like `10.0.0.11:8080` or `[fd00::11]:8080`; the service's address family.");

    public static readonly ScalarOption<int> RealServerWeight = Option.Defaulted("weight", new IntRangeType(0, ConfigLimits.MaxRealServerWeight), 1,
        "Share of new clients relative to the other real servers (wrr, sh, random; rr ignores it). 0: drain, no new clients.");

    public static readonly ScalarOption<int> RealServerCapacity = Option.Optional("capacity", new IntRangeType(1, 10_000_000),
        "Connections the real server can carry; with it the director warns when losing the busiest real server would overload the rest.");

    public static readonly ScalarOption<RealServerAdminState> RealServerState = Option.Defaulted("state",
        new EnumType<RealServerAdminState>(("up", RealServerAdminState.Up), ("drain", RealServerAdminState.Drain)), RealServerAdminState.Up,
        "`drain`: no new clients; established connections and persisted clients stay. `appliancectl drain` does the same at run time.");

    public static readonly MapSchema RealServerMap = new("director.services[].real_servers[]",
        "A real server of the service.",
        [RealServerAddress, RealServerWeight, RealServerCapacity, RealServerState],
        rules: [new("addresses are unique within a service"), new("the address family is the service's")]);

    public static readonly ScalarOption<string> ServiceName = Option.Required("name", NameType,
        "Name of the service, shown in status and used by `appliancectl drain SERVICE SERVER`.");

    public static readonly ScalarOption<ServiceListen> ServiceListenOption = Option.Required("listen", new ListenType(),
        "The virtual service: the address of a `vip` resource, a port and tcp or udp, like `203.0.113.10:80/tcp` or `[2001:db8::10]:53/udp`.");

    public static readonly ScalarOption<DirectorScheduler> ServiceScheduler = Option.Defaulted("scheduler",
        new EnumType<DirectorScheduler>(("rr", DirectorScheduler.Rr), ("wrr", DirectorScheduler.Wrr), ("sh", DirectorScheduler.Sh), ("random", DirectorScheduler.Random)),
        DirectorScheduler.Wrr,
        "`rr`: round robin. `wrr`: smooth weighted round robin (interleaved, not in blocks). `sh`: weighted source hash, seeded from the cluster name, so both nodes and every reload send a client to the same server. `random`: weighted random.");

    public static readonly ScalarOption<DirectorForwarding> ServiceForwarding = Option.Defaulted("forwarding",
        new EnumType<DirectorForwarding>(("nat", DirectorForwarding.Nat), ("snat", DirectorForwarding.Snat)), DirectorForwarding.Nat,
        "`nat`: destination NAT; the real servers are on the inside VIP's subnet and route through it, and see the client's address. `snat`: also source NAT to the inside VIP; the real servers need no route back but see the inside VIP.");

    public static readonly SectionOption ServicePersistence = new("persistence", Presence.Optional, PersistenceMap,
        "Client affinity; see `director.services[].persistence`. Left out: none.");

    public static readonly SectionOption ServiceQuorum = new("quorum", Presence.Defaulted, QuorumMap,
        "See `director.services[].quorum`.");

    public static readonly SectionOption ServiceCheck = new("check", Presence.Defaulted, CheckMap,
        "See `director.services[].check`.");

    public static readonly ListOption RealServers = new("real_servers", Presence.Required, RealServerMap,
        1, ConfigLimits.MaxRealServersPerService, "real server", "real servers",
        "The real servers; see `director.services[].real_servers[]`.");

    public static readonly ScalarOption<IPEndPoint> SorryServer = Option.Optional("sorry_server", new ServerEndpointType(),
        "Takes new clients when no real server can (all down or draining, or no quorum); the service's address family.");

    public static readonly MapSchema ServiceMap = new("director.services[]",
        "A virtual service, like keepalived's virtual_server.",
        [ServiceName, ServiceListenOption, ServiceScheduler, ServiceForwarding, ServicePersistence, ServiceQuorum, ServiceCheck, RealServers, SorryServer],
        rules:
        [
            new("service names are unique, and so are listen addresses"),
            new("the listen address is the address of a `vip` resource"),
            new("nat and snat need an inside VIP (`director.inside_vips`) of the service's address family"),
            new("nat: every real and sorry server is on the inside VIP's subnet"),
        ]);

    public static readonly ScalarOption<string> SyncInterface = Option.Required("interface", new InterfaceNameType(),
        "The interface of the dedicated sync link between the two directors, like `eth2`.");

    public static readonly ScalarOption<IPAddress> SyncLocal = Option.Required("local", new IpAddressType(AddressRole.Unicast),
        "The first node's (`nodes[0]`) address on the sync link; the config is one file for both nodes, so the second node uses `peer` as its own and this as its peer's.");

    public static readonly ScalarOption<IPAddress> SyncPeer = Option.Required("peer", new IpAddressType(AddressRole.Unicast),
        "The second node's (`nodes[1]`) address on the sync link; the same address family as local.");

    public static readonly ScalarOption<int> SyncPort = Option.Defaulted("port", new IntRangeType(1, 65535), 3780,
        "UDP port of conntrackd's FTFW sync.");

    public static readonly MapSchema SyncMap = new("director.sync",
        "Connection sync (conntrackd FTFW), so established connections survive a failover.",
        [SyncInterface, SyncLocal, SyncPeer, SyncPort]);

    public static readonly ScalarOption<ImmutableArray<string>> InsideVips = Option.Defaulted("inside_vips",
        new NameListType(NameType, ConfigLimits.MaxInsideVips, "vip resource names"), [],
        "The `vip` resources on the real servers' side, at most one per address family: the real servers' default gateway (nat) and the source address of balanced packets (snat). They move with the outside VIPs.");

    public static readonly SectionOption DirectorSync = new("sync", Presence.Optional, SyncMap,
        "See `director.sync`. Left out: no connection sync; a failover resets balanced connections.");

    public static readonly ListOption DirectorServices = new("services", Presence.Required, ServiceMap,
        1, ConfigLimits.MaxDirectorServices, "service", "services",
        "The virtual services; see `director.services[]`.");

    public static readonly MapSchema DirectorMap = new("director",
        "The NAT director: virtual services balanced to real servers in the kernel (nftables, `table inet appliance`, loaded on both nodes).",
        [InsideVips, DirectorSync, DirectorServices],
        rules:
        [
            new("every name in inside_vips is a `vip` resource, at most one per address family"),
            new($"at most {ConfigLimits.MaxDirectorServers} real and sorry servers over all services"),
        ]);

    // ---- top level -------------------------------------------------------------------------

    public static readonly SectionOption Cluster = new("cluster", Presence.Required, ClusterMap,
        "The pair as a whole; see `cluster`.");

    public static readonly ListOption Nodes = new("nodes", Presence.Required, NodeMap,
        ConfigLimits.NodeCount, ConfigLimits.NodeCount, "node", "nodes",
        "The two nodes of the pair; see `nodes[]`.");

    public static readonly ListOption Resources = new("resources", Presence.Defaulted, ResourceMap,
        0, ConfigLimits.MaxResources, "resource", "resources",
        "What the active node runs, in start order; see `resources[]`. None: the pair only heartbeats.");

    public static readonly ListOption Monitors = new("monitors", Presence.Defaulted, MonitorMap,
        0, ConfigLimits.MaxMonitors, "monitor", "monitors",
        "Local checks; see `monitors[]`.");

    public static readonly ListOption FenceDevices = new("fence_devices", Presence.Defaulted, FenceDeviceMap,
        0, ConfigLimits.MaxFenceDevices, "fence device", "fence devices",
        "STONITH devices; see `fence_devices[]`.");

    public static readonly SectionOption Director = new("director", Presence.Optional, DirectorMap,
        "The NAT director; see `director`. Left out: no virtual services.");

    public static readonly ScalarOption<System.Net.IPEndPoint> MetricsListen = Option.Required("listen", new EndpointType(),
        "Where the Prometheus text endpoint listens (`GET /metrics`), like `127.0.0.1:9469`; plain HTTP, no authentication: keep it on a management address.");

    public static readonly MapSchema MetricsMap = new("metrics",
        "A Prometheus text endpoint with the heartbeat, fencing, resource and director figures of this node, served off the heartbeat's path.",
        [MetricsListen]);

    public static readonly SectionOption Metrics = new("metrics", Presence.Optional, MetricsMap,
        "See `metrics`. Left out: no metrics endpoint.");

    public static readonly MapSchema Root = new("(top level)",
        "The config file, `/etc/appliance/appliance.yaml` by default.",
        [Cluster, Nodes, FenceDevices, Resources, Monitors, Director, Metrics, PanelSchema.Board, PanelSchema.Panel],
        expected: "a map with the keys cluster, nodes, fence_devices, resources, monitors, director, metrics, board and panel");
}

/// <summary>A timer sanity rule: its text (for the reference and the error) and its test.</summary>
internal sealed record TimerRule(ScalarOption<TimeSpan> Subject, string Template, Func<Timers, bool> Holds)
{
    public RuleDoc Doc => new(Template);

    public string Message(Timers t) => Doc.Render(name => $"{name} ({Duration.Format(Value(t, name))})");

    private static TimeSpan Value(Timers t, string name) => name switch
    {
        "keepalive" => t.Keepalive,
        "warntime" => t.Warntime,
        "deadtime" => t.Deadtime,
        "initdead" => t.Initdead,
        _ => throw new ArgumentException($"timer rule names an unknown timer '{name}'"),
    };
}
