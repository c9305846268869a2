using System.Net;
using System.Threading.Channels;
using Appliance.Core.Config;
using Appliance.Core.Director;
using Appliance.Linux.Director;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>
/// Runs the real-server checks (issue 9 part 3) on both nodes: one loop on the daemon's
/// <see cref="TimeProvider"/> asks the pure <see cref="CheckSchedule"/> what is due, starts those
/// probes (async sockets, nothing waits on them), and sleeps until the next due time; each outcome
/// goes back into the schedule, and the flips it yields are batched into one
/// <see cref="DirectorService.ApplyChecksAsync"/> transaction. Nothing here runs on the heartbeat's
/// thread or process. A probe that throws (a bug) counts as a failure and is logged.
/// </summary>
internal sealed class DirectorChecks : IAsyncDisposable
{
    /// <summary>After the kernel refused a check change, how long until the next try (the checks' state is kept meanwhile).</summary>
    public static readonly TimeSpan ApplyRetryInterval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The loop wakes on a grid of this step (or a tenth of the shortest interval, if smaller) and
    /// starts every check due by then, so checks are started in small batches rather than one
    /// thread wake-up each: measured with 1000 targets at 1 s, waking per check cost ~27% of a core,
    /// almost all of it thread-pool wake-ups and spinning (perf: finish_task_switch, sched_yield).
    /// A check starts at most this much after its due time; the cadence is still the schedule's.
    /// </summary>
    public static readonly TimeSpan WakeStepMax = TimeSpan.FromMilliseconds(25);

    private TimeSpan _step; // these three change with a reload, under _gate
    private readonly DirectorService _director;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private long _origin;
    private CheckSchedule _schedule;
    private readonly ulong _seed;
    private bool _started;
    private readonly CheckProber? _prober;
    private readonly Func<CheckTarget, CancellationToken, Task<CheckOutcome>> _probe;
    // With the real prober on the real clock, the loop sleeps on the prober's own thread and starts
    // its probes there: no timer or pool thread per wake (they cost as much as the checks' syscalls).
    private readonly Func<TimeSpan, CancellationToken, Task>? _proberDelay;
    private readonly object _gate = new();
    private readonly CancellationTokenSource _stop = new();
    // Flips wait here for the applier; at most one entry per check result, drained in one batch.
    private readonly Channel<CheckFlip> _flips = Channel.CreateUnbounded<CheckFlip>(new UnboundedChannelOptions { SingleReader = true });
    private CancellationTokenSource? _sleep;
    private TimeSpan _wakeAt = TimeSpan.MaxValue;
    private Task _loop = Task.CompletedTask;
    private Task _applier = Task.CompletedTask;
    private int _running;
    // Check flip -> kernel updated: the time of the first flip not yet applied (0: none), and the
    // latency of the last and the worst applied batch, measured from that flip (for the benchmark).
    private long _firstPendingFlip;
    private long _flipsApplied;
    private TimeSpan _lastFlipToKernel, _worstFlipToKernel;

    public DirectorChecks(DirectorConfig config, string cluster, string node, DirectorService director, ILogger log, TimeProvider time,
        Func<CheckTarget, CancellationToken, Task<CheckOutcome>>? probe = null)
    {
        _director = director;
        _log = log;
        _time = time;
        // The schedule's time starts at Start (the daemon starts its heartbeat worker and control socket
        // in between): first checks are spread over the first interval after it, not found late.
        _seed = CheckSchedule.SeedFor(cluster, node);
        _schedule = new CheckSchedule(config, TimeSpan.Zero, _seed);
        if (probe is null)
        {
            _prober = new CheckProber();
            probe = _prober.ProbeAsync;
            if (time == TimeProvider.System)
                _proberDelay = _prober.DelayAsync;
        }
        _probe = probe;
        _step = StepFor(_schedule);
        var down = _schedule.Down.ToList();
        director.AttachChecks(Status, WriteStats, down);
        Trace.ChecksStarted(log, _schedule.Targets.Length, config.Services.Sum(s => s.RealServers.Length), down.Count);
    }

    private TimeSpan Now() => _time.GetElapsedTime(_origin);

    private static TimeSpan StepFor(CheckSchedule schedule)
    {
        var shortest = schedule.Targets.Length == 0 ? WakeStepMax : schedule.Targets.Min(t => t.Interval);
        return shortest / 10 < WakeStepMax ? shortest / 10 : WakeStepMax;
    }

