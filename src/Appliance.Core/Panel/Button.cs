namespace Appliance.Core.Panel;

/// <summary>The button roles of the front panel.</summary>
public enum ButtonRole { Select, Next, Prev }

/// <summary>What a debounced button did.</summary>
public enum ButtonEventKind
{
    /// <summary>Pressed and released before the hold time.</summary>
    Press,
    /// <summary>Held down for the hold time (fired once, while still down; its release is no press).</summary>
    Hold,
    /// <summary>Down for longer than the stuck time, or down when first seen: ignored until released.</summary>
    Stuck,
    /// <summary>A stuck button came up again and is obeyed from now on.</summary>
    Unstuck,
}

public readonly record struct ButtonEvent(ButtonRole Button, ButtonEventKind Kind);

/// <summary>
/// One button: raw levels sampled at any rate in, debounced events out. A level counts once it
/// has held for <see cref="PanelTimings.Debounce"/>; a press is a down and an up shorter than the
/// hold; a hold fires once at the hold time; a button down at the first sample, or down for
/// longer than <see cref="PanelTimings.Stuck"/>, is stuck: reported, and nothing it does counts
/// until it has been up again. Pure: time comes in.
/// </summary>
public sealed class Button(ButtonRole role, PanelTimings timings)
{
    private bool _stable;          // debounced level: true = pressed
    private bool _raw;
    private TimeSpan _rawSince;
    private TimeSpan _downAt;
    private bool _held;            // the hold fired during this press
    private bool _first = true;

    public ButtonRole Role { get; } = role;

    /// <summary>Reported stuck and not yet released.</summary>
    public bool IsStuck { get; private set; }

    /// <summary>The debounced state: down now.</summary>
    public bool IsDown => _stable;

    /// <summary>The last raw level fed (true = pressed).</summary>
    public bool Level => _raw;

    /// <summary>Fed at least once: the first sample tells the starting state.</summary>
    public bool Sampled => !_first;

    /// <summary>
    /// The next instant at which time alone makes <see cref="Sample"/> with the same level do
    /// something: the debounce of a new level ending, the hold, stuck. Null: only a new level can.
    /// A reader told of level changes (edge events) samples at the changes and at this instant,
    /// and sees the same events as one sampling all the time.
    /// </summary>
    public TimeSpan? NextDue
    {
        get
        {
            if (_first)
                return null;
            TimeSpan? due = null;
            if (_raw != _stable)
                due = _rawSince + timings.Debounce;
            if (_stable && !IsStuck)
            {
                var stuck = _downAt + timings.Stuck;
                due = due is { } d && d < stuck ? d : stuck;
                if (!_held && _downAt + timings.Hold < due)
                    due = _downAt + timings.Hold;
            }
            return due;
        }
    }

    /// <summary>How long the debounced press has lasted (zero when up).</summary>
    public TimeSpan HeldFor(TimeSpan now) => _stable ? now - _downAt : TimeSpan.Zero;

    /// <summary>Feeds one sample; returns the event it caused, if any.</summary>
    public ButtonEventKind? Sample(TimeSpan now, bool pressed)
    {
        if (_first)
        {
            _first = false;
            _raw = _stable = pressed;
            _rawSince = _downAt = now;
            if (pressed)
            {
                IsStuck = true;
                return ButtonEventKind.Stuck;
            }
            return null;
        }
        if (pressed != _raw)
        {
            _raw = pressed;
            _rawSince = now;
        }
        if (_raw != _stable && now - _rawSince >= timings.Debounce)
        {
            _stable = _raw;
            if (_stable)
            {
                _downAt = _rawSince;
                _held = false;
                return null;
            }
            bool wasStuck = IsStuck, held = _held;
            IsStuck = false;
            _held = false;
            if (wasStuck)
                return ButtonEventKind.Unstuck;
            return held ? null : ButtonEventKind.Press;
        }
        if (_stable && !IsStuck)
        {
            if (now - _downAt >= timings.Stuck)
            {
                IsStuck = true;
                return ButtonEventKind.Stuck;
            }
            if (!_held && now - _downAt >= timings.Hold)
            {
                _held = true;
                return ButtonEventKind.Hold;
            }
        }
        return null;
    }
}
