using System.Collections.Immutable;
using System.Net;

namespace Appliance.Core.Config;

/// <summary>What to do when the peer is dead and cannot be heard (DESIGN.md section 5).</summary>
public enum FencingMode
{
    /// <summary>Fence before any takeover; no fence, no takeover.</summary>
    Required,
    /// <summary>Take over from a dead peer without fencing; the operator accepted the risk.</summary>
    Off,
}

public enum LinkKind { Serial, Udp }

/// <summary>Heartbeat timers. Validated: keepalive &lt; warntime &lt; deadtime &lt;= initdead, deadtime &gt; 2 x keepalive.</summary>
public sealed record Timers(TimeSpan Keepalive, TimeSpan Warntime, TimeSpan Deadtime, TimeSpan Initdead)
{
    public static readonly Timers Default = new(
        TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(600),
        TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));
}

public sealed record ClusterConfig(
    string Name,
    string KeyFile,
    bool AutoFailback,
    FencingMode Fencing,
    Timers Timers)
{
    /// <summary>Fixed part of the wait before a node that holds nothing fences its peer (DESIGN.md section 5).</summary>
    public TimeSpan FenceDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Upper bound of the random part added to <see cref="FenceDelay"/>, so two nodes do not fence each other at once.</summary>
    public TimeSpan FenceDelayRandom { get; init; } = TimeSpan.FromMilliseconds(500);
}

/// <summary>A heartbeat link of one node. Links pair up across the two nodes by name.</summary>
public abstract record LinkConfig(string Name)
{
    public abstract LinkKind Kind { get; }

    /// <summary>
    /// The link's own keepalive as written (a whole multiple of the cluster's); null: the fastest its
    /// medium carries (see <see cref="Heartbeat.LinkCadence"/>).
    /// </summary>
    public TimeSpan? Keepalive { get; init; }
}

/// <summary>A null-modem serial link: raw 8N1 at <paramref name="Baud"/>.</summary>
public sealed record SerialLinkConfig(string Name, string Device, int Baud) : LinkConfig(Name)
{
    public override LinkKind Kind => LinkKind.Serial;
}

/// <summary>
/// A UDP link. Unicast to <paramref name="Peer"/>, or, when <paramref name="Group"/> is set,
/// multicast to the group (joined on the interface that carries <paramref name="Local"/>).
/// </summary>
public sealed record UdpLinkConfig(string Name, IPAddress Local, IPAddress? Peer, IPAddress? Group, int Port)
    : LinkConfig(Name)
{
    public override LinkKind Kind => LinkKind.Udp;
}

/// <summary>An address with its prefix length, as `ip addr` writes it: 203.0.113.10/24.</summary>
public readonly record struct IpPrefix(IPAddress Address, int Length)
{
    public override string ToString() => $"{Address}/{Length}";
}

/// <remarks><see cref="ConntrackSync"/> is not written in a config: the node adds it when <c>director.sync</c> is set.</remarks>
public enum ResourceKind { Vip, Exec, Lsb, Ocf, ConntrackSync }

/// <summary>Something the active node runs; started in list order, stopped in reverse.</summary>
public abstract record ResourceConfig(string Name)
{
    public abstract ResourceKind Kind { get; }

