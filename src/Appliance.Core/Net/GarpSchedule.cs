namespace Appliance.Core.Net;

/// <summary>
/// When a VIP is announced (gratuitous ARP / unsolicited NA) after the immediate burst at start:
/// <see cref="Repeat"/> more bursts <see cref="Interval"/> apart, for neighbours and switches that
/// missed the first (keepalived: garp_master_repeat, garp_master_delay); then, if
/// <see cref="Refresh"/> is set, one burst every <see cref="Refresh"/> while the VIP is held, for
/// caches that forget (keepalived: garp_master_refresh).
/// </summary>
public sealed record GarpSchedule(int Repeat, TimeSpan Interval, TimeSpan Refresh)
{
    /// <summary>Most repeats after the first burst; beyond this a repeat is noise on the segment.</summary>
    public const int RepeatMax = 100;

    public static readonly GarpSchedule Default = new(5, TimeSpan.FromMilliseconds(200), TimeSpan.Zero);

    /// <summary>The wait before burst number <paramref name="sent"/> + 1 (the first burst, at start, is 0), or null: no more.</summary>
    public TimeSpan? DelayBefore(int sent)
    {
        if (sent < 1)
            return TimeSpan.Zero;
        if (sent <= Repeat)
            return Interval;
        return Refresh > TimeSpan.Zero ? Refresh : null;
    }
}
