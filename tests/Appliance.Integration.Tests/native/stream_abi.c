/*
 * Prints the ABI facts that src/Appliance.Linux/Interop/Interop.Stream.cs hard-codes, as "NAME VALUE"
 * lines (decimal, unsigned), taken from the installed kernel uapi and libc headers. Compiled and run
 * by Edge/InteropAbiTests.cs, which compares every constant of Interop.Stream and the layout of
 * struct linger with this output. The sockaddr layout numbers are constants there too, so they are
 * printed by their C# names.
 */
#include <stdio.h>
#include <stddef.h>
#include <errno.h>
#include <sys/socket.h>
#include <netinet/in.h>

#define C(x) printf("%s %llu\n", #x, (unsigned long long)(x))
#define SIZE(t) printf("sizeof.%s %zu\n", #t, sizeof(struct t))
#define OFF(t, f) printf("offsetof.%s.%s %zu\n", #t, #f, offsetof(struct t, f))

int main(void)
{
    /* socket(2), socket(7) */
    C(AF_INET); C(AF_INET6); C(SOCK_STREAM); C(SOCK_NONBLOCK); C(SOCK_CLOEXEC);
    C(SOL_SOCKET); C(SO_ERROR); C(SO_LINGER); C(MSG_NOSIGNAL);
    /* errno */
    C(EINPROGRESS); C(EAGAIN); C(EINTR); C(ECONNREFUSED); C(ECONNRESET); C(EHOSTUNREACH); C(ENETUNREACH);
    /* struct sockaddr_in, sockaddr_in6 <linux/in.h>, <linux/in6.h> */
    printf("SockaddrIn4Size %zu\n", sizeof(struct sockaddr_in));
    printf("SinPortOffset %zu\n", offsetof(struct sockaddr_in, sin_port));
    printf("SinAddrOffset %zu\n", offsetof(struct sockaddr_in, sin_addr));
    printf("SockaddrIn6Size %zu\n", sizeof(struct sockaddr_in6));
    printf("Sin6PortOffset %zu\n", offsetof(struct sockaddr_in6, sin6_port));
    printf("Sin6AddrOffset %zu\n", offsetof(struct sockaddr_in6, sin6_addr));
    printf("Sin6ScopeIdOffset %zu\n", offsetof(struct sockaddr_in6, sin6_scope_id));
    SIZE(linger);
    OFF(linger, l_onoff); OFF(linger, l_linger);
    return 0;
}
