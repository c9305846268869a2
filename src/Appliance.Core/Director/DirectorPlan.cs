using System.Collections.Immutable;
using System.Net;
using Appliance.Core.Config;

namespace Appliance.Core.Director;

/// <summary>What the director makes of a real server now: checks, the operator and the config combined.</summary>
public enum ServerState
{
    /// <summary>Takes new clients if its weight is above 0.</summary>
    Up,
    /// <summary>Failed its check or taken down by the operator: no new clients, persisted clients move.</summary>
    Down,
    /// <summary>No new clients; persisted clients stay (weight 0 behaves the same).</summary>
    Drain,
}

/// <summary>The current state and weight of one real server.</summary>
public readonly record struct RealServerStatus(ServerState State, int Weight);

/// <summary>
/// The health view the compiler reads: per service and real server, its state and current weight.
/// The host builds it from the checks (issue 9 part 3) and the operator's drain/weight commands; a
/// server it does not mention is as the config says (state up or drain, configured weight).
/// </summary>
public sealed class HealthView
{
    private readonly ImmutableDictionary<(string Service, IPEndPoint Address), RealServerStatus> _status;

    private HealthView(ImmutableDictionary<(string, IPEndPoint), RealServerStatus> status) => _status = status;

    /// <summary>Every server as configured.</summary>
    public static readonly HealthView AsConfigured = new(ImmutableDictionary<(string, IPEndPoint), RealServerStatus>.Empty);

    public HealthView With(string service, IPEndPoint address, RealServerStatus status)
    {
        if (status.Weight is < 0 or > ConfigLimits.MaxRealServerWeight)
            throw new ArgumentOutOfRangeException(nameof(status), $"weight {status.Weight} is not 0..{ConfigLimits.MaxRealServerWeight}");
        return new(_status.SetItem((service, address), status));
    }

    public HealthView WithState(string service, IPEndPoint address, ServerState state, RealServerConfig configured) =>
        With(service, address, Get(service, configured) with { State = state });

    public RealServerStatus Get(string service, RealServerConfig configured) =>
        _status.TryGetValue((service, configured.Address), out var s)
            ? s
            : new RealServerStatus(configured.State == RealServerAdminState.Drain ? ServerState.Drain : ServerState.Up, configured.Weight);
}

/// <summary>A server as planned: its id, address, state and weight.</summary>
public sealed record PlannedServer(RealServerId Id, IPEndPoint Address, ServerState State, int Weight)
{
    /// <summary>Can take new clients.</summary>
    public bool Schedulable => State == ServerState.Up && Weight > 0;

    /// <summary>May keep its persisted clients (up or draining, not down).</summary>
    public bool Live => State != ServerState.Down;
}

/// <summary>
/// One service as it should be in the kernel. <see cref="Slots"/> is the scheduler's map, slot to id
/// (empty when no real server takes new clients); <see cref="SorryActive"/> when the sorry server takes them.
/// </summary>
public sealed record PlannedService(
    VirtualServiceConfig Config, ImmutableArray<PlannedServer> Servers, PlannedServer? Sorry,
    int LiveWeight, bool QuorumHeld, bool SorryActive, ImmutableArray<RealServerId> Slots)
{
    public string Name => Config.Name;
    public bool IsIPv6 => Config.Listen.IsIPv6;
}

/// <summary>The director's desired state: everything the ruleset is rendered from.</summary>
public sealed record DirectorPlan(uint ShSeed, ImmutableArray<PlannedService> Services, ImmutableArray<InsideVip> InsideVips)
{
    /// <summary>Every server of every service (sorry servers included), by id.</summary>
    public IEnumerable<(PlannedService Service, PlannedServer Server)> AllServers =>
        Services.SelectMany(s => s.Servers.Append(s.Sorry).OfType<PlannedServer>().Select(x => (s, x)));

    public PlannedService? Find(string service) => Services.FirstOrDefault(s => s.Name == service);
}

/// <summary>Config + health view (+ the previous plan, for quorum hysteresis) to the desired state. Pure.</summary>
public static class DirectorPlanner
{
    /// <param name="clusterName">cluster.name: the source-hash seed is derived from it.</param>
    /// <param name="previous">The plan in force, for quorum hysteresis; null at the first load (quorum judged without hysteresis).</param>
    public static DirectorPlan Plan(DirectorConfig config, string clusterName, HealthView health, DirectorPlan? previous = null)
    {
        var ids = RealServerIds.Assign(config);
        var services = ImmutableArray.CreateBuilder<PlannedService>(config.Services.Length);
        foreach (var s in config.Services)
            services.Add(PlanService(s, ids, health, previous?.Find(s.Name)));
        return new DirectorPlan(ShSeed.FromCluster(clusterName), services.MoveToImmutable(), config.InsideVips);
    }

    private static PlannedService PlanService(VirtualServiceConfig s, ImmutableDictionary<ServerKey, RealServerId> ids, HealthView health,
        PlannedService? previous)
    {
        var servers = s.RealServers.Select(r =>
        {
            var status = health.Get(s.Name, r);
            return new PlannedServer(ids[new ServerKey(s.Name, r.Address, false)], r.Address, status.State, status.Weight);
        }).ToImmutableArray();
        var sorry = s.SorryServer is { } a ? new PlannedServer(ids[new ServerKey(s.Name, a, true)], a, ServerState.Up, 1) : null;

        var schedulable = servers.Where(x => x.Schedulable).ToList();
        int liveWeight = schedulable.Sum(x => x.Weight);
        bool held = QuorumHeld(s.Quorum, liveWeight, previous?.QuorumHeld);
        bool sorryActive = sorry is not null && (schedulable.Count == 0 || !held);
        var slots = sorryActive || schedulable.Count == 0 ? [] : Slots(s.Scheduler, schedulable);
        return new PlannedService(s, servers, sorry, liveWeight, held, sorryActive, slots);
    }

    /// <summary>
    /// keepalived's quorum with hysteresis: held while the live weight is at least min - hysteresis,
    /// regained at min + hysteresis; the first judgement (no previous) is against min alone.
    /// </summary>
    public static bool QuorumHeld(QuorumConfig quorum, int liveWeight, bool? previouslyHeld) => previouslyHeld switch
    {
        null => liveWeight >= quorum.MinWeight,
        true => liveWeight >= quorum.MinWeight - quorum.Hysteresis,
        false => liveWeight >= quorum.MinWeight + quorum.Hysteresis,
    };

    private static ImmutableArray<RealServerId> Slots(DirectorScheduler scheduler, List<PlannedServer> schedulable)
    {
        var weights = scheduler == DirectorScheduler.Rr ? schedulable.Select(_ => 1).ToList() : schedulable.Select(x => x.Weight).ToList();
        var order = scheduler == DirectorScheduler.Random ? SchedulerSlots.Blocks(weights) : SchedulerSlots.Smooth(weights);
        return [.. order.Select(i => schedulable[i].Id)];
    }
}
