using System.Diagnostics;
using Appliance.Linux;

namespace Appliance.Daemon;

/// <summary>Where the heartbeat thread and its watcher run: disjoint CPUs, or no watcher and why not.</summary>
internal sealed record RescuePlan(int[] HeartbeatCpus, int WatchCpu, string? Off)
{
    /// <summary>
    /// The plan for a heartbeat that may use <paramref name="allowed"/> CPUs and that the operator may
    /// have pinned to <paramref name="pinned"/> (empty: not pinned). The watcher takes one CPU the
    /// heartbeat thread does not use: the first allowed CPU outside the pin set, else the last allowed
    /// CPU (the heartbeat thread keeps the others). One CPU, or a pin set that leaves none: no watcher.
    /// </summary>
    public static RescuePlan Of(IReadOnlyList<int> allowed, IReadOnlyCollection<int> pinned, bool enabled)
    {
        int[] heartbeat = pinned.Count > 0 ? [.. pinned] : [.. allowed];
        if (!enabled)
            return new RescuePlan(heartbeat, -1, $"turned off ({HeartbeatWorker.RescueVariable}=off)");
        if (allowed.Count < 2)
            return new RescuePlan(heartbeat, -1, "one CPU: there is no other to move the heartbeat to");
        if (pinned.Count > 0)
        {
            foreach (int cpu in allowed)
                if (!pinned.Contains(cpu))
                    return new RescuePlan(heartbeat, cpu, null);
            return new RescuePlan(heartbeat, -1, $"the heartbeat is pinned to every CPU ({HeartbeatWorker.CpusVariable}): none left for the watcher");
        }
        int watch = allowed[^1];
        return new RescuePlan([.. allowed.Where(c => c != watch)], watch, null);
    }
}

/// <summary>
/// The heartbeat thread's watcher on another CPU. A virtual machine's host can stop one virtual CPU
/// for ~100 ms while the others run on (measured on the bench host: README, Performance): a heartbeat
/// thread waiting to run there, or sleeping on a timer armed there, sends nothing however high its
/// priority, because to the guest's scheduler that CPU is busy, and the peer declares this live node
/// dead. An SMI or a long non-preemptible kernel section on one CPU of a real board does the same, for
/// less time. This thread sleeps until the moment by which the heartbeat thread said it would have
/// looped (plus slack). If it has not:
/// <list type="bullet">
/// <item>When the heartbeat thread is outside its loop's body (asleep in poll(2) or waking from it:
/// where a stopped CPU almost always catches it), the watcher runs one pass of the loop itself, on its
/// own CPU (<paramref name="stepLoop"/> of the constructor: read the links, judge, send the keepalive
/// that is due), and again at every keepalive while the heartbeat thread stays away. Nothing has to
/// move: a heartbeat thread that a stopped CPU holds in the kernel (a wake-up or timer of its own half
/// done there, a lock that CPU holds) cannot be moved before that CPU runs again, and the watcher does
/// not wait for it.</item>
/// <item>When the heartbeat thread is late inside the body (it holds the loop), the watcher has it
/// moved off the CPU it is stuck on and takes that CPU for itself, so that the two never share one
/// (sched_setaffinity moves a thread that waits for its CPU at once; the move is made by a third
/// thread, the mover, because for a thread caught running on a CPU the hypervisor stopped the call
/// waits until that CPU runs again). Meanwhile, at every keepalive, the watcher sends the keepalive
/// the held thread cannot (<paramref name="cover"/> of the constructor, <see cref="KeepaliveCover"/>):
/// what the node last announced, on its datagram links, acknowledging the peer's newest tick. A
/// thread held by a stopped CPU is not moved by anything before that CPU runs again; the cover is
/// what keeps the peer from taking the silence for a death.</item>
/// </list>
/// A heartbeat thread that hangs in our own code holds the loop and is not helped (moving it changes
/// nothing, and the cover ends <see cref="KeepaliveCover.LongestCover"/> after the thread was due), so the
/// peer still sees its silence, that much later. Real-time like the heartbeat thread; it allocates
/// nothing while it runs.
/// </summary>
internal sealed class HeartbeatRescue : IDisposable
{
    private readonly int[] _cpus;
    private readonly int[] _others;
    private readonly long _slackTicks;
    private readonly Action _wakeHeartbeat;
    private readonly Func<bool> _stepLoop;
    private readonly Func<long, bool>? _cover;
    private readonly long _keepaliveTicks;
    private readonly Poller _sleep = new(0);
    private readonly Thread _thread;
    private readonly Poller _moveSleep = new(0);
    private readonly Thread _mover;
    /// <summary>1 from the watcher's request until the mover has made the move.</summary>
    private int _moveRequested;
    private long _moveLateTicks;
    private int _watcherTid;
    private int _heartbeatTid;
    private int _watchCpu;
    private long _due = long.MaxValue;
    private int _heartbeatCpu = -1;
    private long _rescues;
    private long _steps;
    private long _worstLateTicks;
    private long _failures;
    private volatile bool _stopping;

