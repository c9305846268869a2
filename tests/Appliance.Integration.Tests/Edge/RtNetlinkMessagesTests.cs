using System.Net;
using System.Net.Sockets;
using Appliance.Core.Config;
using Appliance.Linux.Net;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// RtNetlinkMessages against byte vectors: the requests `ip addr add|del` (iproute2 6.1) sends and
/// the kernel's answers (Linux 6.x), both captured with <c>strace -e write=FD -e read=FD</c> in a
/// scratch namespace on veth index 3 with sequence number 0x6b0291cb; the rest hand-computed from
/// the uapi layouts. Pure: no root, no sockets. Little-endian hosts, like our boards.
/// </summary>
public sealed class RtNetlinkMessagesTests
{
    private const uint Seq = 0x6b0291cb;
    private static readonly IpPrefix V4 = new(IPAddress.Parse("192.0.2.10"), 24);
    private static readonly IpPrefix V6 = new(IPAddress.Parse("2001:db8::10"), 64);
    private const string V6Bytes = "20010db8000000000000000000000010";

    [Fact]
    public void Ipv4_add_and_delete_are_what_ip_sends()
    {
        // ip -4 addr add 192.0.2.10/24 dev v0: REQUEST|ACK|EXCL|CREATE, ifaddrmsg, IFA_LOCAL, IFA_ADDRESS.
        Assert.Equal("28000000" + "14000506" + "cb91026b" + "00000000" + "02180000" + "03000000"
            + "08000200" + "c000020a" + "08000100" + "c000020a", Build(b => RtNetlinkMessages.BuildNewAddress(b, Seq, 3, V4)));
        // ip addr del 192.0.2.10/24 dev v0: REQUEST|ACK.
        Assert.Equal("28000000" + "15000500" + "cb91026b" + "00000000" + "02180000" + "03000000"
            + "08000200" + "c000020a" + "08000100" + "c000020a", Build(b => RtNetlinkMessages.BuildDeleteAddress(b, Seq, 3, V4)));
    }

    [Fact]
    public void Ipv6_add_asks_for_no_dad_and_delete_names_the_prefix()
    {
        // ip -6 addr add 2001:db8::10/64 dev v0 nodad sends 64 bytes: IFA_LOCAL and IFA_ADDRESS,
        // NODAD in ifa_flags. Ours: IFA_ADDRESS alone (IFA_LOCAL is a peer's business in IPv6), NODAD
        // in ifa_flags and in IFA_FLAGS: 16 + 8 + 20 + 8 = 52.
        Assert.Equal("34000000" + "14000506" + "cb91026b" + "00000000" + "0a400200" + "03000000"
            + "14000100" + V6Bytes + "08000800" + "02000000", Build(b => RtNetlinkMessages.BuildNewAddress(b, Seq, 3, V6)));
        // Delete: no flags; address and prefix length are what the kernel matches.
        Assert.Equal("2c000000" + "15000500" + "cb91026b" + "00000000" + "0a400000" + "03000000"
            + "14000100" + V6Bytes, Build(b => RtNetlinkMessages.BuildDeleteAddress(b, Seq, 3, V6)));
    }

    [Fact]
    public void Address_dump_and_link_lookup()
    {
        // RTM_GETADDR, REQUEST|DUMP, an ifaddrmsg with only the family.
        Assert.Equal("18000000" + "16000103" + "cb91026b" + "00000000" + "0a000000" + "00000000",
            Build(b => RtNetlinkMessages.BuildGetAddressDump(b, Seq, AddressFamily.InterNetworkV6)));
        Assert.Equal("18000000" + "16000103" + "cb91026b" + "00000000" + "02000000" + "00000000",
            Build(b => RtNetlinkMessages.BuildGetAddressDump(b, Seq, AddressFamily.InterNetwork)));
        // RTM_GETLINK as ip sends it, but IFLA_EXT_MASK only SKIP_STATS (8; ip adds VF = 1):
        // header, zero ifinfomsg, the mask, IFLA_IFNAME "v0\0" (length 7, padded to 8).
        Assert.Equal("30000000" + "12000100" + "cb91026b" + "00000000" + new string('0', 32)
            + "08001d00" + "08000000" + "07000300" + "76300000", Build(b => RtNetlinkMessages.BuildGetLink(b, Seq, "v0")));
        // A 15-byte name: 4 + 16 = 20, already aligned: 16 + 16 + 8 + 20 = 60, the largest request.
        Assert.Equal(60, RtNetlinkMessages.BuildGetLink(new byte[RtNetlinkMessages.RequestBytesMax], Seq, "abcdefghijklmno"));
    }

