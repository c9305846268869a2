using System.Net;
using Appliance.Core.Net;
using FsCheck;
using FsCheck.Fluent;

namespace Appliance.Core.Tests.Net;

/// <summary>
/// ArpClaims against byte vectors: AnnounceFrames' own frames, hand-built ones (proxy ARP, a
/// VLAN tag, padding, an NA without the link-layer option), every truncation, and random bytes.
/// </summary>
public class ArpClaimsTests
{
    private static readonly byte[] Mac = Convert.FromHexString("525400123456");
    private static readonly MacAddress MacValue = new(0x525400123456);
    private static readonly IPAddress Vip4 = IPAddress.Parse("192.0.2.100");
    private static readonly IPAddress Vip6 = IPAddress.Parse("2001:db8::100");

    // A proxy answering for 192.0.2.100: Ethernet source 02:00:00:00:00:aa, ARP sender 02:00:00:00:00:bb,
    // to 52:54:00:12:34:56 at 192.0.2.1; padded with zeros to Ethernet's 60-byte minimum.
    private const string ProxyReplyHex =
        "525400123456" + "0200000000aa" + "0806" + "0001" + "0800" + "06" + "04" + "0002" +
        "0200000000bb" + "c0000264" + "525400123456" + "c0000201" + "000000000000000000000000000000000000";

    private static readonly FsCheck.Config Many = FsCheck.Config.QuickThrowOnFailure.WithMaxTest(2000);

    private static byte[] Garp(bool reply)
    {
        byte[] frame = new byte[AnnounceFrames.ArpFrameBytes];
        AnnounceFrames.BuildGratuitousArp(Mac, Vip4, reply, frame);
        return frame;
    }

    private static byte[] Na()
    {
        byte[] frame = new byte[AnnounceFrames.NeighborAdvertisementFrameBytes];
        AnnounceFrames.BuildUnsolicitedNeighborAdvertisement(Mac, Vip6, frame);
        return frame;
    }

    /// <summary>An 802.1Q tag (PCP, VLAN id) inserted after the MAC addresses of <paramref name="frame"/>.</summary>
    private static byte[] Tagged(byte[] frame, int pcp, int vlan) =>
        [.. frame[..12], 0x81, 0x00, (byte)(pcp << 5 | vlan >> 8), (byte)vlan, .. frame[12..]];

    /// <summary>Rewrites the IPv6 payload length and ICMPv6 checksum of an NA frame after a test edited it.</summary>
    private static byte[] Reseal(byte[] frame)
    {
        int payload = frame.Length - 54;
        frame[18] = (byte)(payload >> 8);
        frame[19] = (byte)payload;
        frame[56] = frame[57] = 0;
        ushort sum = AnnounceFrames.IcmpV6Checksum(frame.AsSpan(22, 16), frame.AsSpan(38, 16), frame.AsSpan(54));
        frame[56] = (byte)(sum >> 8);
        frame[57] = (byte)sum;
        return frame;
    }

    private static ArpClaim Parse(byte[] frame)
    {
        Assert.True(ArpClaims.TryParseClaim(frame, out ArpClaim claim), $"not a claim: {Convert.ToHexStringLower(frame)}");
        return claim;
    }

    [Theory]
    [InlineData(false, ClaimOp.ArpRequest)]
    [InlineData(true, ClaimOp.ArpReply)]
    public void Gratuitous_arp_claims_the_vip_for_its_sender(bool reply, ClaimOp op)
    {
        Assert.Equal(new ArpClaim(MacValue, Vip4, op, MacValue), Parse(Garp(reply)));
    }

    [Fact]
    public void Unsolicited_na_claims_its_target_for_the_option_mac()
    {
        byte[] frame = Na();
        frame[11] = 0x99; // another Ethernet source: the option's MAC is what neighbours learn
        Assert.Equal(new ArpClaim(MacValue, Vip6, ClaimOp.NeighborAdvertisement, new MacAddress(0x525400123499)), Parse(frame));
    }

