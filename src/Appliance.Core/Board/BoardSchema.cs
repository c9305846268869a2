using Appliance.Core.Config;

namespace Appliance.Core.Board;

/// <summary>
/// The option table of a board profile (board/*.yaml), declared like the config's
/// (<see cref="ConfigSchema"/>): the loader reads profiles with it and the reference is rendered from it.
/// </summary>
internal static class BoardSchema
{
    /// <summary>Most chips and lines in a profile: a 40-pin header has 28 GPIOs; a board with expanders a few more.</summary>
    public const int ChipsMax = 8;
    public const int LinesMax = 64;

    /// <summary>7-bit I2C addresses a device may use: 0x03-0x77 (0x00-0x02 and 0x78-0x7f are reserved by the I2C spec).</summary>
    public const int I2cAddressMin = 0x03, I2cAddressMax = 0x77;

    public static readonly ScalarOption<string> ProfileName = Option.Required("name", ConfigSchema.NameType,
        "The board's name; a config's `board: NAME` finds NAME.yaml, and a profile given by path must carry the name the config says.");

    public static readonly ScalarOption<string> Description = Option.Optional("description", new TextType(),
        "What the board is, for people.");

    public static readonly ScalarOption<string> ChipName = Option.Required("name", ConfigSchema.NameType, "The profile's name for the chip.");
    public static readonly ScalarOption<string> ChipPath = Option.Required("path", new GpioChipType(),
        "The chip: `/dev/gpiochipN`, `gpiochipN` or `sim:/dir` (the lab's simulated chip).");

    public static readonly MapSchema ChipMap = new("chips[]", "A GPIO chip of the board.", [ChipName, ChipPath],
        rules: [new("chip names are unique")]);

    public static readonly ScalarOption<string> LineName = Option.Required("name", ConfigSchema.NameType,
        "The profile's name for the line (`led-act`, `btn-sel`); the config's `panel` uses it.");
    public static readonly ScalarOption<string> LineChip = Option.Required("chip", ConfigSchema.NameType, "The `chips[]` entry the line is on.");
    public static readonly ScalarOption<string> LineLine = Option.Required("line", new GpioLineType(),
        "The line on the chip: its offset, or the chip's own name for it (the header's documented name, like `GPIO17`).");
    public static readonly ScalarOption<LineUse> LineUseOption = Option.Required("use",
        new EnumType<LineUse>(("led", LineUse.Led), ("button", LineUse.Button), ("relay", LineUse.Relay), ("lcd", LineUse.Lcd), ("other", LineUse.Other)),
        "What it is wired to: `led`, `button`, `relay` (a fence relay), `lcd` (an LCD pin) or `other`.");
    public static readonly ScalarOption<bool> LineActiveLow = Option.Defaulted("active_low", new BoolType(), false,
        "Active at low level: a button to ground with a pull-up, an LED from the supply into the pin.");

    public static readonly MapSchema LineMap = new("lines[]", "A named GPIO line of the board.",
        [LineName, LineChip, LineLine, LineUseOption, LineActiveLow],
        rules: [new("line names are unique"), new("chip is a `chips[]` name"), new("no two names for one line of one chip")]);

    public static readonly ScalarOption<LcdWiring> Wiring = Option.Required("wiring",
        new EnumType<LcdWiring>(("gpio4", LcdWiring.Gpio4), ("pcf8574", LcdWiring.Pcf8574)),
        "`gpio4`: HD44780 in 4-bit mode on six lines (R/W tied low). `pcf8574`: an HD44780 behind a PCF8574 I2C backpack.");

    private static ScalarOption<string> Pin(string name, string what) => Option.Required(name, ConfigSchema.NameType,
        $"gpio4: the line (of use `lcd`) on the LCD's {what} pin.");

    public static readonly ScalarOption<string> LcdRs = Pin("rs", "RS (register select)");
    public static readonly ScalarOption<string> LcdE = Pin("e", "E (enable)");
    public static readonly ScalarOption<string> LcdD4 = Pin("d4", "D4");
    public static readonly ScalarOption<string> LcdD5 = Pin("d5", "D5");
    public static readonly ScalarOption<string> LcdD6 = Pin("d6", "D6");
    public static readonly ScalarOption<string> LcdD7 = Pin("d7", "D7");

