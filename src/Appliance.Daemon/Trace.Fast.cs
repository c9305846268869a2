using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>The heartbeat's fast path (issue 13): link cadences, link faults and the worker's scheduling. Event ids 2300-2399.</summary>
internal static partial class Trace
{
    [LoggerMessage(2300, LogLevel.Warning, "link {Link} ({Kind}) reports a fault of its own (send refused or device lost): a signal to look, not a death; the link stays {State} until it is silent for its deadtime ({DeadtimeMs}ms)")]
    public static partial void LinkFault(ILogger log, string link, string kind, string state, long deadtimeMs);

    [LoggerMessage(2301, LogLevel.Information, "link {Link} ({Kind}) sends again")]
    public static partial void LinkFaultCleared(ILogger log, string link, string kind);

    [LoggerMessage(2302, LogLevel.Warning, "heartbeat thread: cannot set its timer slack ({Reason}); its wake-ups may be up to 50 µs late")]
    public static partial void NoTimerSlack(ILogger log, string reason);

    [LoggerMessage(2303, LogLevel.Information, "heartbeat thread pinned to CPU {Cpus}")]
    public static partial void Pinned(ILogger log, string cpus);

    [LoggerMessage(2304, LogLevel.Warning, "heartbeat thread: cannot pin it to CPU {Cpus} ({Reason}); it runs wherever the scheduler puts it")]
    public static partial void NotPinned(ILogger log, string cpus, string reason);

    [LoggerMessage(2305, LogLevel.Information, "heartbeat worker: memory locked (mlockall), {RssKb} kB resident")]
    public static partial void MemoryLocked(ILogger log, long rssKb);

    [LoggerMessage(2306, LogLevel.Warning, "heartbeat worker: cannot lock its memory ({Reason}); under memory pressure a page it needs may have to be read back first")]
    public static partial void NoMemoryLock(ILogger log, string reason);

    [LoggerMessage(2307, LogLevel.Information, "link {Link} ({Kind}): {Cadence}")]
    public static partial void LinkCadence(ILogger log, string link, string kind, string cadence);

    [LoggerMessage(2309, LogLevel.Information, "heartbeat worker: its other threads run SCHED_FIFO priority {Priority} (a collection they run cannot wait behind ordinary load)")]
    public static partial void WorkerRealtime(ILogger log, int priority);

    [LoggerMessage(2310, LogLevel.Warning, "heartbeat worker: its other threads could not get real-time scheduling ({Reason}); under CPU load a garbage collection they run can hold up the heartbeat thread")]
    public static partial void NoWorkerRealtime(ILogger log, string reason);

    [LoggerMessage(2311, LogLevel.Information, "heartbeat thread watched from CPU {WatchCpu}: if it is more than {SlackUs} µs late (its CPU stopped: a virtual machine's host, an SMI), the watcher runs its loop, or, when it is held inside its loop, sends its keepalives and has it moved to another CPU")]
    public static partial void Rescue(ILogger log, int watchCpu, long slackUs);

    [LoggerMessage(2313, LogLevel.Warning, "a pass of the heartbeat loop was held (its CPU stopped: the heartbeat thread's, or its watcher's in a pass it ran): the other thread sent {Ticks} keepalives for it over {Ms}ms{When}")]
    public static partial void Covered(ILogger log, int ticks, long ms, string when);

    [LoggerMessage(2312, LogLevel.Information, "heartbeat thread not watched from another CPU: {Reason}; a CPU that stops for longer than deadtime stops its keepalives")]
    public static partial void NoRescue(ILogger log, string reason);

    [LoggerMessage(2308, LogLevel.Warning, "{Variable}: {Reason}; ignored")]
    public static partial void BadTuning(ILogger log, string variable, string reason);
}
