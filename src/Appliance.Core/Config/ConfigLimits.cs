namespace Appliance.Core.Config;

/// <summary>The bounds of the config file and its options, each with where it comes from.</summary>
public static class ConfigLimits
{
    /// <summary>The product is a pair (DESIGN.md section 1 and 5: alpha and beta).</summary>
    public const int NodeCount = 2;

    /// <summary>Heartbeat links per node; a frame is sent on every link each keepalive, so keep it small.</summary>
    public const int MaxLinksPerNode = 8;

    /// <summary>Resources per cluster: a bit each in the heartbeat frame's 32-bit held/starting masks.</summary>
    public const int MaxResources = 32;

    /// <summary>Monitors per cluster; each runs its own probe loop.</summary>
    public const int MaxMonitors = 32;

    /// <summary>OCF instance parameters per resource.</summary>
    public const int MaxOcfParams = 64;

    /// <summary>Ping targets per monitor.</summary>
    public const int MaxPingTargets = 8;

    /// <summary>Fence devices per node, tried in order; more levels than this is a design smell.</summary>
    public const int MaxFenceDevicesPerNode = 8;

    /// <summary>Fence devices per cluster: a relay per node, a PDU, an agent and manual, with room to spare.</summary>
    public const int MaxFenceDevices = 16;

    /// <summary>Parameters passed to one fence agent.</summary>
    public const int MaxFenceAgentParams = 32;

    /// <summary>Attempts per fence device in one fencing round; more only delays the next level.</summary>
    public const int MaxFenceAttempts = 10;

    /// <summary>Longest fence_delay (base or random part): beyond this a partition is an outage of its own.</summary>
    public static readonly TimeSpan MaxFenceDelay = TimeSpan.FromMinutes(1);

    /// <summary>Longest name (cluster, node, link, fence device); it must fit in status lines and on the panel.</summary>
    public const int MaxNameLength = 32;

    /// <summary>PATH_MAX on Linux, including the terminating NUL.</summary>
    public const int MaxPathLength = 4095;

    /// <summary>
    /// Fastest keepalive (DESIGN.md section 4: "keepalive down to 2 ms ... on links that can carry
    /// it"). The heartbeat runs on a real-time thread of its own process that sleeps on a nanosecond
    /// timer, so 2 ms is a cadence it keeps (README, Performance); a slower link (serial) gets a
    /// multiple of it (<see cref="Heartbeat.LinkCadence"/>).
    /// </summary>
    public static readonly TimeSpan MinKeepalive = TimeSpan.FromMilliseconds(2);

    /// <summary>Longest deadtime: a minute without a sign of life is an outage, not jitter.</summary>
    public static readonly TimeSpan MaxDeadtime = TimeSpan.FromSeconds(60);

    /// <summary>Longest initdead: a peer that has not booted in ten minutes is not coming.</summary>
    public static readonly TimeSpan MaxInitdead = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Most keepalives in one deadtime. The heartbeat keeps one acknowledgement window of frames in
    /// flight per link (DESIGN.md section 4), sized for this many; a longer deadtime would let
    /// acknowledgements fall out of the window before the peer is declared dead.
    /// </summary>
    public const int AckWindowKeepalives = 1000;

    /// <summary>Virtual services of the director; each is a chain and a dispatch element.</summary>
    public const int MaxDirectorServices = 256;

    /// <summary>
    /// Real servers of one service. Issue 9 measures applies up to 5000 servers; a scheduler map
    /// holds at most <see cref="Director.SchedulerSlots.SlotsMax"/> slots whatever the weights.
    /// </summary>
    public const int MaxRealServersPerService = 4096;

    /// <summary>
    /// Real and sorry servers over all services. Their ids live in 16 bits of the conntrack mark
    /// (<see cref="Director.RealServerId"/>); keeping the space at most a quarter full keeps hash
    /// collisions (and so id moves on config changes) rare.
    /// </summary>
    public const int MaxDirectorServers = 16384;

    /// <summary>Largest real-server weight (issue 9: weights 0..256; 0 = drain).</summary>
    public const int MaxRealServerWeight = 256;

    /// <summary>Shortest and longest persistence timeout: below a second it is no affinity, beyond a day a stuck client.</summary>
    public static readonly TimeSpan MinPersistenceTimeout = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MaxPersistenceTimeout = TimeSpan.FromHours(24);

    /// <summary>Inside VIPs: at most one per address family.</summary>
    public const int MaxInsideVips = 2;

    /// <summary>Largest config text; a two-node config is a few kilobytes.</summary>
    public const int MaxConfigChars = 1024 * 1024;

    /// <summary>Deepest YAML nesting accepted; the schema is 5 levels deep.</summary>
    public const int MaxNestingDepth = 64;

    /// <summary>Errors reported for one file before giving up.</summary>
    public const int MaxErrors = 100;
}
