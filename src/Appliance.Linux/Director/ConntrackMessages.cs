using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Appliance.Linux.Net;
using static Interop.Ctnetlink;
using static Interop.Netlink;

namespace Appliance.Linux.Director;

/// <summary>
/// Builds the ctnetlink(nfnetlink) request that dumps the conntrack table filtered by ct mark, and
/// reads the two fields the director counts from each entry: the mark and, for TCP, the state. Pure
/// functions over byte spans (STYLE.md "Build separately from send"); <see cref="ConntrackCounter"/>
/// moves the bytes. The request is the one `conntrack -L -m MARK/MASK` sends (conntrack-tools 1.4.7,
/// captured with strace on Linux 6.x); the kernel applies the filter (ctnetlink_filter_match), so only
/// matching entries cross into user space.
/// </summary>
internal static class ConntrackMessages
{
    /// <summary>Room for the request: 16 nlmsghdr + 4 nfgenmsg + 8 CTA_MARK + 8 CTA_MARK_MASK = 36 bytes.</summary>
    public const int RequestBytesMax = 36;

    /// <summary>The message type of a conntrack GET (a dump with NLM_F_DUMP).</summary>
    public const ushort DumpType = NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_GET;

    /// <summary>The message type of each entry of a dump.</summary>
    public const ushort EntryType = NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_NEW;

    private const ushort TypeMask = unchecked((ushort)~(NLA_F_NESTED | NLA_F_NET_BYTEORDER));

    /// <summary>
    /// IPCTNL_MSG_CT_GET with NLM_F_DUMP over every family (AF_UNSPEC): the entries whose
    /// <c>mark &amp; <paramref name="mask"/> == <paramref name="mark"/></c>; with <paramref name="mask"/> 0,
    /// no filter attributes at all (every entry). Returns the length written into <paramref name="dst"/>.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="mark"/> has bits outside <paramref name="mask"/> (it would match nothing).</exception>
    public static int BuildDump(Span<byte> dst, uint seq, uint mark, uint mask)
    {
        if ((mark & ~mask) != 0)
            throw new ArgumentException($"mark 0x{mark:x8} has bits outside mask 0x{mask:x8}: nothing would match", nameof(mark));
        if (dst.Length < RequestBytesMax)
            throw new ArgumentException($"buffer of {dst.Length} bytes, need {RequestBytesMax}", nameof(dst));
        dst[..RequestBytesMax].Clear();
        int at = Unsafe.SizeOf<NlMsgHdr>();
        MemoryMarshal.Write(dst[at..], new NfGenMsg { nfgen_family = 0, version = NFNETLINK_V0, res_id = 0 });
        at += Unsafe.SizeOf<NfGenMsg>();
        if (mask != 0)
        {
            at = BigEndianU32(dst, at, CTA_MARK, mark);
            at = BigEndianU32(dst, at, CTA_MARK_MASK, mask);
        }
        MemoryMarshal.Write(dst, new NlMsgHdr { nlmsg_len = (uint)at, nlmsg_type = DumpType, nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, nlmsg_seq = seq });
        return at;
    }

    /// <summary>
    /// Reads an entry of a dump (the payload of an <see cref="EntryType"/> message): its ct mark (0
    /// when the kernel sent none) and whether it still counts as an open connection: every entry but
    /// TCP in TIME_WAIT or CLOSE, which linger after the connection ended (120 s and 10 s by default),
    /// and would count a busy server's last two minutes of closed connections. False when malformed.
    /// </summary>
    public static bool TryParseEntry(ReadOnlySpan<byte> payload, out uint mark, out bool open)
    {
        mark = 0;
        open = true;
        if (payload.Length < Unsafe.SizeOf<NfGenMsg>())
            return false;
        ReadOnlySpan<byte> attributes = payload[RtNetlinkMessages.AlignMessage(Unsafe.SizeOf<NfGenMsg>())..];
        while (RtNetlinkMessages.TryReadAttribute(ref attributes, out ushort type, out ReadOnlySpan<byte> value))
        {
            switch ((ushort)(type & TypeMask))
            {
                case CTA_MARK when value.Length == sizeof(uint):
                    mark = BinaryPrimitives.ReadUInt32BigEndian(value);
                    break;
                case CTA_PROTOINFO:
                    if (TcpState(value) is TCP_CONNTRACK_TIME_WAIT or TCP_CONNTRACK_CLOSE)
                        open = false;
                    break;
            }
        }
        return attributes.IsEmpty;
    }

    /// <summary>CTA_PROTOINFO_TCP / CTA_PROTOINFO_TCP_STATE inside a CTA_PROTOINFO; null when absent (not TCP) or malformed.</summary>
    private static byte? TcpState(ReadOnlySpan<byte> protoinfo)
    {
        while (RtNetlinkMessages.TryReadAttribute(ref protoinfo, out ushort type, out ReadOnlySpan<byte> tcp))
        {
            if ((type & TypeMask) != CTA_PROTOINFO_TCP)
                continue;
            while (RtNetlinkMessages.TryReadAttribute(ref tcp, out ushort field, out ReadOnlySpan<byte> value))
                if ((field & TypeMask) == CTA_PROTOINFO_TCP_STATE && value.Length >= 1)
                    return value[0];
        }
        return null;
    }

    private static int BigEndianU32(Span<byte> dst, int at, ushort type, uint value)
    {
        MemoryMarshal.Write(dst[at..], new NlAttr { nla_len = 8, nla_type = type });
        BinaryPrimitives.WriteUInt32BigEndian(dst[(at + 4)..], value);
        return at + 8;
    }
}
