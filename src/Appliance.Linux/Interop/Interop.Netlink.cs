using System.Runtime.InteropServices;

internal static partial class Interop
{
    /// <summary>
    /// netlink(7) sockets speaking rtnetlink(7) (NETLINK_ROUTE): the kernel's own interface to
    /// addresses and links, the one iproute2's <c>ip</c> uses. Headers are in host byte order,
    /// addresses inside attributes in network order. Kept out of <see cref="Sys"/>: pinned by
    /// native/netlink_abi.c (Edge/NetlinkAbiTests). System.Net.Sockets has no AF_NETLINK, hence the
    /// socket calls of our own.
    /// </summary>
    internal static partial class Netlink
    {
        // ---- socket(2), setsockopt(2), recv(2): <linux/socket.h>, <linux/net.h>, libc <bits/socket.h> ----
        /// <summary>Address family of netlink sockets. &lt;linux/socket.h&gt;</summary>
        internal const int AF_NETLINK = 16;
        /// <summary>IPv4, as ifa_family. &lt;linux/socket.h&gt;</summary>
        internal const int AF_INET = 2;
        /// <summary>IPv6, as ifa_family. &lt;linux/socket.h&gt;</summary>
        internal const int AF_INET6 = 10;
        /// <summary>Socket type: datagrams; netlink takes SOCK_RAW or SOCK_DGRAM alike. &lt;linux/net.h&gt;</summary>
        internal const int SOCK_RAW = 3;
        /// <summary>socket(2) type flag: close on exec, so fence agents and scripts do not inherit it. &lt;asm-generic/fcntl.h&gt; (= O_CLOEXEC)</summary>
        internal const int SOCK_CLOEXEC = 0x80000;
        /// <summary>The rtnetlink protocol: links, addresses, routes. &lt;linux/netlink.h&gt;</summary>
        internal const int NETLINK_ROUTE = 0;
        /// <summary>setsockopt(2) level of the netlink options. &lt;linux/socket.h&gt;</summary>
        internal const int SOL_NETLINK = 270;
        /// <summary>Error acks do not echo the whole request back, only its header. &lt;linux/netlink.h&gt;</summary>
        internal const int NETLINK_CAP_ACK = 10;
        /// <summary>Error acks carry the kernel's reason text (NLMSGERR_ATTR_MSG), Linux 4.12+. &lt;linux/netlink.h&gt;</summary>
        internal const int NETLINK_EXT_ACK = 11;
        /// <summary>recv(2) flag: return the datagram's real length even when it did not fit (truncation shows). libc &lt;bits/socket.h&gt;</summary>
        internal const int MSG_TRUNC = 0x20;
        /// <summary>recv(2) flag: never block, whatever poll(2) said. libc &lt;bits/socket.h&gt;</summary>
        internal const int MSG_DONTWAIT = 0x40;

