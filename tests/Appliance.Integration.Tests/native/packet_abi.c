/*
 * Prints the ABI facts that src/Appliance.Linux/Interop/Interop.Packet.cs hard-codes, as "NAME VALUE"
 * lines (decimal, unsigned), taken from the installed kernel uapi and libc headers. Compiled and run
 * by Edge/InteropAbiTests.cs, which compares every constant of Interop.Packet and the layout of its
 * structs with this output. Keep the names identical to the C# constants; the sockaddr_ll layout
 * numbers are constants there too, so they are printed by their C# names.
 */
#include <stdio.h>
#include <stddef.h>
#include <sys/socket.h>
#include <asm/socket.h>
#include <linux/if_packet.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/filter.h>

#define C(x) printf("%s %llu\n", #x, (unsigned long long)(x))
#define SIZE(t) printf("sizeof.%s %zu\n", #t, sizeof(struct t))
#define OFF(t, f) printf("offsetof.%s.%s %zu\n", #t, #f, offsetof(struct t, f))

int main(void)
{
    /* packet(7) <linux/socket.h>, <linux/if_arp.h>, <linux/if_ether.h> */
    C(AF_PACKET); C(ARPHRD_ETHER); C(ETH_P_ALL); C(ETH_P_ARP); C(ETH_P_IPV6);
    /* struct sockaddr_ll <linux/if_packet.h> */
    printf("SockaddrLlSize %zu\n", sizeof(struct sockaddr_ll));
    printf("SllProtocolOffset %zu\n", offsetof(struct sockaddr_ll, sll_protocol));
    printf("SllIfindexOffset %zu\n", offsetof(struct sockaddr_ll, sll_ifindex));
    printf("SllHatypeOffset %zu\n", offsetof(struct sockaddr_ll, sll_hatype));
    printf("SllHalenOffset %zu\n", offsetof(struct sockaddr_ll, sll_halen));
    /* socket(7) <asm-generic/socket.h> */
    C(SOL_SOCKET); C(SO_ATTACH_FILTER);
    /* classic BPF <linux/bpf_common.h>, <linux/filter.h> */
    C(BPF_LD); C(BPF_JMP); C(BPF_RET); C(BPF_W); C(BPF_H); C(BPF_B); C(BPF_ABS); C(BPF_JEQ); C(BPF_K);
    /* a negative int: printed as the 32-bit pattern the C# int has */
    printf("SKF_AD_OFF %u\n", (unsigned)SKF_AD_OFF);
    C(SKF_AD_VLAN_TAG_PRESENT);
    SIZE(sock_filter);
    OFF(sock_filter, code); OFF(sock_filter, jt); OFF(sock_filter, jf); OFF(sock_filter, k);
    SIZE(sock_fprog);
    OFF(sock_fprog, len); OFF(sock_fprog, filter);
    return 0;
}
