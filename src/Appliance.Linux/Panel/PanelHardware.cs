using System.Device.Gpio;
using System.Device.I2c;
using System.Globalization;
using Appliance.Core.Board;
using Appliance.Core.Panel;
using Appliance.Linux.Gpio;
using Iot.Device.Button;
using Iot.Device.CharacterLcd;
using Iot.Device.Pcx857x;

namespace Appliance.Linux.Panel;

/// <summary>
/// The panel's hardware from a <see cref="PanelConfig"/>: LEDs and buttons on board lines through
/// <see cref="GpioController"/> over our <see cref="BoardGpioDriver"/>, the buttons as
/// Iot.Device.Button <see cref="GpioButton"/>s on the driver's edge events (debounced by the line:
/// the kernel's DEBOUNCE attribute, or the driver for the simulated chip and for a chip without
/// edge detection), and the HD44780 through Iot.Device.Bindings (Lcd1602/Lcd2004, 4-bit on board
/// lines or behind a PCF8574). Each part is opened on its own, so a dead LCD leaves the LEDs and
/// buttons working. Used from one thread (the panel's): an LCD write blocks for tens of
/// milliseconds; the button callbacks come from the driver's event thread.
/// </summary>
public sealed class PanelHardware : IDisposable
{
    public const string Consumer = "applianced-panel";

    /// <summary>
    /// GpioButton's double-press window, unused (double presses are off) but checked by its
    /// constructor to be at least three debounce times; the library's default.
    /// </summary>
    private static readonly TimeSpan ButtonDoublePress = TimeSpan.FromSeconds(1.5);

    private readonly PanelConfig _config;
    private readonly BoardGpioDriver _driver;
    private readonly GpioController _controller;
    private readonly Dictionary<LedRole, int> _leds = [];
    private readonly Dictionary<ButtonRole, int> _buttons = [];
    private readonly List<GpioButton> _gpioButtons = [];
    private readonly Action<ButtonRole, bool>? _onButton;
    private readonly bool[] _ledLevels = new bool[4];
    private Hd44780? _lcd;
    private GpioController? _lcdController;
    private I2cDevice? _i2c;
    private string[] _shown = [];

    private PanelHardware(PanelConfig config, Action<ButtonRole, bool>? onButton, Action<GpioEdgeNotice>? notices)
    {
        _config = config;
        _onButton = onButton;
        var lines = new List<BoardLine>();
        void Add(BoardLine? l)
        {
            if (l is not null && !lines.Contains(l))
                lines.Add(l);
        }
        Add(config.Leds.Power); Add(config.Leds.Active); Add(config.Leds.Peer); Add(config.Leds.Fault);
        Add(config.Buttons.Select); Add(config.Buttons.Next); Add(config.Buttons.Prev);
        if (config.Lcd?.Wiring is GpioLcdWiring w)
            foreach (var l in (BoardLine[])[w.Rs, w.E, w.D4, w.D5, w.D6, w.D7])
                Add(l);
        _driver = new BoardGpioDriver(lines, Consumer, config.Timings.Debounce, notices);
        _controller = new GpioController(_driver);
    }

    /// <summary>
    /// Requests the LED and button lines (throws <see cref="GpioException"/> when one cannot be had).
    /// <paramref name="onButton"/> hears each debounced edge of a button (true: pressed), on the
    /// driver's event thread; it must not block. <paramref name="notices"/> hears a button line that
    /// falls back to sampling or stops reporting.
    /// </summary>
    public static PanelHardware Open(PanelConfig config, Action<ButtonRole, bool>? onButton = null, Action<GpioEdgeNotice>? notices = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        var hw = new PanelHardware(config, onButton, notices);
        try
        {
            hw.OpenLed(LedRole.Power, config.Leds.Power);
            hw.OpenLed(LedRole.Active, config.Leds.Active);
            hw.OpenLed(LedRole.Peer, config.Leds.Peer);
            hw.OpenLed(LedRole.Fault, config.Leds.Fault);
            hw.OpenButton(ButtonRole.Select, config.Buttons.Select);
            hw.OpenButton(ButtonRole.Next, config.Buttons.Next);
            hw.OpenButton(ButtonRole.Prev, config.Buttons.Prev);
            return hw;
        }
        catch
        {
            hw.Dispose();
            throw;
        }
    }

    private void OpenLed(LedRole role, BoardLine? line)
    {
        if (line is null)
            return;
        int pin = _driver.PinOf(line);
        _controller.OpenPin(pin, PinMode.Output, PinValue.Low);
        _leds[role] = pin;
    }

    private void OpenButton(ButtonRole role, BoardLine? line)
    {
        if (line is null)
            return;
        int pin = _driver.PinOf(line);
        // Levels are logical (active_low applied by the request), so pressed is high whatever the
        // wiring: GpioButton's "pull-down" reading (rising = down), the resistor the board's.
        // GpioButton's own debounce stays off: it ignores a press for that long after a release by
        // DateTime.UtcNow (a wall clock stepped back would silence the buttons) and would drop the
        // release of a press it skipped. The line is debounced below it, on monotonic time.
        var button = new GpioButton(pin, ButtonDoublePress, _config.Timings.Hold, isPullUp: false, hasExternalResistor: true,
            gpio: _controller, shouldDispose: false, debounceTime: TimeSpan.Zero);
        _gpioButtons.Add(button);
        // No edge for a button already down: it starts as it is (the model calls that stuck).
        button.IsPressed = _controller.Read(pin) == PinValue.High;
        if (_onButton is { } onButton)
        {
            button.ButtonDown += (_, _) => onButton(role, true);
            button.ButtonUp += (_, _) => onButton(role, false);
        }
        _buttons[role] = pin;
    }

