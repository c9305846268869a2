using System.Runtime.InteropServices;

internal static partial class Interop
{
    /// <summary>
    /// ctnetlink: the conntrack table over nfnetlink (NETLINK_NETFILTER), the interface conntrack(8)
    /// and conntrackd use. A message is an nlmsghdr, a <see cref="NfGenMsg"/> and netlink attributes
    /// (<see cref="NlAttr"/>); the message type is <c>subsystem &lt;&lt; 8 | message</c>. Integers inside
    /// ctnetlink attributes (the mark among them) are big-endian, unlike rtnetlink's. The socket calls
    /// are <see cref="Netlink"/>'s. Pinned by native/ctnetlink_abi.c (Edge/CtnetlinkAbiTests).
    /// </summary>
    internal static partial class Ctnetlink
    {
        // ---- <linux/netlink.h> ----
        /// <summary>The netlink protocol of nfnetlink (ctnetlink, nftables, queue, log). &lt;linux/netlink.h&gt;</summary>
        internal const int NETLINK_NETFILTER = 12;
        /// <summary>Attribute type flag: the attribute holds attributes. &lt;linux/netlink.h&gt;</summary>
        internal const ushort NLA_F_NESTED = 0x8000;
        /// <summary>Attribute type flag: the payload is in network byte order. &lt;linux/netlink.h&gt;</summary>
        internal const ushort NLA_F_NET_BYTEORDER = 0x4000;
        /// <summary>Attributes start on 4-byte boundaries (NLA_ALIGN). &lt;linux/netlink.h&gt;</summary>
        internal const int NLA_ALIGNTO = 4;

        // ---- <linux/netfilter/nfnetlink.h> ----
        /// <summary>nfgenmsg.version of every request. &lt;linux/netfilter/nfnetlink.h&gt;</summary>
        internal const byte NFNETLINK_V0 = 0;
        /// <summary>The conntrack subsystem: the high byte of the message type. &lt;linux/netfilter/nfnetlink.h&gt;</summary>
        internal const ushort NFNL_SUBSYS_CTNETLINK = 1;

        // ---- <linux/netfilter/nfnetlink_conntrack.h> ----
        /// <summary>An entry (each answer of a dump carries this message). &lt;linux/netfilter/nfnetlink_conntrack.h&gt; enum cntl_msg_types</summary>
        internal const ushort IPCTNL_MSG_CT_NEW = 0;
        /// <summary>Get one entry, or with NLM_F_DUMP every entry that passes the filter. &lt;linux/netfilter/nfnetlink_conntrack.h&gt;</summary>
        internal const ushort IPCTNL_MSG_CT_GET = 1;
        /// <summary>Entry attribute (nested): the protocol's state, CTA_PROTOINFO_TCP for TCP. &lt;linux/netfilter/nfnetlink_conntrack.h&gt; enum ctattr_type</summary>
        internal const ushort CTA_PROTOINFO = 4;
        /// <summary>Entry attribute, big-endian u32: the ct mark. In a dump request: the filter value. &lt;linux/netfilter/nfnetlink_conntrack.h&gt;</summary>
        internal const ushort CTA_MARK = 8;
        /// <summary>Dump request attribute, big-endian u32: entries with <c>mark &amp; mask == CTA_MARK</c> only. &lt;linux/netfilter/nfnetlink_conntrack.h&gt;</summary>
        internal const ushort CTA_MARK_MASK = 21;
        /// <summary>Inside CTA_PROTOINFO (nested): TCP's state. &lt;linux/netfilter/nfnetlink_conntrack.h&gt; enum ctattr_protoinfo</summary>
        internal const ushort CTA_PROTOINFO_TCP = 1;
        /// <summary>Inside CTA_PROTOINFO_TCP, u8: an enum tcp_conntrack value. &lt;linux/netfilter/nfnetlink_conntrack.h&gt; enum ctattr_protoinfo_tcp</summary>
        internal const ushort CTA_PROTOINFO_TCP_STATE = 1;

        // ---- <linux/netfilter/nf_conntrack_tcp.h> enum tcp_conntrack ----
        /// <summary>Both sides closed; the entry lingers (120 s by default) for late segments. &lt;linux/netfilter/nf_conntrack_tcp.h&gt;</summary>
        internal const byte TCP_CONNTRACK_TIME_WAIT = 7;
        /// <summary>Reset or closed; the entry lingers (10 s by default). &lt;linux/netfilter/nf_conntrack_tcp.h&gt;</summary>
        internal const byte TCP_CONNTRACK_CLOSE = 8;

        /// <summary><c>struct nfgenmsg</c> (&lt;linux/netfilter/nfnetlink.h&gt;), 4 bytes: after the nlmsghdr of every nfnetlink message.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct NfGenMsg
        {
            /// <summary>AF_INET, AF_INET6; AF_UNSPEC (0) in a dump request: every family.</summary>
            public byte nfgen_family;
            public byte version;
            /// <summary>Big-endian; the conntrack table (0) in requests.</summary>
            public ushort res_id;
        }

        /// <summary><c>struct nlattr</c> (&lt;linux/netlink.h&gt;), 4 bytes: length (header included, unaligned) and type (with the NLA_F_* flags).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct NlAttr
        {
            public ushort nla_len;
            public ushort nla_type;
        }
    }
}
