internal static partial class Interop
{
    internal static partial class Sys
    {
        // Socket options that System.Net.Sockets does not map one-to-one on Linux; set them with
        // Socket.SetRawSocketOption so the kernel sees exactly these values.
        /// <summary>Protocol level of the IPv4 options. &lt;linux/in.h&gt;</summary>
        internal const int IPPROTO_IP = 0;
        /// <summary>Protocol level of the IPv6 options. &lt;linux/in.h&gt;</summary>
        internal const int IPPROTO_IPV6 = 41;
        /// <summary>Outgoing interface of multicast, by its address (struct in_addr). &lt;linux/in.h&gt;</summary>
        internal const int IP_MULTICAST_IF = 32;
        /// <summary>
        /// 1 (the Linux default): deliver every group joined by anyone on the host to a socket bound
        /// to the port; 0: only the groups this socket joined. &lt;linux/in.h&gt;
        /// </summary>
        internal const int IP_MULTICAST_ALL = 49;
        /// <summary>IPv6 twin of <see cref="IP_MULTICAST_ALL"/> (Linux 4.20+). &lt;linux/in6.h&gt;</summary>
        internal const int IPV6_MULTICAST_ALL = 29;
    }
}
