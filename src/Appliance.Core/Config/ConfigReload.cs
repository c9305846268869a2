using System.Collections.Immutable;
using System.Globalization;
using System.Net;

namespace Appliance.Core.Config;

/// <summary>
/// What a reload (SIGHUP, <c>appliancectl reload</c>, the console's <c>commit</c>) does with a new,
/// already validated config: <see cref="Effective"/> is the running config with every part that can
/// change live taken from the file (<c>director.services</c> and <c>monitors</c>), and nothing else;
/// <see cref="Live"/> describes those live changes, one line each; <see cref="RestartNeeded"/> names
/// every config path that differs but is kept as it runs until the daemon restarts. A change is
/// never half-applied: a path is either wholly in <see cref="Effective"/> or wholly listed.
/// </summary>
public sealed record ReloadPlan(ApplianceConfig Effective, ImmutableArray<string> Live, ImmutableArray<string> RestartNeeded)
{
    /// <summary>The director's services differ: the host applies <see cref="Effective"/>'s director.</summary>
    public bool DirectorChanged { get; init; }

    /// <summary>The monitors differ: the host runs <see cref="Effective"/>'s monitors (unchanged ones keep their state).</summary>
    public bool MonitorsChanged { get; init; }

    /// <summary>The lines of <see cref="Live"/> about the director.</summary>
    public int DirectorChanges { get; init; }

    /// <summary>After this reload, the running config still differs from the file.</summary>
    public bool RestartPending => !RestartNeeded.IsEmpty;
}

/// <summary>
/// Splits the difference between the running config and a new one into what a reload applies live
/// and what needs a restart (pure; the daemon and its tests call it). Paths are written as the file
/// spells them: <c>cluster.timers.deadtime</c>, <c>nodes[alpha].links[lan0]</c>, <c>resources[vip]</c>,
/// <c>director.services[web].real_servers[10.0.0.11:8080].weight</c>.
/// </summary>
public static class ConfigReload
{
    /// <summary>Most lines of a diff listed one by one; beyond it one line says how many more (a reply line is bounded).</summary>
    public const int MaxListedChanges = 64;

    /// <param name="keyContentsChanged">The host read <c>cluster.key_file</c> (same path) and its key differs from the one in use: listed too.</param>
    public static ReloadPlan Plan(ApplianceConfig running, ApplianceConfig file, bool keyContentsChanged = false)
    {
        var restart = new List<string>();
        Cluster(running.Cluster, file.Cluster, restart);
        if (keyContentsChanged && running.Cluster.KeyFile == file.Cluster.KeyFile)
            restart.Add("cluster.key_file (the key in the file changed)");
        Nodes(running.Nodes, file.Nodes, restart);
        Named(restart, "fence_devices", running.FenceDevices, file.FenceDevices, d => d.Name, SameFenceDevice);
        Named(restart, "resources", running.Resources, file.Resources, r => r.Name, SameResource);
        if (!Equals(running.MetricsListen, file.MetricsListen))
            restart.Add("metrics");
        // The panel's lines are requested at start; a new board or panel takes a restart.
        if (running.Board?.Name != file.Board?.Name || running.Board?.SourcePath != file.Board?.SourcePath)
            restart.Add("board");
        if (!Equals(running.Panel, file.Panel))
            restart.Add("panel");

        var live = ImmutableArray<string>.Empty;
        var effective = running;
        switch (running.Director, file.Director)
        {
            case (null, null):
                break;
            case (null, not null):
                restart.Add("director (added: the director starts with the daemon)");
                break;
            case (not null, null):
                // Deleting the table while serving resets every balanced connection: never live.
                restart.Add("director (removed: the table stays loaded until a restart)");
                break;
            case ({ } a, { } b):
                if (!Equals(a.Sync, b.Sync))
                    restart.Add("director.sync");
                if (!a.InsideVips.SequenceEqual(b.InsideVips))
                    restart.Add("director.inside_vips");
                live = [.. DescribeServices(a.Services, b.Services)];
                if (!live.IsEmpty)
                    effective = running with { Director = a with { Services = b.Services } };
                break;
        }
        int directorChanges = live.Length;
        // Monitors are local to this node and start up: a new or changed one is simply run from now
        // (its judge starts up, as at a start), a removed one stops, an unchanged one keeps its state.
        var monitors = DescribeMonitors(running.Monitors, file.Monitors).ToList();
        if (monitors.Count > 0)
            effective = effective with { Monitors = file.Monitors };
        return new ReloadPlan(effective, [.. Cap(live.Concat(monitors))], [.. Cap(restart)])
        {
            DirectorChanged = directorChanges > 0, MonitorsChanged = monitors.Count > 0, DirectorChanges = directorChanges,
        };
    }

