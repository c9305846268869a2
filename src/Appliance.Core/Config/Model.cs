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

public sealed record NodeConfig(string Name, int Priority, ImmutableArray<LinkConfig> Links, ImmutableArray<string> Fence);

/// <summary>The whole validated configuration. Immutable; a reload builds a new one.</summary>
public sealed record ApplianceConfig(string SourcePath, ClusterConfig Cluster, ImmutableArray<NodeConfig> Nodes)
{
    public NodeConfig? FindNode(string name) => Nodes.FirstOrDefault(n => n.Name == name);

    /// <summary>The other node of the pair.</summary>
    public NodeConfig PeerOf(string name) => Nodes.First(n => n.Name != name);
}
