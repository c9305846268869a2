using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Sys
    {
        // ---- poll(2) event bits: <asm-generic/poll.h> ----
        /// <summary>Data to read. &lt;asm-generic/poll.h&gt;</summary>
        internal const short POLLIN = 0x1;
        /// <summary>Urgent data. &lt;asm-generic/poll.h&gt;</summary>
        internal const short POLLPRI = 0x2;
        /// <summary>Writing will not block. &lt;asm-generic/poll.h&gt;</summary>
        internal const short POLLOUT = 0x4;
        /// <summary>Error condition (revents only). &lt;asm-generic/poll.h&gt;</summary>
        internal const short POLLERR = 0x8;
        /// <summary>Hang up: the tty's other side or hardware is gone (revents only). &lt;asm-generic/poll.h&gt;</summary>
        internal const short POLLHUP = 0x10;
        /// <summary>The fd is not open (revents only): a programming error. &lt;asm-generic/poll.h&gt;</summary>
        internal const short POLLNVAL = 0x20;

        /// <summary><c>struct pollfd</c> (&lt;asm-generic/poll.h&gt;): 8 bytes, fd@0 events@4 revents@6.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct PollFd
        {
            public int Fd;
            public short Events;
            public short REvents;

            public PollFd(int fd, short events)
            {
                Fd = fd;
                Events = events;
                REvents = 0;
            }
        }

        /// <summary>
        /// poll(2): waits up to <paramref name="timeoutMs"/> (-1 = forever, 0 = just look) for events
        /// on <paramref name="nfds"/> entries. Returns the number of entries with non-zero REvents,
        /// 0 on timeout, -1 on error (EINTR when a signal arrived: call again with the remaining time).
        /// A negative Fd is ignored by the kernel (REvents 0): use -1 for a link that is currently closed.
        /// </summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "poll", SetLastError = true)]
        internal static unsafe partial int Poll(PollFd* fds, nuint nfds, int timeoutMs);

        /// <summary><c>struct timespec</c> (&lt;linux/time_types.h&gt; __kernel_timespec on 64-bit): seconds and nanoseconds, 16 bytes.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct Timespec
        {
            public long tv_sec;
            public long tv_nsec;
        }

        /// <summary>
        /// ppoll(2): poll(2) with a nanosecond timeout (null = forever) and no signal mask change
        /// (<paramref name="sigmask"/> null). poll(2) takes whole milliseconds and rounds up, which at a
        /// 2 ms keepalive is half a period of jitter; ppoll's timer fires to the nanosecond, with no slack
        /// for a real-time thread. Same return and errors as poll(2).
        /// </summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "ppoll", SetLastError = true)]
        internal static unsafe partial int PPoll(PollFd* fds, nuint nfds, Timespec* timeout, void* sigmask);

        /// <summary>poll(2) over a span (stack-allocated or a reused array); no allocation. See the pointer overload.</summary>
        internal static unsafe int Poll(Span<PollFd> fds, int timeoutMs)
        {
            fixed (PollFd* p = fds)
                return Poll(p, (nuint)fds.Length, timeoutMs);
        }
    }
}