    [Fact]
    public void Builders_refuse_programming_errors()
    {
        byte[] buffer = new byte[RtNetlinkMessages.RequestBytesMax];
        Assert.Throws<ArgumentException>(() => RtNetlinkMessages.BuildNewAddress(new byte[40], Seq, 3, V4));
        Assert.Throws<ArgumentOutOfRangeException>(() => RtNetlinkMessages.BuildNewAddress(buffer, Seq, 0, V4));
        Assert.Throws<ArgumentException>(() => RtNetlinkMessages.BuildNewAddress(buffer, Seq, 3, V4 with { Length = 33 }));
        Assert.Throws<ArgumentException>(() => RtNetlinkMessages.BuildGetLink(buffer, Seq, ""));
        Assert.Throws<ArgumentException>(() => RtNetlinkMessages.BuildGetLink(buffer, Seq, "abcdefghijklmnop"));
        Assert.Throws<ArgumentException>(() => RtNetlinkMessages.BuildGetLink(buffer, Seq, "v\0"));
        Assert.Throws<ArgumentException>(() => RtNetlinkMessages.BuildGetAddressDump(buffer, Seq, AddressFamily.Unix));
    }

    /// <summary>`ip -6 -o addr show dev v0` after `addr add 2001:db8::10/64 dev v0 nodad`: two entries and NLMSG_DONE in one datagram.</summary>
    private const string Ipv6Dump =
        "48000000" + "14002200" + "9192026b" + "593d0000" // RTM_NEWADDR, MULTI|DUMP_FILTERED
        + "0a408200" + "03000000" // AF_INET6 /64, flags permanent|nodad, scope global, index 3
        + "14000100" + "20010db8" + "00000000" + "00000000" + "00000010" // IFA_ADDRESS
        + "14000600" + "ffffffff" + "ffffffff" + "5c701500" + "5c701500" // IFA_CACHEINFO
        + "08000800" + "82000000" // IFA_FLAGS
        + "50000000" + "14002200" + "9192026b" + "593d0000"
        + "0a40c0fd" + "03000000" // scope link
        + "14000100" + "fe800000" + "00000000" + "d0b636ff" + "fe441237"
        + "14000600" + "ffffffff" + "ffffffff" + "5b701500" + "5b701500"
        + "08000800" + "c0000000" // permanent|tentative
        + "05000b00" + "03000000" // IFA_PROTO 3 (kernel), padded
        + "14000000" + "03002200" + "9192026b" + "593d0000" + "00000000"; // NLMSG_DONE, 0

    [Fact]
    public void Parses_an_ipv6_dump_with_its_done_in_one_datagram()
    {
        byte[] datagram = Convert.FromHexString(Ipv6Dump);
        Assert.Equal(172, datagram.Length);
        var reader = new NetlinkReader(datagram);
        var entries = new List<AddressEntry>();
        int done = -1;
        while (reader.TryRead(out NetlinkMessage message))
        {
            Assert.Equal(0x6b029291u, message.Seq);
            if (message.Type == Interop.Netlink.RTM_NEWADDR)
            {
                Assert.True(RtNetlinkMessages.TryParseAddress(message.Payload, out AddressEntry entry));
                entries.Add(entry);
            }
            else
            {
                Assert.Equal(Interop.Netlink.NLMSG_DONE, message.Type);
                done = RtNetlinkMessages.ParseDone(message.Payload);
            }
        }
        Assert.False(reader.Malformed);
        Assert.Equal(0, done);
        Assert.Equal(2, entries.Count);
        // IFA_FLAGS: permanent (0x80) | nodad (0x02); the link-local one permanent | tentative (0x40).
        Assert.Equal(new AddressEntry(3, IPAddress.Parse("2001:db8::10"), 64, 0x82), entries[0]);
        Assert.Equal(new AddressEntry(3, IPAddress.Parse("fe80::d0b6:36ff:fe44:1237"), 64, 0xc0), entries[1]);
        Assert.True(entries[0].Is(3, V6));
        Assert.False(entries[0].Is(3, V6 with { Length = 80 }));
        Assert.False(entries[0].Is(4, V6));
    }

