using Appliance.Core.Config;

namespace Appliance.Core.Heartbeat;

/// <summary>
/// How one link carries keepalives and how its silence is judged (DESIGN.md section 4: "each link is
/// judged against its own cadence"). A link sends a frame every <see cref="EveryTicks"/> keepalive
/// ticks of the node, so its <see cref="Keepalive"/> is a whole multiple of the cluster's; its
/// warntime and deadtime are the cluster's scaled by the same factor, so every link tolerates the
/// same number of lost frames before it is judged down. A UDP link runs at the cluster's cadence
/// (factor 1); a serial link at a cadence its baud rate can carry.
/// </summary>
/// <param name="FrameTime">How long one frame takes on the wire (zero for UDP: no line to fill).</param>
/// <param name="AckFreshness">
/// How old the tick a frame of this link acknowledges may be for the frame to prove life: the peer
/// acknowledges the newest tick it heard, which at this link's cadence lags by up to one of our
/// frames, one of its own and the wire time of both; three of our keepalives tolerate a lost frame or
/// two. Never more than the link's deadtime.
/// </param>
public readonly record struct LinkTimers(
    int EveryTicks, TimeSpan Keepalive, TimeSpan Warntime, TimeSpan Deadtime, TimeSpan FrameTime, TimeSpan AckFreshness)
{
    /// <summary>A link at the cluster's own cadence with no wire time (UDP).</summary>
    public static LinkTimers Uniform(Timers cluster) => Scaled(cluster, 1, TimeSpan.Zero);

    internal static LinkTimers Scaled(Timers cluster, int every, TimeSpan frameTime)
    {
        TimeSpan keepalive = every * cluster.Keepalive;
        TimeSpan deadtime = every * cluster.Deadtime;
        TimeSpan fresh = 3 * keepalive + 2 * frameTime;
        return new LinkTimers(every, keepalive, every * cluster.Warntime, deadtime, frameTime, fresh < deadtime ? fresh : deadtime);
    }
}

/// <summary>What <see cref="LinkCadence.Of"/> found: the link's timers, and how they were chosen (for <c>config check</c>).</summary>
public readonly record struct LinkCadenceResult(LinkTimers? Timers, string Explanation, string? Error);

/// <summary>
/// Chooses each link's cadence from the cluster timers and what its medium can carry, and explains
/// the bound it enforced. Pure; the config loader, <c>appliancectl config check</c> and the heartbeat
/// all call it, so what is checked is what runs.
/// </summary>
public static class LinkCadence
{
    /// <summary>
    /// Most of a serial line's capacity that keepalives may take. A link whose frames do not fit in its
    /// cadence fills the tty's output queue until every frame waits behind seconds of older ones; a
    /// fifth is left for the line's other traffic (config sync messages) and for the two UARTs' clocks
    /// disagreeing by a few percent.
    /// </summary>
    public const int SerialLineSharePercentMax = 80;

    /// <summary>Bits on the wire per byte at 8N1: a start bit, eight data bits, a stop bit.</summary>
    public const int SerialBitsPerByte = 10;

    /// <summary>
    /// Most cluster ticks between two frames of one link. Bounds how far back an acknowledgement on the
    /// slowest link can reach (<see cref="Membership.Membership.TickTimesRemembered"/> ticks are
    /// remembered): a link slower than this is a link that cannot serve these timers.
    /// </summary>
    public const int MaxEveryTicks = 200;

    /// <summary>Bytes one heartbeat frame takes on a serial line: COBS-encoded frame, CRC-32 and the two delimiters.</summary>
    public static int SerialFrameBytes => SerialFraming.EncodedLength(HeartbeatCodec.FrameBytes);

    /// <summary>Wire time of one frame at <paramref name="baud"/> (8N1).</summary>
    public static TimeSpan SerialFrameTime(int baud) =>
        TimeSpan.FromTicks((long)Math.Ceiling((double)SerialFrameBytes * SerialBitsPerByte * TimeSpan.TicksPerSecond / baud));