    /// <summary>Two monitors are the same (their target lists compared by value).</summary>
    public static bool SameMonitor(MonitorConfig a, MonitorConfig b) =>
        (a with { Targets = default }) == (b with { Targets = default }) && a.Targets.SequenceEqual(b.Targets);

    /// <summary>The monitors, old to new: one line per monitor added, removed or changed, and the order if only that differs.</summary>
    public static IEnumerable<string> DescribeMonitors(ImmutableArray<MonitorConfig> old, ImmutableArray<MonitorConfig> next)
    {
        var before = old.ToDictionary(m => m.Name, StringComparer.Ordinal);
        var after = next.ToDictionary(m => m.Name, StringComparer.Ordinal);
        bool any = false;
        foreach (var m in old.Where(m => !after.ContainsKey(m.Name)))
        {
            any = true;
            yield return $"monitors[{m.Name}]: removed";
        }
        foreach (var m in next)
        {
            if (!before.TryGetValue(m.Name, out var o))
            {
                any = true;
                yield return $"monitors[{m.Name}]: added ({Show(m)})";
            }
            else if (!SameMonitor(o, m))
            {
                any = true;
                yield return $"monitors[{m.Name}]: {Show(o)} -> {Show(m)} (its state starts again: up)";
            }
        }
        if (!any && !old.Select(m => m.Name).SequenceEqual(next.Select(m => m.Name), StringComparer.Ordinal))
            yield return "monitors: reordered";
    }

    private static string Show(MonitorConfig m)
    {
        string what = m.Kind switch
        {
            MonitorKind.Tcp => $"tcp {m.Address}",
            MonitorKind.Http => $"http {m.Url} expect {m.Expect}",
            MonitorKind.Exec => $"exec {m.Command}",
            _ => $"ping {string.Join(' ', m.Targets)}",
        };
        return string.Create(CultureInfo.InvariantCulture,
            $"{what} every {m.Interval.TotalMilliseconds}ms, timeout {m.Timeout.TotalMilliseconds}ms, rise {m.Rise}, fall {m.Fall}");
    }

