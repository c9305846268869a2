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

        /// <summary>
        /// sched_setaffinity(2): the CPUs the thread <paramref name="pid"/> (0: the caller) may run on, as
        /// a bit mask of <paramref name="size"/> bytes (cpu_set_t, &lt;sched.h&gt;).
        /// </summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "sched_setaffinity", SetLastError = true)]
        internal static unsafe partial int SchedSetAffinity(int pid, nuint size, ulong* mask);

        /// <summary>sched_getaffinity(2): the caller's CPU mask; returns the bytes the kernel wrote (the raw syscall) or 0 (glibc), -1 on error.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "sched_getaffinity", SetLastError = true)]
        internal static unsafe partial int SchedGetAffinity(int pid, nuint size, ulong* mask);

        /// <summary>gettid(2) (glibc 2.30): the calling thread's id, which sched_setaffinity(2) takes to move that one thread.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "gettid")]
        internal static partial int GetTid();

        /// <summary>sched_getcpu(3): the CPU the calling thread runs on now (the vDSO, no system call); -1 on error.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "sched_getcpu")]
        internal static partial int SchedGetCpu();

        // ---- mlockall(2) flags: <asm-generic/mman-common.h> (via <sys/mman.h>) ----
        /// <summary>Lock every page mapped now (and fault it in). &lt;asm-generic/mman.h&gt;</summary>
        internal const int MCL_CURRENT = 1;
        /// <summary>Lock every page mapped from now on. &lt;asm-generic/mman.h&gt;</summary>
        internal const int MCL_FUTURE = 2;
        /// <summary>With MCL_FUTURE: lock pages as they are first touched instead of faulting whole mappings in (Linux 4.4). &lt;asm-generic/mman.h&gt;</summary>
        internal const int MCL_ONFAULT = 4;

        /// <summary>mlockall(2): keeps the process's pages in RAM, so no page the heartbeat touches is ever read back from disk.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "mlockall", SetLastError = true)]
        internal static partial int MLockAll(int flags);

        // ---- prctl(2) options: <linux/prctl.h> ----
        /// <summary>Set the calling thread's timer slack in ns (0 restores the process default). &lt;linux/prctl.h&gt;</summary>
        internal const int PR_SET_TIMERSLACK = 29;
        /// <summary>Get the calling thread's timer slack in ns (the return value). &lt;linux/prctl.h&gt;</summary>
        internal const int PR_GET_TIMERSLACK = 30;

        /// <summary>
        /// prctl(2). Declared with the four unsigned long arguments every option takes (the C prototype
        /// is variadic; on x86-64 and aarch64 Linux integer varargs travel like fixed arguments).
        /// </summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "prctl", SetLastError = true)]
        internal static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);
    }
}
