/*
 * Prints the ABI facts that src/Appliance.Linux/Interop/Interop.Netlink.cs (Interop.Netlink)
 * hard-codes, as "NAME VALUE" lines (decimal, unsigned), taken from the installed kernel uapi
 * (<linux/netlink.h>, <linux/rtnetlink.h>, <linux/if_addr.h>, <linux/if_link.h>, <linux/if.h>) and
 * libc <sys/socket.h>. Compiled and run by Edge/NetlinkAbiTests.cs, which compares every constant
 * of Interop.Netlink both ways and the size and every field offset of its structs. Keep the names
 * identical to the C#.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stddef.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/if.h>

#define C(x) printf("%s %llu\n", #x, (unsigned long long)(x))
#define SIZE(t) printf("sizeof.%s %zu\n", #t, sizeof(struct t))
#define OFF(t, f) printf("offsetof.%s.%s %zu\n", #t, #f, offsetof(struct t, f))

int main(void)
{
    /* structs <linux/netlink.h>, <linux/if_addr.h>, <linux/rtnetlink.h> */
    SIZE(sockaddr_nl);
    OFF(sockaddr_nl, nl_family); OFF(sockaddr_nl, nl_pad); OFF(sockaddr_nl, nl_pid); OFF(sockaddr_nl, nl_groups);
    SIZE(nlmsghdr);
    OFF(nlmsghdr, nlmsg_len); OFF(nlmsghdr, nlmsg_type); OFF(nlmsghdr, nlmsg_flags);
    OFF(nlmsghdr, nlmsg_seq); OFF(nlmsghdr, nlmsg_pid);
    SIZE(nlmsgerr);
    OFF(nlmsgerr, error); OFF(nlmsgerr, msg);
    SIZE(ifaddrmsg);
    OFF(ifaddrmsg, ifa_family); OFF(ifaddrmsg, ifa_prefixlen); OFF(ifaddrmsg, ifa_flags);
    OFF(ifaddrmsg, ifa_scope); OFF(ifaddrmsg, ifa_index);
    SIZE(ifinfomsg);
    OFF(ifinfomsg, ifi_family); OFF(ifinfomsg, __ifi_pad); OFF(ifinfomsg, ifi_type);
    OFF(ifinfomsg, ifi_index); OFF(ifinfomsg, ifi_flags); OFF(ifinfomsg, ifi_change);
    SIZE(rtattr);
    OFF(rtattr, rta_len); OFF(rtattr, rta_type);

    /* socket(2), setsockopt(2), recv(2) <linux/socket.h>, <linux/net.h>, libc <bits/socket.h> */
    C(AF_NETLINK); C(AF_INET); C(AF_INET6); C(SOCK_RAW); C(SOCK_CLOEXEC); C(NETLINK_ROUTE);
    C(SOL_NETLINK); C(NETLINK_CAP_ACK); C(NETLINK_EXT_ACK); C(MSG_TRUNC); C(MSG_DONTWAIT);
    /* framing <linux/netlink.h> */
    C(NLMSG_ALIGNTO); C(NLMSG_ERROR); C(NLMSG_DONE);
    C(NLM_F_REQUEST); C(NLM_F_ACK); C(NLM_F_CAPPED); C(NLM_F_ACK_TLVS); C(NLM_F_DUMP); C(NLM_F_EXCL); C(NLM_F_CREATE);
    C(NLMSGERR_ATTR_MSG);
    /* rtnetlink <linux/rtnetlink.h> */
    C(RTA_ALIGNTO); C(RTM_NEWLINK); C(RTM_GETLINK); C(RTM_NEWADDR); C(RTM_DELADDR); C(RTM_GETADDR);
    C(RT_SCOPE_UNIVERSE); C(RTEXT_FILTER_SKIP_STATS);
    /* attributes <linux/if_link.h>, <linux/if_addr.h>, <linux/if.h> */
    C(IFLA_IFNAME); C(IFLA_EXT_MASK); C(IFA_ADDRESS); C(IFA_LOCAL); C(IFA_FLAGS); C(IFA_F_NODAD); C(IFNAMSIZ);
    return 0;
}