    /// <summary>The director's services, old to new: one line per change (service or real server added, removed or changed).</summary>
    public static IEnumerable<string> DescribeServices(ImmutableArray<VirtualServiceConfig> old, ImmutableArray<VirtualServiceConfig> next)
    {
        var before = old.ToDictionary(s => s.Name, StringComparer.Ordinal);
        var after = next.ToDictionary(s => s.Name, StringComparer.Ordinal);
        foreach (var s in old.Where(s => !after.ContainsKey(s.Name)))
            yield return $"director.services[{s.Name}]: removed";
        foreach (var s in next)
        {
            string p = $"director.services[{s.Name}]";
            if (!before.TryGetValue(s.Name, out var o))
            {
                yield return $"{p}: added ({s.Listen}, {Lower(s.Scheduler)}, {s.RealServers.Length} real servers)";
                continue;
            }
            if (o.Listen != s.Listen)
                yield return $"{p}.listen: {o.Listen} -> {s.Listen}";
            if (o.Scheduler != s.Scheduler)
                yield return $"{p}.scheduler: {Lower(o.Scheduler)} -> {Lower(s.Scheduler)}";
            if (o.Forwarding != s.Forwarding)
                yield return $"{p}.forwarding: {Lower(o.Forwarding)} -> {Lower(s.Forwarding)}";
            if (o.Persistence != s.Persistence)
                yield return $"{p}.persistence: {Show(o.Persistence)} -> {Show(s.Persistence)}";
            if (o.Quorum != s.Quorum)
                yield return $"{p}.quorum: {o.Quorum.MinWeight}/{o.Quorum.Hysteresis} -> {s.Quorum.MinWeight}/{s.Quorum.Hysteresis} (min_weight/hysteresis)";
            if (o.Check != s.Check)
                yield return $"{p}.check: {Show(o.Check)} -> {Show(s.Check)}";
            if (!Equals(o.SorryServer, s.SorryServer))
                yield return $"{p}.sorry_server: {Show(o.SorryServer)} -> {Show(s.SorryServer)}";
            var rsBefore = o.RealServers.ToDictionary(r => r.Address);
            var rsAfter = s.RealServers.ToDictionary(r => r.Address);
            foreach (var r in o.RealServers.Where(r => !rsAfter.ContainsKey(r.Address)))
                yield return $"{p}.real_servers[{r.Address}]: removed";
            foreach (var r in s.RealServers)
            {
                string q = $"{p}.real_servers[{r.Address}]";
                if (!rsBefore.TryGetValue(r.Address, out var x))
                {
                    yield return $"{q}: added (weight {r.Weight}{(r.State == RealServerAdminState.Drain ? ", drain" : "")})";
                    continue;
                }
                if (x.Weight != r.Weight)
                    yield return $"{q}.weight: {x.Weight} -> {r.Weight}";
                if (x.State != r.State)
                    yield return $"{q}.state: {Lower(x.State)} -> {Lower(r.State)}";
                if (x.Capacity != r.Capacity)
                    yield return $"{q}.capacity: {Show(x.Capacity)} -> {Show(r.Capacity)}";
            }
            // Same servers, other order: the scheduler's slots follow the file's order.
            if (o.RealServers.Length == s.RealServers.Length && o.RealServers.Select(r => r.Address).SequenceEqual(s.RealServers.Select(r => r.Address)) is false
                && o.RealServers.All(r => rsAfter.ContainsKey(r.Address)))
                yield return $"{p}.real_servers: reordered";
        }
        // Same services, other order: the dispatch does not depend on it, but the file differs.
        if (old.Length == next.Length && old.All(s => after.ContainsKey(s.Name)) && !old.Select(s => s.Name).SequenceEqual(next.Select(s => s.Name)))
            yield return "director.services: reordered";
    }

    private static void Cluster(ClusterConfig a, ClusterConfig b, List<string> restart)
    {
        if (a.Name != b.Name)
            restart.Add("cluster.name");
        if (a.KeyFile != b.KeyFile)
            restart.Add("cluster.key_file");
        if (a.AutoFailback != b.AutoFailback)
            restart.Add("cluster.auto_failback");
        if (a.Fencing != b.Fencing)
            restart.Add("cluster.fencing");
        if (a.FenceDelay != b.FenceDelay)
            restart.Add("cluster.fence_delay");
        if (a.FenceDelayRandom != b.FenceDelayRandom)
            restart.Add("cluster.fence_delay_random");
        if (a.Timers.Keepalive != b.Timers.Keepalive)
            restart.Add("cluster.timers.keepalive");
        if (a.Timers.Warntime != b.Timers.Warntime)
            restart.Add("cluster.timers.warntime");
        if (a.Timers.Deadtime != b.Timers.Deadtime)
            restart.Add("cluster.timers.deadtime");
        if (a.Timers.Initdead != b.Timers.Initdead)
            restart.Add("cluster.timers.initdead");
    }