        // ---- netlink framing: <linux/netlink.h> ----
        /// <summary>Messages start on 4-byte boundaries (NLMSG_ALIGN). &lt;linux/netlink.h&gt;</summary>
        internal const int NLMSG_ALIGNTO = 4;
        /// <summary>An ack (error 0) or an error (-errno), with the request's header. &lt;linux/netlink.h&gt;</summary>
        internal const ushort NLMSG_ERROR = 2;
        /// <summary>End of a dump; carries an int (0 or -errno) on current kernels. &lt;linux/netlink.h&gt;</summary>
        internal const ushort NLMSG_DONE = 3;
        /// <summary>A request to the kernel (every message we send). &lt;linux/netlink.h&gt;</summary>
        internal const ushort NLM_F_REQUEST = 0x1;
        /// <summary>Ask for an ack (NLMSG_ERROR with error 0) on success too. &lt;linux/netlink.h&gt;</summary>
        internal const ushort NLM_F_ACK = 0x4;
        /// <summary>On an ack: the request was not echoed, only its header. &lt;linux/netlink.h&gt;</summary>
        internal const ushort NLM_F_CAPPED = 0x100;
        /// <summary>On an ack: extended ack attributes (NLMSGERR_ATTR_*) follow. &lt;linux/netlink.h&gt;</summary>
        internal const ushort NLM_F_ACK_TLVS = 0x200;
        /// <summary>GET: every object (NLM_F_ROOT | NLM_F_MATCH), ended by NLMSG_DONE. &lt;linux/netlink.h&gt;</summary>
        internal const ushort NLM_F_DUMP = 0x300;
        /// <summary>NEW: fail with EEXIST when the object exists. &lt;linux/netlink.h&gt;</summary>
        internal const ushort NLM_F_EXCL = 0x200;
        /// <summary>NEW: create the object if it does not exist. &lt;linux/netlink.h&gt;</summary>
        internal const ushort NLM_F_CREATE = 0x400;
        /// <summary>Extended ack attribute: the kernel's reason, a NUL-terminated string. &lt;linux/netlink.h&gt; enum nlmsgerr_attrs</summary>
        internal const ushort NLMSGERR_ATTR_MSG = 1;

        // ---- rtnetlink: <linux/rtnetlink.h> ----
        /// <summary>Attributes start on 4-byte boundaries (RTA_ALIGN). &lt;linux/rtnetlink.h&gt;</summary>
        internal const int RTA_ALIGNTO = 4;
        /// <summary>A link (the answer to RTM_GETLINK). &lt;linux/rtnetlink.h&gt;</summary>
        internal const ushort RTM_NEWLINK = 16;
        /// <summary>Get one link (by IFLA_IFNAME) or dump all. &lt;linux/rtnetlink.h&gt;</summary>
        internal const ushort RTM_GETLINK = 18;
        /// <summary>Add an address; also each entry of an address dump. &lt;linux/rtnetlink.h&gt;</summary>
        internal const ushort RTM_NEWADDR = 20;
        /// <summary>Remove an address. &lt;linux/rtnetlink.h&gt;</summary>
        internal const ushort RTM_DELADDR = 21;
        /// <summary>Dump the addresses of one family. &lt;linux/rtnetlink.h&gt;</summary>
        internal const ushort RTM_GETADDR = 22;
        /// <summary>ifa_scope "global", what `ip addr add` sends for a non-loopback address. &lt;linux/rtnetlink.h&gt; enum rt_scope_t</summary>
        internal const byte RT_SCOPE_UNIVERSE = 0;
        /// <summary>IFLA_EXT_MASK bit: leave the link's counters out of the answer (most of its size). &lt;linux/rtnetlink.h&gt;</summary>
        internal const uint RTEXT_FILTER_SKIP_STATS = 1 << 3;

        // ---- attributes: <linux/if_link.h>, <linux/if_addr.h>, <linux/if.h> ----
        /// <summary>Link attribute: the interface name, NUL-terminated. &lt;linux/if_link.h&gt;</summary>
        internal const ushort IFLA_IFNAME = 3;
        /// <summary>Link attribute: u32 of RTEXT_FILTER_* bits. &lt;linux/if_link.h&gt;</summary>
        internal const ushort IFLA_EXT_MASK = 29;
        /// <summary>Address attribute: the prefix address (the peer on point-to-point links). &lt;linux/if_addr.h&gt;</summary>
        internal const ushort IFA_ADDRESS = 1;
        /// <summary>Address attribute: the local address (IPv4; IPv6 only with a peer). &lt;linux/if_addr.h&gt;</summary>
        internal const ushort IFA_LOCAL = 2;
        /// <summary>Address attribute: u32 flags; overrides the 8-bit ifa_flags (Linux 3.14+). &lt;linux/if_addr.h&gt;</summary>
        internal const ushort IFA_FLAGS = 8;
        /// <summary>IPv6: skip duplicate address detection, usable at once (not "tentative"). &lt;linux/if_addr.h&gt;</summary>
        internal const uint IFA_F_NODAD = 0x02;
        /// <summary>Interface names are at most IFNAMSIZ - 1 bytes plus the NUL. &lt;linux/if.h&gt;</summary>
        internal const int IFNAMSIZ = 16;

