using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Appliance.Core.Config;
using Appliance.Core.Ports;

namespace Appliance.Linux.Links;

/// <summary>
/// A heartbeat link over UDP, unicast to the peer or multicast to a group. Non-blocking; Send and
/// Drain allocate nothing (the receive buffer and the multicast destination are built at
/// <see cref="Open"/>).
/// </summary>
/// <remarks>
/// <para>Unicast binds <c>Local:Port</c> exclusively (no SO_REUSEADDR: nobody else can bind it
/// while we hold it) and connects to <c>Peer:Port</c>, so the kernel drops datagrams from anyone
/// else before we spend an HMAC on them. A connected UDP socket also receives ICMP port-unreachable as a
/// pending ECONNREFUSED when the peer's daemon is down; that is the normal state of a peer that is
/// booting and is ignored, never reported as a lost device.</para>
/// <para>Multicast binds <c>Group:Port</c>, joins the group on the interface that has
/// <c>Local</c>, sends from that interface with TTL 1 (the peer is on the same segment) and loopback
/// off (we do not hear ourselves), and receives only the groups it joined (IP_MULTICAST_ALL 0).</para>
/// </remarks>
public sealed class UdpHeartbeatLink : IHeartbeatLink, ISharedDatagramLink
{
    /// <summary>Largest UDP payload over IPv4 (65535 - 20 IP - 8 UDP): nothing is ever truncated.</summary>
    public const int MaxDatagramBytes = 65_507;

    /// <summary>
    /// Most datagrams one <see cref="Drain"/> takes: a flood cannot hold the heartbeat thread;
    /// what is left wakes poll(2) again at once.
    /// </summary>
    public const int MaxDatagramsPerDrain = 256;

    /// <summary>Multicast TTL / hop limit: the two boards share one segment; never route heartbeats.</summary>
    public const int MulticastHops = 1;

    private readonly Socket _socket;
    private readonly SocketAddress? _groupAddress;
    private readonly byte[] _rxBuffer = new byte[MaxDatagramBytes];

    private UdpHeartbeatLink(string name, Socket socket, SocketAddress? groupAddress, LinkCounters counters)
    {
        Name = name;
        _socket = socket;
        _groupAddress = groupAddress;
        Counters = counters;
        PollFd = (int)socket.Handle;
    }

    public string Name { get; }

    public LinkKind Kind => LinkKind.Udp;

    public int PollFd { get; }

    /// <summary>Unused by UDP (no framing layer); kept so a reopen continues the node's counters.</summary>
    public LinkCounters Counters { get; }

    /// <summary>True for a multicast link.</summary>
    public bool IsMulticast => _groupAddress is not null;

    /// <summary>The bound address, for logs.</summary>
    public EndPoint? LocalEndPoint => _socket.LocalEndPoint;

