using Appliance.Core.Arbiter;
using Appliance.Core.Ports;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>
/// Carries out the arbiter's start and stop: resources start in config order and stop in reverse;
/// a failed start rolls back the ones already started; every action is bounded by a timeout. One
/// operation at a time; a newer request (stop during a start) runs right after the current one.
/// The aggregate state goes back to the arbiter through <c>report</c>. While everything is started,
/// each resource with a monitor interval is checked; one that fails is restarted in place once
/// (stop, start: pacemaker's on-fail=restart), and if that fails too <c>lost</c> is told why.
/// </summary>
internal sealed class ResourceManager(IReadOnlyList<IResource> resources, Action<LocalResources> report, Action<string> lost, ILogger log)
{
    /// <summary>Longest any single start or stop may take before it counts as failed.</summary>
    public static readonly TimeSpan ActionTimeout = TimeSpan.FromSeconds(20);

    private readonly ResourceState[] _states = new ResourceState[resources.Count];
    private readonly string[] _reasons = Enumerable.Repeat("", resources.Count).ToArray();
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile ArbiterAction _wanted;
    private volatile LocalResources _aggregate = LocalResources.Stopped;
    private CancellationTokenSource? _watch;

    public LocalResources Aggregate => _aggregate;

    public IReadOnlyList<(string Name, string Kind, ResourceState State, string Reason)> Snapshot() =>
        resources.Select((r, i) => (r.Name, r.Kind, _states[i], _reasons[i])).ToArray();

    /// <summary>
    /// At daemon start: stop every resource (each stop is idempotent), so that nothing a previous
    /// run left behind (a VIP still on the interface after a crash) is held by a node that is not active.
    /// </summary>
    public async Task CleanUpAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            await StopAll(resources.Count, announce: false).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Asks for a start or a stop; returns at once, the work runs in order on the pool.</summary>
    public void Want(ArbiterAction action)
    {
        if (action is not (ArbiterAction.StartResources or ArbiterAction.StopResources))
            return;
        _wanted = action;
        _ = Task.Run(Converge);
    }

    private async Task Converge()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_wanted == ArbiterAction.StartResources && _aggregate == LocalResources.Stopped)
                await StartAll().ConfigureAwait(false);
            else if (_wanted == ArbiterAction.StopResources && _aggregate is LocalResources.Started or LocalResources.Starting)
                await StopAll(resources.Count).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task StartAll()
    {
        Set(LocalResources.Starting);
        for (int i = 0; i < resources.Count; i++)
        {
            if (_wanted != ArbiterAction.StartResources)
            {
                await StopAll(i).ConfigureAwait(false); // a stop arrived mid-start: undo what was started
                return;
            }
            var outcome = await Run(i, start: true).ConfigureAwait(false);
            if (!outcome.Ok)
            {
                Trace.ResourceStartFailed(log, resources[i].Name, outcome.Reason);
                await StopAll(i).ConfigureAwait(false); // roll back the ones started before it
                return;
            }
        }
        Set(LocalResources.Started);
    }

    /// <summary>Stops resources [0, count) in reverse order.</summary>
    private async Task StopAll(int count, bool announce = true)
    {
        if (announce)
            Set(LocalResources.Stopping);
        bool allStopped = true;
        for (int i = count - 1; i >= 0; i--)
        {
            var outcome = await Run(i, start: false).ConfigureAwait(false);
            allStopped &= outcome.Ok;
        }
        Set(allStopped ? LocalResources.Stopped : LocalResources.StopFailed);
    }

    private async Task<ResourceOutcome> Run(int i, bool start)
    {
        var r = resources[i];
        _states[i] = start ? ResourceState.Starting : ResourceState.Stopping;
        using var timeout = new CancellationTokenSource(ActionTimeout);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        ResourceOutcome outcome;
        try
        {
            outcome = await (start ? r.StartAsync(timeout.Token) : r.StopAsync(timeout.Token)).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            outcome = ResourceOutcome.Failed($"timed out after {ActionTimeout.TotalSeconds:0} s");
        }
        _states[i] = outcome.Ok ? (start ? ResourceState.Started : ResourceState.Stopped) : ResourceState.Failed;
        _reasons[i] = outcome.Reason;
        Trace.ResourceAction(log, start ? "start" : "stop", r.Name, r.Kind, outcome.Ok ? "done" : "FAILED",
            (long)sw.Elapsed.TotalMilliseconds, outcome.Reason);
        return outcome;
    }

    private void Set(LocalResources aggregate)
    {
        _aggregate = aggregate;
        _watch?.Cancel();
        _watch = null;
        if (aggregate == LocalResources.Started)
        {
            _watch = new CancellationTokenSource();
            for (int i = 0; i < resources.Count; i++)
                if (resources[i].MonitorInterval > TimeSpan.Zero)
                    _ = Watch(i, _watch.Token);
        }
        report(aggregate);
    }

    /// <summary>Checks resource <paramref name="i"/> every monitor interval while everything is started.</summary>
    private async Task Watch(int i, CancellationToken ct)
    {
        var r = resources[i];
        try
        {
            while (true)
            {
                await Task.Delay(r.MonitorInterval, ct).ConfigureAwait(false);
                await _gate.WaitAsync(ct).ConfigureAwait(false);
                try
                {
                    if (ct.IsCancellationRequested || _aggregate != LocalResources.Started)
                        return;
                    ResourceOutcome check;
                    using (var timeout = new CancellationTokenSource(ActionTimeout))
                    {
                        try
                        {
                            check = await r.MonitorAsync(timeout.Token).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException)
                        {
                            check = ResourceOutcome.Failed($"monitor timed out after {ActionTimeout.TotalSeconds:0} s");
                        }
                    }
                    if (check.Ok)
                        continue;
                    Trace.ResourceMonitorFailed(log, r.Name, check.Reason);
                    var stop = await Run(i, start: false).ConfigureAwait(false);
                    var start = stop.Ok ? await Run(i, start: true).ConfigureAwait(false) : stop;
                    if (start.Ok)
                    {
                        _reasons[i] = $"restarted after its monitor failed ({check.Reason})";
                        continue;
                    }
                    _states[i] = ResourceState.Failed;
                    _reasons[i] = $"monitor failed ({check.Reason}); restart failed ({start.Reason})";
                    lost($"{r.Name}: {_reasons[i]}");
                    return;
                }
                finally
                {
                    _gate.Release();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
