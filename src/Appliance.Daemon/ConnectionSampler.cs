using System.Collections.Immutable;
using System.Diagnostics;
using System.Text.Json;
using Appliance.Core.Config;
using Appliance.Core.Director;
using Appliance.Linux;
using Appliance.Linux.Director;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>
/// Active connections per real server and the N-1 capacity warning (issue 9 part 5). Every
/// <see cref="SampleInterval"/> one ctnetlink dump of the conntrack table (<see cref="ConntrackCounter"/>,
/// no process) is grouped by the real-server id in the high 16 bits of the ct mark; the open entries
/// of a service's real servers add up to its total, which feeds <see cref="CapacityWatch"/> (the peak
/// over the last 24 hours against what the servers minus the busiest can carry). Runs on the thread
/// pool of this daemon, never near the heartbeat (its own process). New connections are not counted
/// here: they are nft counters on the DNAT rule (<see cref="NftRuleset"/>), read with the others.
/// <para>
/// Ids come from the config alone (<see cref="RealServerIds"/>), the same ones the ruleset and the
/// peer use, so a connection synced by conntrackd counts for the same server after a failover. The
/// peak lives in this process: a restart starts it again from the next sample, and a standby
/// (which balances nothing) has its own, low one.
/// </para>
/// </summary>
internal sealed class ConnectionSampler : IAsyncDisposable
{
    /// <summary>
    /// How often the table is dumped. A dump costs 40-57 ms at 10,000 entries on the loaded lab machine
    /// (Edge/ConntrackCounterTests): about 1% of a core at this rate. The peak is of samples, so a burst
    /// shorter than this can slip between two; capacity is about sustained load, which it does not miss.
    /// </summary>
    public static readonly TimeSpan SampleInterval = TimeSpan.FromSeconds(5);

    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly Func<ConntrackCounter> _open;
    private readonly long _origin;
    /// <summary>Guards the figures; held only to read or swap them, never during a dump.</summary>
    private readonly Lock _gate = new();
    /// <summary>One dump at a time (the counter and its tallies are the sampler's alone).</summary>
    private readonly Lock _dumpGate = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<uint, ConntrackTally> _tallies = [];
    private DirectorConfig _config;
    private ImmutableDictionary<ServerKey, RealServerId> _ids;
    private readonly CapacityWatch _watch;
    private ImmutableDictionary<RealServerId, long> _active = ImmutableDictionary<RealServerId, long>.Empty;
    private bool _sampled;
    private string _error = "";
    private ConntrackCounter? _counter;
    private Task _loop = Task.CompletedTask;

    /// <param name="open">Opens the counter (tests pass one made in their namespace); by default in this process's namespace.</param>
    public ConnectionSampler(DirectorConfig config, ILogger log, TimeProvider time, Func<ConntrackCounter>? open = null)
    {
        _config = config;
        _ids = RealServerIds.Assign(config);
        _watch = new CapacityWatch(config);
        _log = log;
        _time = time;
        _open = open ?? ConntrackCounter.Open;
        _origin = time.GetTimestamp();
    }

    /// <summary>A new config (a reload): ids and capacities follow it; services that stay keep their peak.</summary>
    public void Reconfigure(DirectorConfig config)
    {
        lock (_gate)
        {
            _config = config;
            _ids = RealServerIds.Assign(config);
            _watch.Reconfigure(config);
        }
    }

    /// <summary>Samples at once, then every <see cref="SampleInterval"/>.</summary>
    public void Start() => _loop = Loop(_stop.Token);

    private async Task Loop(CancellationToken ct)
    {
        await Task.Yield(); // the first dump runs on the thread pool, not in the daemon's start-up
        using var timer = new PeriodicTimer(SampleInterval, _time);
        try
        {
            do
                SampleOnce();
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            Trace.BackgroundFailed(_log, "connection sampler", e.ToString());
        }
    }

