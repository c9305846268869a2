using System.Collections.Immutable;
using System.Net;
using System.Text.Json;
using Appliance.Core.Config;
using Appliance.Core.Director;
using Appliance.Linux.Nft;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>
/// Keeps the director's ruleset (`table inet appliance`) loaded in this node's kernel, on both nodes
/// whatever their role (DESIGN.md section 5: deleting it while serving resets every balanced
/// connection, and a standby must have it before it takes over). The whole table is loaded once at
/// start; after that every change (an operator's drain, undrain or weight) is one transaction that
/// rewrites only what changed. A failed apply leaves the previous ruleset in force and says why.
/// libnftables runs in its own worker process (<see cref="NftProxy"/>), so a crash in it cannot take
/// this daemon or its heartbeat down. One transaction at a time.
/// <para>
/// A real server's state combines the config, the operator and its check (<see cref="DirectorChecks"/>):
/// a failing check makes it down whatever the operator said (a dead server must not keep its
/// persisted clients, drained or not); otherwise the operator's drain or weight stands (a passing
/// check does not undo a drain). Check flips are applied as one transaction per batch
/// (<see cref="ApplyChecksAsync"/>), on both nodes, so the standby's ruleset is current when it takes over.
/// </para>
/// </summary>
internal sealed class DirectorService : IAsyncDisposable
{
    /// <summary>How often a table that could not be loaded is tried again.</summary>
    public static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(5);

    private DirectorConfig _config; // replaced by a reload, under _gate
    private readonly string _cluster;
    private readonly NftProxy _nft;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    // The operator's drain/undrain and weight, each kept apart so that a reload's new weight still
    // shows under a drain, and a drain survives a reload that changes the weight.
    private ImmutableDictionary<(string Service, IPEndPoint Server), OperatorOverride> _overrides =
        ImmutableDictionary<(string, IPEndPoint), OperatorOverride>.Empty;
    private ImmutableHashSet<(string Service, IPEndPoint Server)> _checkDown = [];
    private Func<string, IPEndPoint, ServerCheck>? _checkStatus;
    private Action<Utf8JsonWriter>? _checkStats;
    private ConnectionSampler? _connections;
    private bool _checksStale;
    private DirectorPlan? _applied;
    private long _generation;
    private volatile string _error = "";
    private Task _loader = Task.CompletedTask;
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public DirectorService(DirectorConfig config, string clusterName, ILogger log, TimeProvider time, NftProxy? nft = null)
    {
        _config = config;
        _cluster = clusterName;
        _log = log;
        _time = time;
        _nft = nft ?? new NftProxy(log);
    }

    /// <summary>Transactions applied on this node since start (0: the table is not loaded yet).</summary>
    public long Generation => Interlocked.Read(ref _generation);