    [Fact]
    public void Parses_an_ipv4_dump_entry_by_its_local_address()
    {
        // One entry of `ip -4 -o addr show`: IFA_ADDRESS, IFA_LOCAL, IFA_LABEL "v0", IFA_FLAGS, IFA_CACHEINFO.
        byte[] datagram = Convert.FromHexString(
            "4c000000" + "14000200" + "8492026b" + "02360000" + "02188000" + "03000000"
            + "08000100" + "c000020a" + "08000200" + "c000020a" + "07000300" + "76300000"
            + "08000800" + "80000000" + "14000600" + "ffffffff" + "ffffffff" + "696b1500" + "696b1500");
        var reader = new NetlinkReader(datagram);
        Assert.True(reader.TryRead(out NetlinkMessage message));
        Assert.True(RtNetlinkMessages.TryParseAddress(message.Payload, out AddressEntry entry));
        Assert.Equal(new AddressEntry(3, IPAddress.Parse("192.0.2.10"), 24, 0x80), entry);
        Assert.True(entry.Is(3, V4));
        Assert.False(reader.TryRead(out _));
        Assert.False(reader.Malformed);
    }

    [Fact]
    public void Parses_errors_with_and_without_the_kernels_reason()
    {
        // ip's socket: extended acks, not capped: the request comes back, then NLMSGERR_ATTR_MSG.
        AssertError(17, "ipv4: Address already assigned",
            "60000000" + "02000002" + "8392026b" + "f0350000" + "efffffff" // -EEXIST, flags ACK_TLVS
            + "28000000" + "14000506" + "8392026b" + "00000000" + "02180000" + "03000000"
            + "08000200" + "c000020a" + "08000100" + "c000020a" // the request
            + "23000100" + "697076343a204164647265737320616c" + "72656164792061737369676e65640000");
        AssertError(99, "ipv4: Address not found",
            "58000000" + "02000002" + "8392026b" + "f7350000" + "9dffffff" // -EADDRNOTAVAIL (198.51.100.1/24)
            + "28000000" + "15000500" + "8392026b" + "00000000" + "02180000" + "03000000"
            + "08000200" + "c6336401" + "08000100" + "c6336401"
            + "1c000100" + "697076343a2041646472657373206e6f" + "7420666f756e6400");
        // Ours: capped (CAP_ACK), so only the request's header comes back; flags CAPPED|ACK_TLVS.
        AssertError(17, "ipv4: Address already assigned",
            "48000000" + "02000003" + "8392026b" + "f0350000" + "efffffff"
            + "28000000" + "14000506" + "8392026b" + "00000000"
            + "23000100" + "697076343a204164647265737320616c" + "72656164792061737369676e65640000");
        // A capped ack, and an old kernel's error without attributes.
        AssertError(0, null, "24000000" + "02000001" + "cb91026b" + "00000000" + "00000000" + "28000000" + "14000506" + "cb91026b" + "00000000");
        AssertError(19, null, "24000000" + "02000000" + "cb91026b" + "00000000" + "edffffff" + "30000000" + "12000100" + "cb91026b" + "00000000");

        static void AssertError(int errno, string? reason, string hex)
        {
            var reader = new NetlinkReader(Convert.FromHexString(hex));
            Assert.True(reader.TryRead(out NetlinkMessage message));
            Assert.True(RtNetlinkMessages.TryParseError(message, out int parsedErrno, out string? parsedReason));
            Assert.Equal((errno, reason), (parsedErrno, parsedReason));
            Assert.False(reader.TryRead(out _));
            Assert.False(reader.Malformed);
        }
    }