    /// <summary>
    /// Creates, binds and (unicast) connects or (multicast) joins. Throws
    /// <see cref="NativeIoException"/> naming the link and the failed step (bind: address not on this
    /// host, port taken; join: no interface with Local); nothing is left open then.
    /// </summary>
    /// <param name="counters">Counters to continue after a reopen; a fresh set when null.</param>
    public static UdpHeartbeatLink Open(UdpLinkConfig config, LinkCounters? counters = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        Validate(config);

        AddressFamily family = config.Local.AddressFamily;
        string device = Describe(config);
        var socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        string step = "socket";
        try
        {
            socket.Blocking = false;
            SocketAddress? groupAddress = null;
            if (config.Group is { } group)
            {
                // Multicast only: every socket bound to a group:port gets its own copy of each
                // datagram, so sharing the port steals nothing (and frames are authenticated);
                // SO_REUSEADDR is what lets other receivers of the group on this host coexist.
                // Unicast must not set it: on Linux a second UDP socket with SO_REUSEADDR, of any
                // user, could bind the same Local:Port and take the peer's heartbeats from us.
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                step = "bind";
                socket.Bind(new IPEndPoint(group, config.Port));
                step = "join";
                JoinGroup(socket, group, config.Local);
                groupAddress = new IPEndPoint(group, config.Port).Serialize();
            }
            else
            {
                step = "bind";
                socket.Bind(new IPEndPoint(config.Local, config.Port));
                step = "connect";
                socket.Connect(new IPEndPoint(config.Peer!, config.Port));
            }
            return new UdpHeartbeatLink(config.Name, socket, groupAddress, counters ?? new LinkCounters());
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw Interop.Sys.CreateIoException(step, device, ex.NativeErrorCode, inner: ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sends <paramref name="frame"/> as one datagram. A full socket buffer is
    /// <see cref="LinkSendResult.WouldBlock"/>; anything the kernel refuses (ENETUNREACH, EPERM from a
    /// firewall, no address) is <see cref="LinkSendResult.Error"/>. The caller counts the result (see
    /// <see cref="LinkCounters"/>). Never throws.
    /// </summary>
    public LinkSendResult Send(ReadOnlySpan<byte> frame)
    {
        SocketError error;
        try
        {
            error = _groupAddress is null ? SendConnected(frame) : SendToGroup(frame);
        }
        catch (ObjectDisposedException)
        {
            return LinkSendResult.Error; // closed by the owner while a watcher's cover sent on it
        }
        if (error == SocketError.Success)
            return LinkSendResult.Sent;
        return error is SocketError.WouldBlock or SocketError.NoBufferSpaceAvailable
            ? LinkSendResult.WouldBlock
            : LinkSendResult.Error;
    }

    /// <summary>
    /// Receives every waiting datagram (at most <see cref="MaxDatagramsPerDrain"/>) and hands each to
    /// <paramref name="receiver"/> (which counts them). Pending ICMP errors (ECONNREFUSED while the
    /// peer daemon is down, unreachable hosts) are consumed and ignored. Returns false only when the
    /// socket itself is broken.
    /// </summary>
    public bool Drain(IFrameReceiver receiver)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        for (int i = 0; i < MaxDatagramsPerDrain; i++)
        {
            int n = _socket.Receive(_rxBuffer, SocketFlags.None, out SocketError error);
            switch (error)
            {
                case SocketError.Success:
                    receiver.OnFrame(_rxBuffer.AsSpan(0, n));
                    break;
                case SocketError.WouldBlock:
                    return true;
                case var e when IsPassing(e):
                    break; // the link is fine, keep reading
                default:
                    return false;
            }
        }
        return true;
    }

    /// <summary>Send and <see cref="TryReceive"/> are single datagram system calls: safe beside the owner's.</summary>
    public ISharedDatagramLink? Shared => this;

    /// <summary>
    /// One waiting datagram, for a thread other than the one that drains the link (the caller's own
    /// buffer, at least <see cref="MaxDatagramBytes"/> so nothing is truncated). Skips pending ICMP
    /// errors as <see cref="Drain"/> does; false when nothing waits, the socket fails or is closed.
    /// </summary>
    public bool TryReceive(Span<byte> buffer, out int length)
    {
        length = 0;
        try
        {
            for (int i = 0; i < 4; i++)
            {
                int n = _socket.Receive(buffer, SocketFlags.None, out SocketError error);
                if (error == SocketError.Success)
                {
                    length = n;
                    return true;
                }
                if (!IsPassing(error))
                    return false;
            }
            return false;
        }
        catch (ObjectDisposedException)
        {
            return false; // the owner closed the link meanwhile
        }
    }

    public void Dispose() => _socket.Dispose();

    /// <summary>
    /// A receive error that says nothing about this socket: an asynchronous ICMP error of an earlier
    /// send (reported once, then cleared), a signal, or a datagram too long for the buffer.
    /// </summary>
    private static bool IsPassing(SocketError error) => error is SocketError.Interrupted or SocketError.ConnectionRefused
        or SocketError.ConnectionReset or SocketError.HostUnreachable or SocketError.NetworkUnreachable
        or SocketError.HostDown or SocketError.NetworkDown or SocketError.MessageSize;

    private SocketError SendConnected(ReadOnlySpan<byte> frame)
    {
        SocketError error = SocketError.Success;
        // Two tries: a pending ECONNREFUSED (ICMP port unreachable for an earlier datagram, the peer
        // daemon was down) fails this send once and is cleared by doing so; EINTR likewise.
        for (int attempt = 0; attempt < 2; attempt++)
        {
            int n = _socket.Send(frame, SocketFlags.None, out error);
            if (error == SocketError.Success)
                return n == frame.Length ? SocketError.Success : SocketError.MessageSize;
            if (error is not (SocketError.ConnectionRefused or SocketError.Interrupted))
                return error;
        }
        return error;
    }

    private SocketError SendToGroup(ReadOnlySpan<byte> frame)
    {
        try
        {
            int n = _socket.SendTo(frame, SocketFlags.None, _groupAddress!);
            return n == frame.Length ? SocketError.Success : SocketError.MessageSize;
        }
        catch (SocketException ex)
        {
            // This overload has no out-SocketError form; errors here are rare (interface down).
            return ex.SocketErrorCode;
        }
    }

    private static void JoinGroup(Socket socket, IPAddress group, IPAddress local)
    {
        if (group.AddressFamily == AddressFamily.InterNetwork)
        {
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership, new MulticastOption(group, local));
            // Raw options: the kernel gets exactly a struct in_addr / an int (see Interop.Sockets.cs).
            socket.SetRawSocketOption(Interop.Sys.IPPROTO_IP, Interop.Sys.IP_MULTICAST_IF, local.GetAddressBytes());
            socket.SetRawSocketOption(Interop.Sys.IPPROTO_IP, Interop.Sys.IP_MULTICAST_ALL, BitConverter.GetBytes(0));
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastTimeToLive, MulticastHops);
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastLoopback, false);
        }
        else
        {
            int index = InterfaceIndexOf(local);
            socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.AddMembership, new IPv6MulticastOption(group, index));
            socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastInterface, index);
            socket.SetRawSocketOption(Interop.Sys.IPPROTO_IPV6, Interop.Sys.IPV6_MULTICAST_ALL, BitConverter.GetBytes(0));
            socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastTimeToLive, MulticastHops);
            socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastLoopback, false);
        }
    }

    /// <summary>IPv6 joins by interface index, not address: find the interface that carries <paramref name="local"/>.</summary>
    private static int InterfaceIndexOf(IPAddress local)
    {
        foreach (NetworkInterface nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            IPInterfaceProperties properties = nic.GetIPProperties();
            foreach (UnicastIPAddressInformation address in properties.UnicastAddresses)
            {
                if (address.Address.Equals(local))
                    return properties.GetIPv6Properties().Index;
            }
        }
        // EADDRNOTAVAIL, what the kernel says when joining IPv4 on an address no interface has.
        throw new SocketException((int)SocketError.AddressNotAvailable);
    }

    private static void Validate(UdpLinkConfig config)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(config.Port, IPEndPoint.MinPort + 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(config.Port, IPEndPoint.MaxPort);
        if (config.Group is { } group)
        {
            if (!IsMulticastAddress(group))
                throw new ArgumentException($"link {config.Name}: group {group} is not a multicast address", nameof(config));
            if (group.AddressFamily != config.Local.AddressFamily)
                throw new ArgumentException($"link {config.Name}: group {group} and local {config.Local} differ in family", nameof(config));
        }
        else if (config.Peer is not { } peer)
        {
            throw new ArgumentException($"link {config.Name}: needs a peer or a group", nameof(config));
        }
        else if (peer.AddressFamily != config.Local.AddressFamily)
        {
            throw new ArgumentException($"link {config.Name}: peer {peer} and local {config.Local} differ in family", nameof(config));
        }
    }

    private static bool IsMulticastAddress(IPAddress address) => address.AddressFamily switch
    {
        AddressFamily.InterNetwork => (address.GetAddressBytes()[0] & 0xF0) == 0xE0,
        AddressFamily.InterNetworkV6 => address.IsIPv6Multicast,
        _ => false,
    };

    private static string Describe(UdpLinkConfig c) => c.Group is { } g
        ? $"udp link {c.Name} ({c.Local} -> {g}:{c.Port})"
        : $"udp link {c.Name} ({c.Local}:{c.Port} -> {c.Peer}:{c.Port})";
}
