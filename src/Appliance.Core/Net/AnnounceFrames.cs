using System.Buffers.Binary;
using System.Net;

namespace Appliance.Core.Net;

/// <summary>
/// Builds the frames that announce a virtual IP after a takeover: the gratuitous ARP pair that
/// IPaddr2's <c>send_arp</c> puts on the wire (RFC 5227 §3 "ARP Announcement"; RFC 826 layout) and
/// the IPv6 unsolicited neighbour advertisement (RFC 4861 §7.2.6). Pure functions: they write bytes
/// into a caller's buffer and never send (STYLE.md "Build separately from send"); an adapter moves
/// the bytes.
/// </summary>
public static class AnnounceFrames
{
    /// <summary>
    /// Length of a gratuitous ARP frame: 14 Ethernet header + 28 ARP for IPv4 over Ethernet
    /// (RFC 826). Unpadded, as send_arp's frames are seen on a veth; a NIC pads to 60 itself.
    /// </summary>
    public static readonly int ArpFrameBytes = 42;

    /// <summary>
    /// Length of an unsolicited neighbour advertisement: 14 Ethernet + 40 IPv6 header (RFC 8200)
    /// + 24 ICMPv6 NA (RFC 4861 §4.4) + 8 target link-layer address option (RFC 4861 §4.6.1).
    /// </summary>
    public static readonly int NeighborAdvertisementFrameBytes = EthernetHeaderBytes + Ipv6HeaderBytes + NaBytes + LinkLayerOptionBytes;

    /// <summary>
    /// Length of a neighbour solicitation probe: 14 Ethernet + 40 IPv6 header + 24 ICMPv6 NS
    /// (RFC 4861 §4.3), without options (a solicitation from :: carries no source link-layer address).
    /// </summary>
    public static readonly int NeighborSolicitationProbeFrameBytes = EthernetHeaderBytes + Ipv6HeaderBytes + NsBytes;

    /// <summary>Length of a MAC-48 address (IEEE 802).</summary>
    public const int MacBytes = 6;

    // Internal: ArpClaims parses what these build.
    internal const int EthernetHeaderBytes = 14;
    internal const int ArpBytes = 28;
    internal const int Ipv6HeaderBytes = 40;
    internal const int NaBytes = 24;
    private const int NsBytes = 24;
    private const byte IcmpV6NeighborSolicitation = 135; // RFC 4861 §4.3
    internal const int LinkLayerOptionBytes = 8;
    private const int IcmpV6Bytes = NaBytes + LinkLayerOptionBytes;

    internal const ushort EtherTypeArp = 0x0806; // IEEE 802 numbers (IANA "ieee-802-numbers")
    internal const ushort EtherTypeIpv4 = 0x0800;
    internal const ushort EtherTypeIpv6 = 0x86DD;
    internal const ushort ArpHardwareEthernet = 1; // RFC 826, IANA "arp-parameters" hardware type
    internal const ushort ArpOpRequest = 1;
    internal const ushort ArpOpReply = 2;
    internal const byte NextHeaderIcmpV6 = 58; // IANA protocol numbers
    internal const byte NdHopLimit = 255; // RFC 4861 §7.1.2: receivers drop NAs with any other hop limit
    internal const byte IcmpV6NeighborAdvertisement = 136; // RFC 4861 §4.4
    private const uint NaFlagOverride = 0x20000000; // RFC 4861 §4.4: R=0x80000000, S=0x40000000, O=0x20000000
    internal const byte OptionTargetLinkLayerAddress = 2; // RFC 4861 §4.6.1, length in units of 8 octets

    /// <summary>
    /// Writes a gratuitous ARP frame for <paramref name="ipv4"/> at <paramref name="mac"/> into
    /// <paramref name="dst"/> and returns its length (<see cref="ArpFrameBytes"/>). Broadcast,
    /// sender and target IP both the VIP. A request ("who-has VIP tell VIP") has target MAC
    /// 00:00:00:00:00:00; a reply ("VIP is-at MAC") has target MAC = <paramref name="mac"/>, which is
    /// what send_arp puts on the wire (captured from IPaddr2; see ocf-resource-agents.md §5).
    /// </summary>
    /// <exception cref="ArgumentException">
    /// <paramref name="mac"/> is not 6 bytes or is a group (multicast) address,
    /// <paramref name="ipv4"/> is not an IPv4 address, or <paramref name="dst"/> is shorter than
    /// <see cref="ArpFrameBytes"/>.
    /// </exception>
    public static int BuildGratuitousArp(ReadOnlySpan<byte> mac, IPAddress ipv4, bool reply, Span<byte> dst) =>
        WriteArp(mac, ipv4, reply ? ArpOpReply : ArpOpRequest, senderIsVip: true, targetMacIsOwn: reply, dst);

