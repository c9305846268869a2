using System.Diagnostics;
using Appliance.Core.Board;
using Appliance.Core.Panel;
using Appliance.Linux.Gpio;
using Appliance.Linux.Panel;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// The panel's hardware on the lab's simulated chip, observed from outside as a person would: the
/// LCD text decoded from the pin writes (4-bit) and from the I2C bytes (PCF8574), the LED levels,
/// a button pressed by writing its level file. The bindings (Iot.Device.Bindings Lcd1602/Lcd2004,
/// System.Device.Gpio GpioController) run on our own GpioDriver.
/// </summary>
public sealed class PanelHardwareTests
{
    private static readonly string[] LabNames =
        ["RELAY_BETA", "LED_PWR", "LED_ACT", "LED_PEER", "LED_FAULT", "BTN_SEL", "BTN_NEXT", "BTN_PREV",
         "LCD_RS", "LCD_E", "LCD_D4", "LCD_D5", "LCD_D6", "LCD_D7"];

    private static BoardLine Line(SimChip sim, string name, LineUse use, bool activeLow = false) => new(name.ToLowerInvariant(), sim.Chip, name, use, activeLow);

    private static PanelConfig Config(SimChip sim, LcdSize size, BoardLcd? wiring = null, bool buttonsActiveLow = false) => new(
        new PanelLeds(Line(sim, "LED_PWR", LineUse.Led), Line(sim, "LED_ACT", LineUse.Led), Line(sim, "LED_PEER", LineUse.Led), Line(sim, "LED_FAULT", LineUse.Led, activeLow: true)),
        new PanelLcd(PanelLcdKind.Hd44780, size, wiring ?? new GpioLcdWiring(Line(sim, "LCD_RS", LineUse.Lcd), Line(sim, "LCD_E", LineUse.Lcd),
            Line(sim, "LCD_D4", LineUse.Lcd), Line(sim, "LCD_D5", LineUse.Lcd), Line(sim, "LCD_D6", LineUse.Lcd), Line(sim, "LCD_D7", LineUse.Lcd))),
        new PanelButtons(Line(sim, "BTN_SEL", LineUse.Button, buttonsActiveLow), Line(sim, "BTN_NEXT", LineUse.Button), Line(sim, "BTN_PREV", LineUse.Button)),
        PanelTimings.Default);

    [Fact]
    public void Lcd1602_on_4_bit_lines_reads_back_as_the_text_written()
    {
        using var sim = new SimChip(LabNames);
        using var hw = PanelHardware.Open(Config(sim, LcdSize.Size16x2));
        hw.OpenLcd();
        hw.WriteLcd(["beta standby 3s ", "x               "]); // warm: the figure below is a steady-state rewrite
        var sw = Stopwatch.StartNew();
        Assert.Equal(2, hw.WriteLcd(["alpha ACTIVE 15m", "peer beta up    "]));
        double ms = sw.Elapsed.TotalMilliseconds;
        Assert.Equal(["alpha ACTIVE 15m", "peer beta up    "], SimulatedLcd.Read(sim.Directory, 16, 2)!);
        Console.WriteLine($"two-row rewrite through Lcd1602 on the simulated chip: {ms:0.0} ms");
        Assert.Equal(1, hw.WriteLcd(["alpha ACTIVE 15m", "links 2/2 up    "])); // only the row that changed
        Assert.Equal(["alpha ACTIVE 15m", "links 2/2 up    "], SimulatedLcd.Read(sim.Directory, 16, 2)!);
    }

    [Fact]
    public void Lcd2004_shows_four_rows()
    {
        using var sim = new SimChip(LabNames);
        using var hw = PanelHardware.Open(Config(sim, LcdSize.Size20x4));
        hw.OpenLcd();
        string[] rows = ["alpha going active  ", "3s the peer released", "peer beta dead      ", "links 0/2 up        "];
        hw.WriteLcd(rows);
        Assert.Equal(rows, SimulatedLcd.Read(sim.Directory, 20, 4)!);
    }

    [Fact]
    public void Lcd1602_behind_a_pcf8574_backpack_reads_back_through_the_simulated_i2c_device()
    {
        using var sim = new SimChip(LabNames);
        string bus = Path.Combine(sim.Directory, "i2c");
        Directory.CreateDirectory(bus);
        using var hw = PanelHardware.Open(Config(sim, LcdSize.Size16x2, new Pcf8574LcdWiring(GpioChips.SimulatedPrefix + bus, 0x27)));
        hw.OpenLcd();
        hw.WriteLcd(["! fence failed b", "3s ago SEL:ack  "]);
        Assert.Equal(["! fence failed b", "3s ago SEL:ack  "], SimulatedLcd.Read(bus, 16, 2)!);
    }

