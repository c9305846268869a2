using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Appliance.Core.Config;
using static Interop.Netlink;

namespace Appliance.Linux.Net;

/// <summary>
/// Builds the rtnetlink(7) requests that add, remove and list addresses and find an interface's
/// index, and parses the kernel's answers. Pure functions over byte spans (STYLE.md "Build
/// separately from send"): <see cref="AddressManager"/> only moves the bytes. Netlink headers are
/// in host byte order (these tests' vectors are little-endian, like every board we run on).
/// </summary>
/// <remarks>
/// The address requests are the ones `ip addr add|del ADDR dev IF` sends (captured with strace,
/// iproute2 6.1), except for IPv6 add: IFA_ADDRESS only (IFA_LOCAL is for point-to-point peers) and
/// IFA_F_NODAD both in ifa_flags (all kernels) and in IFA_FLAGS (3.14+, which prefer it).
/// </remarks>
internal static class RtNetlinkMessages
{
    /// <summary>
    /// Room for the largest request built here, RTM_GETLINK: 16 nlmsghdr + 16 ifinfomsg + 8
    /// IFLA_EXT_MASK + 20 IFLA_IFNAME (IFNAMSIZ, 4-aligned) = 60 bytes.
    /// </summary>
    public const int RequestBytesMax = 64;

    private static int HeaderBytes => Unsafe.SizeOf<NlMsgHdr>();
    private static int AttributeHeaderBytes => Unsafe.SizeOf<RtAttr>();

    /// <summary>NLMSG_ALIGN: a message length rounded up to the next message boundary.</summary>
    public static int AlignMessage(int length) => (length + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1);

    /// <summary>RTA_ALIGN: an attribute length rounded up to the next attribute boundary.</summary>
    public static int AlignAttribute(int length) => (length + RTA_ALIGNTO - 1) & ~(RTA_ALIGNTO - 1);

    /// <summary>
    /// RTM_NEWADDR for <paramref name="address"/> on interface <paramref name="ifindex"/>, with
    /// NLM_F_CREATE | NLM_F_EXCL (an address already there is refused with EEXIST, not touched) and
    /// NLM_F_ACK. IPv6 with IFA_F_NODAD: the VIP must answer at once, not after duplicate address
    /// detection. Writes into <paramref name="dst"/> (at least <see cref="RequestBytesMax"/>) and
    /// returns the length.
    /// </summary>
    public static int BuildNewAddress(Span<byte> dst, uint seq, int ifindex, IpPrefix address)
        => BuildAddress(dst, RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE, seq, ifindex, address);

    /// <summary>RTM_DELADDR for <paramref name="address"/> (address and prefix length must both match) with NLM_F_ACK; see <see cref="BuildNewAddress"/>.</summary>
    public static int BuildDeleteAddress(Span<byte> dst, uint seq, int ifindex, IpPrefix address)
        => BuildAddress(dst, RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, seq, ifindex, address);

    /// <summary>RTM_GETADDR dump of every address of <paramref name="family"/> (the kernel filters by nothing else unless asked for strict checking).</summary>
    public static int BuildGetAddressDump(Span<byte> dst, uint seq, AddressFamily family)
    {
        int at = Header(dst, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq);
        MemoryMarshal.Write(dst[at..], new IfAddrMsg { ifa_family = FamilyByte(family) });
        return Finish(dst, at + Unsafe.SizeOf<IfAddrMsg>());
    }