    /// <summary>
    /// Writes an ARP probe for <paramref name="ipv4"/> from <paramref name="mac"/> into
    /// <paramref name="dst"/> and returns its length (<see cref="ArpFrameBytes"/>): RFC 5227 §2.1.1,
    /// a broadcast request "who-has VIP" with sender IP 0.0.0.0 and target MAC zero. Whoever holds
    /// the address answers with a reply to <paramref name="mac"/> ("VIP is-at MAC"); neighbours learn
    /// nothing from it, since its sender IP is unspecified. The duplicate-VIP watch sends it so that a
    /// holder is heard even on a switched network, where its own replies to others never reach us.
    /// </summary>
    /// <exception cref="ArgumentException">As <see cref="BuildGratuitousArp"/>.</exception>
    public static int BuildArpProbe(ReadOnlySpan<byte> mac, IPAddress ipv4, Span<byte> dst) =>
        WriteArp(mac, ipv4, ArpOpRequest, senderIsVip: false, targetMacIsOwn: false, dst);

    /// <summary>An ARP frame for IPv4 over Ethernet, broadcast from <paramref name="mac"/>, target IP the VIP.</summary>
    private static int WriteArp(ReadOnlySpan<byte> mac, IPAddress ipv4, ushort op, bool senderIsVip, bool targetMacIsOwn, Span<byte> dst)
    {
        ValidateMac(mac);
        ArgumentNullException.ThrowIfNull(ipv4);
        Span<byte> ip = stackalloc byte[16];
        if (!ipv4.TryWriteBytes(ip, out int ipBytes) || ipBytes != 4)
            throw new ArgumentException($"not an IPv4 address: {ipv4}", nameof(ipv4));
        ip = ip[..4];
        if (dst.Length < ArpFrameBytes)
            throw new ArgumentException($"buffer of {dst.Length} bytes is shorter than an ARP frame ({ArpFrameBytes})", nameof(dst));

        Span<byte> frame = dst[..ArpFrameBytes];
        frame[0..6].Fill(0xFF);
        mac.CopyTo(frame[6..12]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], EtherTypeArp);

