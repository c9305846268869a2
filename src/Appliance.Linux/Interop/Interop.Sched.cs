using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Sys
    {
        // ---- scheduling policies: <linux/sched.h> (via <sched.h>) ----
        internal const int SCHED_OTHER = 0;
        internal const int SCHED_FIFO = 1;

        /// <summary><c>struct sched_param</c> (sched.h): one int, the static priority (1..99 for SCHED_FIFO).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct SchedParam
        {
            public int Priority;
        }

        /// <summary>
        /// sched_setscheduler(2). On Linux a <paramref name="pid"/> of 0 means the calling thread (not the
        /// whole process), which is what a dedicated heartbeat thread wants.
        /// </summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "sched_setscheduler", SetLastError = true)]
        internal static unsafe partial int SchedSetScheduler(int pid, int policy, SchedParam* param);
    }
}
