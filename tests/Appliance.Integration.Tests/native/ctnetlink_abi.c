/*
 * Prints the ABI facts that src/Appliance.Linux/Interop/Interop.Ctnetlink.cs (Interop.Ctnetlink)
 * hard-codes, as "NAME VALUE" lines (decimal, unsigned), taken from the installed kernel uapi
 * (<linux/netlink.h>, <linux/netfilter/nfnetlink.h>, <linux/netfilter/nfnetlink_conntrack.h>,
 * <linux/netfilter/nf_conntrack_tcp.h>). Compiled and run by Edge/CtnetlinkAbiTests.cs, which
 * compares every constant of Interop.Ctnetlink both ways and the size and every field offset of its
 * structs. Keep the names identical to the C#.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stddef.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_conntrack_tcp.h>

#define C(x) printf("%s %llu\n", #x, (unsigned long long)(x))
#define SIZE(t) printf("sizeof.%s %zu\n", #t, sizeof(struct t))
#define OFF(t, f) printf("offsetof.%s.%s %zu\n", #t, #f, offsetof(struct t, f))

int main(void)
{
    /* structs <linux/netfilter/nfnetlink.h>, <linux/netlink.h> */
    SIZE(nfgenmsg);
    OFF(nfgenmsg, nfgen_family); OFF(nfgenmsg, version); OFF(nfgenmsg, res_id);
    SIZE(nlattr);
    OFF(nlattr, nla_len); OFF(nlattr, nla_type);

    /* <linux/netlink.h> */
    C(NETLINK_NETFILTER); C(NLA_F_NESTED); C(NLA_F_NET_BYTEORDER); C(NLA_ALIGNTO);
    /* <linux/netfilter/nfnetlink.h> */
    C(NFNETLINK_V0); C(NFNL_SUBSYS_CTNETLINK);
    /* <linux/netfilter/nfnetlink_conntrack.h> */
    C(IPCTNL_MSG_CT_NEW); C(IPCTNL_MSG_CT_GET);
    C(CTA_PROTOINFO); C(CTA_MARK); C(CTA_MARK_MASK); C(CTA_PROTOINFO_TCP); C(CTA_PROTOINFO_TCP_STATE);
    /* <linux/netfilter/nf_conntrack_tcp.h> */
    C(TCP_CONNTRACK_TIME_WAIT); C(TCP_CONNTRACK_CLOSE);
    return 0;
}