    /// <summary>How a button's line reports its changes (None: sampled by the driver).</summary>
    public GpioEdgeDetection ButtonEdges(ButtonRole role) =>
        _buttons.TryGetValue(role, out int pin) ? _driver.EdgesOf(pin) : GpioEdgeDetection.None;

    public bool HasLcd => _config.Lcd is not null;

    public IEnumerable<ButtonRole> Buttons => _buttons.Keys;

    /// <summary>
    /// Initializes the LCD (the binding waits ~55 ms per the datasheet). Throws when it cannot be
    /// reached (no I2C bus, a busy line); the caller shows that in status and carries on without it.
    /// </summary>
    public void OpenLcd()
    {
        if (_config.Lcd is not { } lcd || _lcd is not null)
            return;
        bool wide = lcd.Size == LcdSize.Size20x4;
        switch (lcd.Wiring)
        {
            case GpioLcdWiring w:
            {
                int[] data = [_driver.PinOf(w.D4), _driver.PinOf(w.D5), _driver.PinOf(w.D6), _driver.PinOf(w.D7)];
                int rs = _driver.PinOf(w.Rs), e = _driver.PinOf(w.E);
                _lcd = wide ? new Lcd2004(rs, e, data, controller: _controller, shouldDispose: false)
                    : new Lcd1602(rs, e, data, controller: _controller, shouldDispose: false);
                break;
            }
            case Pcf8574LcdWiring p:
            {
                _i2c = p.Bus.StartsWith(GpioChips.SimulatedPrefix, StringComparison.Ordinal)
                    ? new SimulatedPcf8574(p.Bus[GpioChips.SimulatedPrefix.Length..], p.Address)
                    : I2cDevice.Create(new I2cConnectionSettings(BusId(p.Bus), p.Address));
                _lcdController = new GpioController(new Pcf8574(_i2c));
                // The usual backpack wiring: P0 RS, P1 RW, P2 E, P3 backlight, P4-P7 D4-D7.
                _lcd = wide ? new Lcd2004(0, 2, [4, 5, 6, 7], backlightPin: 3, readWritePin: 1, controller: _lcdController, shouldDispose: false)
                    : new Lcd1602(0, 2, [4, 5, 6, 7], backlightPin: 3, readWritePin: 1, controller: _lcdController, shouldDispose: false);
                break;
            }
        }
        _lcd!.DisplayOn = true;
        _lcd.Clear();
        _shown = new string[lcd.Size.Rows()];
    }

    /// <summary>/dev/i2c-N to N.</summary>
    private static int BusId(string bus)
    {
        string digits = bus[(bus.LastIndexOf('-') + 1)..];
        return int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n
            : throw new IOException($"{bus}: not an I2C bus device (/dev/i2c-N)");
    }

    /// <summary>Drives one LED; writes only on a change (a write on the simulated chip is a pwrite).</summary>
    public void SetLed(LedRole role, bool lit)
    {
        if (!_leds.TryGetValue(role, out int pin) || _ledLevels[(int)role] == lit && _ledWritten[(int)role])
            return;
        _controller.Write(pin, lit ? PinValue.High : PinValue.Low);
        _ledLevels[(int)role] = lit;
        _ledWritten[(int)role] = true;
    }

    private readonly bool[] _ledWritten = new bool[4];

    /// <summary>A button's logical level (true = pressed); null when the board has no such button.</summary>
    public bool? ReadButton(ButtonRole role) =>
        _buttons.TryGetValue(role, out int pin) ? _controller.Read(pin) == PinValue.High : null;

    /// <summary>Writes the rows that changed (blocks: ~1.2 ms per character through the binding).</summary>
    public int WriteLcd(string[] rows)
    {
        if (_lcd is null)
            return 0;
        int written = 0;
        for (int r = 0; r < rows.Length && r < _shown.Length; r++)
        {
            if (_shown[r] == rows[r])
                continue;
            _lcd.SetCursorPosition(0, r);
            _lcd.Write(rows[r]);
            _shown[r] = rows[r];
            written++;
        }
        return written;
    }

    /// <summary>Forgets the LCD after a failure, so the next <see cref="OpenLcd"/> starts it again.</summary>
    public void CloseLcd()
    {
        try
        {
            _lcd?.Dispose();
            _lcdController?.Dispose();
            _i2c?.Dispose();
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            // It failed already; closing it is best effort.
        }
        _lcd = null;
        _lcdController = null;
        _i2c = null;
        _shown = [];
    }

    public void Dispose()
    {
        CloseLcd();
        foreach (var b in _gpioButtons)
            b.Dispose();
        _gpioButtons.Clear();
        _controller.Dispose();
        _driver.Dispose();
    }
}
