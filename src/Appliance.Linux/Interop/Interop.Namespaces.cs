using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Sys
    {
        /// <summary>setns(2) type: a network namespace. &lt;linux/sched.h&gt;</summary>
        internal const int CLONE_NEWNET = 0x40000000;

        /// <summary>
        /// setns(2): moves the calling thread into the namespace referred to by <paramref name="fd"/>
        /// (for example an open <c>/var/run/netns/NAME</c>). Sockets created afterwards by this thread
        /// belong to that namespace for their whole life. 0 or -1 (errno). Only on a dedicated thread.
        /// </summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "setns", SetLastError = true)]
        internal static partial int Setns(SafeHandle fd, int namespaceType);
    }
}