    private static void Nodes(ImmutableArray<NodeConfig> a, ImmutableArray<NodeConfig> b, List<string> restart)
    {
        if (!a.Select(n => n.Name).SequenceEqual(b.Select(n => n.Name)))
        {
            restart.Add("nodes (names or order)");
            return;
        }
        for (int i = 0; i < a.Length; i++)
        {
            var (x, y) = (a[i], b[i]);
            string p = $"nodes[{x.Name}]";
            if (x.Priority != y.Priority)
                restart.Add(p + ".priority");
            Named(restart, p + ".links", x.Links, y.Links, l => l.Name, (l, m) => l == m);
            if (!x.Fence.SequenceEqual(y.Fence))
                restart.Add(p + ".fence");
        }
    }

    /// <summary>Lists matched by name: each one added, removed or changed, and the order if only that differs.</summary>
    private static void Named<T>(List<string> into, string path, ImmutableArray<T> a, ImmutableArray<T> b, Func<T, string> name, Func<T, T, bool> same)
    {
        var before = a.ToDictionary(name, StringComparer.Ordinal);
        var after = b.ToDictionary(name, StringComparer.Ordinal);
        int n = into.Count;
        foreach (var x in a.Where(x => !after.ContainsKey(name(x))))
            into.Add($"{path}[{name(x)}] (removed)");
        foreach (var y in b)
        {
            if (!before.TryGetValue(name(y), out var x))
                into.Add($"{path}[{name(y)}] (added)");
            else if (!same(x, y))
                into.Add($"{path}[{name(y)}]");
        }
        if (into.Count == n && !a.Select(name).SequenceEqual(b.Select(name), StringComparer.Ordinal))
            into.Add($"{path} (order)");
    }

    private static bool SameResource(ResourceConfig a, ResourceConfig b) => (a, b) switch
    {
        (ScriptResourceConfig x, ScriptResourceConfig y) => (x with { Params = default }) == (y with { Params = default }) && x.Params.SequenceEqual(y.Params),
        _ => a == b,
    };

    private static bool SameFenceDevice(FenceDeviceConfig a, FenceDeviceConfig b) => (a, b) switch
    {
        (SerialPduFenceConfig x, SerialPduFenceConfig y) => (x with { Outlets = default }) == (y with { Outlets = default }) && x.Outlets.SequenceEqual(y.Outlets),
        (FenceAgentFenceConfig x, FenceAgentFenceConfig y) => (x with { Params = default, Plugs = default }) == (y with { Params = default, Plugs = default })
            && x.Params.SequenceEqual(y.Params) && x.Plugs.SequenceEqual(y.Plugs),
        _ => a == b,
    };

    private static IEnumerable<string> Cap(IEnumerable<string> lines)
    {
        var list = lines.ToList();
        return list.Count <= MaxListedChanges ? list
            : list.Take(MaxListedChanges - 1).Append(string.Create(CultureInfo.InvariantCulture, $"... and {list.Count - MaxListedChanges + 1} more"));
    }

    private static string Lower<T>(T value) where T : struct, Enum => value.ToString().ToLowerInvariant();

    private static string Show(PersistenceConfig? p) => p is null ? "none" : $"{p.Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s/{p.Granularity}";

    private static string Show(DirectorCheckConfig c) => c.Kind == DirectorCheckKind.None ? "none" :
        string.Create(CultureInfo.InvariantCulture, $"{Lower(c.Kind)}{((c.Path ?? c.Command) is { } what ? " " + what : "")} every {c.Interval.TotalMilliseconds}ms, timeout {c.Timeout.TotalMilliseconds}ms, rise {c.Rise}, fall {c.Fall}, start {Lower(c.Start)}");

    private static string Show(IPEndPoint? e) => e?.ToString() ?? "none";

    private static string Show(int? n) => n?.ToString(CultureInfo.InvariantCulture) ?? "none";
}
