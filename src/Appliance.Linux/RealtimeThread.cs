using System.Runtime.InteropServices;

namespace Appliance.Linux;

/// <summary>
/// Real-time scheduling for the calling thread (what Linux-HA heartbeat calls `realtime`), and the
/// other things the heartbeat's fast path asks of the kernel: its pages locked in RAM, its timers
/// without slack, and optionally its CPU. Each returns null on success, else why not: the caller
/// logs it and carries on (a heartbeat that runs without one of them is slower under load, not wrong).
/// </summary>
public static class RealtimeThread
{
    /// <summary>
    /// The SCHED_FIFO priority of the heartbeat thread: above ordinary work and most kernel threaded
    /// IRQ handlers' defaults (50) are left alone; low enough that a runaway cannot starve them.
    /// </summary>
    public const int HeartbeatPriority = 40;

    /// <summary>
    /// The SCHED_FIFO priority of the heartbeat worker's other threads (its main thread, the writer,
    /// the runtime's finalizer, console logger and signal threads), below the heartbeat thread's. A collection
    /// suspends every thread of the process, the heartbeat thread too, until the threads it waits on
    /// are done; at an ordinary priority they would wait behind every CPU-bound process. (It did not
    /// remove the 100-108 ms send gaps measured with stress-ng on every CPU plus churn at 3 ms
    /// keepalive: a scheduler trace shows those are a virtual CPU of the bench host stopping, README, Performance.) These threads sleep on their file descriptors; they run for
    /// microseconds at a time.
    /// </summary>
    public const int WorkerPriority = 20;

    /// <summary>
    /// Timer slack the heartbeat thread asks for, in nanoseconds: the least the kernel takes (0 would
    /// restore the default of 50 µs). A SCHED_FIFO thread gets none anyway; this covers a heartbeat
    /// that could not get real-time scheduling.
    /// </summary>
    public const int HeartbeatTimerSlackNs = 1;

    /// <summary>Most CPUs a mask names (cpu_set_t's 1024 bits, &lt;sched.h&gt;).</summary>
    public const int MaxCpus = 1024;

    /// <summary>
    /// Puts the calling thread under SCHED_FIFO at <paramref name="priority"/>. Returns null on success,
    /// else why not (no CAP_SYS_NICE, or an RT limit): the caller logs it and carries on.
    /// </summary>
    public static unsafe string? TryMakeCurrentThreadRealtime(int priority)
    {
        var param = new Interop.Sys.SchedParam { Priority = priority };
        if (Interop.Sys.SchedSetScheduler(0, Interop.Sys.SCHED_FIFO, &param) == 0)
            return null;
        return LastError();
    }

