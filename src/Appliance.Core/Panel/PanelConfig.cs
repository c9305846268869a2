using Appliance.Core.Board;

namespace Appliance.Core.Panel;

public enum PanelLcdKind { Hd44780 }

/// <summary>Character LCD geometries the panel lays its screens out for.</summary>
public enum LcdSize { Size16x2, Size20x4 }

public static class LcdSizes
{
    public static int Columns(this LcdSize size) => size == LcdSize.Size20x4 ? 20 : 16;
    public static int Rows(this LcdSize size) => size == LcdSize.Size20x4 ? 4 : 2;
}

/// <summary>The panel's times: blink rates, debounce, the hold to confirm, stuck-button detection.</summary>
public sealed record PanelTimings(TimeSpan Hold)
{
    public static readonly PanelTimings Default = new(TimeSpan.FromSeconds(3));

    /// <summary>Longest debounce: a press shorter than this would be lost, and a finger is down 80 ms or more.</summary>
    public static readonly TimeSpan DebounceMax = TimeSpan.FromMilliseconds(100);

    /// <summary>Shortest stuck time: a deliberate hold of a few seconds must not count as stuck (the config also wants it longer than the hold).</summary>
    public static readonly TimeSpan StuckMin = TimeSpan.FromSeconds(5);

    /// <summary>Longest stuck time: a shorted line ignored for more than ten minutes is a panel nobody is told about.</summary>
    public static readonly TimeSpan StuckMax = TimeSpan.FromMinutes(10);

    /// <summary>Slow blink: 1 Hz (500 ms on, 500 ms off), readable from across a rack row.</summary>
    public TimeSpan SlowHalfPeriod { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Fast blink: 4 Hz (125 ms on, 125 ms off), "something is happening now".</summary>
    public TimeSpan FastHalfPeriod { get; init; } = TimeSpan.FromMilliseconds(125);

    /// <summary>A level must hold this long to count: tactile switches bounce for 1-10 ms.</summary>
    public TimeSpan Debounce { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>A button down longer than this is stuck (a jammed key, a shorted line), reported and ignored until released.</summary>
    public TimeSpan Stuck { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>After the "standby?" question, how long the operator has to start the confirming hold.</summary>
    public TimeSpan ConfirmWindow { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>The LEDs by role, each a board line (or null: the board has none).</summary>
public sealed record PanelLeds(BoardLine? Power, BoardLine? Active, BoardLine? Peer, BoardLine? Fault);

/// <summary>The buttons by role, each a board line (or null).</summary>
public sealed record PanelButtons(BoardLine? Select, BoardLine? Next, BoardLine? Prev);

/// <summary>The LCD: its geometry and its wiring from the board profile.</summary>
public sealed record PanelLcd(PanelLcdKind Kind, LcdSize Size, BoardLcd Wiring);

/// <summary>The validated <c>panel</c> section with every name resolved against the board profile.</summary>
public sealed record PanelConfig(PanelLeds Leds, PanelLcd? Lcd, PanelButtons Buttons, PanelTimings Timings);
