using System.Collections.Immutable;
using System.Text.Json;
using Appliance.Core.Config;
using Appliance.Linux;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>How one reload ended: applied (possibly with paths left for a restart) or refused (nothing changed).</summary>
internal sealed record ReloadOutcome(bool Ok, string Message, ImmutableArray<string> Applied, ImmutableArray<string> RestartNeeded, TimeSpan Took)
{
    /// <summary>The control socket's reply: {"ok", "message"|"refused", "applied": [...], "restart_needed": [...], "reload_ms"}.</summary>
    public byte[] ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteBoolean("ok", Ok);
            w.WriteString(Ok ? "message" : "refused", Message);
            w.WriteStartArray("applied");
            foreach (var a in Applied)
                w.WriteStringValue(a);
            w.WriteEndArray();
            w.WriteStartArray("restart_needed");
            foreach (var r in RestartNeeded)
                w.WriteStringValue(r);
            w.WriteEndArray();
            w.WriteNumber("reload_ms", Math.Round(Took.TotalMilliseconds, 1));
            w.WriteEndObject();
        }
        return stream.ToArray();
    }
}

/// <summary>
/// The config reload (SIGHUP, `appliancectl reload`): re-reads the config file with the same trust
/// checks as the start (<see cref="ConfigFile"/>), validates it whole (a bad file is refused with the
/// checker's file:line:col errors and the running config stays), then hands the valid config to
/// <see cref="ApplyAsync"/>, the one "apply what can be applied live" path (the console's `commit`
/// can call it with the config it built). That path splits the difference with
/// <see cref="ConfigReload.Plan"/>: the director's services go to the kernel in one transaction
/// (<see cref="DirectorService.ReloadAsync"/>; the checks and the connection sampler follow); everything else that differs is
/// not applied at all and is listed, in the reply, the log and `status`, as needing a restart.
/// One reload at a time.
/// </summary>
internal sealed class ConfigReloader(string path, string node, ApplianceConfig running, byte[] key, DirectorService? director, DirectorChecks? checks,
    ConnectionSampler? connections, ILogger log, TimeProvider time)
{
    /// <summary><c>applianced --board</c>, so a reload reads the same board profile as the start did.</summary>
    public string? BoardOverride { get; init; }

    private readonly SemaphoreSlim _gate = new(1, 1);
    private ApplianceConfig _running = running;
    private ImmutableArray<string> _restartNeeded = [];
    private long _reloads;
    private string _last = "";
    private volatile bool _refused;

    /// <summary>The config the daemon runs now: the start's, with every reload's live part.</summary>
    public ApplianceConfig Running => Volatile.Read(ref _running);

    /// <summary>Re-reads <c>--config</c> and applies what can be applied live.</summary>
    public async Task<ReloadOutcome> ReloadFileAsync(string trigger, CancellationToken ct = default)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            long t0 = time.GetTimestamp();
            Trace.ReloadStarted(log, trigger, path);
            var file = ConfigFile.Read(path);
            foreach (string warning in file.Warnings)
                Trace.ReloadWarning(log, trigger, warning);
            if (file.Text is not { } text)
                return Refuse(trigger, $"cannot use config {file.Error}", t0);
            var loaded = ConfigLoader.Load(path, text, Linux.BoardFiles.Catalog(BoardOverride));
            if (loaded.Config is not { } config)
                return Refuse(trigger, string.Join("\n", loaded.Errors.Select(e => e.ToString())), t0);
            if (config.FindNode(node) is null)
                return Refuse(trigger, $"node '{node}' is not in {path} (nodes: {string.Join(", ", config.Nodes.Select(n => n.Name))})", t0);
            // The heartbeat key is read once at start: a new key in the same file needs a restart (of both nodes).
            bool keyChanged = config.Cluster.KeyFile == _running.Cluster.KeyFile
                && KeyFile.Load(config.Cluster.KeyFile) is { Key: { } now } && !now.AsSpan().SequenceEqual(key);
            return await ApplyLockedAsync(trigger, config, t0, ct, keyChanged).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Applies a valid <paramref name="candidate"/> (a commit: <see cref="ConfigStore.CommitAsync"/>):
    /// its director difference live, the rest listed for a restart.
    /// </summary>
    public async Task<ReloadOutcome> ApplyAsync(string trigger, ApplianceConfig candidate, CancellationToken ct = default)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            bool keyChanged = candidate.Cluster.KeyFile == _running.Cluster.KeyFile
                && KeyFile.Load(candidate.Cluster.KeyFile) is { Key: { } now } && !now.AsSpan().SequenceEqual(key);
            return await ApplyLockedAsync(trigger, candidate, time.GetTimestamp(), ct, keyChanged).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<ReloadOutcome> ApplyLockedAsync(string trigger, ApplianceConfig candidate, long t0, CancellationToken ct, bool keyChanged = false)
    {
        var read = time.GetElapsedTime(t0); // reading and validating the file (zero for a candidate handed in)
        var plan = ConfigReload.Plan(_running, candidate, keyChanged);
        DirectorReloadResult applied = default;
        if (plan.DirectorChanged && director is not null && plan.Effective.Director is { } next)
        {
            applied = await director.ReloadAsync(next,
                checks is null ? _ => [] : checks.DownFor,
                d =>
                {
                    // Once the kernel has it: the checks switch targets, the connection counts follow the ids and capacities.
                    checks?.Install(d);
                    connections?.Reconfigure(d);
                }, ct).ConfigureAwait(false);
            if (!applied.Ok)
                return Refuse(trigger, $"the kernel refused the director's change; the previous ruleset and config stay: {applied.Error}", t0);
        }
        Volatile.Write(ref _running, plan.Effective);
        _restartNeeded = plan.RestartNeeded;
        Interlocked.Increment(ref _reloads);
        var took = time.GetElapsedTime(t0);
        foreach (string change in plan.Live)
            Trace.ReloadChange(log, trigger, change);
        foreach (string p in plan.RestartNeeded)
            Trace.ReloadNeedsRestart(log, trigger, p);
        string message;
        if (!plan.DirectorChanged && !plan.RestartPending)
        {
            Trace.ReloadUnchanged(log, trigger);
            message = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"reload: the file is the running config; nothing changed (reload {took.TotalMilliseconds:F1} ms)");
        }
        else
        {
            Trace.ReloadApplied(log, trigger, plan.Live.Length, applied.Commands, applied.Elapsed.TotalMilliseconds, took.TotalMilliseconds,
                read.TotalMilliseconds, applied.OverridesKept, applied.OverridesForgotten, plan.RestartNeeded.Length);
            var lines = new List<string>();
            lines.Add(plan.DirectorChanged
                ? string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"reload: applied {plan.Live.Length} director change(s) in one transaction ({applied.Commands} nft commands, kernel {applied.Elapsed.TotalMilliseconds:F1} ms, reload {took.TotalMilliseconds:F1} ms of which reading and validating {read.TotalMilliseconds:F1} ms):")
                : "reload: no director change");
            lines.AddRange(plan.Live.Select(c => "  " + c));
            if (applied.Pending)
                lines.Add($"  (the director's table is not loaded yet: {(director!.Error.Length > 0 ? director.Error : "loading")}; its load carries the new config)");
            if (plan.RestartPending)
            {
                lines.Add("not applied, needs a restart of applianced (the running config differs from the file until then):");
                lines.AddRange(plan.RestartNeeded.Select(p => "  " + p));
            }
            message = string.Join("\n", lines);
        }
        _last = plan.RestartPending ? "applied; restart needed" : "applied";
        _refused = false;
        return new ReloadOutcome(true, message, plan.Live, plan.RestartNeeded, took);
    }

    private ReloadOutcome Refuse(string trigger, string reason, long t0)
    {
        Trace.ReloadRefused(log, trigger, reason);
        _last = "refused: " + reason;
        _refused = true;
        return new ReloadOutcome(false, "reload refused, the running config stays: " + reason, [], _restartNeeded, time.GetElapsedTime(t0));
    }

    /// <summary>
    /// The `config` object of `status --json`: {"file", "reloads", "last_reload", "differs_from_file",
    /// "restart_needed": [...]}, as of the last reload (the file is not watched; edit it, then reload).
    /// </summary>
    public void WriteStatus(Utf8JsonWriter w)
    {
        w.WriteStartObject("config");
        w.WriteString("file", path);
        w.WriteNumber("reloads", Interlocked.Read(ref _reloads));
        w.WriteString("last_reload", _last.Length == 0 ? "none" : _last);
        var restart = _restartNeeded;
        // As of the last reload: a refused file differs too (it is not what runs).
        w.WriteBoolean("differs_from_file", !restart.IsEmpty || _refused);
        w.WriteStartArray("restart_needed");
        foreach (var p in restart)
            w.WriteStringValue(p);
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
