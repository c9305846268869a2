using System.Collections.Concurrent;
using System.Device.I2c;

namespace Appliance.Linux.Gpio;

/// <summary>
/// The lab's LCD: an <see cref="Hd44780Decoder"/> wired to a simulated chip's lines named
/// <c>LCD_RS</c>, <c>LCD_E</c> and <c>LCD_D4</c>-<c>LCD_D7</c> (or to a simulated PCF8574, see
/// <see cref="SimulatedPcf8574"/>). After every change it writes what the display shows to
/// <c>DIRECTORY/lcd</c> (<see cref="TextFile"/>): four rows of 20 characters, then a line
/// <c>display on|off</c>, replaced whole (rename), so <c>lab panel</c> and tests read what a
/// person would see, decoded from the pin writes alone.
/// </summary>
public sealed class SimulatedLcd
{
    public const string TextFile = "lcd";

    /// <summary>The line names an HD44780 in 4-bit mode is wired to on a simulated chip.</summary>
    public static readonly string[] PinNames = ["LCD_RS", "LCD_E", "LCD_D4", "LCD_D5", "LCD_D6", "LCD_D7"];

    /// <summary>The widest display the file shows (20x4); narrower ones read its left columns.</summary>
    private const int Columns = 20, Rows = 4;

    private static readonly ConcurrentDictionary<string, SimulatedLcd> ByDirectory = new(StringComparer.Ordinal);

    private readonly object _gate = new();
    private readonly Hd44780Decoder _decoder = new();
    private readonly string _directory;
    private readonly uint[] _offsets; // RS, E, D4..D7; empty for a PCF8574

    private SimulatedLcd(string directory, uint[] offsets)
    {
        _directory = directory;
        _offsets = offsets;
    }

    public Hd44780Decoder Decoder => _decoder;

    /// <summary>The LCD on <paramref name="directory"/>'s chip if line <paramref name="offset"/> is one of its pins; else null.</summary>
    internal static SimulatedLcd? Attached(string directory, string[] names, uint offset)
    {
        var offsets = PinNames.Select(n => Array.IndexOf(names, n)).ToArray();
        if (offsets.Any(o => o < 0) || !offsets.Contains((int)offset))
            return null;
        return ByDirectory.GetOrAdd(Path.GetFullPath(directory), d => new SimulatedLcd(d, [.. offsets.Select(o => (uint)o)]));
    }

    /// <summary>The LCD behind a simulated PCF8574 in <paramref name="directory"/>.</summary>
    internal static SimulatedLcd ForBackpack(string directory) =>
        ByDirectory.GetOrAdd(Path.GetFullPath(directory), d => new SimulatedLcd(d, []));

    /// <summary>A pin's new physical level.</summary>
    internal void Pin(uint offset, bool level)
    {
        lock (_gate)
        {
            int pin = Array.IndexOf(_offsets, offset);
            bool changed = pin switch
            {
                0 => Set(() => _decoder.SetRs(level)),
                1 => _decoder.SetE(level),
                _ => Set(() => _decoder.SetDataBit(pin - 2, level)),
            };
            if (changed)
                Publish();
        }
    }

    /// <summary>A byte written to the PCF8574 backpack: P0 RS, P1 RW, P2 E, P3 backlight, P4-P7 D4-D7.</summary>
    internal void Port(byte value)
    {
        lock (_gate)
        {
            _decoder.SetRs((value & 0x01) != 0);
            _decoder.SetData(value >> 4);
            // RW high is a read of the busy flag: nothing is latched into the display.
            bool changed = (value & 0x02) == 0 && _decoder.SetE((value & 0x04) != 0);
            Backlight = (value & 0x08) != 0;
            if (changed)
                Publish();
        }
    }

    public bool Backlight { get; private set; }

    private static bool Set(Action a)
    {
        a();
        return false;
    }

    private void Publish()
    {
        string text = string.Concat(_decoder.Rows(Columns, Rows).Select(r => r + "\n")) + (_decoder.DisplayOn ? "display on\n" : "display off\n");
        string path = Path.Combine(_directory, TextFile);
        string temp = path + ".tmp";
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Reads the text file: the rows a <paramref name="columns"/> x <paramref name="rows"/> display shows; null when absent.</summary>
    public static string[]? Read(string directory, int columns, int rows)
    {
        string path = Path.Combine(directory, TextFile);
        if (!File.Exists(path))
            return null;
        var lines = File.ReadAllLines(path);
        return [.. Enumerable.Range(0, rows).Select(r => r < lines.Length - 1 && r < Rows ? lines[r][..Math.Min(columns, lines[r].Length)] : new string(' ', columns))];
    }
}

/// <summary>
/// A PCF8574 I2C backpack on the lab's simulated bus <c>sim:DIRECTORY</c>: each byte written is
/// the expander's new port state, decoded by the <see cref="SimulatedLcd"/> of that directory.
/// Reads return the last port state (the backpack's quasi-bidirectional pins read back high when
/// written high).
/// </summary>
public sealed class SimulatedPcf8574(string directory, int address) : I2cDevice
{
    private readonly SimulatedLcd _lcd = SimulatedLcd.ForBackpack(directory);
    private byte _port = 0xFF;

    public override I2cConnectionSettings ConnectionSettings { get; } = new(0, address);

    public override byte ReadByte() => _port;

    public override void Read(Span<byte> buffer) => buffer.Fill(_port);

    public override void WriteByte(byte value)
    {
        _port = value;
        _lcd.Port(value);
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        foreach (byte b in buffer)
            WriteByte(b);
    }

    public override void WriteRead(ReadOnlySpan<byte> writeBuffer, Span<byte> readBuffer)
    {
        Write(writeBuffer);
        Read(readBuffer);
    }
}
