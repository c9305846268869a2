using System.Diagnostics;
using Appliance.Core.Ports;
using Appliance.Linux.Director;

namespace Appliance.Linux.Resources;

/// <summary>
/// The conntrack commit of a takeover, as a resource that the node starts before every VIP
/// (<see cref="Appliance.Core.Director.ConntrackSyncResourceConfig"/>) and finishes after them
/// (<see cref="Appliance.Core.Node.ResourceSpec.FinishesLast"/>: the node's sequencer owns that order).
/// Start waits for the director's table (it holds the NAT and the guard rule). Finish commits the peer's
/// connections from conntrackd's external cache into this node's kernel (`conntrackd -c`, bounded) once
/// the VIPs are up: the table's guard drops a mid-stream packet of a connection not yet committed and TCP
/// sends it again after the commit (measured: the connection lives; without the guard it is reset), so
/// the VIPs wait neither for conntrackd nor for a commit that grows with the table (10,000 entries:
/// 144 ms), nor share the CPU with it while they come up. Then, in the background, it flushes the
/// caches, resyncs with the kernel and sends a bulk update to the peer (`-f`, `-R`, `-B`, as
/// conntrack-tools' primary-backup script does). Stop (after the VIPs are gone) purges what this node no
/// longer owns and asks the peer for a resync (`-t`, `-n`), also in the background. Requests reach
/// conntrackd one at a time in the order asked; a start cancels a stop's requests not yet sent and the
/// other way round, so a purge never lands after a commit. Monitor: a follow-up that failed (once), else
/// the supervised conntrackd answers (`-s`).
/// </summary>
/// <param name="controlSocket">The supervised conntrackd's control socket (<see cref="ConntrackdControl"/>: no process per request).</param>
/// <param name="ready">
/// Waits (up to the bound it is given) until the supervised conntrackd is up; false if it is not. Null: no wait.
/// </param>
/// <param name="tableLoaded">
/// Waits (up to the bound it is given) until the director's table is in this node's kernel; false if it
/// is not. The order of a takeover is table, VIPs, commit: committed connections without the table's NAT
/// are reset, and so are VIPs before the table's guard (nat-director.md). A table that does not load in
/// time does not stop the takeover (the VIPs are still worth holding); the outcome says the connections
/// may be lost. Null: no wait.
/// </param>
public sealed class ConntrackSyncResource(string controlSocket,
    Func<TimeSpan, CancellationToken, Task<bool>>? ready = null,
    Func<TimeSpan, CancellationToken, Task<bool>>? tableLoaded = null) : IResource
{
    /// <summary>
    /// Longest a start waits for the director's table, and a commit for the supervised conntrackd to come
    /// up: a node that takes over right after its daemon started (both booted together) is there some
    /// 0.2 s before its conntrackd.
    /// </summary>
    public static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(3);

    /// <summary>Bound of each follow-up command (flush, resync, bulk send, purge).</summary>
    public static readonly TimeSpan FollowUpTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Wait before the follow-ups: conntrackd finishes a commit in the background after `-c` returns and
    /// ignores a flush meanwhile ("commit still in progress", seen here); 10,000 entries took 144 ms.
    /// </summary>
    public static readonly TimeSpan FollowUpDelay = TimeSpan.FromSeconds(1);

    private static readonly Task<ResourceOutcome> Nothing = Task.FromResult(ResourceOutcome.Done());

    /// <summary>One conntrackd request at a time, in the order asked (a stop's purge after a commit still running).</summary>
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    private Task<ResourceOutcome> _background = Nothing;
    private CancellationTokenSource _followUpCancel = new();
    private CancellationToken _superseded;

    public string Name => Appliance.Core.Director.ConntrackSyncResourceConfig.ResourceName;

    public string Kind => "conntrack";

    public TimeSpan MonitorInterval => TimeSpan.FromSeconds(10);

    public async Task<ResourceOutcome> StartAsync(CancellationToken ct)
    {
        string note = "";
        long t0 = Stopwatch.GetTimestamp();
        if (tableLoaded is not null && !await tableLoaded(ReadyTimeout, ct).ConfigureAwait(false))
            note = " without the director's table (not loaded yet: committed connections may be reset)";
        double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        if (ms >= 1)
            note += System.FormattableString.Invariant($" after {ms:0}ms waiting for the director's table");
        // A stop's purge still pending (a node that released and takes over again within the follow-up
        // delay, or the release at boot just before the first takeover) must not come after this start's
        // commit: `-t` then arms conntrackd's purge timer, and 60 s later the kernel's established entries
        // of this now active node are deleted (a commit cancels that timer only if it comes after `-t`).
        _superseded = Supersede();
        _background = Nothing;
        return ResourceOutcome.Done("the director's table is in; the commit (conntrackd -c) follows the VIPs" + note);
    }

    /// <summary>The commit (`conntrackd -c`), once the VIPs are up; then the follow-ups in the background.</summary>
    public async Task<ResourceOutcome> FinishAsync(CancellationToken ct)
    {
        var superseded = _superseded;
        ResourceOutcome outcome;
        try
        {
            outcome = await Commit(superseded).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
        {
            outcome = ResourceOutcome.Failed("commit (conntrackd -c): " + e.Message);
        }
        if (!outcome.Ok)
            return outcome with { Reason = outcome.Reason + "; until a commit lands the guard drops the synced connections' packets (their clients wait, then time out)" };
        _background = FollowUp(superseded, ConntrackdRequest.FlushCaches, ConntrackdRequest.ResyncWithKernel, ConntrackdRequest.SendBulk);
        return outcome;
    }

    public Task<ResourceOutcome> StopAsync(CancellationToken ct)
    {
        _background = FollowUp(Supersede(), ConntrackdRequest.PurgeTimers, ConntrackdRequest.RequestResync);
        return Task.FromResult(ResourceOutcome.Done("purge and resync requested (conntrackd -t, -n)"));
    }

    /// <summary>A follow-up that failed is reported here once; else conntrackd answers its statistics request.</summary>
    public async Task<ResourceOutcome> MonitorAsync(CancellationToken ct)
    {
        if (_background.IsCompleted && !_background.Result.Ok)
        {
            var failed = _background.Result;
            _background = Nothing;
            return failed;
        }
        var s = await Run(ConntrackdRequest.Stats, ct).ConfigureAwait(false);
        return s.Ok ? ResourceOutcome.Done("conntrackd answers") : ResourceOutcome.Failed("conntrackd -s: " + s.Reason);
    }

    private async Task<ResourceOutcome> Commit(CancellationToken superseded)
    {
        long t0 = Stopwatch.GetTimestamp();
        string waited = "";
        try
        {
            if (ready is not null && !await ready(ReadyTimeout, superseded).ConfigureAwait(false))
                return ResourceOutcome.Failed($"commit: conntrackd is not running (not up within {ReadyTimeout.TotalSeconds:0} s; see its log in the state directory)");
            double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            if (ms >= 1)
                waited = System.FormattableString.Invariant($", {ms:0}ms of it waiting for conntrackd");
            await _oneAtATime.WaitAsync(superseded).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return ResourceOutcome.Done("commit superseded by a stop before it was sent");
        }
        try
        {
            // Not cancelled by a stop: a commit sent is let finish, so the stop's purge comes after it.
            using var bound = new CancellationTokenSource(Appliance.Core.Director.ConntrackSyncResourceConfig.CommitTimeout);
            var r = await Run(ConntrackdRequest.Commit, bound.Token).ConfigureAwait(false);
            string took = System.FormattableString.Invariant($" in {Stopwatch.GetElapsedTime(t0).TotalMilliseconds:0}ms") + waited;
            return r.Ok
                ? ResourceOutcome.Done("connections committed (conntrackd -c)" + took)
                : ResourceOutcome.Failed("commit (conntrackd -c): " + r.Reason + took);
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    /// <summary>Cancels the pending follow-up (the last start's or stop's) and returns the token of the next one.</summary>
    private CancellationToken Supersede()
    {
        var next = new CancellationTokenSource();
        using var previous = Interlocked.Exchange(ref _followUpCancel, next);
        previous.Cancel();
        return next.Token;
    }

    private async Task<ResourceOutcome> FollowUp(CancellationToken superseded, params ConntrackdRequest[] steps)
    {
        try
        {
            await Task.Delay(FollowUpDelay, superseded).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return ResourceOutcome.Done("superseded by the next start or stop");
        }
        foreach (var step in steps)
        {
            try
            {
                await _oneAtATime.WaitAsync(superseded).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return ResourceOutcome.Done("superseded by the next start or stop");
            }
            try
            {
                using var timeout = new CancellationTokenSource(FollowUpTimeout);
                var r = await Run(step, timeout.Token).ConfigureAwait(false);
                if (!r.Ok)
                    return ResourceOutcome.Failed($"conntrackd {Flag(step)}: {r.Reason}");
            }
            finally
            {
                _oneAtATime.Release();
            }
        }
        return ResourceOutcome.Done();
    }

    /// <summary>One request; conntrackd's answer text is not needed by any of them (statistics only prove it answers).</summary>
    private async Task<ResourceOutcome> Run(ConntrackdRequest request, CancellationToken ct)
    {
        try
        {
            await ConntrackdControl.RequestAsync(controlSocket, request, ct).ConfigureAwait(false);
            return ResourceOutcome.Done();
        }
        catch (ConntrackdControlException e)
        {
            return ResourceOutcome.Failed(e.Message);
        }
        catch (OperationCanceledException)
        {
            return ResourceOutcome.Failed("no answer in time");
        }
    }

    /// <summary>The `conntrackd` option of a request, for messages an operator can repeat by hand.</summary>
    private static string Flag(ConntrackdRequest r) => r switch
    {
        ConntrackdRequest.Stats => "-s",
        ConntrackdRequest.SendBulk => "-B",
        ConntrackdRequest.RequestResync => "-n",
        ConntrackdRequest.PurgeTimers => "-t",
        ConntrackdRequest.ResyncWithKernel => "-R",
        ConntrackdRequest.FlushCaches => "-f",
        ConntrackdRequest.Commit => "-c",
        _ => r.ToString(),
    };
}
