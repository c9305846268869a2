using Appliance.Core.Config;
using Appliance.Core.Monitors;
using Appliance.Core.Ports;
using Appliance.Linux.Monitors;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>
/// Runs every configured monitor on its interval (one loop each, off the heartbeat), judges the
/// results with rise/fall, and reports when the node's fitness (all monitors up) changes. A probe
/// that throws (a bug, not a failing service) is logged and counts as a failed probe; the loop goes on.
/// A reload or commit changes the monitors live (<see cref="Reconfigure"/>): an unchanged monitor
/// keeps its loop and its state, a removed one stops, a new or changed one starts up, as at a start.
/// </summary>
internal sealed class MonitorRunner(IReadOnlyList<MonitorConfig> monitors, Action<bool> onFitnessChanged, ILogger log,
    TimeProvider? time = null, Func<MonitorConfig, CancellationToken, Task<ResourceOutcome>>? probe = null) : IDisposable
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Func<MonitorConfig, CancellationToken, Task<ResourceOutcome>> _probe = probe ?? ((m, ct) => Probe.RunAsync(m, time ?? TimeProvider.System, ct));
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    private List<Slot> _slots = monitors.Select(m => new Slot(m)).ToList();
    private bool _started;

    /// <summary>One monitor: its config, its judge, its last result, and its loop's stop.</summary>
    private sealed class Slot(MonitorConfig config)
    {
        public MonitorConfig Config { get; } = config;
        public MonitorJudge Judge { get; } = new(config.Rise, config.Fall);
        public string Last { get; set; } = "not probed yet";
        public CancellationTokenSource Stop { get; } = new();
    }

    public bool AllUp
    {
        get
        {
            lock (_gate)
                return _slots.All(s => s.Judge.State == MonitorState.Up);
        }
    }

    public IReadOnlyList<(string Name, string Kind, MonitorState State, string Last)> Snapshot()
    {
        lock (_gate)
            return _slots.Select(s => (s.Config.Name, s.Config.Kind.ToString().ToLowerInvariant(), s.Judge.State, s.Last)).ToArray();
    }

    /// <summary>What keeps this node unfit, for status ("" when all monitors are up).</summary>
    public string Why()
    {
        lock (_gate)
            return string.Join("; ", _slots.Where(s => s.Judge.State == MonitorState.Down).Select(s => $"monitor {s.Config.Name} down: {s.Last}"));
    }

    public void Start()
    {
        List<Slot> slots;
        lock (_gate)
        {
            _started = true;
            slots = [.. _slots];
        }
        foreach (var s in slots)
            _ = Loop(s);
    }

    /// <summary>
    /// Runs <paramref name="next"/> from now on: monitors that did not change keep their loop and
    /// state, removed ones stop, new and changed ones start (up, as at a start). Reports the
    /// fitness when it changed (a down monitor removed makes the node fit again).
    /// </summary>
    public void Reconfigure(IReadOnlyList<MonitorConfig> next)
    {
        bool wasUp, isUp;
        var started = new List<Slot>();
        lock (_gate)
        {
            wasUp = _slots.All(s => s.Judge.State == MonitorState.Up);
            var kept = new List<Slot>();
            foreach (var m in next)
            {
                var old = _slots.FirstOrDefault(s => s.Config.Name == m.Name && ConfigReload.SameMonitor(s.Config, m));
                if (old is not null)
                {
                    kept.Add(old);
                    continue;
                }
                var slot = new Slot(m);
                kept.Add(slot);
                started.Add(slot);
            }
            foreach (var gone in _slots.Where(s => !kept.Contains(s)))
            {
                gone.Stop.Cancel();
                gone.Stop.Dispose();
            }
            _slots = kept;
            isUp = _slots.All(s => s.Judge.State == MonitorState.Up);
            if (!_started)
                started.Clear();
        }
        foreach (var s in started)
            _ = Loop(s);
        if (wasUp != isUp)
            onFitnessChanged(isUp);
    }

    private async Task Loop(Slot slot)
    {
        var m = slot.Config;
        CancellationTokenSource linked;
        try
        {
            linked = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, slot.Stop.Token);
        }
        catch (ObjectDisposedException)
        {
            return; // removed before it started
        }
        using var _ = linked;
        var stop = linked.Token;
        using var timer = new PeriodicTimer(m.Interval, _time);
        try
        {
            do
            {
                ResourceOutcome outcome;
                try
                {
                    outcome = await _probe(m, stop).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !stop.IsCancellationRequested)
                {
                    Trace.BackgroundFailed(log, $"monitor {m.Name}", e.ToString());
                    outcome = ResourceOutcome.Failed($"the probe failed: {e.GetType().Name}: {e.Message}");
                }
                bool changed;
                lock (_gate)
                {
                    if (stop.IsCancellationRequested)
                        return; // removed or replaced: its result no longer counts
                    slot.Last = outcome.Reason;
                    changed = slot.Judge.Record(outcome.Ok);
                }
                if (changed)
                {
                    Trace.MonitorChanged(log, m.Name, slot.Judge.State == MonitorState.Up ? "up" : "DOWN", outcome.Reason);
                    onFitnessChanged(AllUp);
                }
            }
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        lock (_gate)
        {
            foreach (var s in _slots)
                s.Stop.Dispose();
        }
        _stop.Dispose();
    }
}
