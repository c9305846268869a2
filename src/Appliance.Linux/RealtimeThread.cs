using System.Runtime.InteropServices;

namespace Appliance.Linux;

/// <summary>Real-time scheduling for the calling thread (what Linux-HA heartbeat calls `realtime`).</summary>
public static class RealtimeThread
{
    /// <summary>
    /// The SCHED_FIFO priority of the heartbeat thread: above ordinary work and most kernel threaded
    /// IRQ handlers' defaults (50) are left alone; low enough that a runaway cannot starve them.
    /// </summary>
    public const int HeartbeatPriority = 40;

    /// <summary>
    /// Puts the calling thread under SCHED_FIFO at <paramref name="priority"/>. Returns null on success,
    /// else why not (no CAP_SYS_NICE, or an RT limit): the caller logs it and carries on.
    /// </summary>
    public static unsafe string? TryMakeCurrentThreadRealtime(int priority)
    {
        var param = new Interop.Sys.SchedParam { Priority = priority };
        if (Interop.Sys.SchedSetScheduler(0, Interop.Sys.SCHED_FIFO, &param) == 0)
            return null;
        int errno = Marshal.GetLastPInvokeError();
        return $"{Marshal.GetPInvokeErrorMessage(errno)} ({Interop.Sys.ErrnoName(errno) ?? "errno " + errno})";
    }
}
