using System.Collections.Immutable;
using System.Diagnostics;
using Appliance.Core.Arbiter;
using Appliance.Core.Config;
using Appliance.Core.Fencing;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon.Fencing;

/// <summary>What status shows about fencing.</summary>
internal sealed record FencingSnapshot(string State, string? Target, string Progress, int RoundsFailed, FenceHistoryEntry? Last,
    ImmutableArray<(string Name, string Kind, string Health)> Devices);

/// <summary>
/// Carries out fencing for the daemon: drives a <see cref="FenceController"/> against the real
/// devices, round after round while the arbiter wants the peer fenced (DESIGN.md section 5: fence
/// failure means no takeover; retry and alarm), records every round in the <see cref="FenceHistory"/>,
/// and tells the arbiter when the peer is verified off. Also the operator's `fence NODE`,
/// `fence on NODE` and `fence confirm NODE`.
/// </summary>
internal sealed class FencingService : IAsyncDisposable
{
    private readonly ClusterConfig _cluster;
    private readonly NodeConfig _self;
    private readonly NodeConfig _peer;
    private readonly ImmutableArray<FenceLevel> _peerLevels;
    private readonly IReadOnlyDictionary<string, IFenceDevice> _devices;
    private readonly FenceHistory _history;
    private readonly Action<long> _peerFenced;
    private readonly ILogger _log;
    private readonly object _gate = new();
    private CancellationTokenSource? _auto;
    private Task _autoTask = Task.CompletedTask;
    private long _autoLife = long.MinValue;
    private volatile string _state = "idle";
    private volatile string _progress = "";
    private volatile string? _target;
    private volatile int _roundsFailed;
    private int _operatorBusy;

    public FencingService(ApplianceConfig config, NodeConfig self, IReadOnlyDictionary<string, IFenceDevice> devices,
        FenceHistory history, Action<long> peerFenced, ILogger log)
    {
        _cluster = config.Cluster;
        _self = self;
        _peer = config.PeerOf(self.Name);
        _peerLevels = [.. config.FenceLevels(_peer).Select(FenceLevel.From)];
        _devices = devices;
        _history = history;
        _peerFenced = peerFenced;
        _log = log;
    }

    public FenceHistory History => _history;

    private static TimeSpan Now() => Stopwatch.GetElapsedTime(0);

    /// <summary>Follows the arbiter: a FencePeer decision starts the rounds; any other decision ends them.</summary>
    public void OnDecision(ArbiterDecision d, long peerLife, bool selfHolds)
    {
        lock (_gate)
        {
            if (d.Action != ArbiterAction.FencePeer)
            {
                if (_auto is not null)
                    StopAuto(d.Reason);
                return;
            }
            if (_auto is not null && _autoLife == peerLife)
                return; // already fencing this death of the peer
            _auto?.Cancel();
            _auto = new CancellationTokenSource();
            _autoLife = peerLife;
            var token = _auto.Token;
            _autoTask = Task.Run(() => AutoRounds(peerLife, selfHolds, d.Reason, token));
        }
    }

    private void StopAuto(string why)
    {
        _auto!.Cancel();
        _auto = null;
        _autoLife = long.MinValue;
        if (_state is "delaying" or "fencing" or "retrying" or "failed" or "waiting-operator")
            Trace.FenceCancelled(_log, _peer.Name, why);
    }