    /// <summary>The shortest cadence a serial link at <paramref name="baud"/> carries: its frame time over the share it may take.</summary>
    public static TimeSpan SerialFloor(int baud) =>
        TimeSpan.FromTicks((SerialFrameTime(baud).Ticks * 100 + SerialLineSharePercentMax - 1) / SerialLineSharePercentMax);

    /// <summary>
    /// The cadence of <paramref name="link"/> under <paramref name="cluster"/>: its configured
    /// <see cref="LinkConfig.Keepalive"/>, which must be a whole multiple of the cluster's and (serial)
    /// at least what the baud rate carries; else the smallest such multiple.
    /// </summary>
    public static LinkCadenceResult Of(Timers cluster, LinkConfig link)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(link);
        TimeSpan k = cluster.Keepalive;
        TimeSpan frameTime = TimeSpan.Zero;
        TimeSpan floor = k;
        string carries = "";
        if (link is SerialLinkConfig serial)
        {
            frameTime = SerialFrameTime(serial.Baud);
            floor = SerialFloor(serial.Baud);
            carries = $"at {serial.Baud} baud a {SerialFrameBytes}-byte frame takes {Ms(frameTime)} " +
                $"({serial.Baud / (double)SerialBitsPerByte / 1000:0.##} bytes/ms) and keepalives may use {SerialLineSharePercentMax}% of the line, so at least {Ms(floor)}";
        }

        int every;
        string why;
        if (link.Keepalive is { } configured)
        {
            if (configured.Ticks % k.Ticks != 0)
                return Refuse($"keepalive ({Format(configured)}) must be a whole multiple of cluster.timers.keepalive ({Format(k)}): " +
                    $"the link sends on every n-th tick, like {Format(Ceiling(configured, k) * k)}");
            if (configured < floor)
                return Refuse($"keepalive ({Format(configured)}) is faster than the link can carry: {carries}; " +
                    $"use at least {Format(Ceiling(floor, k) * k)}, or a faster baud");
            every = (int)(configured.Ticks / k.Ticks);
            why = "configured";
        }
        else
        {
            every = (int)Math.Max(1, Ceiling(floor, k));
            why = every == 1 ? "the cluster's" : $"{every} x cluster keepalive {Format(k)}";
        }
        if (every > MaxEveryTicks)
            return Refuse($"a keepalive of {Format(every * k)} is {every} cluster keepalives ({Format(k)}); a link may be at most {MaxEveryTicks} " +
                $"times slower than the cluster{(carries.Length > 0 ? $" ({carries})" : "")}: use a faster baud or a slower cluster keepalive");
        var timers = LinkTimers.Scaled(cluster, every, frameTime);
        if (timers.Deadtime > ConfigLimits.MaxDeadtime)
            return Refuse($"its deadtime would be {Format(timers.Deadtime)} ({every} x cluster deadtime), more than {Format(ConfigLimits.MaxDeadtime)}: " +
                "use a faster baud or shorter cluster timers");

        string explanation = $"keepalive {Format(timers.Keepalive)} ({why}{(carries.Length > 0 ? "; " + carries : "")}), " +
            $"warntime {Format(timers.Warntime)}, deadtime {Format(timers.Deadtime)}";
        return new LinkCadenceResult(timers, explanation, null);

        static LinkCadenceResult Refuse(string error) => new(null, "", error);
    }

    /// <summary>The timers of every link of <paramref name="node"/>; the config loader has refused any link without.</summary>
    public static LinkTimers[] OfNode(Timers cluster, NodeConfig node)
    {
        ArgumentNullException.ThrowIfNull(node);
        var result = new LinkTimers[node.Links.Length];
        for (int i = 0; i < result.Length; i++)
            result[i] = Of(cluster, node.Links[i]).Timers
                ?? throw new ArgumentException($"link {node.Links[i].Name}: {Of(cluster, node.Links[i]).Error}", nameof(node));
        return result;
    }

    private static long Ceiling(TimeSpan value, TimeSpan unit) => (value.Ticks + unit.Ticks - 1) / unit.Ticks;

    private static string Format(TimeSpan t) => Duration.Format(t);

    private static string Ms(TimeSpan t) => $"{t.TotalMilliseconds:0.##}ms";
}