    /// <summary>
    /// Puts every thread of this process that exists now under SCHED_FIFO at <paramref name="priority"/>:
    /// the calling thread and those the runtime started before our code ran (the finalizer, the
    /// console logger, the signal handler), which no <see cref="TryMakeCurrentThreadRealtime"/> reaches. Threads
    /// started later inherit the policy of the thread that starts them. Returns null on success, else
    /// why not for the first thread that refused.
    /// </summary>
    public static unsafe string? TryMakeProcessRealtime(int priority)
    {
        var param = new Interop.Sys.SchedParam { Priority = priority };
        if (Interop.Sys.SchedSetScheduler(0, Interop.Sys.SCHED_FIFO, &param) != 0)
            return LastError();
        string? why = null;
        foreach (var dir in Directory.EnumerateDirectories("/proc/self/task"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int tid))
                continue;
            if (Interop.Sys.SchedSetScheduler(tid, Interop.Sys.SCHED_FIFO, &param) != 0 && Marshal.GetLastPInvokeError() != Interop.Sys.ESRCH)
                why ??= $"thread {tid}: {LastError()}";
        }
        return why;
    }

    /// <summary>
    /// Locks the process in RAM: every page mapped now is faulted in and locked (the whole program
    /// text, so a path first run at a failover is not read from disk then), and every page mapped
    /// later is locked as it is first touched (MCL_ONFAULT: a thread stack or heap reservation is not
    /// faulted in whole). Needs CAP_IPC_LOCK or a large enough RLIMIT_MEMLOCK.
    /// </summary>
    public static string? TryLockProcessMemory()
    {
        if (Interop.Sys.MLockAll(Interop.Sys.MCL_CURRENT) != 0)
            return LastError();
        if (Interop.Sys.MLockAll(Interop.Sys.MCL_FUTURE | Interop.Sys.MCL_ONFAULT) != 0)
            return LastError();
        return null;
    }

    /// <summary>Sets the calling thread's timer slack (prctl PR_SET_TIMERSLACK).</summary>
    public static string? TrySetCurrentThreadTimerSlack(int nanoseconds)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(nanoseconds, 1);
        return Interop.Sys.Prctl(Interop.Sys.PR_SET_TIMERSLACK, (nuint)nanoseconds, 0, 0, 0) == 0 ? null : LastError();
    }

    /// <summary>The calling thread's timer slack in nanoseconds, or -1 when the kernel does not say.</summary>
    public static long CurrentThreadTimerSlack() => Interop.Sys.Prctl(Interop.Sys.PR_GET_TIMERSLACK, 0, 0, 0, 0);

    /// <summary>Restricts the calling thread to <paramref name="cpus"/> (sched_setaffinity).</summary>
    public static string? TryPinCurrentThread(IReadOnlyCollection<int> cpus)
    {
        ArgumentNullException.ThrowIfNull(cpus);
        return TryPinThread(0, [.. cpus]);
    }

    /// <summary>
    /// Restricts thread <paramref name="tid"/> (0: the caller) to <paramref name="cpus"/>
    /// (sched_setaffinity). A thread waiting to run on a CPU it may no longer use is moved to one it may
    /// use at once. Allocates nothing unless it fails.
    /// </summary>
    public static unsafe string? TryPinThread(int tid, ReadOnlySpan<int> cpus)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tid);
        if (cpus.IsEmpty)
            throw new ArgumentException("no CPU given", nameof(cpus));
        ulong* mask = stackalloc ulong[MaxCpus / 64];
        new Span<ulong>(mask, MaxCpus / 64).Clear();
        foreach (int cpu in cpus)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(cpu);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(cpu, MaxCpus);
            mask[cpu / 64] |= 1UL << (cpu % 64);
        }
        return Interop.Sys.SchedSetAffinity(tid, MaxCpus / 8, mask) == 0 ? null : LastError();
    }

    /// <summary>The calling thread's id (gettid), for <see cref="TryPinThread"/> from another thread.</summary>
    public static int CurrentThreadId() => Interop.Sys.GetTid();

    /// <summary>The CPU the calling thread runs on now (-1 when the kernel does not say).</summary>
    public static int CurrentCpu() => Interop.Sys.SchedGetCpu();

    /// <summary>The CPUs the calling thread may run on.</summary>
    public static unsafe IReadOnlyList<int> CurrentThreadCpus()
    {
        ulong* mask = stackalloc ulong[MaxCpus / 64];
        new Span<ulong>(mask, MaxCpus / 64).Clear();
        if (Interop.Sys.SchedGetAffinity(0, MaxCpus / 8, mask) < 0)
            return [];
        var cpus = new List<int>();
        for (int cpu = 0; cpu < MaxCpus; cpu++)
            if ((mask[cpu / 64] & (1UL << (cpu % 64))) != 0)
                cpus.Add(cpu);
        return cpus;
    }

    private static string LastError()
    {
        int errno = Marshal.GetLastPInvokeError();
        return $"{Marshal.GetPInvokeErrorMessage(errno)} ({Interop.Sys.ErrnoName(errno) ?? "errno " + errno})";
    }
}
