using System.Buffers.Binary;
using System.Net;

namespace Appliance.Core.Net;

/// <summary>How a frame claims an address.</summary>
public enum ClaimOp : byte
{
    /// <summary>An ARP request whose sender is the address (a gratuitous ARP, or its holder asking).</summary>
    ArpRequest = 1,

    /// <summary>An ARP reply whose sender is the address ("IP is-at MAC").</summary>
    ArpReply = 2,

    /// <summary>An ICMPv6 neighbour advertisement whose target is the address (RFC 4861 §4.4).</summary>
    NeighborAdvertisement = 136,
}

/// <summary>
/// One frame's statement "<see cref="Address"/> is at <see cref="Mac"/>": what neighbours write into
/// their ARP or neighbour cache when they see it. <see cref="Mac"/> is the ARP sender hardware
/// address, or the neighbour advertisement's target link-layer address option (the Ethernet source
/// when the option is absent, as RFC 4861 §7.2.5 has receivers do); <see cref="EthernetSource"/> is
/// who put the frame on the wire, usually the same. <see cref="Vlan"/> is the 802.1Q VLAN id when
/// the frame carried a tag in its bytes, else null.
/// </summary>
public readonly record struct ArpClaim(MacAddress Mac, IPAddress Address, ClaimOp Op, MacAddress EthernetSource, ushort? Vlan = null)
{
    public override string ToString() =>
        $"{Address} is-at {Mac} ({Op}, from {EthernetSource}{(Vlan is { } v ? $", vlan {v}" : "")})";
}

/// <summary>
/// Reads address claims out of received Ethernet frames: ARP requests and replies for IPv4 over
/// Ethernet (RFC 826) and ICMPv6 neighbour advertisements (RFC 4861 §4.4), the frames
/// <see cref="AnnounceFrames"/> builds and any holder of an address sends. Pure: it looks at the
/// caller's bytes and never throws, whatever they hold; work is bounded by the frame's length.
/// </summary>
public static class ArpClaims
{
    /// <summary>Length of an IEEE 802.1Q tag: TPID 0x8100 then 16 bits of PCP, DEI and VLAN id.</summary>
    private const int VlanTagBytes = 4;
    private const ushort EtherTypeVlan = 0x8100; // IEEE 802.1Q customer VLAN tag
    private const ushort VlanIdMask = 0x0FFF;
    private const int Ipv4Bytes = 4;
    private const int Ipv6Bytes = 16;
    private const int IpVersion6 = 6;
    /// <summary>Neighbour discovery option lengths count units of 8 bytes (RFC 4861 §4.6).</summary>
    private const int NdOptionUnitBytes = 8;