        Span<byte> arp = frame[EthernetHeaderBytes..];
        BinaryPrimitives.WriteUInt16BigEndian(arp[0..], ArpHardwareEthernet);
        BinaryPrimitives.WriteUInt16BigEndian(arp[2..], EtherTypeIpv4); // protocol: IPv4
        arp[4] = MacBytes;
        arp[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp[6..], op);
        mac.CopyTo(arp[8..14]);
        if (senderIsVip)
            ip.CopyTo(arp[14..18]);
        else
            arp[14..18].Clear(); // RFC 5227: a probe's sender IP is 0.0.0.0
        if (targetMacIsOwn)
            mac.CopyTo(arp[18..24]);
        else
            arp[18..24].Clear();
        ip.CopyTo(arp[24..28]);
        return ArpFrameBytes;
    }

    /// <summary>
    /// Writes an unsolicited neighbour advertisement for <paramref name="ipv6"/> at
    /// <paramref name="mac"/> into <paramref name="dst"/> and returns its length
    /// (<see cref="NeighborAdvertisementFrameBytes"/>): to all-nodes ff02::1 (Ethernet
    /// 33:33:00:00:00:01), from the VIP, hop limit 255, Override set and Solicited clear
    /// (RFC 4861 §7.2.6), target = the VIP, with a target link-layer address option carrying the MAC.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// <paramref name="mac"/> is not 6 bytes or is a group address, <paramref name="ipv6"/> is not an
    /// IPv6 address (or is multicast), or <paramref name="dst"/> is too short.
    /// </exception>
    public static int BuildUnsolicitedNeighborAdvertisement(ReadOnlySpan<byte> mac, IPAddress ipv6, Span<byte> dst)
    {
        ValidateMac(mac);
        ArgumentNullException.ThrowIfNull(ipv6);
        Span<byte> vip = stackalloc byte[16];
        if (!ipv6.TryWriteBytes(vip, out int ipBytes) || ipBytes != 16)
            throw new ArgumentException($"not an IPv6 address: {ipv6}", nameof(ipv6));
        if (vip[0] == 0xFF)
            throw new ArgumentException($"a multicast address cannot be a neighbour advertisement's target: {ipv6}", nameof(ipv6));
        int length = NeighborAdvertisementFrameBytes;
        if (dst.Length < length)
            throw new ArgumentException($"buffer of {dst.Length} bytes is shorter than a neighbour advertisement frame ({length})", nameof(dst));

        Span<byte> frame = dst[..length];
        // Ethernet: ff02::1 maps to 33:33 + its low 32 bits (RFC 2464 §7).
        ReadOnlySpan<byte> allNodesMac = [0x33, 0x33, 0x00, 0x00, 0x00, 0x01];
        allNodesMac.CopyTo(frame[0..6]);
        mac.CopyTo(frame[6..12]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], EtherTypeIpv6);

        Span<byte> ip6 = frame.Slice(EthernetHeaderBytes, Ipv6HeaderBytes);
        BinaryPrimitives.WriteUInt32BigEndian(ip6[0..], 0x60000000); // version 6, traffic class 0, flow label 0
        BinaryPrimitives.WriteUInt16BigEndian(ip6[4..], IcmpV6Bytes);
        ip6[6] = NextHeaderIcmpV6;
        ip6[7] = NdHopLimit;
        vip.CopyTo(ip6[8..24]);
        Span<byte> allNodes = ip6[24..40];
        allNodes.Clear();
        allNodes[0] = 0xFF;
        allNodes[1] = 0x02;
        allNodes[15] = 0x01;

        Span<byte> icmp = frame.Slice(EthernetHeaderBytes + Ipv6HeaderBytes, IcmpV6Bytes);
        icmp[0] = IcmpV6NeighborAdvertisement;
        icmp[1] = 0; // code
        icmp[2] = 0; // checksum, filled below
        icmp[3] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(icmp[4..], NaFlagOverride);
        vip.CopyTo(icmp[8..24]);
        icmp[24] = OptionTargetLinkLayerAddress;
        icmp[25] = LinkLayerOptionBytes / 8;
        mac.CopyTo(icmp[26..32]);

        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], IcmpV6Checksum(ip6[8..24], ip6[24..40], icmp));
        return length;
    }

    /// <summary>
    /// Writes a duplicate-address-detection neighbour solicitation for <paramref name="ipv6"/> from
    /// <paramref name="mac"/> into <paramref name="dst"/> and returns its length
    /// (<see cref="NeighborSolicitationProbeFrameBytes"/>): RFC 4862 §5.4.2, from the unspecified
    /// address :: to the target's solicited-node group ff02::1:ffXX:XXXX (Ethernet 33:33:ff:XX:XX:XX,
    /// RFC 2464 §7), hop limit 255, target = the address, no options. The IPv6 counterpart of
    /// <see cref="BuildArpProbe"/>: whoever holds the address answers with a neighbour advertisement to
    /// all nodes (RFC 4861 §7.2.4), and nobody's cache learns anything from the probe itself.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// <paramref name="mac"/> is not 6 bytes or is a group address, <paramref name="ipv6"/> is not an
    /// IPv6 address (or is multicast), or <paramref name="dst"/> is too short.
    /// </exception>
    public static int BuildNeighborSolicitationProbe(ReadOnlySpan<byte> mac, IPAddress ipv6, Span<byte> dst)
    {
        ValidateMac(mac);
        ArgumentNullException.ThrowIfNull(ipv6);
        Span<byte> target = stackalloc byte[16];
        if (!ipv6.TryWriteBytes(target, out int ipBytes) || ipBytes != 16)
            throw new ArgumentException($"not an IPv6 address: {ipv6}", nameof(ipv6));
        if (target[0] == 0xFF)
            throw new ArgumentException($"a multicast address cannot be a neighbour solicitation's target: {ipv6}", nameof(ipv6));
        int length = NeighborSolicitationProbeFrameBytes;
        if (dst.Length < length)
            throw new ArgumentException($"buffer of {dst.Length} bytes is shorter than a neighbour solicitation frame ({length})", nameof(dst));

        Span<byte> frame = dst[..length];
        frame[0] = 0x33; // 33:33 + the group's low 32 bits: ff + the target's low 24 bits
        frame[1] = 0x33;
        frame[2] = 0xFF;
        target[13..16].CopyTo(frame[3..6]);
        mac.CopyTo(frame[6..12]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], EtherTypeIpv6);

        Span<byte> ip6 = frame.Slice(EthernetHeaderBytes, Ipv6HeaderBytes);
        BinaryPrimitives.WriteUInt32BigEndian(ip6[0..], 0x60000000);
        BinaryPrimitives.WriteUInt16BigEndian(ip6[4..], NsBytes);
        ip6[6] = NextHeaderIcmpV6;
        ip6[7] = NdHopLimit;
        ip6[8..24].Clear(); // source :: (RFC 4862 §5.4.2)
        Span<byte> group = ip6[24..40];
        group.Clear();
        group[0] = 0xFF;
        group[1] = 0x02;
        group[11] = 0x01;
        group[12] = 0xFF;
        target[13..16].CopyTo(group[13..16]);

        Span<byte> icmp = frame.Slice(EthernetHeaderBytes + Ipv6HeaderBytes, NsBytes);
        icmp[0] = IcmpV6NeighborSolicitation;
        icmp[1] = 0; // code
        icmp[2..8].Clear(); // checksum (filled below) and 4 reserved bytes
        target.CopyTo(icmp[8..24]);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], IcmpV6Checksum(ip6[8..24], ip6[24..40], icmp));
        return length;
    }

    /// <summary>
    /// Parses "aa:bb:cc:dd:ee:ff" (hex digits in either case, colons, exactly 17 characters, as in
    /// <c>/sys/class/net/IF/address</c>) into <paramref name="mac"/>. False on any other text.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="mac"/> is shorter than 6 bytes.</exception>
    public static bool TryParseMac(string? text, Span<byte> mac)
    {
        if (mac.Length < MacBytes)
            throw new ArgumentException($"a MAC needs {MacBytes} bytes, the buffer has {mac.Length}", nameof(mac));
        if (text is null || text.Length != 3 * MacBytes - 1)
            return false;
        Span<byte> parsed = stackalloc byte[MacBytes];
        for (int i = 0; i < MacBytes; i++)
        {
            int at = 3 * i;
            if (i > 0 && text[at - 1] != ':')
                return false;
            int hi = HexValue(text[at]), lo = HexValue(text[at + 1]);
            if (hi < 0 || lo < 0)
                return false;
            parsed[i] = (byte)(hi << 4 | lo);
        }
        parsed.CopyTo(mac);
        return true;
    }

    /// <summary>
    /// The Internet checksum (RFC 1071) of an ICMPv6 message over the IPv6 pseudo-header
    /// (RFC 8200 §8.1: source, destination, upper-layer length as 32 bits, 3 zero bytes, next
    /// header 58). <paramref name="message"/>'s checksum field must be zero.
    /// </summary>
    internal static ushort IcmpV6Checksum(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, ReadOnlySpan<byte> message)
    {
        uint sum = SumWords(source) + SumWords(destination);
        sum += (uint)message.Length >> 16;
        sum += (uint)message.Length & 0xFFFF;
        sum += NextHeaderIcmpV6;
        sum += SumWords(message);
        while (sum >> 16 != 0)
            sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }

    private static uint SumWords(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
            sum += (uint)(data[i] << 8 | data[i + 1]);
        if (i < data.Length)
            sum += (uint)data[i] << 8; // odd length: pad with a zero byte
        return sum;
    }

    private static void ValidateMac(ReadOnlySpan<byte> mac)
    {
        if (mac.Length != MacBytes)
            throw new ArgumentException($"a MAC is {MacBytes} bytes, got {mac.Length}", nameof(mac));
        if ((mac[0] & 0x01) != 0)
            throw new ArgumentException("a group (multicast) MAC cannot be a frame's source", nameof(mac));
    }

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };
}