    /// <summary>
    /// True once the table is in the kernel, waiting up to <paramref name="bound"/>; false if it is not by then.
    /// A takeover's connection commit waits for it (table, commit, VIPs).
    /// </summary>
    public async Task<bool> WaitLoadedAsync(TimeSpan bound, CancellationToken ct)
    {
        if (_loaded.Task.IsCompleted)
            return true;
        if (bound <= TimeSpan.Zero)
            return false;
        try
        {
            await _loaded.Task.WaitAsync(bound, _time, ct).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>Why the last load or change failed ("" when it did not).</summary>
    public string Error => _error;

    /// <summary>
    /// Connects the checks before <see cref="Start"/>: <paramref name="status"/> answers `services --json`,
    /// <paramref name="initiallyDown"/> (the servers with <c>start: down</c>) are down in the first load.
    /// </summary>
    public void AttachChecks(Func<string, IPEndPoint, ServerCheck> status, Action<Utf8JsonWriter> stats, IEnumerable<(string Service, IPEndPoint Server)> initiallyDown)
    {
        _checkStatus = status;
        _checkStats = stats;
        _checkDown = [.. initiallyDown];
    }

    /// <summary>Active connections and capacity per service and server in `services --json` (<see cref="ConnectionSampler"/>).</summary>
    public void AttachConnections(ConnectionSampler connections) => _connections = connections;

    /// <summary>
    /// Check flips (and, with none, a retry of an earlier failed apply): one transaction for the
    /// whole batch. The checks' verdict is kept even when the kernel refuses the change (the servers
    /// are down or up whatever the kernel says); the next call tries again. True when the kernel
    /// has the current state, or when the table is not loaded yet (its load will carry it).
    /// </summary>
    public async Task<bool> ApplyChecksAsync(IReadOnlyList<CheckFlip> flips, CancellationToken ct = default)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            foreach (var f in flips)
                _checkDown = f.Up ? _checkDown.Remove((f.Service, f.Server)) : _checkDown.Add((f.Service, f.Server));
            if (_applied is not { } old)
            {
                foreach (var f in flips)
                    Trace.CheckFlipped(_log, f.Service, Show(f.Server), f.Up ? "up" : "DOWN", f.Reason, "in the table's first load", 0);
                return true;
            }
            if (flips.Count == 0 && !_checksStale)
                return true;
            var plan = Plan();
            string text = NftRuleset.Change(old, plan);
            double ms = 0;
            if (text.Length > 0)
            {
                var result = await _nft.ApplyAsync(text, ct: ct).ConfigureAwait(false);
                if (!result.Ok)
                {
                    _checksStale = true;
                    Trace.DirectorApplyFailed(_log, $"check flips ({flips.Count})", result.Message);
                    return false;
                }
                _applied = plan;
                Interlocked.Increment(ref _generation);
                ms = result.Elapsed.TotalMilliseconds;
            }
            _checksStale = false;
            foreach (var f in flips)
            {
                var state = plan.Find(f.Service)?.Servers.FirstOrDefault(x => x.Address.Equals(f.Server))?.State ?? ServerState.Down;
                Trace.CheckFlipped(_log, f.Service, Show(f.Server), f.Up ? "up" : "DOWN", f.Reason, state.ToString().ToLowerInvariant(), (long)ms);
            }
            return true;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Loads the whole table in the background, and again every <see cref="RetryInterval"/> until it is in.</summary>
    public void Start() => _loader = LoadUntilLoaded(_stop.Token);

    private async Task LoadUntilLoaded(CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                if (await LoadAsync(ct).ConfigureAwait(false))
                    return;
                await Task.Delay(RetryInterval, _time, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            Trace.BackgroundFailed(_log, "director load", e.ToString());
        }
    }

    /// <summary>The whole table, in one transaction; true when the kernel has it.</summary>
    public async Task<bool> LoadAsync(CancellationToken ct = default)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var plan = Plan();
            var result = await _nft.ApplyAsync(NftRuleset.FullLoad(plan), ct: ct).ConfigureAwait(false);
            if (!result.Ok)
            {
                _error = $"loading table {NftRuleset.Table}: {result.Message}";
                Trace.DirectorApplyFailed(_log, "load", result.Message);
                return false;
            }
            _applied = plan;
            _error = "";
            Interlocked.Increment(ref _generation);
            _loaded.TrySetResult();
            Trace.DirectorLoaded(_log, plan.Services.Length, plan.AllServers.Count(), (long)result.Elapsed.TotalMilliseconds);
            return true;
        }
        finally
        {
            _gate.Release();
        }
    }

    private DirectorPlan Plan()
    {
        var health = HealthView.AsConfigured;
        foreach (var ((service, server), o) in _overrides)
        {
            var rs = _config.Services.FirstOrDefault(s => s.Name == service)?.RealServers.FirstOrDefault(r => r.Address.Equals(server));
            if (rs is not null)
                health = health.With(service, server, o.Over(HealthView.AsConfigured.Get(service, rs)));
        }
        foreach (var (service, server) in _checkDown)
        {
            var rs = _config.Services.FirstOrDefault(s => s.Name == service)?.RealServers.FirstOrDefault(r => r.Address.Equals(server));
            if (rs is not null)
                health = health.WithState(service, server, ServerState.Down, rs);
        }
        return DirectorPlanner.Plan(_config, _cluster, health, _applied);
    }

