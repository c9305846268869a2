using System.Net;
using Appliance.Core.Net;

namespace Appliance.Core.Tests.Net;

/// <summary>
/// Golden byte vectors for the announce frames. The ARP vectors are laid out like the send_arp
/// frames captured from IPaddr2 (ocf-resource-agents.md §5); the NA checksum is recomputed here
/// by a separate, plain implementation of RFC 1071 over the RFC 8200 §8.1 pseudo-header.
/// </summary>
public class AnnounceFramesTests
{
    private static readonly byte[] Mac = Convert.FromHexString("525400123456");
    private static readonly IPAddress Vip4 = IPAddress.Parse("192.0.2.100");
    private static readonly IPAddress Vip6 = IPAddress.Parse("2001:db8::100");

    // dst ff:ff:ff:ff:ff:ff | src 52:54:00:12:34:56 | 0806 | htype 1, ptype 0800, hlen 6, plen 4, op |
    // sender 52:54:00:12:34:56 192.0.2.100 | target MAC | target 192.0.2.100
    private const string ArpRequestHex =
        "ffffffffffff" + "525400123456" + "0806" + "0001" + "0800" + "06" + "04" + "0001" +
        "525400123456" + "c0000264" + "000000000000" + "c0000264";
    private const string ArpReplyHex =
        "ffffffffffff" + "525400123456" + "0806" + "0001" + "0800" + "06" + "04" + "0002" +
        "525400123456" + "c0000264" + "525400123456" + "c0000264";

    // RFC 5227 probe: broadcast request, sender 52:54:00:12:34:56 0.0.0.0, target 00:..:00 192.0.2.100
    private const string ArpProbeHex =
        "ffffffffffff" + "525400123456" + "0806" + "0001" + "0800" + "06" + "04" + "0001" +
        "525400123456" + "00000000" + "000000000000" + "c0000264";

    // RFC 4862 DAD probe: Ethernet 33:33:ff:00:01:00 <- MAC, 86dd | IPv6: payload 24, next 58, hop 255,
    // src ::, dst ff02::1:ff00:100 | ICMPv6 135/0, checksum 4aef (computed apart, in Python), reserved, target
    private const string NsProbeHex =
        "3333ff000100" + "525400123456" + "86dd" +
        "60000000" + "0018" + "3a" + "ff" + "00000000000000000000000000000000" + "ff0200000000000000000001ff000100" +
        "87" + "00" + "4aef" + "00000000" + "20010db8000000000000000000000100";

    // Ethernet 33:33:00:00:00:01 <- MAC, 86dd | IPv6: 6/0/0, payload 32, next 58, hop 255,
    // src 2001:db8::100, dst ff02::1 | ICMPv6 136/0, checksum 7271, flags O, target, option 2 len 1 MAC
    private const string NaHex =
        "333300000001" + "525400123456" + "86dd" +
        "60000000" + "0020" + "3a" + "ff" + "20010db8000000000000000000000100" + "ff020000000000000000000000000001" +
        "88" + "00" + "7271" + "20000000" + "20010db8000000000000000000000100" + "02" + "01" + "525400123456";

    [Fact]
    public void Gratuitous_arp_request_matches_the_golden_vector()
    {
        Span<byte> frame = stackalloc byte[64];
        int n = AnnounceFrames.BuildGratuitousArp(Mac, Vip4, reply: false, frame);
        Assert.Equal(42, n);
        Assert.Equal(AnnounceFrames.ArpFrameBytes, n);
        Assert.Equal(ArpRequestHex, Convert.ToHexStringLower(frame[..n]));
        Assert.True(frame[n..].IndexOfAnyExcept((byte)0) < 0, "wrote past the frame");
    }

    [Fact]
    public void Gratuitous_arp_reply_matches_the_golden_vector()
    {
        byte[] frame = new byte[AnnounceFrames.ArpFrameBytes];
        frame.AsSpan().Fill(0xAA); // every byte must be written, whatever was there
        int n = AnnounceFrames.BuildGratuitousArp(Mac, Vip4, reply: true, frame);
        Assert.Equal(ArpReplyHex, Convert.ToHexStringLower(frame.AsSpan(0, n)));
    }

