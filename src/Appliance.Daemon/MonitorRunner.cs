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
/// </summary>
internal sealed class MonitorRunner(IReadOnlyList<MonitorConfig> monitors, Action<bool> onFitnessChanged, ILogger log,
    TimeProvider? time = null, Func<MonitorConfig, CancellationToken, Task<ResourceOutcome>>? probe = null) : IDisposable
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Func<MonitorConfig, CancellationToken, Task<ResourceOutcome>> _probe = probe ?? Probe.RunAsync;
    private readonly MonitorJudge[] _judges = monitors.Select(m => new MonitorJudge(m.Rise, m.Fall)).ToArray();
    private readonly string[] _last = monitors.Select(_ => "not probed yet").ToArray();
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();

    public bool AllUp
    {
        get
        {
            lock (_gate)
                return _judges.All(j => j.State == MonitorState.Up);
        }
    }

    public IReadOnlyList<(string Name, string Kind, MonitorState State, string Last)> Snapshot()
    {
        lock (_gate)
            return monitors.Select((m, i) => (m.Name, m.Kind.ToString().ToLowerInvariant(), _judges[i].State, _last[i])).ToArray();
    }

    /// <summary>What keeps this node unfit, for status ("" when all monitors are up).</summary>
    public string Why()
    {
        lock (_gate)
            return string.Join("; ", monitors.Select((m, i) => (m, i)).Where(x => _judges[x.i].State == MonitorState.Down)
                .Select(x => $"monitor {x.m.Name} down: {_last[x.i]}"));
    }

    public void Start()
    {
        for (int i = 0; i < monitors.Count; i++)
            _ = Loop(i);
    }

    private async Task Loop(int i)
    {
        var m = monitors[i];
        using var timer = new PeriodicTimer(m.Interval, _time);
        try
        {
            do
            {
                ResourceOutcome outcome;
                try
                {
                    outcome = await _probe(m, _stop.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !_stop.IsCancellationRequested)
                {
                    Trace.BackgroundFailed(log, $"monitor {m.Name}", e.ToString());
                    outcome = ResourceOutcome.Failed($"the probe failed: {e.GetType().Name}: {e.Message}");
                }
                bool changed;
                lock (_gate)
                {
                    _last[i] = outcome.Reason;
                    changed = _judges[i].Record(outcome.Ok);
                }
                if (changed)
                {
                    Trace.MonitorChanged(log, m.Name, _judges[i].State == MonitorState.Up ? "up" : "DOWN", outcome.Reason);
                    onFitnessChanged(AllUp);
                }
            }
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }
}
