using System.Diagnostics.CodeAnalysis;
using Appliance.Core.Board;
using Appliance.Core.Panel;

namespace Appliance.Core.Config;

/// <summary>
/// The config's `board` and `panel` options (DESIGN.md section 6), part of the option table that
/// <see cref="ConfigSchema.Root"/> starts from. The panel names board lines by the names a board
/// profile gives them; <see cref="BoardSchema"/> declares the profile files themselves.
/// </summary>
internal static class PanelSchema
{
    public static readonly ScalarOption<string> Board = Option.Optional("board", new BoardRefType(),
        "The board profile: a name (`lab`, `generic-x86`, `rpi4`) looked up as NAME.yaml in /etc/appliance/board and then in the board directory installed with the daemon, or an absolute path to a profile. `applianced --board` gives it on the command line instead. Needed by `panel`.");

    public static readonly ScalarOption<string> LedPower = Option.Optional("power", ConfigSchema.NameType,
        "The power LED: a board line of use `led`. On while the daemon runs.");

    public static readonly ScalarOption<string> LedActive = Option.Optional("active", ConfigSchema.NameType,
        "The active LED: on = active, slow blink = standby, fast blink = taking over or fencing.");

    public static readonly ScalarOption<string> LedPeer = Option.Optional("peer", ConfigSchema.NameType,
        "The peer LED: on = peer up on every link, slow blink = some links down or late, off = dead or stopped.");

    public static readonly ScalarOption<string> LedFault = Option.Optional("fault", ConfigSchema.NameType,
        "The fault LED: on while an alarm is open (fence failed, duplicate VIP, stall, failed resource, real server down, stuck button).");

    public static readonly MapSchema PanelLedsMap = new("panel.leds",
        "The front-panel LEDs, each a board line of use `led` (its active_low comes from the profile). Leave one out if the board has no such LED.",
        [LedPower, LedActive, LedPeer, LedFault]);

    public static readonly ScalarOption<PanelLcdKind> LcdKind = Option.Defaulted("kind",
        new EnumType<PanelLcdKind>(("hd44780", PanelLcdKind.Hd44780)), PanelLcdKind.Hd44780,
        "`hd44780`: a character LCD with an HD44780 controller, wired as the board profile's `lcd` says (4-bit GPIO or a PCF8574 I2C backpack).");

    public static readonly ScalarOption<LcdSize> LcdSizeOption = Option.Defaulted("size",
        new EnumType<LcdSize>(("16x2", LcdSize.Size16x2), ("20x4", LcdSize.Size20x4)), LcdSize.Size16x2,
        "Columns x rows: `16x2` (LCD1602) or `20x4` (LCD2004).");

    public static readonly MapSchema PanelLcdMap = new("panel.lcd",
        "The character LCD. Its wiring comes from the board profile's `lcd`.",
        [LcdKind, LcdSizeOption]);

    public static readonly ScalarOption<string> ButtonSelect = Option.Optional("select", ConfigSchema.NameType,
        "SELECT: a short press acknowledges the newest alarm; held 3 s on the role screen it asks `standby?`, held 3 s again it performs a planned switchover.");

    public static readonly ScalarOption<string> ButtonNext = Option.Optional("next", ConfigSchema.NameType,
        "NEXT: the next screen.");

    public static readonly ScalarOption<string> ButtonPrev = Option.Optional("prev", ConfigSchema.NameType,
        "PREV: the previous screen.");

    public static readonly MapSchema PanelButtonsMap = new("panel.buttons",
        "The front-panel buttons, each a board line of use `button`.",
        [ButtonSelect, ButtonNext, ButtonPrev]);

    public static readonly ScalarOption<TimeSpan> PanelHold = Option.Defaulted("hold",
        new DurationType(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10)), PanelTimings.Default.Hold,
        "How long SELECT is held to ask for standby, and again to confirm it.");

    public static readonly ScalarOption<TimeSpan> PanelDebounce = Option.Defaulted("debounce",
        new DurationType(TimeSpan.Zero, PanelTimings.DebounceMax), PanelTimings.Default.Debounce,
        "How long a button must hold a new level before the change counts (tactile switches bounce for 1-10 ms). Applied on the button's line: the kernel's debounce on a GPIO chip with edge detection, the daemon's otherwise. `0ms`: every change counts.");

    public static readonly ScalarOption<TimeSpan> PanelStuck = Option.Defaulted("stuck",
        new DurationType(PanelTimings.StuckMin, PanelTimings.StuckMax), PanelTimings.Default.Stuck,
        "A button down longer than this, or down when the daemon starts, is stuck (a jammed key, a shorted line): reported (an alarm, `status --json` `panel.stuck`, the log) and ignored until released.");

    public static readonly SectionOption PanelLeds = new("leds", Presence.Defaulted, PanelLedsMap, "See `panel.leds`.");
    public static readonly SectionOption PanelLcd = new("lcd", Presence.Optional, PanelLcdMap, "See `panel.lcd`. Left out: no LCD.");
    public static readonly SectionOption PanelButtons = new("buttons", Presence.Defaulted, PanelButtonsMap, "See `panel.buttons`.");

    public static readonly MapSchema PanelMap = new("panel",
        "The front panel: LEDs, buttons and a character LCD driven from the node's state on a thread of their own. A panel that fails (no LCD, a GPIO error) is logged and shown in status, never fatal.",
        [PanelLeds, PanelLcd, PanelButtons, PanelHold, PanelDebounce, PanelStuck],
        rules:
        [
            new("a panel needs a board (`board` or `applianced --board`)"),
            new(StuckRule),
            new("every name is a line of the board with the matching use (led, button)"),
            new("no line is used twice"),
            new("an lcd needs a board profile with an `lcd`"),
        ]);

    /// <summary>The hold must be able to fire before the button counts as stuck.</summary>
    public const string StuckRule = "`stuck` is longer than `hold`";

    public static readonly SectionOption Panel = new("panel", Presence.Optional, PanelMap,
        "See `panel`. Left out: no front panel.");
}

/// <summary>A board profile reference: a profile name, or an absolute path to a profile file.</summary>
internal sealed class BoardRefType : ScalarType<string>
{
    public override string Expected => "a board profile name like lab, or an absolute path to a profile .yaml";
    public override string Doc => "profile name or `/path/to/profile.yaml`";

    public override string Format(string value) => value;

    protected override bool TryParse(YScalar s, string name, [MaybeNullWhen(false)] out string value, out string error)
    {
        value = s.Value;
        error = "";
        bool path = value.StartsWith('/') && value.Length <= ConfigLimits.MaxPathLength && !value.Contains('\0');
        return path || ConfigSchema.NameType.IsValid(value) || NotThis(s, out error);
    }
}