    /// <summary>One dump and one capacity judgement; a failed dump leaves the last figures and the peaks as they were.</summary>
    public void SampleOnce()
    {
        lock (_dumpGate)
        {
            long t0 = Stopwatch.GetTimestamp();
            _tallies.Clear();
            ConntrackOutcome outcome;
            try
            {
                _counter ??= _open();
                // One dump of the whole table grouped by id: each filtered dump walks the whole table in
                // the kernel anyway, so one per server costs more as soon as there are two (measured).
                outcome = _counter.Count(0, 0, RealServerId.MarkMask, _tallies);
            }
            catch (NativeIoException e)
            {
                outcome = new ConntrackOutcome(ConntrackOutcomeKind.Error, e.Errno, 0, e.Message);
            }
            lock (_gate)
                Judge(outcome, Stopwatch.GetElapsedTime(t0));
        }
    }

    /// <summary>Called with both gates held: takes one dump's outcome into the figures and the capacity watch.</summary>
    private void Judge(ConntrackOutcome outcome, TimeSpan took)
    {
        if (outcome.Kind != ConntrackOutcomeKind.Done)
        {
            if (_error.Length == 0)
                Trace.ConnectionCountFailed(_log, outcome.Reason, SampleInterval.TotalSeconds);
            _error = outcome.Reason;
            if (outcome.Kind == ConntrackOutcomeKind.Error)
            {
                _counter?.Dispose(); // a fresh socket next time: this one may hold the rest of a broken dump
                _counter = null;
            }
            return;
        }
        if (_error.Length > 0)
            Trace.ConnectionCountRecovered(_log, outcome.Entries, took.TotalMilliseconds);
        _error = "";
        var active = ImmutableDictionary.CreateBuilder<RealServerId, long>();
        var byService = new Dictionary<string, long>();
        foreach (var (key, id) in _ids)
        {
            long open = _tallies.TryGetValue(id.Mark, out var t) ? t.Open : 0;
            active[id] = open;
            if (!key.Sorry)
                byService[key.Service] = byService.GetValueOrDefault(key.Service) + open;
        }
        foreach (var s in _config.Services)
            byService.TryAdd(s.Name, 0); // a service without real servers still has a total: none
        _active = active.ToImmutable();
        _sampled = true;
        foreach (var change in _watch.Sample(Now, byService))
        {
            if (change.Warning is { } w)
                Trace.CapacityWarning(_log, w);
            else
                Trace.CapacityCleared(_log, change.Service, change.Peak, change.WithoutBusiest?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown");
        }
    }

    private TimeSpan Now => _time.GetElapsedTime(_origin);

    /// <summary>The capacity warnings in force (for `status`).</summary>
    public IReadOnlyList<string> Warnings
    {
        get
        {
            lock (_gate)
                return _watch.Warnings;
        }
    }

    /// <summary>Open conntrack entries of the server at the last sample; null before the first good one.</summary>
    public long? Active(RealServerId id)
    {
        lock (_gate)
            return _sampled ? _active.GetValueOrDefault(id) : null;
    }

    /// <summary>
    /// `"connections": {"active": n|null, "new": n}` of one server: <paramref name="newConnections"/> is
    /// its nft counter of new connections (since the table was loaded).
    /// </summary>
    public void WriteConnections(Utf8JsonWriter w, RealServerId id, long newConnections)
    {
        w.WriteStartObject("connections");
        if (Active(id) is { } n)
            w.WriteNumber("active", n);
        else
            w.WriteNull("active");
        w.WriteNumber("new", newConnections);
        w.WriteEndObject();
    }

    /// <summary>`"capacity": {"peak", "without_busiest", "window_s", "warning", "note"}` of one service.</summary>
    public void WriteCapacity(Utf8JsonWriter w, string service)
    {
        CapacityView v;
        lock (_gate)
            v = _watch.View(service, Now);
        w.WriteStartObject("capacity");
        w.WriteNumber("peak", v.Peak);
        if (v.WithoutBusiest is { } n1)
            w.WriteNumber("without_busiest", n1);
        else
            w.WriteNull("without_busiest");
        w.WriteNumber("window_s", (long)_watch.Window.TotalSeconds);
        if (v.Warning is { } warning)
            w.WriteString("warning", warning);
        else
            w.WriteNull("warning");
        if (v.Note is { } note)
            w.WriteString("note", note);
        w.WriteEndObject();
    }

    /// <summary>Why the last count failed ("" when it did not).</summary>
    public string Error => _error;

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _loop.ConfigureAwait(false);
        lock (_dumpGate)
        {
            _counter?.Dispose();
            _counter = null;
        }
    }
}
