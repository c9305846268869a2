using System.Net.Sockets;
using Appliance.Core.Net;
using static Interop.Packet;

namespace Appliance.Linux.Net;

/// <summary>
/// Watches one interface for address claims: ARP requests and replies and ICMPv6 neighbour
/// advertisements, read by <see cref="ArpClaims"/>, through a packet(7) SOCK_RAW socket bound to
/// the interface for every protocol. A classic BPF filter in the kernel passes only those frames,
/// so the busy data path of a NAT director costs this socket nothing. Only moves bytes: what a
/// claim means is the caller's policy (<see cref="DuplicateVipJudge"/>). Needs CAP_NET_RAW.
/// </summary>
public sealed class ArpListener : IDisposable
{
    /// <summary>
    /// Bytes kept of each frame, by the filter and the receive buffer: the longest standard
    /// Ethernet frame with one 802.1Q tag, FCS excluded (IEEE 802.3: 1500 + 14 + 4). A claim fits
    /// many times over; a longer neighbour advertisement is cut short and then not believed.
    /// </summary>
    public const int FrameBytesMax = 1518;

    // Offsets in an untagged frame (the kernel has taken any 802.1Q tag out by the time a packet
    // socket sees a received frame): ethertype; IPv6 next header; the ICMPv6 type after a 40-byte
    // header with no extension headers.
    private const uint EtherTypeOffset = 12;
    private const uint Ipv6NextHeaderOffset = 14 + 6;
    private const uint IcmpV6TypeOffset = 14 + 40;
    private const uint NextHeaderIcmpV6 = 58;
    private const uint IcmpV6NeighborAdvertisement = 136;

    /// <summary>
    /// Keeps ARP and ICMPv6 neighbour advertisements (the parser checks the rest) and drops all
    /// else, including frames that came in with a VLAN tag: those belong to the VLAN's own
    /// interface (eth0.10), not to the one this socket is bound to, even though the kernel shows
    /// them here untagged. Jump offsets count instructions skipped.
    /// </summary>
    private static readonly SockFilter[] Filter =
    [
        /* 0 */ new(BPF_LD | BPF_W | BPF_ABS, 0, 0, unchecked((uint)(SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT))),
        /* 1 */ new(BPF_JMP | BPF_JEQ | BPF_K, 0, 8, 0),                       // tagged: drop (10)
        /* 2 */ new(BPF_LD | BPF_H | BPF_ABS, 0, 0, EtherTypeOffset),
        /* 3 */ new(BPF_JMP | BPF_JEQ | BPF_K, 5, 0, ETH_P_ARP),               // ARP: keep (9)
        /* 4 */ new(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, ETH_P_IPV6),              // not IPv6: drop (10)
        /* 5 */ new(BPF_LD | BPF_B | BPF_ABS, 0, 0, Ipv6NextHeaderOffset),
        /* 6 */ new(BPF_JMP | BPF_JEQ | BPF_K, 0, 3, NextHeaderIcmpV6),        // not ICMPv6: drop (10)
        /* 7 */ new(BPF_LD | BPF_B | BPF_ABS, 0, 0, IcmpV6TypeOffset),
        /* 8 */ new(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, IcmpV6NeighborAdvertisement), // NA: keep (9), else drop (10)
        /* 9 */ new(BPF_RET | BPF_K, 0, 0, FrameBytesMax),
        /* 10 */ new(BPF_RET | BPF_K, 0, 0, 0),
    ];

    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[FrameBytesMax];
    private long _received;
    private long _claims;

    private ArpListener(EthernetInterface link, Socket socket)
    {
        InterfaceName = link.Name;
        InterfaceIndex = link.Index;
        Mac = link.Mac;
        _socket = socket;
    }

    /// <summary>The interface watched.</summary>
    public string InterfaceName { get; }

    /// <summary>Its ifindex, read at open.</summary>
    public int InterfaceIndex { get; }

    /// <summary>The interface's own MAC, read at open: this node's claims come from it.</summary>
    public MacAddress Mac { get; }

    /// <summary>Frames the kernel's filter let through (received or sent on the interface).</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Of those, the ones that were claims and went to the callback.</summary>
    public long Claims => Interlocked.Read(ref _claims);

    /// <summary>
    /// Reads ifindex, type and MAC of <paramref name="interfaceName"/> from /sys/class/net and opens a
    /// filtered packet socket bound to it. Throws <see cref="NativeIoException"/> naming the
    /// interface when it does not exist (ENOENT) or the socket cannot be opened (EPERM without
    /// CAP_NET_RAW), filtered or bound; <see cref="IOException"/> naming it when it is not Ethernet.
    /// Nothing stays open on failure.
    /// </summary>
    /// <remarks>See <see cref="EthernetInterface.Read"/> about sysfs and network namespaces.</remarks>
    public static ArpListener Open(string interfaceName) => Open(interfaceName, EthernetInterface.SysClassNet);

    /// <summary><see cref="Open(string)"/> reading the interface's attributes under <paramref name="sysClassNet"/>.</summary>
    internal static ArpListener Open(string interfaceName, string sysClassNet)
    {
        var link = EthernetInterface.Read(interfaceName, sysClassNet);
        string step = "socket";
        Socket? socket = null;
        try
        {
            // Protocol 0 at first: nothing is queued before the filter is in place; bind starts the flow.
            socket = new Socket(AddressFamily.Packet, SocketType.Raw, ProtocolType.Unspecified);
            step = "SO_ATTACH_FILTER";
            AttachFilter(socket, Filter);
            step = "bind";
            socket.Bind(new LinkLayerEndPoint(link.Index, ETH_P_ALL));
            return new ArpListener(link, socket);
        }
        catch (SocketException ex)
        {
            socket?.Dispose();
            throw Interop.Sys.CreateIoException(step, interfaceName, ex.NativeErrorCode,
                ex.NativeErrorCode == Interop.Sys.EPERM ? "a packet socket needs CAP_NET_RAW" : null, ex);
        }
        catch
        {
            socket?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Receives frames until <paramref name="ct"/> is cancelled (then throws
    /// <see cref="OperationCanceledException"/>) and hands each claim to <paramref name="onClaim"/>,
    /// on a thread-pool thread, one at a time. Throws <see cref="NativeIoException"/> naming the
    /// interface when receiving fails (ENETDOWN: the interface went down or away; the socket then
    /// stays deaf to a re-created one, so the caller opens a new listener). One frame at a time into
    /// one buffer of <see cref="FrameBytesMax"/>; the kernel's socket buffer bounds the backlog.
    /// One call at a time; dispose the listener after it has ended.
    /// </summary>
    public async Task RunAsync(Action<ArpClaim> onClaim, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(onClaim);
        while (true)
        {
            int length;
            try
            {
                length = await _socket.ReceiveAsync(_buffer, SocketFlags.None, ct).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                throw Interop.Sys.CreateIoException("recv", InterfaceName, ex.NativeErrorCode, inner: ex);
            }
            Interlocked.Increment(ref _received);
            if (ArpClaims.TryParseClaim(_buffer.AsSpan(0, length), out ArpClaim claim))
            {
                Interlocked.Increment(ref _claims);
                onClaim(claim);
            }
        }
    }

    public void Dispose() => _socket.Dispose();

    public override string ToString() => $"ARP/NA listener on {InterfaceName} (ifindex {InterfaceIndex}, {Mac})";
}