    /// <summary>
    /// RTM_GETLINK for the interface called <paramref name="interfaceName"/>, without its counters.
    /// Answered by one RTM_NEWLINK or an NLMSG_ERROR (ENODEV: no such interface), so no ack flag.
    /// </summary>
    /// <exception cref="ArgumentException">Not 1 to IFNAMSIZ - 1 bytes of UTF-8, or contains NUL.</exception>
    public static int BuildGetLink(Span<byte> dst, uint seq, string interfaceName)
    {
        Span<byte> name = stackalloc byte[IFNAMSIZ];
        if (string.IsNullOrEmpty(interfaceName) || interfaceName.Contains('\0')
            || !Encoding.UTF8.TryGetBytes(interfaceName, name[..^1], out int nameBytes))
            throw new ArgumentException($"not an interface name: '{interfaceName}'", nameof(interfaceName));
        int at = Header(dst, RTM_GETLINK, NLM_F_REQUEST, seq);
        MemoryMarshal.Write(dst[at..], default(IfInfoMsg));
        at += Unsafe.SizeOf<IfInfoMsg>();
        at = Attribute(dst, at, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        at = Attribute(dst, at, IFLA_IFNAME, name[..(nameBytes + 1)]); // NUL included, as the kernel wants
        return Finish(dst, at);
    }

    /// <summary>
    /// Parses an NLMSG_ERROR: <paramref name="errno"/> 0 for an ack, else the positive errno; and
    /// <paramref name="reason"/>, the kernel's own words when it sent an extended ack
    /// (NLMSGERR_ATTR_MSG, "ipv4: Address already assigned"), else null. False when malformed.
    /// </summary>
    public static bool TryParseError(in NetlinkMessage message, out int errno, out string? reason)
    {
        errno = 0;
        reason = null;
        ReadOnlySpan<byte> payload = message.Payload;
        if (message.Type != NLMSG_ERROR || payload.Length < Unsafe.SizeOf<NlMsgErr>())
            return false;
        NlMsgErr error = MemoryMarshal.Read<NlMsgErr>(payload);
        if (error.error > 0 || error.error == int.MinValue)
            return false;
        errno = -error.error;
        if ((message.Flags & NLM_F_ACK_TLVS) == 0)
            return true;
        // The request follows the error code: its header only when capped, else all of it.
        int echoed = (message.Flags & NLM_F_CAPPED) != 0
            ? HeaderBytes
            : (int)Math.Clamp(error.msg.nlmsg_len, (uint)HeaderBytes, (uint)payload.Length);
        int at = sizeof(int) + AlignMessage(echoed);
        if (at > payload.Length)
            return false;
        ReadOnlySpan<byte> attributes = payload[at..];
        while (TryReadAttribute(ref attributes, out ushort type, out ReadOnlySpan<byte> value))
        {
            if (type == NLMSGERR_ATTR_MSG)
            {
                int end = value.IndexOf((byte)0);
                reason = Encoding.UTF8.GetString(end < 0 ? value : value[..end]);
            }
        }
        return true;
    }

    /// <summary>NLMSG_DONE: 0 when the dump is complete, else the positive errno (a payload too short for the int: complete).</summary>
    public static int ParseDone(ReadOnlySpan<byte> payload)
        => payload.Length >= sizeof(int) && MemoryMarshal.Read<int>(payload) is < 0 and > int.MinValue and var error ? -error : 0;

    /// <summary>
    /// Parses the payload of an RTM_NEWADDR (an address dump entry): the interface, the address
    /// (IFA_LOCAL, else IFA_ADDRESS: for IPv6 and for IPv4 without a peer they are the same), the
    /// prefix length and the flags (IFA_FLAGS when present: it carries the bits above 8). False when
    /// malformed or without an address of the entry's family.
    /// </summary>
    public static bool TryParseAddress(ReadOnlySpan<byte> payload, out AddressEntry entry)
    {
        entry = default;
        if (payload.Length < Unsafe.SizeOf<IfAddrMsg>())
            return false;
        IfAddrMsg header = MemoryMarshal.Read<IfAddrMsg>(payload);
        int addressBytes = header.ifa_family switch { AF_INET => 4, AF_INET6 => 16, _ => 0 };
        ReadOnlySpan<byte> attributes = payload[AlignMessage(Unsafe.SizeOf<IfAddrMsg>())..];
        scoped ReadOnlySpan<byte> local = default, prefixAddress = default;
        uint flags = header.ifa_flags;
        while (TryReadAttribute(ref attributes, out ushort type, out ReadOnlySpan<byte> value))
        {
            if (type == IFA_LOCAL && value.Length == addressBytes)
                local = value;
            else if (type == IFA_ADDRESS && value.Length == addressBytes)
                prefixAddress = value;
            else if (type == IFA_FLAGS && value.Length == sizeof(uint))
                flags = MemoryMarshal.Read<uint>(value);
        }
        ReadOnlySpan<byte> address = local.IsEmpty ? prefixAddress : local;
        if (addressBytes == 0 || address.IsEmpty || !attributes.IsEmpty)
            return false;
        entry = new AddressEntry((int)header.ifa_index, new IPAddress(address), header.ifa_prefixlen, flags);
        return true;
    }

    /// <summary>The ifindex of an RTM_NEWLINK payload (the answer to <see cref="BuildGetLink"/>); false when malformed.</summary>
    public static bool TryParseLinkIndex(ReadOnlySpan<byte> payload, out int ifindex)
    {
        ifindex = payload.Length >= Unsafe.SizeOf<IfInfoMsg>() ? MemoryMarshal.Read<IfInfoMsg>(payload).ifi_index : 0;
        return ifindex > 0;
    }

    /// <summary>
    /// Takes the next rtattr off <paramref name="attributes"/>. False at the end, and when the rest
    /// is malformed (then <paramref name="attributes"/> is left non-empty, for callers that care).
    /// An rtattr and an nlattr share one layout, so ctnetlink's reader uses it too (the type with its
    /// NLA_F_* flags: callers mask them).
    /// </summary>
    internal static bool TryReadAttribute(ref ReadOnlySpan<byte> attributes, out ushort type, out ReadOnlySpan<byte> value)
    {
        type = 0;
        value = default;
        if (attributes.Length < AttributeHeaderBytes)
            return false;
        RtAttr header = MemoryMarshal.Read<RtAttr>(attributes);
        if (header.rta_len < AttributeHeaderBytes || header.rta_len > attributes.Length)
            return false;
        type = header.rta_type;
        value = attributes[AttributeHeaderBytes..header.rta_len];
        attributes = attributes[Math.Min(AlignAttribute(header.rta_len), attributes.Length)..];
        return true;
    }

    private static int BuildAddress(Span<byte> dst, ushort type, ushort flags, uint seq, int ifindex, IpPrefix address)
    {
        AddressFamily family = address.Address.AddressFamily;
        int addressBytes = family == AddressFamily.InterNetwork ? 4 : 16;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ifindex);
        if (address.Length < 0 || address.Length > addressBytes * 8)
            throw new ArgumentException($"prefix length {address.Length} out of range for {address.Address}", nameof(address));
        // NODAD only matters when adding; `ip addr del` sends no flags.
        uint addressFlags = family == AddressFamily.InterNetworkV6 && type == RTM_NEWADDR ? IFA_F_NODAD : 0;

        int at = Header(dst, type, flags, seq);
        MemoryMarshal.Write(dst[at..], new IfAddrMsg
        {
            ifa_family = FamilyByte(family),
            ifa_prefixlen = (byte)address.Length,
            ifa_flags = (byte)addressFlags,
            ifa_scope = RT_SCOPE_UNIVERSE,
            ifa_index = (uint)ifindex,
        });
        at += Unsafe.SizeOf<IfAddrMsg>();
        Span<byte> bytes = stackalloc byte[addressBytes];
        address.Address.TryWriteBytes(bytes, out _);
        if (family == AddressFamily.InterNetwork)
            at = Attribute(dst, at, IFA_LOCAL, bytes);
        at = Attribute(dst, at, IFA_ADDRESS, bytes);
        if (addressFlags != 0)
            at = Attribute(dst, at, IFA_FLAGS, addressFlags);
        return Finish(dst, at);
    }