    /// <summary>A schedule for <paramref name="next"/> that carries this one's state over (see <see cref="CheckSchedule.Adopt"/>); call under _gate.</summary>
    private CheckSchedule Successor(DirectorConfig next)
    {
        var s = new CheckSchedule(next, _started ? Now() : TimeSpan.Zero, _seed);
        s.Adopt(_schedule);
        return s;
    }

    /// <summary>A reload, before it is applied: the (service, server) pairs the checks would hold down under <paramref name="next"/>.</summary>
    public IReadOnlyList<(string Service, IPEndPoint Server)> DownFor(DirectorConfig next)
    {
        lock (_gate)
            return [.. Successor(next).Down];
    }

    /// <summary>
    /// A reload, once the director applied it: the checks switch to <paramref name="next"/>'s targets.
    /// Targets still there keep their cadence and verdict (a probe in flight reports to the new
    /// schedule); new ones start at their jittered slot with their <c>start:</c>; removed ones stop.
    /// </summary>
    public void Install(DirectorConfig next)
    {
        bool startLoops;
        lock (_gate)
        {
            var s = Successor(next);
            int before = _schedule.Targets.Length;
            _schedule = s;
            _step = StepFor(s);
            _wakeAt = TimeSpan.MinValue; // the loop's sleep was for the old schedule
            _sleep?.Cancel();
            startLoops = _started && before == 0 && s.Targets.Length > 0 && _loop.IsCompleted;
            Trace.ChecksReloaded(_log, before, s.Targets.Length, s.Down.Count());
        }
        if (startLoops)
        {
            _loop = Loop(_stop.Token);
            _applier = ApplyLoop(_stop.Token);
        }
    }

    /// <summary>The check of one server, for `services --json`.</summary>
    public ServerCheck Status(string service, IPEndPoint server)
    {
        lock (_gate)
            return _schedule.Status(service, server);
    }

    /// <summary>Targets, checks started, slots skipped, checks running now and the worst lateness so far, for `services --json` and the benchmark.</summary>
    public (int Targets, long Started, long Skipped, int Running, TimeSpan WorstLateness) Stats()
    {
        lock (_gate)
            return (_schedule.Targets.Length, _schedule.Started, _schedule.Skipped, Volatile.Read(ref _running), _schedule.WorstLateness);
    }

    public void Start()
    {
        _origin = _time.GetTimestamp();
        lock (_gate)
            _started = true;
        if (_schedule.Targets.Length == 0)
            return; // a reload that adds checks starts the loops (Install)
        _loop = Loop(_stop.Token);
        _applier = ApplyLoop(_stop.Token);
    }