    [Fact]
    public void Leds_drive_their_lines_with_active_low_applied_and_buttons_read_their_level_files()
    {
        using var sim = new SimChip(LabNames);
        using var hw = PanelHardware.Open(Config(sim, LcdSize.Size16x2, buttonsActiveLow: true));
        hw.SetLed(LedRole.Active, true);
        hw.SetLed(LedRole.Fault, true);
        Assert.Equal("1\n", sim.Level(2));
        Assert.Equal("0\n", sim.Level(4)); // active low: lit is a low level
        Assert.True(SimulatedGpioChip.ReadLevel(sim.Directory, 2));
        hw.SetLed(LedRole.Active, false);
        Assert.Equal("0\n", sim.Level(2));

        Press(sim.LevelPath(6), "1");
        Assert.Equal(true, hw.ReadButton(ButtonRole.Next));
        Press(sim.LevelPath(6), "0");
        Assert.Equal(false, hw.ReadButton(ButtonRole.Next));
        Press(sim.LevelPath(5), "1"); // SELECT is active low: a high level is released
        Assert.Equal(false, hw.ReadButton(ButtonRole.Select));
        Assert.Contains("applianced-panel", File.ReadAllText(SimulatedGpioChip.ConsumerPath(sim.Directory, 5)));
    }

    [Fact]
    public void Buttons_report_their_debounced_edges_and_one_down_at_start_is_read_not_reported()
    {
        using var sim = new SimChip(LabNames);
        using var select = LevelWriter.Open(sim.LevelPath(5), level: true); // down before the panel opens
        using var next = LevelWriter.Open(sim.LevelPath(6), level: false);
        var seen = new List<(ButtonRole, bool)>();
        void OnButton(ButtonRole role, bool pressed)
        {
            lock (seen)
                seen.Add((role, pressed));
        }
        (ButtonRole, bool)[] Seen()
        {
            lock (seen)
                return [.. seen];
        }
        using var hw = PanelHardware.Open(Config(sim, LcdSize.Size16x2), OnButton);
        Assert.Equal(GpioEdgeDetection.Notified, hw.ButtonEdges(ButtonRole.Next));
        Assert.Equal(true, hw.ReadButton(ButtonRole.Select));

        next.Set(true);
        Lab.Lab.WaitUntil(() => Seen().Length == 1, Edge.Timeout, "NEXT down");
        next.Set(false);
        Lab.Lab.WaitUntil(() => Seen().Length == 2, Edge.Timeout, "NEXT up");
        select.Set(false); // the one down at start comes up: GpioButton was told it was down
        Lab.Lab.WaitUntil(() => Seen().Length == 3, Edge.Timeout, "SELECT up");
        Assert.Equal([(ButtonRole.Next, true), (ButtonRole.Next, false), (ButtonRole.Select, false)], Seen());
    }

    /// <summary>Sets a held input's level as the lab does (a shell redirection: .NET would take flock and fail).</summary>
    private static void Press(string levelPath, string level) => Edge.Run("sh", "-c", $"printf '{level}\\n' > '{levelPath}'");

    [Fact]
    public void A_missing_i2c_bus_fails_the_lcd_only()
    {
        using var sim = new SimChip(LabNames);
        using var hw = PanelHardware.Open(Config(sim, LcdSize.Size16x2, new Pcf8574LcdWiring("/dev/i2c-77", 0x27)));
        Assert.ThrowsAny<Exception>(() => hw.OpenLcd());
        hw.SetLed(LedRole.Power, true); // the rest carries on
        Assert.Equal("1\n", sim.Level(1));
    }

    [Fact]
    public void Decoder_follows_the_datasheet_init_to_4_bit_mode()
    {
        var d = new Hd44780Decoder();
        void Nibble(bool rs, int n)
        {
            d.SetRs(rs);
            d.SetData(n);
            d.SetE(true);
            d.SetE(false);
        }
        Nibble(false, 0x3); Nibble(false, 0x3); Nibble(false, 0x3); Nibble(false, 0x2); // to 4-bit
        foreach (byte cmd in (byte[])[0x28, 0x0C, 0x06, 0x01])
        {
            Nibble(false, cmd >> 4);
            Nibble(false, cmd & 0xF);
        }
        foreach (char c in "hi")
        {
            Nibble(true, c >> 4);
            Nibble(true, c & 0xF);
        }
        Assert.True(d.DisplayOn);
        Assert.Equal(["hi  ", "    "], d.Rows(4, 2));
        Assert.Equal([0x30, 0x30, 0x30, 0x20, 0x28, 0x0C, 0x06, 0x01], d.CommandLog);
    }
}