    private static byte FamilyByte(AddressFamily family) => family switch
    {
        AddressFamily.InterNetwork => AF_INET,
        AddressFamily.InterNetworkV6 => AF_INET6,
        _ => throw new ArgumentException($"not IPv4 or IPv6: {family}", nameof(family)),
    };

    /// <summary>Checks room, zeroes the request (padding included) and writes the header; its length comes in <see cref="Finish"/>.</summary>
    private static int Header(Span<byte> dst, ushort type, ushort flags, uint seq)
    {
        if (dst.Length < RequestBytesMax)
            throw new ArgumentException($"buffer of {dst.Length} bytes, need {RequestBytesMax}", nameof(dst));
        dst[..RequestBytesMax].Clear();
        MemoryMarshal.Write(dst, new NlMsgHdr { nlmsg_type = type, nlmsg_flags = flags, nlmsg_seq = seq });
        return HeaderBytes;
    }

    private static int Attribute(Span<byte> dst, int at, ushort type, ReadOnlySpan<byte> value)
    {
        int length = AttributeHeaderBytes + value.Length;
        MemoryMarshal.Write(dst[at..], new RtAttr { rta_len = (ushort)length, rta_type = type });
        value.CopyTo(dst[(at + AttributeHeaderBytes)..]);
        return at + AlignAttribute(length);
    }

