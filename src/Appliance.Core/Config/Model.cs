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
    Timers Timers);

/// <summary>A heartbeat link of one node. Links pair up across the two nodes by name.</summary>
public abstract record LinkConfig(string Name)
{
    public abstract LinkKind Kind { get; }
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

public enum ResourceKind { Vip, Exec, Lsb, Ocf }

/// <summary>Something the active node runs; started in list order, stopped in reverse.</summary>
public abstract record ResourceConfig(string Name)
{
    public abstract ResourceKind Kind { get; }
}

/// <summary>The virtual IP: added to <paramref name="Interface"/> and announced by gratuitous ARP / unsolicited NA.</summary>
public sealed record VipResourceConfig(string Name, IpPrefix Address, string Interface) : ResourceConfig(Name)
{
    public override ResourceKind Kind => ResourceKind.Vip;
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
}

public sealed record NodeConfig(string Name, int Priority, ImmutableArray<LinkConfig> Links, ImmutableArray<string> Fence);

/// <summary>The whole validated configuration. Immutable; a reload builds a new one.</summary>
public sealed record ApplianceConfig(string SourcePath, ClusterConfig Cluster, ImmutableArray<NodeConfig> Nodes)
{
    /// <summary>What the active node runs, in start order.</summary>
    public ImmutableArray<ResourceConfig> Resources { get; init; } = ImmutableArray<ResourceConfig>.Empty;

    /// <summary>Local checks that make a half-dead node step down.</summary>
    public ImmutableArray<MonitorConfig> Monitors { get; init; } = ImmutableArray<MonitorConfig>.Empty;

    public NodeConfig? FindNode(string name) => Nodes.FirstOrDefault(n => n.Name == name);

    /// <summary>The other node of the pair.</summary>
    public NodeConfig PeerOf(string name) => Nodes.First(n => n.Name != name);
}