    [Fact]
    public void Request_overwrites_a_stale_target_mac()
    {
        byte[] frame = new byte[AnnounceFrames.ArpFrameBytes];
        AnnounceFrames.BuildGratuitousArp(Mac, Vip4, reply: true, frame);
        AnnounceFrames.BuildGratuitousArp(Mac, Vip4, reply: false, frame);
        Assert.Equal(ArpRequestHex, Convert.ToHexStringLower(frame));
    }

    [Fact]
    public void Arp_probe_matches_the_golden_vector_and_claims_nothing()
    {
        byte[] frame = new byte[AnnounceFrames.ArpFrameBytes];
        AnnounceFrames.BuildGratuitousArp(Mac, Vip4, reply: true, frame); // stale sender IP and target MAC
        int n = AnnounceFrames.BuildArpProbe(Mac, Vip4, frame);
        Assert.Equal(ArpProbeHex, Convert.ToHexStringLower(frame.AsSpan(0, n)));
        // Sent by the duplicate-VIP watch, it must never read as a claim of the VIP (our own or anyone's).
        Assert.False(ArpClaims.TryParseClaim(frame, out _));
        Assert.Throws<ArgumentException>(() => AnnounceFrames.BuildArpProbe(Mac, Vip6, frame));
        Assert.Throws<ArgumentException>(() => AnnounceFrames.BuildArpProbe(Convert.FromHexString("015400123456"), Vip4, frame));
        Assert.Throws<ArgumentException>(() => AnnounceFrames.BuildArpProbe(Mac, Vip4, new byte[41]));
    }

    [Fact]
    public void Neighbor_solicitation_probe_matches_the_golden_vector_and_claims_nothing()
    {
        byte[] frame = new byte[128];
        frame.AsSpan().Fill(0xAA);
        int n = AnnounceFrames.BuildNeighborSolicitationProbe(Mac, Vip6, frame);
        Assert.Equal(78, n);
        Assert.Equal(AnnounceFrames.NeighborSolicitationProbeFrameBytes, n);
        Assert.Equal(NsProbeHex, Convert.ToHexStringLower(frame.AsSpan(0, n)));
        byte[] f = frame[..n]; // a correct checksum sums to zero over pseudo-header (src ::, dst group) and message
        Assert.Equal(0, ReferenceChecksum(f[22..38], f[38..54], f[54..]));
        Assert.False(ArpClaims.TryParseClaim(frame.AsSpan(0, n), out _));
        Assert.Throws<ArgumentException>(() => AnnounceFrames.BuildNeighborSolicitationProbe(Mac, Vip4, frame));
        Assert.Throws<ArgumentException>(() => AnnounceFrames.BuildNeighborSolicitationProbe(Mac, IPAddress.Parse("ff02::1"), frame));
        Assert.Throws<ArgumentException>(() => AnnounceFrames.BuildNeighborSolicitationProbe(Mac, Vip6, new byte[77]));
    }

    [Fact]
    public void Unsolicited_neighbor_advertisement_matches_the_golden_vector()
    {
        byte[] frame = new byte[128];
        frame.AsSpan().Fill(0xAA);
        int n = AnnounceFrames.BuildUnsolicitedNeighborAdvertisement(Mac, Vip6, frame);
        Assert.Equal(86, n);
        Assert.Equal(AnnounceFrames.NeighborAdvertisementFrameBytes, n);
        Assert.Equal(NaHex, Convert.ToHexStringLower(frame.AsSpan(0, n)));
        Assert.True(frame.AsSpan(n).IndexOfAnyExcept((byte)0xAA) < 0, "wrote past the frame");
    }