    /// <summary>How often the active node checks that the started resource still runs; zero: never.</summary>
    public TimeSpan MonitorInterval { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>The virtual IP: added to <paramref name="Interface"/> and announced by gratuitous ARP / unsolicited NA.</summary>
public sealed record VipResourceConfig(string Name, IpPrefix Address, string Interface) : ResourceConfig(Name)
{
    public override ResourceKind Kind => ResourceKind.Vip;

    /// <summary>When to announce after the first burst; see <see cref="Net.GarpSchedule"/>.</summary>
    public Net.GarpSchedule Garp { get; init; } = Net.GarpSchedule.Default;
}

public enum MonitorKind { Tcp, Http, Exec, Ping }

/// <summary>
/// A local check (DESIGN.md section 1, monitors): the node is fit to hold resources while every
/// monitor is up. Up after <paramref name="Rise"/> passes in a row, down after <paramref name="Fall"/>
/// failures in a row. Kind-specific fields: tcp <paramref name="Address"/>; http <paramref name="Url"/>
/// and <paramref name="Expect"/>; exec <paramref name="Command"/> (/bin/sh -c, exit 0 passes); ping
/// <paramref name="Targets"/> (passes if any answers).
/// </summary>
public sealed record MonitorConfig(
    string Name, MonitorKind Kind, TimeSpan Interval, TimeSpan Timeout, int Rise, int Fall,
    IPEndPoint? Address, string? Url, int Expect, string? Command, ImmutableArray<IPAddress> Targets);

/// <summary>
/// A resource run by a program: <c>exec</c> (start/stop command lines, /bin/sh -c), <c>lsb</c> (an
/// init script called with start/stop, as heartbeat's haresources did) or <c>ocf</c> (an OCF agent
/// <c>provider:type</c> with OCF_RESKEY_* parameters). Exit 0 is success; each action is bounded by
/// <paramref name="Timeout"/>.
/// </summary>
public sealed record ScriptResourceConfig(
    string Name, ResourceKind ScriptKind, string? Start, string? Stop, string? Script, string? Agent,
    ImmutableArray<KeyValuePair<string, string>> Params, TimeSpan Timeout) : ResourceConfig(Name)
{
    public override ResourceKind Kind => ScriptKind;

    /// <summary>exec: the command line that checks it (exit 0: running); null: an exec resource is not monitored.</summary>
    public string? Monitor { get; init; }
}

public enum FenceDeviceKind { GpioRelay, SerialPdu, FenceAgent, Manual }

public enum FencePduProtocol { Rps10 }

/// <summary>What fencing leaves the target in: <c>off</c> (stays off until an operator acts) or <c>reboot</c>.</summary>
public enum FenceFinalAction { Off, Reboot }

/// <summary>
/// A STONITH device (DESIGN.md section 1, fencing). <paramref name="Timeout"/> bounds each single
/// action (off, on, status); <paramref name="Attempts"/> is how often one fencing round tries it
/// before moving to the node's next device.
/// </summary>
public abstract record FenceDeviceConfig(string Name, FenceFinalAction Action, TimeSpan Timeout, int Attempts)
{
    public abstract FenceDeviceKind Kind { get; }
}

/// <summary>A relay on a GPIO line of this board that cuts the target's power while the line is active.</summary>
public sealed record GpioRelayFenceConfig(string Name, FenceFinalAction Action, TimeSpan Timeout, int Attempts,
    string Chip, string Line, bool ActiveLow) : FenceDeviceConfig(Name, Action, Timeout, Attempts)
{
    public override FenceDeviceKind Kind => FenceDeviceKind.GpioRelay;
}

/// <summary>A serial power switch speaking WTI RPS-10; <paramref name="Outlets"/> maps node names to outlets '0'-'9'.</summary>
public sealed record SerialPduFenceConfig(string Name, FenceFinalAction Action, TimeSpan Timeout, int Attempts,
    string Device, ImmutableArray<KeyValuePair<string, char>> Outlets, TimeSpan MonitorInterval)
    : FenceDeviceConfig(Name, Action, Timeout, Attempts)
{
    public override FenceDeviceKind Kind => FenceDeviceKind.SerialPdu;
}

/// <summary>An external fence agent (<c>fence_*</c>) run with the stdin key=value protocol; plugs default to node names.</summary>
public sealed record FenceAgentFenceConfig(string Name, FenceFinalAction Action, TimeSpan Timeout, int Attempts,
    string Agent, ImmutableArray<KeyValuePair<string, string>> Params, ImmutableArray<KeyValuePair<string, string>> Plugs)
    : FenceDeviceConfig(Name, Action, Timeout, Attempts)
{
    public override FenceDeviceKind Kind => FenceDeviceKind.FenceAgent;
}

/// <summary>Meatware: an operator pulls the plug and says so with <c>appliancectl fence confirm NODE</c>.</summary>
public sealed record ManualFenceConfig(string Name, FenceFinalAction Action, TimeSpan Timeout, int Attempts)
    : FenceDeviceConfig(Name, Action, Timeout, Attempts)
{
    public override FenceDeviceKind Kind => FenceDeviceKind.Manual;
}

public sealed record NodeConfig(string Name, int Priority, ImmutableArray<LinkConfig> Links, ImmutableArray<string> Fence);

/// <summary>The whole validated configuration. Immutable; a reload builds a new one.</summary>
public sealed record ApplianceConfig(string SourcePath, ClusterConfig Cluster, ImmutableArray<NodeConfig> Nodes)
{
    /// <summary>What the active node runs, in start order.</summary>
    public ImmutableArray<ResourceConfig> Resources { get; init; } = ImmutableArray<ResourceConfig>.Empty;

    /// <summary>STONITH devices; each node's <c>fence</c> list names the ones that can fence it.</summary>
    public ImmutableArray<FenceDeviceConfig> FenceDevices { get; init; } = ImmutableArray<FenceDeviceConfig>.Empty;

    /// <summary>The devices that can fence <paramref name="node"/>, in the order they are tried.</summary>
    public ImmutableArray<FenceDeviceConfig> FenceLevels(NodeConfig node) =>
        [.. node.Fence.Select(name => FenceDevices.First(d => d.Name == name))];

    /// <summary>Local checks that make a half-dead node step down.</summary>
    public ImmutableArray<MonitorConfig> Monitors { get; init; } = ImmutableArray<MonitorConfig>.Empty;

    /// <summary>The NAT director's virtual services; null when the config has no <c>director</c> section.</summary>
    public DirectorConfig? Director { get; init; }

    /// <summary>Where the Prometheus text endpoint listens; null: none.</summary>
    public System.Net.IPEndPoint? MetricsListen { get; init; }

    /// <summary>The board profile (<c>board</c> or <c>applianced --board</c>); null: none named.</summary>
    public Board.BoardProfile? Board { get; init; }

    /// <summary>The front panel, resolved against <see cref="Board"/>; null: no panel.</summary>
    public Panel.PanelConfig? Panel { get; init; }

    public NodeConfig? FindNode(string name) => Nodes.FirstOrDefault(n => n.Name == name);

    /// <summary>The other node of the pair.</summary>
    public NodeConfig PeerOf(string name) => Nodes.First(n => n.Name != name);
}
