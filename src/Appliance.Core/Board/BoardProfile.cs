using System.Collections.Immutable;

namespace Appliance.Core.Board;

/// <summary>What a board line is wired to; the panel checks that an LED is an LED.</summary>
public enum LineUse { Led, Button, Relay, Lcd, Other }

/// <summary>A GPIO chip of the board: <c>/dev/gpiochipN</c>, <c>gpiochipN</c> or <c>sim:/dir</c>.</summary>
public sealed record BoardChip(string Name, string Path);

/// <summary>
/// A named line of the board: the profile's name for it (<c>led-act</c>), the chip's path, the
/// line on the chip (offset or the chip's own line name), what it is wired to, and whether it is
/// active at low level (a button to ground with a pull-up, an LED sinking into the pin).
/// </summary>
public sealed record BoardLine(string Name, string ChipPath, string Line, LineUse Use, bool ActiveLow);

/// <summary>How the HD44780 LCD is wired.</summary>
public abstract record BoardLcd;

/// <summary>4-bit parallel on six board lines (R/W tied to ground).</summary>
public sealed record GpioLcdWiring(BoardLine Rs, BoardLine E, BoardLine D4, BoardLine D5, BoardLine D6, BoardLine D7) : BoardLcd;

/// <summary>A PCF8574 I2C backpack (P0 RS, P1 RW, P2 E, P3 backlight, P4-P7 D4-D7) on <paramref name="Bus"/> at <paramref name="Address"/>.</summary>
public sealed record Pcf8574LcdWiring(string Bus, int Address) : BoardLcd;

/// <summary>A board profile (board/*.yaml): names for the hardware, so a config says roles, not offsets.</summary>
public sealed record BoardProfile(string Name, string SourcePath, string Description, ImmutableArray<BoardChip> Chips, ImmutableArray<BoardLine> Lines)
{
    public BoardLcd? Lcd { get; init; }

    /// <summary>Serial ports by role (console, heartbeat, pdu).</summary>
    public ImmutableDictionary<string, string> Serial { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>Network interfaces by role (outside, inside, sync, management).</summary>
    public ImmutableDictionary<string, string> Interfaces { get; init; } = ImmutableDictionary<string, string>.Empty;

    public BoardLine? FindLine(string name) => Lines.FirstOrDefault(l => l.Name == name);
}

/// <summary>A profile's text and where it came from.</summary>
public sealed record BoardText(string Path, string Text);

/// <summary>
/// Where the config loader finds board profiles: the edge reads the files, Core stays pure.
/// <paramref name="Find"/> takes a name or an absolute path and gives the text, or null when there
/// is no such profile; <paramref name="Override"/> is <c>applianced --board</c>, which wins over the
/// config's <c>board</c> (they must agree when both are given); <paramref name="SearchedDoc"/> says
/// where names were looked for, for the "no such board" message.
/// </summary>
public sealed record BoardCatalog(Func<string, BoardText?> Find, string? Override = null, string SearchedDoc = "");