    /// <summary>
    /// True when <paramref name="frame"/> (from the destination MAC on, optionally with one 802.1Q
    /// tag) claims an address:
    /// <list type="bullet">
    /// <item>ARP, hardware Ethernet (1), protocol IPv4 (0x0800), lengths 6 and 4, op request or reply,
    /// sender IP not 0.0.0.0 (an RFC 5227 probe claims nothing);</item>
    /// <item>IPv6 with next header ICMPv6 (58), hop limit 255, an ICMPv6 neighbour advertisement
    /// (type 136, code 0) with a correct checksum and a unicast target, and well-formed options
    /// (RFC 4861 §7.1.2: what every receiver checks before it believes one).</item>
    /// </list>
    /// Frames may be longer than their payload (Ethernet padding, a snap length); a truncated one is
    /// not a claim.
    /// </summary>
    public static bool TryParseClaim(ReadOnlySpan<byte> frame, out ArpClaim claim)
    {
        claim = default;
        if (frame.Length < AnnounceFrames.EthernetHeaderBytes)
            return false;
        var source = MacAddress.Read(frame[6..12]);
        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        ReadOnlySpan<byte> payload = frame[AnnounceFrames.EthernetHeaderBytes..];
        ushort? vlan = null;
        if (etherType == EtherTypeVlan)
        {
            if (payload.Length < VlanTagBytes)
                return false;
            vlan = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(payload) & VlanIdMask);
            etherType = BinaryPrimitives.ReadUInt16BigEndian(payload[2..]);
            payload = payload[VlanTagBytes..];
        }
        return etherType switch
        {
            AnnounceFrames.EtherTypeArp => TryParseArp(payload, source, vlan, out claim),
            AnnounceFrames.EtherTypeIpv6 => TryParseNeighborAdvertisement(payload, source, vlan, out claim),
            _ => false,
        };
    }

    private static bool TryParseArp(ReadOnlySpan<byte> arp, MacAddress source, ushort? vlan, out ArpClaim claim)
    {
        claim = default;
        if (arp.Length < AnnounceFrames.ArpBytes
            || BinaryPrimitives.ReadUInt16BigEndian(arp) != AnnounceFrames.ArpHardwareEthernet
            || BinaryPrimitives.ReadUInt16BigEndian(arp[2..]) != AnnounceFrames.EtherTypeIpv4
            || arp[4] != AnnounceFrames.MacBytes || arp[5] != Ipv4Bytes)
            return false;
        ushort op = BinaryPrimitives.ReadUInt16BigEndian(arp[6..]);
        if (op is not (AnnounceFrames.ArpOpRequest or AnnounceFrames.ArpOpReply))
            return false;
        ReadOnlySpan<byte> senderIp = arp.Slice(14, Ipv4Bytes);
        if (senderIp.IndexOfAnyExcept((byte)0) < 0)
            return false;
        claim = new ArpClaim(MacAddress.Read(arp[8..14]), new IPAddress(senderIp), (ClaimOp)op, source, vlan);
        return true;
    }

    private static bool TryParseNeighborAdvertisement(ReadOnlySpan<byte> ip6, MacAddress source, ushort? vlan, out ArpClaim claim)
    {
        claim = default;
        if (ip6.Length < AnnounceFrames.Ipv6HeaderBytes || ip6[0] >> 4 != IpVersion6
            || ip6[6] != AnnounceFrames.NextHeaderIcmpV6 || ip6[7] != AnnounceFrames.NdHopLimit)
            return false;
        int payloadBytes = BinaryPrimitives.ReadUInt16BigEndian(ip6[4..]);
        if (payloadBytes < AnnounceFrames.NaBytes || payloadBytes > ip6.Length - AnnounceFrames.Ipv6HeaderBytes)
            return false;
        ReadOnlySpan<byte> icmp = ip6.Slice(AnnounceFrames.Ipv6HeaderBytes, payloadBytes);
        if (icmp[0] != AnnounceFrames.IcmpV6NeighborAdvertisement || icmp[1] != 0
            || AnnounceFrames.IcmpV6Checksum(ip6[8..24], ip6[24..40], icmp) != 0) // a correct checksum sums to zero
            return false;
        ReadOnlySpan<byte> target = icmp.Slice(8, Ipv6Bytes);
        if (target[0] == 0xFF)
            return false; // RFC 4861 §7.1.2: the target is not a multicast address

        MacAddress mac = source;
        bool optionSeen = false;
        // Each option is at least 8 bytes long, so this loop runs at most payloadBytes / 8 times.
        for (ReadOnlySpan<byte> options = icmp[AnnounceFrames.NaBytes..]; options.Length >= 2;)
        {
            int optionBytes = options[1] * NdOptionUnitBytes;
            if (optionBytes == 0 || optionBytes > options.Length)
                return false; // RFC 4861 §7.1.2: every option has a length greater than zero
            if (!optionSeen && options[0] == AnnounceFrames.OptionTargetLinkLayerAddress && optionBytes >= 2 + AnnounceFrames.MacBytes)
            {
                mac = MacAddress.Read(options[2..]);
                optionSeen = true;
            }
            options = options[optionBytes..];
        }
        claim = new ArpClaim(mac, new IPAddress(target), ClaimOp.NeighborAdvertisement, source, vlan);
        return true;
    }
}