    [Fact]
    public void Proxy_reply_names_the_arp_sender_and_the_ethernet_source_apart()
    {
        var claim = Parse(Convert.FromHexString(ProxyReplyHex));
        Assert.Equal("02:00:00:00:00:bb", claim.Mac.ToString());
        Assert.Equal("02:00:00:00:00:aa", claim.EthernetSource.ToString());
        Assert.Equal(Vip4, claim.Address);
        Assert.Equal(ClaimOp.ArpReply, claim.Op);
        Assert.Null(claim.Vlan);
    }

    [Fact]
    public void One_vlan_tag_is_read_through()
    {
        Assert.Equal(new ArpClaim(MacValue, Vip4, ClaimOp.ArpRequest, MacValue, 10), Parse(Tagged(Garp(false), pcp: 5, vlan: 10)));
        Assert.Equal(new ArpClaim(MacValue, Vip6, ClaimOp.NeighborAdvertisement, MacValue, 4094), Parse(Tagged(Na(), pcp: 0, vlan: 4094)));
        // A second tag (QinQ) is not looked into.
        Assert.False(ArpClaims.TryParseClaim(Tagged(Tagged(Garp(false), 0, 10), 0, 20), out _));
    }

    [Fact]
    public void Na_without_the_option_claims_for_the_ethernet_source()
    {
        byte[] frame = Reseal(Na()[..^AnnounceFrames.LinkLayerOptionBytes]);
        Assert.Equal(new ArpClaim(MacValue, Vip6, ClaimOp.NeighborAdvertisement, MacValue), Parse(frame));
    }

    [Fact]
    public void Na_options_are_walked_to_the_target_link_layer_address()
    {
        // A nonce option (type 14, RFC 3971, 8 bytes) before the target link-layer address.
        byte[] na = Na();
        byte[] frame = Reseal([.. na[..78], 14, 1, 1, 2, 3, 4, 5, 6, .. na[78..]]);
        Assert.Equal(MacValue, Parse(frame).Mac);
        // A source link-layer address option (type 1) is not the target's: the Ethernet source is.
        byte[] source = Na();
        source[78] = 1;
        source[11] = 0x99;
        Assert.Equal(new MacAddress(0x525400123499), Parse(Reseal(source)).Mac);
    }

    [Fact]
    public void Ethernet_padding_after_the_payload_is_ignored()
    {
        Assert.Equal(Vip4, Parse([.. Garp(true), .. new byte[18]]).Address);
        byte[] na = [.. Na(), 0, 0, 0, 0];
        Assert.Equal(Vip6, Parse(na).Address);
    }

    [Theory]
    [InlineData(14, 0x00, 0x06, "hardware type 6 (IEEE 802)")]
    [InlineData(16, 0x86, 0xdd, "protocol IPv6")]
    [InlineData(20, 0x00, 0x03, "op 3 (RARP request)")]
    [InlineData(20, 0x00, 0x00, "op 0")]
    [InlineData(12, 0x08, 0x00, "ethertype IPv4")]
    public void Arp_that_claims_nothing_is_refused(int at, byte hi, byte lo, string what)
    {
        byte[] frame = Garp(false);
        frame[at] = hi;
        frame[at + 1] = lo;
        Assert.False(ArpClaims.TryParseClaim(frame, out _), what);
    }

    [Fact]
    public void Arp_probe_claims_nothing()
    {
        // RFC 5227 §2.1.1: sender IP 0.0.0.0, the address only in the target field.
        byte[] frame = Garp(false);
        frame.AsSpan(28, 4).Clear();
        Assert.False(ArpClaims.TryParseClaim(frame, out _));
    }

    [Fact]
    public void Arp_with_other_address_lengths_is_refused()
    {
        byte[] frame = Garp(true);
        frame[18] = 8;
        Assert.False(ArpClaims.TryParseClaim(frame, out _));
        frame = Garp(true);
        frame[19] = 16;
        Assert.False(ArpClaims.TryParseClaim(frame, out _));
    }