    private async Task Loop(CancellationToken ct)
    {
        var due = new List<CheckTarget>();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                TimeSpan delay;
                CancellationTokenSource sleep;
                lock (_gate)
                {
                    due.Clear();
                    var now = Now();
                    _schedule.Due(now, due);
                    var next = _schedule.NextDue is { } d ? OnGrid(d) : (TimeSpan?)null;
                    _wakeAt = next ?? TimeSpan.MaxValue;
                    delay = next is { } n ? n - now : Timeout.InfiniteTimeSpan;
                    _sleep = sleep = CancellationTokenSource.CreateLinkedTokenSource(ct);
                }
                if (due.Count > 0 && _proberDelay is not null)
                {
                    foreach (var t in due) // the prober never blocks its caller (exec leaves for the pool before it forks)
                        _ = RunOne(t, ct);
                }
                else if (due.Count > 0)
                {
                    // The batch's probes start on a pool thread, one hop per batch: whatever a probe does
                    // before its first await (a fork for exec, a slow first exception) never delays this loop.
                    var batch = due.ToArray();
                    ThreadPool.UnsafeQueueUserWorkItem(b =>
                    {
                        foreach (var t in b)
                            _ = RunOne(t, ct);
                    }, batch, preferLocal: false);
                }
                using (sleep)
                {
                    if (delay == Timeout.InfiniteTimeSpan || delay > TimeSpan.Zero)
                    {
                        try
                        {
                            await (_proberDelay?.Invoke(delay, sleep.Token) ?? Task.Delay(delay, _time, sleep.Token)).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                        {
                            // woken: a check ended and its next slot is earlier than this sleep's end
                        }
                    }
                    lock (_gate)
                        _sleep = null;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            Trace.BackgroundFailed(_log, "director checks", e.ToString());
        }
    }

    /// <summary>The first point of the wake grid at or after <paramref name="due"/>.</summary>
    private TimeSpan OnGrid(TimeSpan due) => TimeSpan.FromTicks((due.Ticks + _step.Ticks - 1) / _step.Ticks * _step.Ticks);

    private async Task RunOne(CheckTarget t, CancellationToken ct)
    {
        Interlocked.Increment(ref _running);
        CheckOutcome outcome;
        try
        {
            outcome = await _probe(t, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Interlocked.Decrement(ref _running);
            return;
        }
        catch (Exception e)
        {
            Trace.CheckThrew(_log, $"{t.Kind.ToString().ToLowerInvariant()} {t.Address}", e.ToString());
            outcome = CheckOutcome.Fail($"the probe failed: {e.GetType().Name}: {e.Message}");
        }
        Interlocked.Decrement(ref _running);
        IReadOnlyList<CheckFlip> flips;
        lock (_gate)
        {
            // Started before a reload: the new schedule has the target under its own index, or not at all.
            int? index = t.Index < _schedule.Targets.Length && ReferenceEquals(_schedule.Targets[t.Index], t) ? t.Index : _schedule.IndexOf(t.Key);
            if (index is not { } i)
                return;
            flips = _schedule.Report(i, Now(), outcome);
            if (_schedule.NextDue is { } next && OnGrid(next) < _wakeAt)
                _sleep?.Cancel();
        }
        if (flips.Count > 0)
            Interlocked.CompareExchange(ref _firstPendingFlip, _time.GetTimestamp(), 0);
        foreach (var f in flips)
            _flips.Writer.TryWrite(f);
    }

    private async Task ApplyLoop(CancellationToken ct)
    {
        var batch = new List<CheckFlip>();
        try
        {
            while (await _flips.Reader.WaitToReadAsync(ct).ConfigureAwait(false))
            {
                batch.Clear();
                while (_flips.Reader.TryRead(out var f))
                    batch.Add(f);
                long first = Interlocked.Exchange(ref _firstPendingFlip, 0);
                while (!await _director.ApplyChecksAsync(batch, ct).ConfigureAwait(false))
                {
                    await Task.Delay(ApplyRetryInterval, _time, ct).ConfigureAwait(false);
                    batch.Clear();
                    while (_flips.Reader.TryRead(out var f))
                        batch.Add(f);
                }
                if (first != 0 && batch.Count > 0)
                {
                    var latency = _time.GetElapsedTime(first);
                    lock (_gate)
                    {
                        _flipsApplied++;
                        _lastFlipToKernel = latency;
                        if (latency > _worstFlipToKernel)
                            _worstFlipToKernel = latency;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            Trace.BackgroundFailed(_log, "director check apply", e.ToString());
        }
    }

    /// <summary>
    /// Stats for `services --json`: {"targets", "started", "skipped", "running", "worst_late_ms",
    /// "flips_applied", "last_flip_ms", "worst_flip_ms"}; a flip's figure runs from the end of the
    /// check that flipped a server to the end of the transaction that put it in the kernel.
    /// </summary>
    public void WriteStats(System.Text.Json.Utf8JsonWriter w)
    {
        var (targets, started, skipped, running, late) = Stats();
        w.WriteStartObject("checks");
        w.WriteNumber("targets", targets);
        w.WriteNumber("started", started);
        w.WriteNumber("skipped", skipped);
        w.WriteNumber("running", running);
        w.WriteNumber("worst_late_ms", Math.Round(late.TotalMilliseconds, 1));
        lock (_gate)
        {
            w.WriteNumber("flips_applied", _flipsApplied);
            w.WriteNumber("last_flip_ms", Math.Round(_lastFlipToKernel.TotalMilliseconds, 1));
            w.WriteNumber("worst_flip_ms", Math.Round(_worstFlipToKernel.TotalMilliseconds, 1));
        }
        w.WriteEndObject();
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try
        {
            // ForceYielding: the loop may end on the check loop's thread; what follows the dispose
            // (the daemon's shutdown) must not run there.
            await Task.WhenAll(_loop, _applier).ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        }
        catch (OperationCanceledException)
        {
        }
        // The prober is left to the collector: probes still unwinding from the cancel release its exec slots.
    }
}