    /// <summary>
    /// `appliancectl drain|undrain SERVICE SERVER` and `weight SERVICE SERVER N`: one transaction that
    /// changes only that service. Refused (nothing changes) when the table is not loaded, the names are
    /// unknown, or the kernel rejects the change.
    /// </summary>
    public async Task<(bool Ok, string Message)> SetAsync(string service, string server, ServerState? state, int? weight, CancellationToken ct = default)
    {
        var svc = _config.Services.FirstOrDefault(s => s.Name == service);
        if (svc is null)
            return (false, $"unknown service '{service}' (services: {string.Join(", ", _config.Services.Select(s => s.Name))})");
        var rs = svc.RealServers.FirstOrDefault(r => Same(r.Address, server));
        if (rs is null)
            return (false, $"service {service} has no real server '{server}' (real servers: {string.Join(", ", svc.RealServers.Select(r => Show(r.Address)))})");
        if (weight is < 0 or > ConfigLimits.MaxRealServerWeight)
            return (false, $"weight {weight} is out of range (0 to {ConfigLimits.MaxRealServerWeight})");
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_applied is not { } old)
                return (false, $"the director's table is not loaded yet: {(_error.Length > 0 ? _error : "loading")}");
            // The operator's own state, not the planned one: a server down by its check comes back drained
            // or weighted as the operator said, not down for ever.
            var current = _overrides.TryGetValue((service, rs.Address), out var o) ? o : default;
            var nextOverride = new OperatorOverride(state ?? current.State, weight ?? current.Weight);
            var next = nextOverride.Over(HealthView.AsConfigured.Get(service, rs));
            var before = _overrides;
            _overrides = _overrides.SetItem((service, rs.Address), nextOverride);
            var plan = Plan();
            string text = NftRuleset.Change(old, plan);
            if (text.Length == 0)
                return (true, $"{service} {Show(rs.Address)}: already {Describe(next)}");
            var result = await _nft.ApplyAsync(text, ct: ct).ConfigureAwait(false);
            if (!result.Ok)
            {
                _overrides = before; // the kernel kept the old ruleset, and so do we
                Trace.DirectorApplyFailed(_log, $"{service} {Show(rs.Address)}", result.Message);
                return (false, $"the kernel refused the change, the previous ruleset stays: {result.Message}");
            }
            _applied = plan;
            Interlocked.Increment(ref _generation);
            Trace.DirectorChanged(_log, service, Show(rs.Address), Describe(next), (long)result.Elapsed.TotalMilliseconds);
            return (true, $"{service} {Show(rs.Address)}: {Describe(next)} (applied in {result.Elapsed.TotalMilliseconds:F1} ms)");
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// A config reload: the director moves to <paramref name="next"/> in one transaction that rewrites
    /// only what changed (<see cref="NftRuleset.Change"/>: never the table or a base chain, so
    /// established connections keep their conntrack binding). The operator's drain and weight stay
    /// for servers still in the config and are forgotten for the others; <paramref name="checkDown"/>
    /// gives the checks' verdict for the new config (called under this service's lock, so no check
    /// flip is applied in between), and <paramref name="applied"/> runs once the kernel has the new
    /// ruleset (the checks switch to the new targets there). When the kernel refuses, nothing changes:
    /// the old config, overrides and ruleset stay. Before the table's first load, the new config is
    /// simply what the load will use.
    /// </summary>
    public async Task<DirectorReloadResult> ReloadAsync(DirectorConfig next, Func<DirectorConfig, IEnumerable<(string Service, IPEndPoint Server)>> checkDown,
        Action<DirectorConfig>? applied = null, CancellationToken ct = default)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var (config, overrides, down) = (_config, _overrides, _checkDown);
            _config = next;
            _overrides = _overrides.Where(kv => next.Services.Any(s => s.Name == kv.Key.Service && s.RealServers.Any(r => r.Address.Equals(kv.Key.Server)))).ToImmutableDictionary();
            _checkDown = [.. checkDown(next)];
            int kept = _overrides.Count, forgotten = overrides.Count - _overrides.Count;
            if (_applied is not { } old)
            {
                applied?.Invoke(next);
                return new DirectorReloadResult(true, "", 0, TimeSpan.Zero, kept, forgotten, Pending: true);
            }
            var plan = Plan();
            string text = NftRuleset.Change(old, plan);
            var elapsed = TimeSpan.Zero;
            if (text.Length > 0)
            {
                var result = await _nft.ApplyAsync(text, ct: ct).ConfigureAwait(false);
                if (!result.Ok)
                {
                    (_config, _overrides, _checkDown) = (config, overrides, down); // the kernel kept the old ruleset, and so do we
                    Trace.DirectorApplyFailed(_log, "reload", result.Message);
                    return new DirectorReloadResult(false, result.Message, text.Count(c => c == '\n'), TimeSpan.Zero, overrides.Count, 0);
                }
                Interlocked.Increment(ref _generation);
                elapsed = result.Elapsed;
            }
            // Also when the kernel had nothing to change (rr -> wrr over equal weights compiles to the
            // same rules): what `services` shows is the plan of the config that runs now.
            _applied = plan;
            applied?.Invoke(next);
            return new DirectorReloadResult(true, "", text.Count(c => c == '\n'), elapsed, kept, forgotten);
        }
        finally
        {
            _gate.Release();
        }
    }

    private static string Describe(RealServerStatus s) => $"{s.State.ToString().ToLowerInvariant()}, weight {s.Weight}";

    private static bool Same(IPEndPoint address, string text) =>
        IPEndPoint.TryParse(text, out var parsed) && parsed.Address.Equals(address.Address) && parsed.Port == address.Port;

    private static string Show(IPEndPoint e) => e.ToString();

    /// <summary>`appliancectl services --json`: per service and real server, state, weight, check, counters; the generation.</summary>
    public async Task<byte[]> WriteServicesAsync(CancellationToken ct = default)
    {
        var plan = _applied;
        IReadOnlyDictionary<string, NftCounter> counters = new Dictionary<string, NftCounter>();
        if (plan is not null)
        {
            var listing = await _nft.ListCountersAsync(NftTable.Appliance, ct).ConfigureAwait(false);
            if (listing.Ok)
                counters = NftCounters.Parse(listing.Output);
        }
        plan ??= Plan();
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteBoolean("ok", true);
            w.WriteNumber("generation", Generation);
            w.WriteBoolean("loaded", _applied is not null);
            if (_error.Length > 0)
                w.WriteString("error", _error);
            _checkStats?.Invoke(w);
            if (_connections?.Error is { Length: > 0 } connectionsError)
                w.WriteString("connections_error", connectionsError);
            w.WriteStartArray("services");
            foreach (var s in plan.Services)
            {
                w.WriteStartObject();
                w.WriteString("name", s.Name);
                w.WriteString("listen", s.Config.Listen.ToString());
                w.WriteString("scheduler", s.Config.Scheduler.ToString().ToLowerInvariant());
                w.WriteString("forwarding", s.Config.Forwarding.ToString().ToLowerInvariant());
                w.WriteBoolean("quorum", s.QuorumHeld);
                w.WriteBoolean("sorry_active", s.SorryActive);
                _connections?.WriteCapacity(w, s.Name);
                w.WriteStartArray("servers");
                foreach (var server in s.Servers)
                    WriteServer(w, server, counters, sorry: false, _checkStatus?.Invoke(s.Name, server.Address), _connections);
                if (s.Sorry is { } sorry)
                    WriteServer(w, sorry, counters, sorry: true, null, _connections);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    private static void WriteServer(Utf8JsonWriter w, PlannedServer s, IReadOnlyDictionary<string, NftCounter> counters, bool sorry, ServerCheck? check,
        ConnectionSampler? connections)
    {
        w.WriteStartObject();
        w.WriteString("address", s.Address.ToString());
        w.WriteString("id", s.Id.MarkHex);
        w.WriteString("state", s.State.ToString().ToLowerInvariant());
        w.WriteNumber("weight", s.Weight);
        w.WriteBoolean("sorry", sorry);
        w.WriteStartObject("check");
        var c0 = check ?? new ServerCheck(CheckResult.None, sorry ? "the sorry server is not checked" : "no checks running", false);
        w.WriteString("result", c0.Result.ToString().ToLowerInvariant());
        w.WriteString("reason", c0.Reason);
        w.WriteEndObject();
        var c = counters.TryGetValue(s.Id.CounterName, out var found) ? found : default;
        w.WriteNumber("packets", c.Packets);
        w.WriteNumber("bytes", c.Bytes);
        // The counter of new connections counts one packet per connection: the first, in the nat hook.
        long newConnections = counters.TryGetValue(s.Id.NewCounterName, out var n) ? n.Packets : 0;
        if (connections is not null)
            connections.WriteConnections(w, s.Id, newConnections);
        w.WriteEndObject();
    }

    public async ValueTask DisposeAsync()
    {
        // The table stays loaded: deleting it would reset every balanced connection (a restart or
        // an upgrade of this daemon must not), and the next start reloads it in one transaction.
        _stop.Cancel();
        try
        {
            await _loader.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        _nft.Dispose();
    }
}

/// <summary>
/// The operator's own say on a real server (`drain`/`undrain`, `weight`), each part null until given;
/// laid over the config's state and weight.
/// </summary>
internal readonly record struct OperatorOverride(ServerState? State, int? Weight)
{
    public RealServerStatus Over(RealServerStatus configured) => new(State ?? configured.State, Weight ?? configured.Weight);
}

/// <summary>
/// How a director reload went: <paramref name="Ok"/> (else <paramref name="Error"/>, and nothing
/// changed); the nft commands of its transaction (0: nothing in the kernel changed) and the time
/// the kernel took; operator overrides kept and forgotten (their server left the config);
/// <paramref name="Pending"/>: the table is not loaded yet, and its load (retried) will carry the new config.
/// </summary>
internal readonly record struct DirectorReloadResult(bool Ok, string Error, int Commands, TimeSpan Elapsed, int OverridesKept, int OverridesForgotten,
    bool Pending = false);
