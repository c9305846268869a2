using System.Collections.Concurrent;
using System.Threading.Channels;
using Appliance.Core.Config;
using Appliance.Core.Fencing;
using Appliance.Core.Node;
using Appliance.Core.Ports;
using Appliance.Daemon.Fencing;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>
/// Carries out the node's commands in the daemon (the <see cref="ClusterNode"/> decides, in the
/// heartbeat worker; this only does): resource actions bounded by the timeout the node gives (the
/// resource's configured one), fence device actions bounded by the device's timeout plus
/// <see cref="FencingLimits.CancelGrace"/>, cancellations, the fence history (written in the
/// background, in order, so that a takeover never waits for a disk), the log and the service
/// manager's status line. Every action ends in a report back, whatever the driver does (throws,
/// ignores cancellation); every background task logs its failure.
/// </summary>
internal sealed class NodeExecutor : IAsyncDisposable
{
    /// <summary>How long past its timeout a resource action may take to honour cancellation before it is abandoned as failed.</summary>
    public static readonly TimeSpan ResourceCancelGrace = TimeSpan.FromSeconds(2);

    private readonly IReadOnlyList<IResource> _resources;
    private readonly IReadOnlyDictionary<string, IFenceDevice> _devices;
    private readonly FenceHistory _history;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly Action<int, ResourceVerb, ResourceOutcome> _resourceDone;
    private readonly Action<long, FenceResult> _fenceDone;
    private readonly Action<Core.Arbiter.ArbiterDecision> _decided;
    private readonly Action<bool> _holdsChanged;
    private readonly ConcurrentDictionary<long, CancellationTokenSource> _fenceOps = new();
    private readonly Channel<FenceHistoryEntry> _historyQueue = Channel.CreateBounded<FenceHistoryEntry>(
        new BoundedChannelOptions(FencingLimits.HistoryMax) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
    private readonly TaskCompletionSource<Left> _left = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _historyWriter;
    private readonly bool[] _held;
    private volatile string _historyError = "";

    public NodeExecutor(IReadOnlyList<IResource> resources, IReadOnlyDictionary<string, IFenceDevice> devices, FenceHistory history,
        Action<int, ResourceVerb, ResourceOutcome> resourceDone, Action<long, FenceResult> fenceDone,
        Action<Core.Arbiter.ArbiterDecision> decided, Action<bool> holdsChanged, ILogger log, TimeProvider time)
    {
        _resources = resources;
        _devices = devices;
        _history = history;
        _resourceDone = resourceDone;
        _fenceDone = fenceDone;
        _decided = decided;
        _holdsChanged = holdsChanged;
        _log = log;
        _time = time;
        _held = new bool[resources.Count];
        _historyWriter = Task.Run(WriteHistory);
    }

    /// <summary>Completes when the node has finished its clean shutdown.</summary>
    public Task<Left> Left => _left.Task;

    /// <summary>Why the last fence history write failed ("" when it did not): shown in status, never stops fencing.</summary>
    public string HistoryError => _historyError;

    public FenceHistory History => _history;

    public IReadOnlyDictionary<string, IFenceDevice> Devices => _devices;

    /// <summary>One command; returns at once (work runs on the pool). Never throws: a bug is logged.</summary>
    public void OnCommand(NodeCommand command)
    {
        try
        {
            switch (command)
            {
                case RunResource r:
                    if (r.Verb == ResourceVerb.Start)
                        Hold(r.Index, true); // it may take effect at any moment from now
                    Background(RunResourceAsync(r), $"resource {r.Verb} {_resources[r.Index].Name}");
                    break;
                case RunFenceDevice f:
                    if (f.Manual && f.Action == FenceAction.Off)
                        Trace.OperatorNeeded(_log, f.Target);
                    Background(RunFenceAsync(f), $"fence {f.Action} via {f.Device}");
                    break;
                case CancelFenceDevice c:
                    if (_fenceOps.TryGetValue(c.Op, out var running))
                        running.Cancel();
                    Trace.FenceCancelled(_log, c.Target, c.Why);
                    break;
                case FenceStarted s:
                    Trace.FenceStarting(_log, s.Target, (long)s.Delay.TotalMilliseconds, string.Join(", ", _devices.Keys),
                        s.Trigger == FenceTrigger.Operator ? "an operator asked" : s.Why);
                    break;
                case FenceEnded e:
                    Record(e.Report, e.Trigger == FenceTrigger.Operator ? "operator" : "peer dead");
                    break;
                case PowerRestored p:
                    Enqueue(new FenceHistoryEntry(DateTimeOffset.UtcNow, p.Target, p.Devices, "on", p.Ok ? "done" : "error", false, p.Reason, 0, "operator"));
                    break;
                case Decided d:
                    _decided(d.Decision);
                    break;
                case Left l:
                    _left.TrySetResult(l);
                    break;
            }
        }
        catch (Exception e)
        {
            Trace.BackgroundFailed(_log, command.GetType().Name, e.ToString());
        }
    }

    private void Hold(int index, bool held)
    {
        bool before, after;
        lock (_held)
        {
            before = _held.Any(h => h);
            _held[index] = held;
            after = _held.Any(h => h);
        }
        if (before != after)
            _holdsChanged(after);
    }

    /// <summary>Runs <paramref name="work"/> without awaiting it, and logs it if it fails (it should not: every path reports).</summary>
    private void Background(Task work, string what)
    {
        work.ContinueWith(t =>
        {
            if (t.Exception is { } e)
                Trace.BackgroundFailed(_log, what, e.GetBaseException().ToString());
        }, TaskScheduler.Default);
    }

    private async Task RunResourceAsync(RunResource r)
    {
        var res = _resources[r.Index];
        long started = _time.GetTimestamp();
        ResourceOutcome outcome;
        using var timeout = new CancellationTokenSource(r.Timeout, _time);
        try
        {
            var action = r.Verb switch
            {
                ResourceVerb.Start => res.StartAsync(timeout.Token),
                ResourceVerb.Stop => res.StopAsync(timeout.Token),
                ResourceVerb.Finish => res.FinishAsync(timeout.Token),
                _ => res.MonitorAsync(timeout.Token),
            };
            outcome = await action.WaitAsync(r.Timeout + ResourceCancelGrace, _time, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            return; // the daemon is going: nobody is left to report to
        }
        catch (OperationCanceledException)
        {
            outcome = ResourceOutcome.Failed($"timed out after {Seconds(r.Timeout)} (its timeout)");
        }
        catch (TimeoutException)
        {
            outcome = ResourceOutcome.Failed($"did not return {Seconds(ResourceCancelGrace)} after its {Seconds(r.Timeout)} timeout: abandoned");
        }
        catch (Exception e)
        {
            // A driver must return outcomes, not throw; one that does has failed this action.
            outcome = ResourceOutcome.Failed($"{e.GetType().Name}: {e.Message}");
        }
        long ms = (long)_time.GetElapsedTime(started).TotalMilliseconds;
        if (r.Verb == ResourceVerb.Monitor)
        {
            if (!outcome.Ok)
                Trace.ResourceMonitorFailed(_log, res.Name, outcome.Reason);
        }
        else
        {
            Trace.ResourceAction(_log, r.Verb.ToString().ToLowerInvariant(), res.Name, res.Kind, outcome.Ok ? "done" : "FAILED", ms, outcome.Reason);
            if (r.Verb == ResourceVerb.Start && !outcome.Ok)
                Trace.ResourceStartFailed(_log, res.Name, outcome.Reason);
            else if (r.Verb == ResourceVerb.Finish && !outcome.Ok)
                Trace.ResourceFinishFailed(_log, res.Name, outcome.Reason);
        }
        if (r.Verb == ResourceVerb.Stop && outcome.Ok)
            Hold(r.Index, false);
        _resourceDone(r.Index, r.Verb, outcome);
    }

    private static string Seconds(TimeSpan t) => $"{t.TotalSeconds:0.###} s";

    private async Task RunFenceAsync(RunFenceDevice f)
    {
        using var op = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        _fenceOps[f.Op] = op;
        FenceResult result;
        try
        {
            result = _devices.TryGetValue(f.Device, out var device)
                ? await Invoke(device, f.Action, f.Target, f.Timeout, op.Token).ConfigureAwait(false)
                : FenceResult.HardError($"no fence device '{f.Device}' on this node");
        }
        finally
        {
            _fenceOps.TryRemove(f.Op, out _);
        }
        if (_stopping.IsCancellationRequested)
            return;
        _fenceDone(f.Op, result);
    }

    /// <summary>One device action bounded by its timeout; a driver that ignores cancellation is treated as wedged.</summary>
    private async Task<FenceResult> Invoke(IFenceDevice device, FenceAction action, string target, TimeSpan timeout, CancellationToken ct)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(timeout);
        try
        {
            return await device.RunAsync(action, target, bounded.Token).WaitAsync(timeout + FencingLimits.CancelGrace, _time, ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return FenceResult.HardError($"{device.Name} did not return {FencingLimits.CancelGrace.TotalSeconds:0} s after its {timeout.TotalSeconds:0.#} s timeout: wedged");
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return FenceResult.Timeout($"{device.Name}: cancelled (the operation ended)");
        }
        catch (Exception e)
        {
            // A driver must return results, not throw; one that does is treated as a failed attempt.
            return e is OperationCanceledException
                ? FenceResult.Timeout($"{device.Name} gave no answer within {timeout.TotalSeconds:0.#} s")
                : FenceResult.Error($"{device.Name}: {e.Message}");
        }
    }

    private void Record(FenceReport r, string trigger)
    {
        var entry = new FenceHistoryEntry(DateTimeOffset.UtcNow, r.Target, r.Device.Length == 0 ? "-" : r.Device,
            r.Action == FenceFinalAction.Reboot ? "reboot" : "off", FenceController.OutcomeName(r.Outcome), r.Verified, r.Reason,
            (long)r.Elapsed.TotalMilliseconds, trigger);
        if (r.Verified)
            Trace.Fenced(_log, r.Target, entry.Device, entry.Action, entry.ElapsedMs, r.Reason);
        else
            Trace.FenceFailed(_log, r.Target, entry.Outcome, entry.ElapsedMs, r.Reason, string.Join(" | ", r.Trail));
        Enqueue(entry);
    }

    /// <summary>In the history at once (the takeover's next commands come after this one), on disk in the background.</summary>
    private void Enqueue(FenceHistoryEntry entry)
    {
        _history.Record(entry);
        if (!_historyQueue.Writer.TryWrite(entry))
            Trace.FenceHistoryFailed(_log, _history.Path, "the history queue is closed");
    }

    /// <summary>The one writer of the history: a write that fails is in status and the log, and fencing goes on.</summary>
    private async Task WriteHistory()
    {
        await foreach (var _ in _historyQueue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            // Persist never throws: a failure comes back as a reason, and the entry stays in memory for status.
            if (_history.Persist() is { } error)
            {
                _historyError = error;
                Trace.FenceHistoryFailed(_log, _history.Path, error);
            }
            else
                _historyError = "";
        }
    }

    /// <summary>`appliancectl fence confirm NODE`: an operator has cut the target's power by hand.</summary>
    public (bool Ok, string Message) Confirm(string target, string self)
    {
        if (target == self)
            return (false, $"{target} is this node; confirm from its peer");
        var manual = _devices.Values.OfType<ManualFenceDevice>().FirstOrDefault();
        if (manual is null)
            return (false, $"no manual fence device is configured for {target}");
        if (manual.WaitingFor != target)
            return (false, $"no fence request is waiting for {target}");
        manual.Confirm(target);
        Trace.OperatorConfirmed(_log, target);
        return (true, $"confirmed: {target} is off; fencing completes with the next verification");
    }

    /// <summary>What a device's own watch says (the PDU's open session and its periodic status query).</summary>
    public static string Health(IFenceDevice d) => d switch
    {
        Appliance.Linux.Fencing.SerialPduFenceDevice pdu => pdu.Health,
        ManualFenceDevice => "manual: an operator confirms",
        _ => "",
    };

    public async ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        _historyQueue.Writer.TryComplete();
        try
        {
            await _historyWriter.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Trace.FenceHistoryFailed(_log, _history.Path, "still writing at exit");
        }
        foreach (var d in _devices.Values.OfType<IDisposable>())
            d.Dispose();
    }
}