        /// <summary><c>struct sockaddr_nl</c> (&lt;linux/netlink.h&gt;), 12 bytes.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct SockaddrNl
        {
            public ushort nl_family;
            public ushort nl_pad;
            /// <summary>Port id: 0 in bind(2) lets the kernel pick a unique one; 0 as a destination is the kernel.</summary>
            public uint nl_pid;
            public uint nl_groups;
        }

        /// <summary><c>struct nlmsghdr</c> (&lt;linux/netlink.h&gt;), 16 bytes: every message starts with it.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct NlMsgHdr
        {
            /// <summary>Length of the message, this header included, unaligned.</summary>
            public uint nlmsg_len;
            public ushort nlmsg_type;
            public ushort nlmsg_flags;
            public uint nlmsg_seq;
            public uint nlmsg_pid;
        }

        /// <summary><c>struct nlmsgerr</c> (&lt;linux/netlink.h&gt;), 20 bytes: the payload of NLMSG_ERROR.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct NlMsgErr
        {
            /// <summary>0 for an ack, else -errno.</summary>
            public int error;
            /// <summary>The request's header (and, unless NLM_F_CAPPED, its payload after this struct).</summary>
            public NlMsgHdr msg;
        }

        /// <summary><c>struct ifaddrmsg</c> (&lt;linux/if_addr.h&gt;), 8 bytes: the fixed part of RTM_*ADDR.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct IfAddrMsg
        {
            public byte ifa_family;
            public byte ifa_prefixlen;
            public byte ifa_flags;
            public byte ifa_scope;
            public uint ifa_index;
        }

        /// <summary><c>struct ifinfomsg</c> (&lt;linux/rtnetlink.h&gt;), 16 bytes: the fixed part of RTM_*LINK.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct IfInfoMsg
        {
            public byte ifi_family;
            public byte __ifi_pad;
            public ushort ifi_type;
            public int ifi_index;
            public uint ifi_flags;
            public uint ifi_change;
        }

        /// <summary><c>struct rtattr</c> (&lt;linux/rtnetlink.h&gt;), 4 bytes: length (header included, unaligned) and type.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct RtAttr
        {
            public ushort rta_len;
            public ushort rta_type;
        }

        /// <summary>socket(2): an fd or -1 (errno). Wrap it at once in a SafeHandle.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "socket", SetLastError = true)]
        internal static partial int Socket(int domain, int type, int protocol);

        /// <summary>bind(2) to a netlink address; 0 or -1 (errno).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "bind", SetLastError = true)]
        internal static unsafe partial int Bind(SafeHandle fd, SockaddrNl* address, uint addressLength);

        /// <summary>setsockopt(2) with an int value; 0 or -1 (errno; ENOPROTOOPT on kernels without the option).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "setsockopt", SetLastError = true)]
        internal static unsafe partial int SetSockOpt(SafeHandle fd, int level, int option, int* value, uint valueLength);

        /// <summary>
        /// send(2) to the bound socket's default destination, the kernel (port 0). rtnetlink runs the
        /// request inside this call, so its answer is queued when it returns. Bytes sent or -1 (errno).
        /// </summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "send", SetLastError = true)]
        internal static unsafe partial nint Send(SafeHandle fd, byte* buffer, nuint length, int flags);

        /// <summary>recv(2): one datagram; with <see cref="MSG_TRUNC"/> its full length even if longer than <paramref name="length"/>. -1 (errno).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "recv", SetLastError = true)]
        internal static unsafe partial nint Recv(SafeHandle fd, byte* buffer, nuint length, int flags);
    }
}