    public static readonly ScalarOption<string> LcdBus = Option.Required("bus", new I2cBusType(),
        "pcf8574: the I2C bus, like `/dev/i2c-1`, or `sim:/dir` (the lab's simulated bus).");
    public static readonly ScalarOption<int> LcdAddress = Option.Defaulted("address", new IntRangeType(I2cAddressMin, I2cAddressMax), 0x27,
        "pcf8574: the 7-bit address in decimal; 39 (0x27) for most backpacks, 63 (0x3f) for PCF8574A ones.");

    public static readonly MapSchema LcdMap = new("lcd", "How the character LCD is wired.", [Wiring],
        new VariantSpec(Wiring,
        [
            new VariantCase("gpio4", "a gpio4 lcd", [LcdRs, LcdE, LcdD4, LcdD5, LcdD6, LcdD7]),
            new VariantCase("pcf8574", "a pcf8574 lcd", [LcdBus, LcdAddress]),
        ]),
        rules: [new("gpio4: every pin is a `lines[]` name of use `lcd`, each used once")]);

    private static ScalarOption<string> Port(string name, string what) => Option.Optional(name, new AbsolutePathType(), what);

    public static readonly MapSchema SerialMap = new("serial", "The serial ports by role.",
    [
        Port("console", "The console port (`appliance-console` runs on it)."),
        Port("heartbeat", "The null-modem heartbeat port."),
        Port("pdu", "The port a serial PDU is on."),
    ]);

    private static ScalarOption<string> Nic(string name, string what) => Option.Optional(name, new InterfaceNameType(), what);

    public static readonly MapSchema InterfacesMap = new("interfaces", "The network interfaces by role.",
    [
        Nic("outside", "Faces the clients; carries the VIPs."),
        Nic("inside", "Faces the real servers; carries the inside VIPs."),
        Nic("sync", "The dedicated link to the peer (UDP heartbeat, connection sync)."),
        Nic("management", "The management network."),
    ]);

    public static readonly ListOption Chips = new("chips", Presence.Defaulted, ChipMap, 0, ChipsMax, "chip", "chips", "The GPIO chips; see `chips[]`.");
    public static readonly ListOption Lines = new("lines", Presence.Defaulted, LineMap, 0, LinesMax, "line", "lines", "The named lines; see `lines[]`.");
    public static readonly SectionOption Lcd = new("lcd", Presence.Optional, LcdMap, "See `lcd`. Left out: the board has no LCD.");
    public static readonly SectionOption Serial = new("serial", Presence.Defaulted, SerialMap, "See `serial`.");
    public static readonly SectionOption Interfaces = new("interfaces", Presence.Defaulted, InterfacesMap, "See `interfaces`.");

    public static readonly MapSchema Root = new("(board profile)",
        "A board profile, board/NAME.yaml: the board's GPIO chips and named lines, its LCD wiring, serial ports and network interfaces.",
        [ProfileName, Description, Chips, Lines, Lcd, Serial, Interfaces],
        expected: "a map with the keys name, description, chips, lines, lcd, serial and interfaces");
}

/// <summary>How a profile's LCD is wired.</summary>
internal enum LcdWiring { Gpio4, Pcf8574 }

/// <summary>One line of free text, bounded.</summary>
internal sealed class TextType : ScalarType<string>
{
    public const int MaxLength = 200;
    public override string Expected => $"one line of text, at most {MaxLength} characters";
    public override string Format(string value) => value;

    protected override bool TryParse(YScalar s, string name, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out string value, out string error)
    {
        value = s.Value;
        error = "";
        return (value.Length <= MaxLength && !value.Contains('\n')) || NotThis(s, out error);
    }
}

/// <summary>An I2C bus: <c>/dev/i2c-N</c> or <c>sim:/dir</c>.</summary>
internal sealed class I2cBusType : ScalarType<string>
{
    public override string Expected => "an I2C bus: /dev/i2c-N or sim:/directory";
    public override string Doc => "`/dev/i2c-N` or `sim:/dir`";
    public override string Format(string value) => value;

    protected override bool TryParse(YScalar s, string name, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out string value, out string error)
    {
        value = s.Value;
        error = "";
        string path = value.StartsWith("sim:", StringComparison.Ordinal) ? value[4..] : value;
        return (path.StartsWith('/') && path.Length is > 1 and <= ConfigLimits.MaxPathLength && !path.Contains('\0')) || NotThis(s, out error);
    }
}
