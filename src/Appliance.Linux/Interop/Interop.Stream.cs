using System.Runtime.InteropServices;

internal static partial class Interop
{
    /// <summary>
    /// Non-blocking TCP sockets by raw file descriptor, for the director's real-server checks
    /// (Director/CheckLoop.cs): socket(2), connect(2), getsockopt(2) SO_ERROR, getsockname(2), send(2), recv(2),
    /// close(2), no managed <c>Socket</c> and no runtime socket engine, so a check costs no thread
    /// hop and no exception. Kept out of <see cref="Sys"/>: every constant here is pinned by
    /// native/stream_abi.c (Edge/InteropAbiTests.cs). The socket addresses are built as bytes
    /// (<see cref="SockaddrIn4Size"/>, <see cref="SockaddrIn6Size"/> and the offsets, also pinned).
    /// </summary>
    internal static partial class Stream
    {
        /// <summary>IPv4 address family. &lt;linux/socket.h&gt; (bits/socket.h in libc)</summary>
        internal const int AF_INET = 2;
        /// <summary>IPv6 address family. &lt;linux/socket.h&gt;</summary>
        internal const int AF_INET6 = 10;
        /// <summary>Stream socket type. &lt;linux/net.h&gt; (bits/socket_type.h)</summary>
        internal const int SOCK_STREAM = 1;
        /// <summary>socket(2) type flag: O_NONBLOCK on the new fd. &lt;linux/net.h&gt; (= O_NONBLOCK, asm-generic/fcntl.h)</summary>
        internal const int SOCK_NONBLOCK = 0x800;
        /// <summary>socket(2) type flag: close on exec (exec checks fork /bin/sh). &lt;linux/net.h&gt; (= O_CLOEXEC)</summary>
        internal const int SOCK_CLOEXEC = 0x80000;
        /// <summary>Socket-level options. &lt;asm-generic/socket.h&gt;</summary>
        internal const int SOL_SOCKET = 1;
        /// <summary>Pending error of the socket (read after a non-blocking connect). &lt;asm-generic/socket.h&gt;</summary>
        internal const int SO_ERROR = 4;
        /// <summary>struct linger: {1, 0} makes close(2) send a reset, no FIN, no TIME_WAIT. &lt;asm-generic/socket.h&gt;</summary>
        internal const int SO_LINGER = 13;
        /// <summary>send(2): no SIGPIPE when the peer has gone. &lt;linux/socket.h&gt;</summary>
        internal const int MSG_NOSIGNAL = 0x4000;
        /// <summary>Operation now in progress: a non-blocking connect that has not completed yet. &lt;asm-generic/errno.h&gt;</summary>
        internal const int EINPROGRESS = 115;
        /// <summary>Try again: nothing to read, or no room to send, now. &lt;asm-generic/errno-base.h&gt;</summary>
        internal const int EAGAIN = 11;
        /// <summary>Interrupted system call. &lt;asm-generic/errno-base.h&gt;</summary>
        internal const int EINTR = 4;
        /// <summary>Connection refused (a reset answered the SYN). &lt;asm-generic/errno.h&gt;</summary>
        internal const int ECONNREFUSED = 111;
        /// <summary>Connection reset by peer. &lt;asm-generic/errno.h&gt;</summary>
        internal const int ECONNRESET = 104;
        /// <summary>No route to host (an ICMP host unreachable, or ARP failed). &lt;asm-generic/errno.h&gt;</summary>
        internal const int EHOSTUNREACH = 113;
        /// <summary>Network is unreachable (no route). &lt;asm-generic/errno.h&gt;</summary>
        internal const int ENETUNREACH = 101;

        /// <summary><c>sizeof(struct sockaddr_in)</c>. &lt;linux/in.h&gt;</summary>
        internal const int SockaddrIn4Size = 16;
        /// <summary><c>offsetof(struct sockaddr_in, sin_port)</c> (network byte order). &lt;linux/in.h&gt;</summary>
        internal const int SinPortOffset = 2;
        /// <summary><c>offsetof(struct sockaddr_in, sin_addr)</c>. &lt;linux/in.h&gt;</summary>
        internal const int SinAddrOffset = 4;
        /// <summary><c>sizeof(struct sockaddr_in6)</c>. &lt;linux/in6.h&gt;</summary>
        internal const int SockaddrIn6Size = 28;
        /// <summary><c>offsetof(struct sockaddr_in6, sin6_port)</c>. &lt;linux/in6.h&gt;</summary>
        internal const int Sin6PortOffset = 2;
        /// <summary><c>offsetof(struct sockaddr_in6, sin6_addr)</c>. &lt;linux/in6.h&gt;</summary>
        internal const int Sin6AddrOffset = 8;
        /// <summary><c>offsetof(struct sockaddr_in6, sin6_scope_id)</c>. &lt;linux/in6.h&gt;</summary>
        internal const int Sin6ScopeIdOffset = 24;

        /// <summary><c>struct linger</c> (&lt;asm-generic/socket.h&gt;, socket(7)): 8 bytes, l_onoff@0 l_linger@4.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct Linger
        {
            public int l_onoff;
            public int l_linger;
        }

        /// <summary>socket(2): an fd or -1 (errno EMFILE when the process is out of descriptors).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "socket", SetLastError = true)]
        internal static partial int Socket(int domain, int type, int protocol);

        /// <summary>connect(2) on a non-blocking socket: 0 (connected at once), or -1 with errno EINPROGRESS (poll for POLLOUT, then read SO_ERROR) or the failure.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "connect", SetLastError = true)]
        internal static unsafe partial int Connect(int fd, byte* address, uint addressLength);

        /// <summary>setsockopt(2) with a <see cref="Linger"/> value; 0 or -1 (errno).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "setsockopt", SetLastError = true)]
        internal static unsafe partial int SetSockOpt(int fd, int level, int option, Linger* value, uint valueLength);

        /// <summary>getsockopt(2) with an int value (SO_ERROR: the connect's outcome, 0 = connected); 0 or -1 (errno).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "getsockopt", SetLastError = true)]
        internal static unsafe partial int GetSockOpt(int fd, int level, int option, int* value, uint* valueLength);

        /// <summary>getsockname(2): the socket's own address into <paramref name="address"/> (<paramref name="addressLength"/>: its size in, the address's out); 0 or -1 (errno).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "getsockname", SetLastError = true)]
        internal static unsafe partial int GetSockName(int fd, byte* address, uint* addressLength);

        /// <summary>send(2): bytes sent (possibly fewer) or -1 (errno EAGAIN: no room now).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "send", SetLastError = true)]
        internal static unsafe partial nint Send(int fd, byte* buffer, nuint length, int flags);

        /// <summary>recv(2): bytes read, 0 at the peer's end of stream, or -1 (errno EAGAIN: nothing now).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "recv", SetLastError = true)]
        internal static unsafe partial nint Recv(int fd, byte* buffer, nuint length, int flags);

        /// <summary>close(2) of a check socket; with SO_LINGER {1, 0} it resets a connected one.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "close", SetLastError = true)]
        internal static partial int Close(int fd);
    }
}