    [Theory]
    [InlineData("a bad checksum")]
    [InlineData("hop limit 64")]
    [InlineData("a neighbour solicitation (135)")]
    [InlineData("code 1")]
    [InlineData("a multicast target")]
    [InlineData("an option of length 0")]
    [InlineData("an option running past the payload")]
    [InlineData("next header UDP")]
    [InlineData("IP version 4")]
    [InlineData("payload length past the frame")]
    public void Na_receivers_would_drop_is_refused(string what)
    {
        byte[] frame = Na();
        bool reseal = true;
        switch (what)
        {
            case "a bad checksum": frame[57] ^= 1; reseal = false; break;
            case "hop limit 64": frame[21] = 64; break;
            case "a neighbour solicitation (135)": frame[54] = 135; break;
            case "code 1": frame[55] = 1; break;
            case "a multicast target": frame[62] = 0xFF; break;
            case "an option of length 0": frame[79] = 0; break;
            case "an option running past the payload": frame[79] = 2; break;
            case "next header UDP": frame[20] = 17; break;
            case "IP version 4": frame[14] = 0x40; break;
            case "payload length past the frame": frame[19] = 40; reseal = false; break;
        }
        if (reseal)
            Reseal(frame);
        Assert.False(ArpClaims.TryParseClaim(frame, out _), what);
    }

    [Fact]
    public void Every_truncation_is_refused()
    {
        foreach (byte[] frame in new[] { Garp(false), Garp(true), Na(), Tagged(Garp(true), 0, 7), Tagged(Na(), 0, 7), Convert.FromHexString(ProxyReplyHex)[..42] })
        {
            Assert.True(ArpClaims.TryParseClaim(frame, out _));
            for (int length = 0; length < frame.Length; length++)
                Assert.False(ArpClaims.TryParseClaim(frame.AsSpan(0, length), out _), $"{length} of {frame.Length} bytes");
        }
    }

    [Fact]
    public void Random_bytes_never_throw()
    {
        Check.One(Many, Prop.ForAll<byte[]>(bytes =>
        {
            ArpClaims.TryParseClaim(bytes ?? [], out _);
            return true;
        }));
    }

    [Fact]
    public void Damaged_claims_never_throw_and_parse_to_what_they_say()
    {
        // Real frames with a few bytes overwritten and a random length: the bytes the parser looks at.
        byte[][] seeds = [Garp(false), Garp(true), Na(), Tagged(Na(), 0, 7), Reseal(Na()[..^8])];
        var gen = from seed in Gen.Elements(seeds)
                  from edits in Gen.ListOf(Gen.Zip(Gen.Choose(0, 100), ArbMap.Default.GeneratorFor<byte>()))
                  from length in Gen.Choose(0, 100)
                  select (seed, edits, length);
        Check.One(Many, Prop.ForAll(gen.ToArbitrary(), t =>
        {
            byte[] frame = new byte[Math.Max(t.length, t.seed.Length)];
            t.seed.CopyTo(frame, 0);
            foreach (var (at, value) in t.edits)
                if (at < frame.Length)
                    frame[at] = value;
            frame = frame[..t.length];
            if (!ArpClaims.TryParseClaim(frame, out ArpClaim claim))
                return true;
            // Whatever parses names an address of the right family and a MAC taken from the frame.
            byte[] mac = new byte[6];
            claim.Mac.WriteTo(mac);
            return claim.Op == ClaimOp.NeighborAdvertisement
                ? claim.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
                : claim.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && frame.AsSpan().IndexOf(mac) >= 0;
        }));
    }

    [Fact]
    public void Mac_address_reads_writes_parses_and_prints()
    {
        var mac = MacAddress.Read(Mac);
        Assert.Equal(MacValue, mac);
        Assert.Equal("52:54:00:12:34:56", mac.ToString());
        Assert.True(MacAddress.TryParse("52:54:00:12:34:56", out var parsed));
        Assert.Equal(mac, parsed);
        Assert.False(MacAddress.TryParse("52:54:00:12:34", out _));
        Span<byte> written = stackalloc byte[6];
        mac.WriteTo(written);
        Assert.Equal(Mac, written.ToArray());
        Assert.False(mac.IsGroup);
        Assert.True(new MacAddress(0xFFFFFFFFFFFF).IsGroup);
        Assert.True(new MacAddress(0x333300000001).IsGroup);
        Assert.Equal("ff:ff:ff:ff:ff:ff", new MacAddress(0xFFFFFFFFFFFF).ToString());
        Assert.Equal("00:00:00:00:00:00", default(MacAddress).ToString());
        Assert.Throws<ArgumentException>(() => MacAddress.Read(new byte[5]));
    }
}
