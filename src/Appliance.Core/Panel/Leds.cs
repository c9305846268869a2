namespace Appliance.Core.Panel;

/// <summary>What an LED does. The patterns are defined here once; README's table says the same.</summary>
public enum LedPattern { Off, On, Slow, Fast }

/// <summary>The LED roles of the front panel.</summary>
public enum LedRole { Power, Active, Peer, Fault }

/// <summary>The four LEDs' patterns.</summary>
public sealed record LedSet(LedPattern Power, LedPattern Active, LedPattern Peer, LedPattern Fault)
{
    public LedPattern this[LedRole role] => role switch
    {
        LedRole.Power => Power,
        LedRole.Active => Active,
        LedRole.Peer => Peer,
        _ => Fault,
    };
}

public static class Leds
{
    /// <summary>
    /// The patterns for a node state:
    /// power on while the daemon runs;
    /// active on = active, slow = standby, fast = taking over, fencing or releasing, off = starting or failed;
    /// peer on = up on every link, slow = up but late (warn) or some links down, off = dead, stopped, fenced or never heard;
    /// fault on while an alarm is open.
    /// </summary>
    public static LedSet For(PanelView view, bool alarmOpen)
    {
        var active = view.Role switch
        {
            "active" => LedPattern.On,
            "standby" => LedPattern.Slow,
            "takeover" or "fencing" or "releasing" => LedPattern.Fast,
            _ => LedPattern.Off,
        };
        // A standby that is fencing its peer is "taking over" to anyone at the rack.
        if (view.Role == "standby" && view.FencingState is not ("idle" or ""))
            active = LedPattern.Fast;
        var peer = view.PeerState switch
        {
            "up" when view.Links.All(l => l.Up) => LedPattern.On,
            "up" or "warn" => LedPattern.Slow,
            _ => LedPattern.Off,
        };
        return new LedSet(LedPattern.On, active, peer, alarmOpen ? LedPattern.On : LedPattern.Off);
    }

    /// <summary>Whether an LED with <paramref name="pattern"/> is lit at monotonic <paramref name="now"/>.</summary>
    public static bool Lit(LedPattern pattern, TimeSpan now, PanelTimings timings) => pattern switch
    {
        LedPattern.On => true,
        LedPattern.Slow => now.Ticks / timings.SlowHalfPeriod.Ticks % 2 == 0,
        LedPattern.Fast => now.Ticks / timings.FastHalfPeriod.Ticks % 2 == 0,
        _ => false,
    };
}