    /// <param name="plan">Where the two threads start (<see cref="RescuePlan.WatchCpu"/> must be set).</param>
    /// <param name="allowed">Every CPU the heartbeat may be moved to.</param>
    /// <param name="keepalive">The cluster keepalive: the watcher acts half of it after the heartbeat thread is due, at most 20 ms, at least 0.5 ms.</param>
    /// <param name="wakeHeartbeat">Wakes the heartbeat thread's poll (an eventfd write; any thread).</param>
    /// <param name="stepLoop">
    /// Runs one pass of the heartbeat loop on the calling (watcher) thread if the heartbeat thread is
    /// not inside one, and then calls <see cref="Expect"/> with when the loop is due next; false when the
    /// heartbeat thread holds the loop.
    /// </param>
    /// <param name="cover">
    /// Called at every keepalive while the heartbeat thread is late inside the loop, with the moment it
    /// was due: sends one keepalive for it (<see cref="KeepaliveCover"/>); false when it sent nothing
    /// (the cover is over). Null: no cover.
    /// </param>
    public HeartbeatRescue(RescuePlan plan, IReadOnlyList<int> allowed, TimeSpan keepalive, Action wakeHeartbeat, Func<bool> stepLoop,
        Func<long, bool>? cover = null)
    {
        if (plan.WatchCpu < 0)
            throw new ArgumentException("the plan has no watcher CPU", nameof(plan));
        _cpus = [.. allowed];
        _others = new int[_cpus.Length];
        _watchCpu = plan.WatchCpu;
        _slackTicks = SlackOf(keepalive).Ticks * Stopwatch.Frequency / TimeSpan.TicksPerSecond;
        _wakeHeartbeat = wakeHeartbeat;
        _stepLoop = stepLoop;
        _cover = cover;
        _keepaliveTicks = Math.Max(1, keepalive.Ticks * Stopwatch.Frequency / TimeSpan.TicksPerSecond);
        _thread = new Thread(Run) { Name = "heartbeat-watch", IsBackground = true };
        _mover = new Thread(RunMover, MoverStackBytes) { Name = "heartbeat-move", IsBackground = true };
    }

    /// <summary>How late the heartbeat thread may be before it is moved: half a keepalive, within 0.5-20 ms.</summary>
    public static TimeSpan SlackOf(TimeSpan keepalive)
    {
        var half = keepalive / 2;
        return half < TimeSpan.FromMilliseconds(0.5) ? TimeSpan.FromMilliseconds(0.5)
            : half > TimeSpan.FromMilliseconds(20) ? TimeSpan.FromMilliseconds(20) : half;
    }

    /// <summary>Times the heartbeat thread was moved off a CPU it could not run on.</summary>
    public long Rescues => Interlocked.Read(ref _rescues);

    /// <summary>Passes of the heartbeat loop the watcher ran itself while the heartbeat thread was away.</summary>
    public long Steps => Interlocked.Read(ref _steps);

