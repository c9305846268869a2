using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;

namespace Appliance.Core.Config;

// The `director:` section (DESIGN.md section 6, issue 9): virtual services to real servers,
// compiled into `table inet appliance` by Director/NftCompiler.

/// <summary>The transport protocol of a virtual service.</summary>
public enum L4Protocol { Tcp, Udp }

/// <summary>How new clients are spread over the schedulable real servers.</summary>
public enum DirectorScheduler
{
    /// <summary>Round robin, weights ignored: <c>numgen inc mod N</c>.</summary>
    Rr,
    /// <summary>Smooth weighted round robin: interleaved slots over <c>numgen inc mod SUM</c>.</summary>
    Wrr,
    /// <summary>Source hash, weighted, with a seed derived from the cluster name (the same on both nodes and every reload).</summary>
    Sh,
    /// <summary>Weighted random: <c>numgen random mod SUM</c> over intervals.</summary>
    Random,
}

/// <summary>How balanced packets reach the real servers and come back.</summary>
public enum DirectorForwarding
{
    /// <summary>Destination NAT only; the real servers route back through the inside gateway VIP.</summary>
    Nat,
    /// <summary>Destination and source NAT: the real servers see the inside VIP as the client.</summary>
    Snat,
}

/// <summary>The operator's state of a real server in the config; health checks add up/down.</summary>
public enum RealServerAdminState
{
    Up,
    /// <summary>Takes no new clients; established and persisted clients stay (like weight 0).</summary>
    Drain,
}

public enum DirectorCheckKind { Tcp, Http, Exec, None }

/// <summary>
/// What a real server is before its check has judged it: `up` (keepalived's default, `alpha` off)
/// or `down` (keepalived's `alpha`: it must pass `rise` checks first).
/// </summary>
public enum CheckStart { Up, Down }

/// <summary>HTTP status codes that pass an http check: one code (<c>200</c>) or a range (<c>200-299</c>, keepalived's default).</summary>
public readonly record struct HttpStatusRange(int Low, int High)
{
    public static HttpStatusRange Single(int code) => new(code, code);

    public bool Contains(int code) => code >= Low && code <= High;

    public override string ToString() => Low == High ? Low.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{Low}-{High}";
}

/// <summary>A virtual service's address: <c>203.0.113.10:80/tcp</c>, <c>[2001:db8::10]:80/tcp</c>.</summary>
public readonly record struct ServiceListen(IPAddress Address, int Port, L4Protocol Protocol)
{
    public bool IsIPv6 => Address.AddressFamily == AddressFamily.InterNetworkV6;

    public override string ToString() =>
        (IsIPv6 ? $"[{Address}]" : Address.ToString()) + $":{Port}/{(Protocol == L4Protocol.Tcp ? "tcp" : "udp")}";
}

/// <summary>
/// Client affinity: clients of one prefix (<paramref name="Granularity"/> bits of the source address)
/// stay on one real server while they keep coming within <paramref name="Timeout"/>.
/// </summary>
public sealed record PersistenceConfig(TimeSpan Timeout, int Granularity);

/// <summary>
/// keepalived's quorum: the service takes new clients on its real servers while their live weight is
/// at least <paramref name="MinWeight"/>; once lost, it comes back at <c>MinWeight + Hysteresis</c>
/// and is lost below <c>MinWeight - Hysteresis</c>. Without quorum the sorry server takes new clients.
/// </summary>
public sealed record QuorumConfig(int MinWeight, int Hysteresis)
{
    public static readonly QuorumConfig Default = new(1, 0);
}

/// <summary>
/// The health check of a service's real servers (issue 9 part 3). Kind-specific fields: http
/// <paramref name="Path"/>, <paramref name="Expect"/>, <paramref name="Host"/>, <paramref name="Body"/>
/// (a substring the answer must contain); exec <paramref name="Command"/>.
/// </summary>
public sealed record DirectorCheckConfig(DirectorCheckKind Kind, TimeSpan Interval, TimeSpan Timeout, int Rise, int Fall,
    string? Path, HttpStatusRange Expect, string? Host, string? Command, string? Body = null, CheckStart Start = CheckStart.Up)
{
    public static readonly DirectorCheckConfig Default =
        new(DirectorCheckKind.Tcp, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1), 2, 3, null, HttpStatusRange.Single(200), null, null);
}

/// <summary>A real server of a service. <paramref name="Capacity"/>: connections it can carry, for the N-1 warning; null: unknown.</summary>
public sealed record RealServerConfig(IPEndPoint Address, int Weight, int? Capacity, RealServerAdminState State);

public sealed record VirtualServiceConfig(
    string Name, ServiceListen Listen, DirectorScheduler Scheduler, DirectorForwarding Forwarding,
    PersistenceConfig? Persistence, QuorumConfig Quorum, DirectorCheckConfig Check,
    ImmutableArray<RealServerConfig> RealServers, IPEndPoint? SorryServer);

/// <summary>conntrackd FTFW between the two directors over <paramref name="Interface"/>.</summary>
public sealed record ConntrackSyncConfig(string Interface, IPAddress Local, IPAddress Peer, int Port);

/// <summary>
/// An inside VIP: a <c>vip</c> resource named in <c>director.inside_vips</c>, on the real servers'
/// side. In nat mode the real servers' default gateway, in snat mode the source of balanced packets.
/// </summary>
public sealed record InsideVip(string Resource, IpPrefix Address, string Interface)
{
    public bool IsIPv6 => Address.Address.AddressFamily == AddressFamily.InterNetworkV6;
}

public sealed record DirectorConfig(ImmutableArray<InsideVip> InsideVips, ConntrackSyncConfig? Sync, ImmutableArray<VirtualServiceConfig> Services)
{
    /// <summary>The inside VIP of the address family of <paramref name="ipv6"/>; null when none is configured.</summary>
    public InsideVip? InsideFor(bool ipv6) => InsideVips.FirstOrDefault(v => v.IsIPv6 == ipv6);
}