    [Fact]
    public void Done_carries_a_dump_error_and_newlink_its_index()
    {
        Assert.Equal(0, RtNetlinkMessages.ParseDone([]));
        Assert.Equal(0, RtNetlinkMessages.ParseDone(Convert.FromHexString("00000000")));
        Assert.Equal(16, RtNetlinkMessages.ParseDone(Convert.FromHexString("f0ffffff"))); // -EBUSY: dump interrupted

        // The ifinfomsg of the kernel's RTM_NEWLINK about v0: ARPHRD_ETHER, index 3, UP|BROADCAST|MULTICAST|LOWER_UP.
        Assert.True(RtNetlinkMessages.TryParseLinkIndex(Convert.FromHexString("00000100030000004310010000000000"), out int ifindex));
        Assert.Equal(3, ifindex);
        Assert.False(RtNetlinkMessages.TryParseLinkIndex(Convert.FromHexString("000001000300"), out _));
    }

    [Fact]
    public void Malformed_input_is_a_result_never_an_exception()
    {
        // Every cut of a real datagram: whole messages before the cut read, then Malformed.
        byte[] dump = Convert.FromHexString(Ipv6Dump);
        for (int cut = 0; cut <= dump.Length; cut++)
        {
            var reader = new NetlinkReader(dump.AsSpan(0, cut));
            int read = 0;
            while (reader.TryRead(out NetlinkMessage message))
            {
                read++;
                RtNetlinkMessages.TryParseAddress(message.Payload, out _);
            }
            bool boundary = cut is 0 or 0x48 or 0x98 or 0xac;
            Assert.True(reader.Malformed != boundary, $"cut at {cut}: {read} messages, malformed {reader.Malformed}");
        }

        // Lengths that lie: below a header, and beyond the datagram.
        Assert.True(Malformed("0f000000" + "03000200" + "00000000" + "00000000"));
        Assert.True(Malformed("ff000000" + "03000200" + "00000000" + "00000000"));
        // An attribute shorter than its own header, and one longer than the message.
        Assert.False(RtNetlinkMessages.TryParseAddress(Convert.FromHexString("0a40000003000000" + "02000100"), out _));
        Assert.False(RtNetlinkMessages.TryParseAddress(Convert.FromHexString("0a40000003000000" + "ff000100" + V6Bytes), out _));
        // An address of the wrong size for its family, and an unknown family.
        Assert.False(RtNetlinkMessages.TryParseAddress(Convert.FromHexString("0218000003000000" + "07000100" + "c000020a"), out _));
        Assert.False(RtNetlinkMessages.TryParseAddress(Convert.FromHexString("1118000003000000" + "08000100" + "c000020a"), out _));
        // An error whose echoed request claims more than is there, and a positive "errno".
        Assert.False(ParseError("24000000" + "02000002" + "00000000" + "00000000" + "efffffff" + "ff000000" + new string('0', 24)));
        Assert.False(ParseError("24000000" + "02000000" + "00000000" + "00000000" + "11000000" + new string('0', 32)));

        // Noise: never throws, whatever it says.
        var random = new Random(20240611);
        byte[] noise = new byte[256];
        for (int i = 0; i < 20_000; i++)
        {
            random.NextBytes(noise);
            int length = random.Next(noise.Length + 1);
            if (length >= 4 && random.Next(2) == 0)
                BitConverter.TryWriteBytes(noise, (uint)random.Next(length + 1)); // a plausible nlmsg_len
            var reader = new NetlinkReader(noise.AsSpan(0, length));
            while (reader.TryRead(out NetlinkMessage message))
            {
                RtNetlinkMessages.TryParseError(message, out _, out _);
                RtNetlinkMessages.TryParseAddress(message.Payload, out _);
                RtNetlinkMessages.TryParseLinkIndex(message.Payload, out _);
                RtNetlinkMessages.ParseDone(message.Payload);
            }
        }

        static bool Malformed(string hex)
        {
            var reader = new NetlinkReader(Convert.FromHexString(hex));
            return !reader.TryRead(out _) && reader.Malformed;
        }

        static bool ParseError(string hex)
        {
            var reader = new NetlinkReader(Convert.FromHexString(hex));
            return reader.TryRead(out NetlinkMessage message) && RtNetlinkMessages.TryParseError(message, out _, out _);
        }
    }

    private delegate int Builder(Span<byte> buffer);

    private static string Build(Builder build)
    {
        byte[] buffer = new byte[RtNetlinkMessages.RequestBytesMax];
        int length = build(buffer);
        return Convert.ToHexString(buffer, 0, length).ToLowerInvariant();
    }
}
