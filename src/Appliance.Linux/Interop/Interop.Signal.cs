using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Sys
    {
        /// <summary>Kill, cannot be caught or ignored. &lt;asm-generic/signal.h&gt;</summary>
        internal const int SIGKILL = 9;

        /// <summary>Segmentation fault (the nft worker's crash test hook sends it to itself when libnftables is absent). &lt;asm-generic/signal.h&gt;</summary>
        internal const int SIGSEGV = 11;

        /// <summary>
        /// kill(2): sends <paramref name="signal"/> to process <paramref name="pid"/>, or to every process
        /// of process group -<paramref name="pid"/> when it is negative. 0 or -1 (errno ESRCH: no such
        /// process or group left).
        /// </summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "kill", SetLastError = true)]
        internal static partial int Kill(int pid, int signal);
    }
}
