/*
 * Prints the ABI facts that src/Appliance.Linux/Interop hard-codes, as "NAME VALUE" lines
 * (decimal, unsigned), taken from the installed kernel uapi and libc headers. Compiled and run by
 * Edge/InteropAbiTests.cs, which compares every constant of Interop.Sys and the layout of its
 * structs with this output. Keep the names identical to the C# constants.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <netinet/in.h>
#include <asm/termbits.h>
#include <asm/ioctls.h>

#define C(x) printf("%s %llu\n", #x, (unsigned long long)(x))
#define SIZE(t) printf("sizeof.%s %zu\n", #t, sizeof(struct t))
#define OFF(t, f) printf("offsetof.%s.%s %zu\n", #t, #f, offsetof(struct t, f))

int main(void)
{
    /* struct termios2 <asm-generic/termbits.h> */
    SIZE(termios2);
    OFF(termios2, c_iflag); OFF(termios2, c_oflag); OFF(termios2, c_cflag); OFF(termios2, c_lflag);
    OFF(termios2, c_line); OFF(termios2, c_cc); OFF(termios2, c_ispeed); OFF(termios2, c_ospeed);
    /* struct pollfd <asm-generic/poll.h> */
    SIZE(pollfd);
    OFF(pollfd, fd); OFF(pollfd, events); OFF(pollfd, revents);
    /* struct timespec <time.h> (ppoll) */
    SIZE(timespec);
    OFF(timespec, tv_sec); OFF(timespec, tv_nsec);

    /* open(2) <asm-generic/fcntl.h> */
    C(O_RDWR); C(O_NOCTTY); C(O_NONBLOCK); C(O_CLOEXEC);
    /* ioctls <asm-generic/ioctls.h> */
    C(TCGETS2); C(TCSETS2); C(TCFLSH); C(TIOCEXCL); C(TIOCNXCL); C(TCIOFLUSH);
    /* termbits <asm-generic/termbits.h> */
    C(NCCS); C(VTIME); C(VMIN);
    C(IGNBRK); C(BRKINT); C(PARMRK); C(INPCK); C(ISTRIP); C(INLCR); C(IGNCR); C(ICRNL);
    C(IXON); C(IXANY); C(IXOFF);
    C(OPOST);
    C(CBAUD); C(B0); C(BOTHER); C(CSIZE); C(CS8); C(CSTOPB); C(CREAD); C(PARENB); C(PARODD); C(CLOCAL);
    C(CIBAUD); C(IBSHIFT); C(CMSPAR); C(CRTSCTS);
    C(ISIG); C(ICANON); C(ECHO); C(ECHONL); C(IEXTEN);
    /* poll(2) <asm-generic/poll.h> */
    C(POLLIN); C(POLLPRI); C(POLLOUT); C(POLLERR); C(POLLHUP); C(POLLNVAL);
    /* eventfd(2) <linux/eventfd.h> */
    C(EFD_CLOEXEC); C(EFD_NONBLOCK); C(EFD_SEMAPHORE);
    /* setns(2) <linux/sched.h> */
    C(CLONE_NEWNET);
    /* sched_setscheduler(2) <linux/sched.h>, sched_param is one int */
    C(SCHED_OTHER); C(SCHED_FIFO); C(EPERM);
    SIZE(sched_param);
    /* mlockall(2) <asm-generic/mman-common.h>, prctl(2) <linux/prctl.h> */
    C(MCL_CURRENT); C(MCL_FUTURE); C(MCL_ONFAULT);
    C(PR_SET_TIMERSLACK); C(PR_GET_TIMERSLACK);
    /* socket options <linux/in.h>, <linux/in6.h> */
    C(IPPROTO_IP); C(IPPROTO_IPV6); C(IP_MULTICAST_IF); C(IP_MULTICAST_ALL); C(IPV6_MULTICAST_ALL);
    /* errno <asm-generic/errno-base.h>, <asm-generic/errno.h> */
    C(ENOENT); C(EINTR); C(ESRCH); C(EIO); C(ENXIO); C(EBADF); C(EAGAIN); C(EACCES); C(EBUSY); C(ENODEV);
    C(EEXIST); C(EINVAL); C(ENOTTY); C(EADDRNOTAVAIL); C(ECONNREFUSED); C(ENOTDIR); C(ELOOP);
    /* kill(2) <asm-generic/signal.h> */
    C(SIGKILL); C(SIGSEGV);
    return 0;
}
