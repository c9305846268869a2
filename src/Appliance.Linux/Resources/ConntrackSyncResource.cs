using System.Diagnostics;
using Appliance.Core.Ports;

namespace Appliance.Linux.Resources;

/// <summary>
/// The conntrack commit of a takeover, as a resource that the node starts before every VIP
/// (<see cref="Appliance.Core.Director.ConntrackSyncResourceConfig"/>): start commits the peer's
/// connections from conntrackd's external cache into this node's kernel (`conntrackd -c`, bounded by
/// the node's timeout), then, off the takeover's path, flushes the caches, resyncs with the kernel and
/// sends a bulk update to the peer (`-f`, `-R`, `-B`, as conntrack-tools' primary-backup script does).
/// Stop (after the VIPs are gone) purges what this node no longer owns and asks the peer for a resync
/// (`-t`, `-n`), also off the handover's path. A start cancels a stop's follow-up still pending and
/// the other way round, so a purge never lands after a commit. Monitor: the supervised conntrackd answers (`-s`).
/// </summary>
/// <param name="conntrackd">How to run conntrackd: its path, or a command that ends in it (tests use `ip netns exec NS conntrackd`).</param>
/// <param name="ready">
/// Waits (up to the bound it is given) until the supervised conntrackd is up; false if it is not. Null: no wait.
/// </param>
/// <param name="tableLoaded">
/// Waits (up to the bound it is given) until the director's table is in this node's kernel; false if it
/// is not. The order of a takeover is table, commit, VIPs: committed connections without the table's
/// NAT are reset (nat-director.md). A table that does not load in time does not stop the takeover (the
/// VIPs are still worth holding); the outcome says the connections may be lost. Null: no wait.
/// </param>
public sealed class ConntrackSyncResource(string[] conntrackd, string configPath,
    Func<TimeSpan, CancellationToken, Task<bool>>? ready = null,
    Func<TimeSpan, CancellationToken, Task<bool>>? tableLoaded = null) : IResource
{
    /// <summary>
    /// Longest a start waits for the supervised conntrackd to come up before it commits: a node that takes
    /// over right after its daemon started (both booted together) is there some 0.2 s before its conntrackd.
    /// Below the commit's own bound (<see cref="Appliance.Core.Director.ConntrackSyncResourceConfig.CommitTimeout"/>,
    /// 5 s), so the commit keeps 2 s.
    /// </summary>
    public static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(3);

    /// <summary>Bound of each follow-up command (flush, resync, bulk send, purge).</summary>
    public static readonly TimeSpan FollowUpTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Wait before the follow-ups: conntrackd finishes a commit in the background after `-c` returns and
    /// ignores a flush meanwhile ("commit still in progress", seen here); 10,000 entries took 144 ms.
    /// </summary>
    public static readonly TimeSpan FollowUpDelay = TimeSpan.FromSeconds(1);

    private Task<ResourceOutcome> _followUp = Task.FromResult(ResourceOutcome.Done());
    private CancellationTokenSource _followUpCancel = new();

    public string Name => Appliance.Core.Director.ConntrackSyncResourceConfig.ResourceName;

    public string Kind => "conntrack";

    public TimeSpan MonitorInterval => TimeSpan.FromSeconds(10);

    public async Task<ResourceOutcome> StartAsync(CancellationToken ct)
    {
        string waited = "";
        long t0 = Stopwatch.GetTimestamp();
        // Both waits share one bound: they overlap at boot (the table loads while conntrackd starts).
        if (ready is not null && !await ready(ReadyTimeout, ct).ConfigureAwait(false))
            return ResourceOutcome.Failed($"conntrackd is not running (not up within {ReadyTimeout.TotalSeconds:0} s; see its log in the state directory)");
        if (tableLoaded is not null && !await tableLoaded(ReadyTimeout - Stopwatch.GetElapsedTime(t0), ct).ConfigureAwait(false))
            waited = " without the director's table (not loaded yet: committed connections may be reset)";
        double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        if (ms >= 1)
            waited += System.FormattableString.Invariant($" after {ms:0}ms waiting for conntrackd and the director's table");
        // A stop's purge still pending (a node that released and takes over again within the follow-up
        // delay, or the release at boot just before the first takeover) must not come after this commit:
        // `-t` then arms conntrackd's purge timer, and 60 s later the kernel's established entries of this
        // now active node are deleted (a commit cancels that timer only if it comes after `-t`).
        var token = Supersede();
        var commit = await Run(["-c"], ct).ConfigureAwait(false);
        if (!commit.Ok)
            return ResourceOutcome.Failed("commit (conntrackd -c): " + commit.Reason);
        _followUp = FollowUp(token, ["-f"], ["-R"], ["-B"]);
        return ResourceOutcome.Done("connections committed (conntrackd -c)" + waited);
    }

    public Task<ResourceOutcome> StopAsync(CancellationToken ct)
    {
        _followUp = FollowUp(Supersede(), ["-t"], ["-n"]);
        return Task.FromResult(ResourceOutcome.Done("purge and resync requested (conntrackd -t, -n)"));
    }

    /// <summary>conntrackd answers its statistics request; a follow-up that failed is reported here once.</summary>
    public async Task<ResourceOutcome> MonitorAsync(CancellationToken ct)
    {
        if (_followUp.IsCompleted && !_followUp.Result.Ok)
        {
            var failed = _followUp.Result;
            _followUp = Task.FromResult(ResourceOutcome.Done());
            return failed;
        }
        var s = await Run(["-s"], ct).ConfigureAwait(false);
        return s.Ok ? ResourceOutcome.Done("conntrackd answers") : ResourceOutcome.Failed("conntrackd -s: " + s.Reason);
    }

    /// <summary>Cancels the pending follow-up (the last start's or stop's) and returns the token of the next one.</summary>
    private CancellationToken Supersede()
    {
        var next = new CancellationTokenSource();
        using var previous = Interlocked.Exchange(ref _followUpCancel, next);
        previous.Cancel();
        return next.Token;
    }

    private async Task<ResourceOutcome> FollowUp(CancellationToken superseded, params string[][] steps)
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
            if (superseded.IsCancellationRequested)
                return ResourceOutcome.Done("superseded by the next start or stop");
            using var timeout = new CancellationTokenSource(FollowUpTimeout);
            var r = await Run(step, timeout.Token).ConfigureAwait(false);
            if (!r.Ok)
                return ResourceOutcome.Failed($"conntrackd {string.Join(' ', step)}: {r.Reason}");
        }
        return ResourceOutcome.Done();
    }

    private async Task<ResourceOutcome> Run(string[] args, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(conntrackd[0]);
        foreach (var a in conntrackd[1..])
            psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("-C");
        psi.ArgumentList.Add(configPath);
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        var r = await ChildProcess.RunAsync(psi, stdin: null, ct).ConfigureAwait(false);
        return r.Outcome switch
        {
            ChildOutcome.NotStarted => ResourceOutcome.Failed($"cannot run {conntrackd[0]}: {r.Why}"),
            ChildOutcome.Killed => ResourceOutcome.Failed("no answer in time (killed)"),
            _ => r.ExitCode == 0 ? ResourceOutcome.Done() : ResourceOutcome.Failed($"exit {r.ExitCode}: {r.Stderr.Trim()}"),
        };
    }
}