    [Theory]
    [InlineData("2001:db8::100", "525400123456")]
    [InlineData("fe80::1", "020000000001")]
    [InlineData("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "fefefefefefe")]
    [InlineData("::1", "000000000000")]
    public void Neighbor_advertisement_checksum_verifies_independently(string vip, string macHex)
    {
        byte[] mac = Convert.FromHexString(macHex);
        byte[] frame = new byte[AnnounceFrames.NeighborAdvertisementFrameBytes];
        AnnounceFrames.BuildUnsolicitedNeighborAdvertisement(mac, IPAddress.Parse(vip), frame);

        byte[] ip6 = frame[14..54];
        byte[] icmp = frame[54..];
        Assert.Equal(32, icmp.Length);
        Assert.Equal(icmp.Length, ip6[4] << 8 | ip6[5]);

        // Recompute with the checksum field zeroed: must equal what was written.
        byte[] zeroed = (byte[])icmp.Clone();
        zeroed[2] = zeroed[3] = 0;
        int written = icmp[2] << 8 | icmp[3];
        Assert.Equal(ReferenceChecksum(ip6[8..24], ip6[24..40], zeroed), written);
        // And the receiver's check: summing with the checksum in place gives 0xFFFF (RFC 1071).
        Assert.Equal(0, ReferenceChecksum(ip6[8..24], ip6[24..40], icmp));

        Assert.Equal(IPAddress.Parse(vip), new IPAddress(ip6[8..24]));
        Assert.Equal(IPAddress.Parse("ff02::1"), new IPAddress(ip6[24..40]));
        Assert.Equal(IPAddress.Parse(vip), new IPAddress(icmp[8..24]));
        Assert.Equal(mac, icmp[26..32]);
        Assert.Equal(mac, frame[6..12]);
    }

    [Fact]
    public void Arrays_and_spans_of_the_exact_size_are_enough()
    {
        Span<byte> arp = stackalloc byte[42];
        Assert.Equal(42, AnnounceFrames.BuildGratuitousArp(Mac, Vip4, false, arp));
        Span<byte> na = stackalloc byte[86];
        Assert.Equal(86, AnnounceFrames.BuildUnsolicitedNeighborAdvertisement(Mac, Vip6, na));
    }

    [Fact]
    public void Arguments_are_validated()
    {
        byte[] big = new byte[128];
        // MAC size and kind
        Assert.Throws<ArgumentException>("mac", () => AnnounceFrames.BuildGratuitousArp(new byte[5], Vip4, false, big));
        Assert.Throws<ArgumentException>("mac", () => AnnounceFrames.BuildGratuitousArp(new byte[7], Vip4, false, big));
        Assert.Throws<ArgumentException>("mac", () => AnnounceFrames.BuildGratuitousArp(ReadOnlySpan<byte>.Empty, Vip4, false, big));
        Assert.Throws<ArgumentException>("mac", () => AnnounceFrames.BuildGratuitousArp(Convert.FromHexString("010203040506"), Vip4, false, big));
        Assert.Throws<ArgumentException>("mac", () => AnnounceFrames.BuildUnsolicitedNeighborAdvertisement(new byte[5], Vip6, big));
        Assert.Throws<ArgumentException>("mac", () => AnnounceFrames.BuildUnsolicitedNeighborAdvertisement(Convert.FromHexString("333300000001"), Vip6, big));
        // Address family
        Assert.Throws<ArgumentException>("ipv4", () => AnnounceFrames.BuildGratuitousArp(Mac, Vip6, false, big));
        Assert.Throws<ArgumentException>("ipv4", () => AnnounceFrames.BuildGratuitousArp(Mac, IPAddress.Parse("::ffff:192.0.2.100"), false, big));
        Assert.Throws<ArgumentNullException>("ipv4", () => AnnounceFrames.BuildGratuitousArp(Mac, null!, false, big));
        Assert.Throws<ArgumentException>("ipv6", () => AnnounceFrames.BuildUnsolicitedNeighborAdvertisement(Mac, Vip4, big));
        Assert.Throws<ArgumentException>("ipv6", () => AnnounceFrames.BuildUnsolicitedNeighborAdvertisement(Mac, IPAddress.Parse("ff02::1"), big));
        Assert.Throws<ArgumentNullException>("ipv6", () => AnnounceFrames.BuildUnsolicitedNeighborAdvertisement(Mac, null!, big));
        // Destination size
        Assert.Throws<ArgumentException>("dst", () => AnnounceFrames.BuildGratuitousArp(Mac, Vip4, false, new byte[41]));
        Assert.Throws<ArgumentException>("dst", () => AnnounceFrames.BuildGratuitousArp(Mac, Vip4, true, Span<byte>.Empty));
        Assert.Throws<ArgumentException>("dst", () => AnnounceFrames.BuildUnsolicitedNeighborAdvertisement(Mac, Vip6, new byte[85]));
        // A short buffer is left untouched.
        byte[] small = new byte[41];
        Assert.Throws<ArgumentException>(() => AnnounceFrames.BuildGratuitousArp(Mac, Vip4, false, small));
        Assert.All(small, b => Assert.Equal(0, b));
    }

    [Theory]
    [InlineData("aa:bb:cc:dd:ee:ff", "aabbccddeeff")]
    [InlineData("52:54:00:12:34:56", "525400123456")]
    [InlineData("AA:Bb:0c:Dd:eE:0F", "aabb0cddee0f")]
    [InlineData("00:00:00:00:00:00", "000000000000")]
    public void Mac_text_parses(string text, string hex)
    {
        Span<byte> mac = stackalloc byte[6];
        Assert.True(AnnounceFrames.TryParseMac(text, mac));
        Assert.Equal(hex, Convert.ToHexStringLower(mac));
    }

    [Theory]
    [InlineData("")]
    [InlineData("aa:bb:cc:dd:ee")]
    [InlineData("aa:bb:cc:dd:ee:ff:00")]
    [InlineData("aa:bb:cc:dd:ee:ff\n")]
    [InlineData("aa-bb-cc-dd-ee-ff")]
    [InlineData("aabb.ccdd.eeff..")]
    [InlineData("aa:bb:cc:dd:ee:fg")]
    [InlineData("a:bb:cc:dd:ee:fff")]
    [InlineData(" aa:bb:cc:dd:ee:f")]
    [InlineData("+a:bb:cc:dd:ee:ff")]
    [InlineData(null)]
    public void Bad_mac_text_is_refused_and_leaves_the_buffer_alone(string? text)
    {
        Span<byte> mac = stackalloc byte[6];
        mac.Fill(0x5A);
        Assert.False(AnnounceFrames.TryParseMac(text, mac));
        Assert.True(mac.IndexOfAnyExcept((byte)0x5A) < 0);
    }

    [Fact]
    public void Mac_parser_needs_six_bytes()
    {
        Assert.Throws<ArgumentException>("mac", () => AnnounceFrames.TryParseMac("aa:bb:cc:dd:ee:ff", new byte[5]));
    }

    /// <summary>RFC 1071 over the RFC 8200 §8.1 pseudo-header, written out plainly (no shared code with Core).</summary>
    private static int ReferenceChecksum(byte[] source, byte[] destination, byte[] message)
    {
        var bytes = new List<byte>();
        bytes.AddRange(source);
        bytes.AddRange(destination);
        bytes.AddRange(BitConverter.IsLittleEndian ? BitConverter.GetBytes(message.Length).Reverse() : BitConverter.GetBytes(message.Length));
        bytes.AddRange(new byte[] { 0, 0, 0, 58 });
        bytes.AddRange(message);
        if (bytes.Count % 2 == 1)
            bytes.Add(0);
        long sum = 0;
        for (int i = 0; i < bytes.Count; i += 2)
            sum += bytes[i] * 256 + bytes[i + 1];
        while (sum > 0xFFFF)
            sum = (sum & 0xFFFF) + (sum >> 16);
        return (int)(~sum & 0xFFFF);
    }
}
