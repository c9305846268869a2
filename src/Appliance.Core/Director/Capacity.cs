using System.Collections.Immutable;
using System.Globalization;
using Appliance.Core.Config;

namespace Appliance.Core.Director;

/// <summary>
/// The largest value seen over a rolling window, kept in fixed buckets (each holds the largest value
/// recorded during its span) so memory is bounded whatever the sample rate. The peak covers the
/// current bucket and the <c>buckets - 1</c> before it: with 24 one-hour buckets, between the last
/// 23 and 24 hours. Time is a monotonic value handed in; nothing here reads a clock.
/// </summary>
public sealed class PeakWindow
{
    /// <summary>Most buckets of one window: a day in minutes; memory is 16 bytes a bucket.</summary>
    public const int BucketsMax = 1440;

    private readonly long _bucketTicks;
    private readonly long[] _bucketNumber;
    private readonly long[] _max;

    public PeakWindow(TimeSpan window, int buckets)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(buckets, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(buckets, BucketsMax);
        if (window.Ticks < buckets)
            throw new ArgumentOutOfRangeException(nameof(window), window, "shorter than one tick per bucket");
        Window = window;
        _bucketTicks = window.Ticks / buckets;
        _bucketNumber = new long[buckets];
        _max = new long[buckets];
        Array.Fill(_bucketNumber, long.MinValue);
    }

    /// <summary>The span the peak covers (to one bucket).</summary>
    public TimeSpan Window { get; }

    /// <summary>Records <paramref name="value"/> at monotonic time <paramref name="now"/>; values of a bucket that left the window are forgotten.</summary>
    public void Record(TimeSpan now, long value)
    {
        long n = BucketOf(now);
        int slot = Slot(n);
        if (_bucketNumber[slot] != n)
        {
            _bucketNumber[slot] = n;
            _max[slot] = value;
        }
        else if (value > _max[slot])
            _max[slot] = value;
    }

    /// <summary>The largest value recorded in the window that ends at <paramref name="now"/>; 0 when none.</summary>
    public long Peak(TimeSpan now)
    {
        long n = BucketOf(now);
        long peak = 0;
        for (int i = 0; i < _max.Length; i++)
            if (_bucketNumber[i] <= n && _bucketNumber[i] > n - _max.Length && _max[i] > peak)
                peak = _max[i];
        return peak;
    }

    /// <summary>Floor division, so an instant before the clock's origin still falls in the right bucket.</summary>
    private long BucketOf(TimeSpan now)
    {
        long q = now.Ticks / _bucketTicks;
        return now.Ticks % _bucketTicks < 0 ? q - 1 : q;
    }

    private int Slot(long bucket) => (int)(((bucket % _max.Length) + _max.Length) % _max.Length);
}

/// <summary>
/// What a service's real servers can carry, from the config: <paramref name="Total"/> (every real
/// server in the pool) and <paramref name="WithoutBusiest"/> (the pool minus the server with the
/// largest capacity, the N-1 figure); both null when a server in the pool has no <c>capacity</c>
/// (<paramref name="Unknown"/> says which). The pool is the real servers the config puts in rotation
/// (state up, weight above 0): one the config drains carries nothing new anyway, while one the operator
/// drains or a check takes down for a while is still part of the plan.
/// </summary>
public sealed record ServiceCapacity(string Service, long? Total, long? WithoutBusiest, string? Busiest, string? Unknown)
{
    public static ServiceCapacity Of(VirtualServiceConfig s)
    {
        var pool = s.RealServers.Where(r => r.State == RealServerAdminState.Up && r.Weight > 0).ToList();
        var missing = pool.Where(r => r.Capacity is null).Select(r => r.Address.ToString()).ToList();
        if (missing.Count > 0)
            return new(s.Name, null, null, null,
                $"no N-1 check: {string.Join(", ", missing.Take(3))}{(missing.Count > 3 ? $" and {missing.Count - 3} more" : "")} {(missing.Count == 1 ? "has" : "have")} no capacity");
        long total = pool.Sum(r => (long)r.Capacity!.Value);
        var busiest = pool.OrderByDescending(r => r.Capacity!.Value).FirstOrDefault();
        return new(s.Name, total, total - (busiest?.Capacity ?? 0), busiest?.Address.ToString(), null);
    }
}

/// <summary>A service's capacity figures now: the peak of its active connections, the N-1 figure, and the warning if any.</summary>
public readonly record struct CapacityView(string Service, long Peak, long? WithoutBusiest, string? Warning, string? Note);

/// <summary>A warning that started (<paramref name="Warning"/> set) or cleared (null), for the log.</summary>
public readonly record struct CapacityChange(string Service, string? Warning, long Peak, long? WithoutBusiest);