    /// <summary>The latest the heartbeat loop was found, beyond when it was due, when the watcher acted.</summary>
    public TimeSpan WorstLate => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _worstLateTicks));

    /// <summary>The mover's stack: it only makes system calls (its pages are locked with the rest).</summary>
    private const int MoverStackBytes = 256 * 1024;

    /// <summary>Moves that the kernel refused (counted, not fatal: the heartbeat runs where it was).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>The CPU the watcher runs on now.</summary>
    public int WatchCpu => Volatile.Read(ref _watchCpu);

    /// <summary>Heartbeat thread, once, on itself: starts watching it.</summary>
    public void Attach()
    {
        _heartbeatTid = RealtimeThread.CurrentThreadId();
        _thread.Start();
        _mover.Start();
    }

    /// <summary>
    /// Whoever ran the heartbeat loop, at the end of each pass: it is due again by
    /// <paramref name="dueTimestamp"/> (a <see cref="Stopwatch"/> timestamp; <see cref="long.MaxValue"/>:
    /// not at all, the loop is ending). Two stores and a vDSO call.
    /// </summary>
    public void Expect(long dueTimestamp)
    {
        if (Environment.CurrentManagedThreadId == _thread.ManagedThreadId)
        {
            Volatile.Write(ref _due, dueTimestamp); // the watcher's own pass: it reads this next
            return;
        }
        Volatile.Write(ref _heartbeatCpu, RealtimeThread.CurrentCpu());
        long before = Volatile.Read(ref _due);
        Volatile.Write(ref _due, dueTimestamp);
        if (dueTimestamp < before)
            _sleep.Wake(); // the watcher sleeps towards a later moment than this one
    }

    private void Run()
    {
        // As prompt as the thread it watches; alone on its CPU as far as the two are concerned.
        RealtimeThread.TryMakeCurrentThreadRealtime(RealtimeThread.HeartbeatPriority);
        RealtimeThread.TrySetCurrentThreadTimerSlack(RealtimeThread.HeartbeatTimerSlackNs);
        Span<int> one = stackalloc int[1];
        one[0] = _watchCpu;
        RealtimeThread.TryPinThread(0, one);
        Volatile.Write(ref _watcherTid, RealtimeThread.CurrentThreadId());
        long handled = long.MinValue;
        while (!_stopping)
        {
            long due = Volatile.Read(ref _due);
            long now = Stopwatch.GetTimestamp();
            if (due == long.MaxValue)
            {
                _sleep.Wait((TimeSpan?)null);
                continue;
            }
            long at = due + _slackTicks;
            if (now < at)
            {
                _sleep.Wait(TimeSpan.FromTicks((at - now) * TimeSpan.TicksPerSecond / Stopwatch.Frequency));
                continue;
            }
            // Late. Outside its loop's body the heartbeat thread is stopped where it sleeps or wakes:
            // run the pass for it (it sets the next due). Inside, it holds the loop: have it moved, once
            // per pass, and send its keepalives until it runs again or the cover ends; then look again a
            // slack later (a hang of its own, or a move the kernel refused).
            if (_stepLoop())
            {
                Interlocked.Increment(ref _steps);
                NoteLate(now - due);
                continue;
            }
            if (due != handled)
            {
                handled = due;
                RequestMove(now - due);
            }
            if (_cover?.Invoke(due) == true)
            {
                _sleep.Wait(Ticks(_keepaliveTicks));
                continue;
            }
            _sleep.Wait(Ticks(_slackTicks));
        }
    }

    private static TimeSpan Ticks(long stopwatchTicks) => TimeSpan.FromTicks(stopwatchTicks * TimeSpan.TicksPerSecond / Stopwatch.Frequency);

    /// <summary>The watcher: asks the mover to move the heartbeat thread (unless a move is under way) and goes on.</summary>
    private void RequestMove(long lateTicks)
    {
        if (Volatile.Read(ref _moveRequested) != 0)
            return;
        _moveLateTicks = lateTicks;
        Volatile.Write(ref _moveRequested, 1);
        _moveSleep.Wake();
    }

    /// <summary>The mover: on the watcher's CPU, at the watcher's priority (so it runs when the watcher sleeps).</summary>
    private void RunMover()
    {
        RealtimeThread.TryMakeCurrentThreadRealtime(RealtimeThread.HeartbeatPriority);
        Span<int> one = stackalloc int[1];
        one[0] = Volatile.Read(ref _watchCpu);
        RealtimeThread.TryPinThread(0, one);
        while (!_stopping)
        {
            _moveSleep.Wait((TimeSpan?)null);
            if (Volatile.Read(ref _moveRequested) == 0 || _stopping)
                continue;
            Rescue(Volatile.Read(ref _moveLateTicks));
            Volatile.Write(ref _moveRequested, 0);
        }
    }

    private void NoteLate(long lateTicks)
    {
        if (lateTicks > Interlocked.Read(ref _worstLateTicks))
            Interlocked.Exchange(ref _worstLateTicks, lateTicks);
    }

    private void Rescue(long lateTicks)
    {
        int stuck = Volatile.Read(ref _heartbeatCpu);
        int n = 0;
        foreach (int cpu in _cpus)
            if (cpu != stuck)
                _others[n++] = cpu;
        if (stuck < 0 || n == 0 || RealtimeThread.TryPinThread(_heartbeatTid, _others.AsSpan(0, n)) is not null)
        {
            Interlocked.Increment(ref _failures);
            return;
        }
        _wakeHeartbeat();
        Span<int> one = stackalloc int[1];
        one[0] = stuck;
        RealtimeThread.TryPinThread(Volatile.Read(ref _watcherTid), one);
        RealtimeThread.TryPinThread(0, one);
        Volatile.Write(ref _watchCpu, stuck);
        Interlocked.Increment(ref _rescues);
        NoteLate(lateTicks);
    }

    public void Dispose()
    {
        _stopping = true;
        _sleep.Wake();
        _moveSleep.Wake();
        if (_thread.IsAlive)
            _thread.Join(TimeSpan.FromSeconds(2));
        if (_mover.IsAlive)
            _mover.Join(TimeSpan.FromSeconds(2));
        _sleep.Dispose();
        _moveSleep.Dispose();
    }
}