    /// <summary>A u32 attribute, in host order like every netlink integer.</summary>
    private static int Attribute(Span<byte> dst, int at, ushort type, uint value)
    {
        Span<byte> bytes = stackalloc byte[sizeof(uint)];
        MemoryMarshal.Write(bytes, value);
        return Attribute(dst, at, type, bytes);
    }

    private static int Finish(Span<byte> dst, int length)
    {
        // nlmsg_len is the unaligned length; every request here ends aligned anyway.
        MemoryMarshal.Write(dst, (uint)length);
        return length;
    }
}

/// <summary>One address of an address dump (<see cref="RtNetlinkMessages.TryParseAddress"/>).</summary>
internal readonly record struct AddressEntry(int InterfaceIndex, IPAddress Address, int PrefixLength, uint Flags)
{
    public bool Is(int ifindex, IpPrefix prefix)
        => InterfaceIndex == ifindex && PrefixLength == prefix.Length && Address.Equals(prefix.Address);
}

/// <summary>One netlink message of a datagram: its header fields and payload (a view into the datagram).</summary>
internal readonly ref struct NetlinkMessage(ushort type, ushort flags, uint seq, ReadOnlySpan<byte> payload)
{
    public ushort Type { get; } = type;
    public ushort Flags { get; } = flags;
    public uint Seq { get; } = seq;
    public ReadOnlySpan<byte> Payload { get; } = payload;
}

/// <summary>
/// Walks the messages of one received datagram (the kernel packs several into one, a dump's last
/// entries and its NLMSG_DONE for example). Bounded by the datagram; never throws.
/// </summary>
internal ref struct NetlinkReader(ReadOnlySpan<byte> datagram)
{
    private ReadOnlySpan<byte> _rest = datagram;

    /// <summary>The walk stopped on a message whose length does not fit (a truncated or corrupt datagram).</summary>
    public bool Malformed { get; private set; }

    /// <summary>The next message; false at the end of the datagram or when the rest is malformed.</summary>
    public bool TryRead(out NetlinkMessage message)
    {
        message = default;
        if (_rest.IsEmpty || Malformed)
            return false;
        int headerBytes = Unsafe.SizeOf<NlMsgHdr>();
        NlMsgHdr header = _rest.Length >= headerBytes ? MemoryMarshal.Read<NlMsgHdr>(_rest) : default;
        if (header.nlmsg_len < headerBytes || header.nlmsg_len > _rest.Length)
        {
            Malformed = true;
            return false;
        }
        message = new NetlinkMessage(header.nlmsg_type, header.nlmsg_flags, header.nlmsg_seq, _rest[headerBytes..(int)header.nlmsg_len]);
        _rest = _rest[Math.Min(RtNetlinkMessages.AlignMessage((int)header.nlmsg_len), _rest.Length)..];
        return true;
    }
}