/// <summary>
/// Issue 9 part 5 and seed 001 ("if N-1 nodes cannot carry the peak, you are not redundant"): per
/// service, the peak of its total active connections over a rolling window, held against what its
/// real servers can carry without the busiest one (<see cref="ServiceCapacity"/>). A service warns
/// while the peak exceeds that; a service with a real server of unknown capacity never warns (its
/// view says why). Pure: samples and time come in, changes (for the log, once when a warning starts
/// and once when it clears) come out. One caller at a time.
/// </summary>
public sealed class CapacityWatch
{
    /// <summary>The default window: a day, so the daily peak counts whatever the hour now.</summary>
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromHours(24);

    /// <summary>The default buckets: hours, so a peak leaves the window to the hour.</summary>
    public const int DefaultBuckets = 24;

    private readonly TimeSpan _window;
    private readonly int _buckets;
    private ImmutableDictionary<string, ServiceCapacity> _capacity = ImmutableDictionary<string, ServiceCapacity>.Empty;
    private ImmutableArray<string> _order = [];
    private readonly Dictionary<string, PeakWindow> _peaks = [];
    private readonly Dictionary<string, string> _warnings = [];

    public CapacityWatch(DirectorConfig config, TimeSpan? window = null, int buckets = DefaultBuckets)
    {
        _window = window ?? DefaultWindow;
        _buckets = buckets;
        Reconfigure(config);
    }

    /// <summary>
    /// A new config (a reload): services that stay keep their peak; services that go are forgotten
    /// (a warning of theirs clears silently: the service is gone). The next <see cref="Sample"/> judges again.
    /// </summary>
    public void Reconfigure(DirectorConfig config)
    {
        _capacity = config.Services.ToImmutableDictionary(s => s.Name, ServiceCapacity.Of);
        _order = [.. config.Services.Select(s => s.Name)];
        foreach (var gone in _peaks.Keys.Where(k => !_capacity.ContainsKey(k)).ToList())
        {
            _peaks.Remove(gone);
            _warnings.Remove(gone);
        }
        foreach (var name in _order)
            if (!_peaks.ContainsKey(name))
                _peaks[name] = new PeakWindow(_window, _buckets);
    }

    /// <summary>The window the peak covers.</summary>
    public TimeSpan Window => _window;

    /// <summary>
    /// One sample: the total active connections of each service now (services missing from
    /// <paramref name="activeByService"/> were not measured and keep their peak as it is). Returns the
    /// warnings that started or cleared with it.
    /// </summary>
    public IReadOnlyList<CapacityChange> Sample(TimeSpan now, IReadOnlyDictionary<string, long> activeByService)
    {
        var changes = new List<CapacityChange>();
        foreach (var name in _order)
        {
            if (activeByService.TryGetValue(name, out long active))
            {
                if (active < 0)
                    throw new ArgumentOutOfRangeException(nameof(activeByService), active, $"negative active connections for {name}");
                _peaks[name].Record(now, active);
            }
            var view = View(name, now);
            bool had = _warnings.TryGetValue(name, out _);
            if (view.Warning is { } w && !had)
            {
                _warnings[name] = w;
                changes.Add(new(name, w, view.Peak, view.WithoutBusiest));
            }
            else if (view.Warning is null && had)
            {
                _warnings.Remove(name);
                changes.Add(new(name, null, view.Peak, view.WithoutBusiest));
            }
            else if (view.Warning is { } still)
                _warnings[name] = still; // the figures in the text move; the warning is the same one
        }
        return changes;
    }

    /// <summary>The figures of <paramref name="service"/> at <paramref name="now"/> (a service not in the config: zeros, no warning).</summary>
    public CapacityView View(string service, TimeSpan now)
    {
        if (!_capacity.TryGetValue(service, out var c) || !_peaks.TryGetValue(service, out var window))
            return new(service, 0, null, null, null);
        long peak = window.Peak(now);
        string? warning = c.WithoutBusiest is { } n1 && peak > n1
            ? string.Create(CultureInfo.InvariantCulture,
                $"service {service}: peak of {peak} active connections in the last {Hours(_window)} exceeds the {n1} its real servers can carry without the busiest ({c.Busiest}): not N-1 redundant")
            : null;
        return new(service, peak, c.WithoutBusiest, warning, c.Unknown);
    }

    /// <summary>The warnings in force after the last <see cref="Sample"/>, in config order.</summary>
    public IReadOnlyList<string> Warnings => [.. _order.Where(_warnings.ContainsKey).Select(n => _warnings[n])];

    private static string Hours(TimeSpan t) => t.TotalHours >= 1 && t.TotalHours == Math.Floor(t.TotalHours)
        ? string.Create(CultureInfo.InvariantCulture, $"{t.TotalHours:0}h")
        : string.Create(CultureInfo.InvariantCulture, $"{t.TotalMinutes:0.#}m");
}
