using Appliance.Linux.Director;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// ConntrackMessages against byte vectors: the dump request `conntrack -L -m 0x2a0000/0xffff0000`
/// (conntrack-tools 1.4.7) sends and an entry the kernel (Linux 6.18) answered it with, both captured
/// with strace in a scratch namespace (a TCP entry in TIME_WAIT, mark 0x002a0000, sequence
/// 1796452472). Pure: no root, no sockets. Little-endian hosts, like our boards.
/// </summary>
public sealed class ConntrackMessagesTests
{
    /// <summary>The entry's payload after its nlmsghdr: nfgenmsg (AF_INET) and the attributes.</summary>
    private const string TimeWaitEntry =
        "020000003400018014000180080001000a010002080002000a0200011c00028005000100060000000600020003e80000" +
        "06000300005000003400028014000180080001000a020001080002000a0100021c000280050001000600000006000200" +
        "005000000600030003e80000080003000000000808000800002a000008000c003f05f23908000b000000000108000700" +
        "00000063300004802c000180050001000700000005000200000000000500030000000000060004000e00000006000500" +
        "0e0000001c001880080001000000000008000200000000000800030000000000";

    /// <summary>Where the TCP state byte sits in <see cref="TimeWaitEntry"/> (CTA_PROTOINFO / _TCP / _STATE).</summary>
    private const int StateByte = 160;

    [Fact]
    public void The_filtered_dump_request_is_what_conntrack_sends()
    {
        var buffer = new byte[ConntrackMessages.RequestBytesMax];
        int n = ConntrackMessages.BuildDump(buffer, 1796452468, 0x002a0000, 0xffff0000);
        // nlmsghdr: 36 bytes, CTNETLINK<<8|CT_GET, REQUEST|DUMP; nfgenmsg AF_UNSPEC; CTA_MARK; CTA_MARK_MASK (big-endian values).
        Assert.Equal("24000000" + "0101" + "0103" + "74b0136b" + "00000000" + "00000000" + "08000800" + "002a0000" + "08001500" + "ffff0000",
            Convert.ToHexStringLower(buffer, 0, n));
    }

    [Fact]
    public void An_unfiltered_dump_has_no_mark_attributes_and_a_mark_outside_its_mask_is_refused()
    {
        var buffer = new byte[ConntrackMessages.RequestBytesMax];
        int n = ConntrackMessages.BuildDump(buffer, 7, 0, 0);
        Assert.Equal("14000000" + "0101" + "0103" + "07000000" + "00000000" + "00000000", Convert.ToHexStringLower(buffer, 0, n));
        Assert.Throws<ArgumentException>(() => ConntrackMessages.BuildDump(buffer, 7, 0x002a0001, 0xffff0000));
        Assert.Throws<ArgumentException>(() => ConntrackMessages.BuildDump(new byte[20], 7, 0, 0));
    }

    [Fact]
    public void An_entry_gives_its_mark_and_time_wait_is_not_open()
    {
        byte[] entry = Convert.FromHexString(TimeWaitEntry);
        Assert.Equal(7, entry[StateByte]); // TCP_CONNTRACK_TIME_WAIT, as captured
        Assert.True(ConntrackMessages.TryParseEntry(entry, out uint mark, out bool open));
        Assert.Equal(0x002a0000u, mark);
        Assert.False(open);

        foreach (var (state, expected) in new[] { (3, true), (2, true), (5, true), (8, false) }) // ESTABLISHED, SYN_RECV, CLOSE_WAIT, CLOSE
        {
            entry[StateByte] = (byte)state;
            Assert.True(ConntrackMessages.TryParseEntry(entry, out _, out open));
            Assert.Equal(expected, open);
        }
    }

    [Fact]
    public void An_entry_without_protoinfo_or_mark_is_open_and_unmarked_and_a_cut_entry_is_malformed()
    {
        // nfgenmsg, then only CTA_STATUS (type 3): a UDP entry of a kernel that sent no mark.
        byte[] bare = Convert.FromHexString("02000000" + "0800030000000008");
        Assert.True(ConntrackMessages.TryParseEntry(bare, out uint mark, out bool open));
        Assert.Equal(0u, mark);
        Assert.True(open);

        byte[] entry = Convert.FromHexString(TimeWaitEntry);
        Assert.False(ConntrackMessages.TryParseEntry(entry.AsSpan(0, 100), out _, out _));
        Assert.False(ConntrackMessages.TryParseEntry(entry.AsSpan(0, 2), out _, out _));
    }
}