    private async Task AutoRounds(long peerLife, bool selfHolds, string why, CancellationToken ct)
    {
        var delay = FencingLimits.Delay(_cluster, selfHolds, Random.Shared.NextDouble());
        _target = _peer.Name;
        _roundsFailed = 0;
        Trace.FenceStarting(_log, _peer.Name, (long)delay.TotalMilliseconds, string.Join(", ", _peerLevels.Select(l => l.Device)), why);
        try
        {
            while (true)
            {
                var c = new FenceController(_peer.Name, _peerLevels, Now(), _roundsFailed == 0 ? delay : TimeSpan.Zero);
                var report = await Drive(c, ct).ConfigureAwait(false);
                if (report.Verified)
                {
                    _state = "done";
                    _progress = report.Reason;
                    // The peer is off: the takeover goes first, the history line (a synced write, and
                    // the serializer's first use in a fresh daemon: 20 ms measured) right after it.
                    _peerFenced(peerLife);
                    Record(report, "peer dead");
                    return;
                }
                Record(report, "peer dead");
                _roundsFailed++;
                if (report.Outcome is FenceOutcome.NoDevice or FenceOutcome.Fatal)
                {
                    // Nothing will change without an operator: say so once, loudly, and stop.
                    _state = "failed";
                    _progress = report.Reason + " — NOT taking over";
                    return;
                }
                var wait = FencingLimits.RoundWait(_roundsFailed);
                _state = "failed";
                _progress = $"fencing failed ({_roundsFailed} round(s)): {report.Reason}; NOT taking over; retrying in {wait.TotalSeconds:0.#} s";
                await Task.Delay(wait, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            _state = "idle";
            _progress = "";
        }
        catch (Exception e)
        {
            // A bug, not a device: never takes over, and never leaves status claiming progress.
            _state = "failed";
            _progress = $"fencing stopped by an internal error: {e.Message} — NOT taking over; restart the daemon";
            Trace.FenceFailed(_log, _peer.Name, "internal-error", 0, e.Message, e.GetType().Name);
        }
    }

    private async Task<FenceReport> Drive(FenceController c, CancellationToken ct)
    {
        while (true)
        {
            var now = Now();
            var step = c.Next(now);
            switch (step.Kind)
            {
                case FenceStepKind.Wait:
                    _state = c.Progress.StartsWith("fence_delay", StringComparison.Ordinal) ? "delaying" : "retrying";
                    _progress = c.Progress;
                    await Task.Delay(WholeMilliseconds(step.Until - now), ct).ConfigureAwait(false);
                    break;
                case FenceStepKind.Invoke:
                    var device = _devices[c.Levels[step.Level].Device];
                    bool manual = device is ManualFenceDevice && step.Action == FenceAction.Off;
                    _state = manual ? "waiting-operator" : "fencing";
                    _progress = manual
                        ? $"OPERATOR INTERVENTION REQUIRED: cut the power of {c.Target}, then run `appliancectl fence confirm {c.Target}`"
                        : c.Progress;
                    if (manual)
                        Trace.OperatorNeeded(_log, c.Target);
                    c.Report(Now(), await Invoke(device, step.Action, c.Target, step.Timeout, ct).ConfigureAwait(false));
                    break;
                default:
                    return c.Result!;
            }
        }
    }

    /// <summary>
    /// A wait rounded up to whole milliseconds: Task.Delay truncates, and a wait of less than 1 ms
    /// would complete at once and spin until the deadline passed.
    /// </summary>
    private static TimeSpan WholeMilliseconds(TimeSpan wait) =>
        wait <= TimeSpan.Zero ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Math.Ceiling(wait.TotalMilliseconds));

    /// <summary>One device action bounded by its timeout; a driver that ignores cancellation is treated as wedged.</summary>
    private static async Task<FenceResult> Invoke(IFenceDevice device, FenceAction action, string target, TimeSpan timeout, CancellationToken ct)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(timeout);
        try
        {
            return await device.RunAsync(action, target, bounded.Token).WaitAsync(timeout + FencingLimits.CancelGrace, ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return FenceResult.HardError($"{device.Name} did not return {FencingLimits.CancelGrace.TotalSeconds:0} s after its {timeout.TotalSeconds:0.#} s timeout: wedged");
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
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
        try
        {
            _history.Add(entry);
        }
        catch (IOException e)
        {
            Trace.FenceHistoryFailed(_log, _history.Path, e.Message);
        }
        if (r.Verified)
            Trace.Fenced(_log, r.Target, entry.Device, entry.Action, entry.ElapsedMs, r.Reason);
        else
            Trace.FenceFailed(_log, r.Target, entry.Outcome, entry.ElapsedMs, r.Reason, string.Join(" | ", r.Trail));
    }

    /// <summary>`appliancectl fence NODE`: fence now, without delay; never this node itself.</summary>
    public async Task<(bool Ok, string Message)> FenceNowAsync(string target, CancellationToken ct)
    {
        if (target == _self.Name)
            return (false, $"refusing to fence {target}: it is this node (fence it from {_peer.Name})");
        if (target != _peer.Name)
            return (false, $"unknown node '{target}' (the peer is {_peer.Name})");
        if (_auto is not null)
            return (false, $"already fencing {target} because it is dead: {_progress}");
        if (Interlocked.Exchange(ref _operatorBusy, 1) == 1)
            return (false, $"an operator's fence of {target} is already running");
        try
        {
            _target = target;
            var report = await Drive(new FenceController(target, _peerLevels, Now(), TimeSpan.Zero), ct).ConfigureAwait(false);
            Record(report, "operator");
            _state = report.Verified ? "done" : "failed";
            _progress = report.Reason;
            return (report.Verified, report.Verified
                ? $"{target} fenced via {report.Device} in {report.Elapsed.TotalMilliseconds:F0} ms: {report.Reason}"
                : $"fencing {target} failed: {report.Reason}");
        }
        catch (OperationCanceledException)
        {
            return (false, "cancelled");
        }
        finally
        {
            Volatile.Write(ref _operatorBusy, 0);
        }
    }

    /// <summary>`appliancectl fence on NODE`: the operator restores power (an `off` fence stays off until then).</summary>
    public async Task<(bool Ok, string Message)> PowerOnAsync(string target, CancellationToken ct)
    {
        if (target != _peer.Name)
            return (false, target == _self.Name ? $"{target} is this node; it is on" : $"unknown node '{target}' (the peer is {_peer.Name})");
        if (_auto is not null)
            return (false, $"{target} is being fenced right now ({_progress}); not powering it on");
        // Every device in the node's list may have cut it (a level that failed may still have
        // switched), so all of them switch it on again; manual ones are the operator's to do.
        var done = new List<string>();
        var failures = new List<string>();
        foreach (var level in _peerLevels)
        {
            var device = _devices[level.Device];
            if (device is ManualFenceDevice)
                continue;
            var r = await Invoke(device, FenceAction.On, target, level.Timeout, ct).ConfigureAwait(false);
            if (r.Ok)
                done.Add(level.Device);
            else
                failures.Add($"{level.Device}: {FenceController.OutcomeName(r.Outcome)} ({r.Reason})");
        }
        if (done.Count > 0)
            _history.Add(new FenceHistoryEntry(DateTimeOffset.UtcNow, target, string.Join("+", done), "on", failures.Count == 0 ? "done" : "error",
                false, $"powered on by an operator via {string.Join(", ", done)}" + (failures.Count == 0 ? "" : "; failed: " + string.Join("; ", failures)), 0, "operator"));
        if (failures.Count == 0)
            return (true, done.Count == 0 ? $"no device can power {target} on: do it by hand" : $"{target} powered on via {string.Join(", ", done)}");
        return (false, "power on failed: " + string.Join("; ", failures) + (done.Count == 0 ? "" : $" (done via {string.Join(", ", done)})"));
    }

    /// <summary>`appliancectl fence confirm NODE`: an operator has cut the target's power by hand.</summary>
    public (bool Ok, string Message) Confirm(string target)
    {
        if (target == _self.Name)
            return (false, $"{target} is this node; confirm from {_peer.Name}");
        var manual = _peerLevels.Select(l => _devices[l.Device]).OfType<ManualFenceDevice>().FirstOrDefault();
        if (manual is null)
            return (false, $"no manual fence device is configured for {target}");
        if (_state is "idle" or "done" && manual.WaitingFor != target)
            return (false, $"no fence request is waiting for {target}");
        manual.Confirm(target);
        Trace.OperatorConfirmed(_log, target);
        return (true, $"confirmed: {target} is off; fencing completes with the next verification");
    }

    public FencingSnapshot Snapshot() => new(_state, _target, _progress, _roundsFailed, _history.Last,
        [.. _devices.Values.Select(d => (d.Name, d.Kind, Health(d)))]);

    /// <summary>What a device's own watch says (the PDU's open session and its periodic status query).</summary>
    private static string Health(IFenceDevice d) => d switch
    {
        Appliance.Linux.Fencing.SerialPduFenceDevice pdu => pdu.Health,
        ManualFenceDevice => "manual: an operator confirms",
        _ => "",
    };

    public async ValueTask DisposeAsync()
    {
        lock (_gate)
            _auto?.Cancel();
        try
        {
            await _autoTask.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        foreach (var d in _devices.Values.OfType<IDisposable>())
            d.Dispose();
    }
}
