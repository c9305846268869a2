using System.Text;

namespace Appliance.Linux.Gpio;

/// <summary>
/// A model of an HD44780 character LCD controller as its pins see it, for the lab and tests: it is
/// given the levels of RS, E and D4-D7 (the display's side of the wire) and latches a nibble on
/// each falling edge of E, as the chip does (Hitachi HD44780U datasheet, figure 25 and table 6).
/// It starts in 8-bit mode, as after power-on; a function set with DL=0 switches it to 4-bit,
/// after which two nibbles (high first) make a byte. It keeps the 80-byte display RAM and
/// answers what a person would read: the rows of a 16x2 or 20x4 display.
/// Not thread-safe: the one writer of the pins calls it.
/// </summary>
public sealed class Hd44780Decoder
{
    /// <summary>Display RAM: two lines of 40 (addresses 0x00-0x27 and 0x40-0x67).</summary>
    private const int LineLength = 40;

    /// <summary>The second line's first address.</summary>
    private const int Line2 = 0x40;

    private readonly byte[] _ram = new byte[2 * LineLength];
    private bool _fourBit;
    private int? _highNibble;
    private int _address;
    private bool _increment = true;
    private bool _cgram;
    private bool _rs, _e;
    private int _data; // D4-D7 as bits 0-3

    public Hd44780Decoder() => Array.Fill(_ram, (byte)' ');

    /// <summary>Display on (display control D bit).</summary>
    public bool DisplayOn { get; private set; }

    /// <summary>Bytes written to display RAM, commands and nibbles latched (for tests).</summary>
    public int Writes { get; private set; }
    public int Commands { get; private set; }

    /// <summary>The commands in the order latched (tests compare them with the datasheet's init sequence).</summary>
    public List<byte> CommandLog { get; } = [];

    public void SetRs(bool level) => _rs = level;

    /// <summary>D4-D7 (bit 0 = D4).</summary>
    public void SetData(int nibble) => _data = nibble & 0xF;

    public void SetDataBit(int bit, bool level) => _data = level ? _data | (1 << bit) : _data & ~(1 << bit);

    /// <summary>E: a falling edge latches RS and D4-D7. Returns true when the display RAM or its state changed.</summary>
    public bool SetE(bool level)
    {
        bool falling = _e && !level;
        _e = level;
        return falling && Latch();
    }

    private bool Latch()
    {
        if (!_fourBit)
        {
            // 8-bit mode with D0-D3 unwired (tied low): only function sets mean anything here.
            return Execute(_rs, (byte)(_data << 4));
        }
        if (_highNibble is not { } high)
        {
            _highNibble = _data;
            return false;
        }
        _highNibble = null;
        return Execute(_rs, (byte)(high << 4 | _data));
    }

    private bool Execute(bool rs, byte value)
    {
        if (rs)
        {
            Writes++;
            if (_cgram)
                return false;
            _ram[Index(_address)] = value;
            Step();
            return true;
        }
        Commands++;
        CommandLog.Add(value);
        switch (value)
        {
            case 0x01: // clear display
                Array.Fill(_ram, (byte)' ');
                _address = 0;
                _increment = true;
                _cgram = false;
                return true;
            case 0x02 or 0x03: // return home
                _address = 0;
                _cgram = false;
                return false;
            case >= 0x04 and <= 0x07: // entry mode set
                _increment = (value & 0x02) != 0;
                return false;
            case >= 0x08 and <= 0x0F: // display control
                bool on = (value & 0x04) != 0;
                bool changed = on != DisplayOn;
                DisplayOn = on;
                return changed;
            case >= 0x10 and <= 0x1F: // cursor or display shift: the panel does not use it
                return false;
            case >= 0x20 and <= 0x3F: // function set: DL (0x10) picks the interface
                bool fourBit = (value & 0x10) == 0;
                if (fourBit && !_fourBit)
                    _highNibble = null;
                _fourBit = fourBit;
                return false;
            case >= 0x40 and <= 0x7F: // set CGRAM address: data goes to custom characters
                _cgram = true;
                return false;
            default: // 0x80 | address: set DDRAM address
                _cgram = false;
                _address = value & 0x7F;
                return false;
        }
    }

    private void Step()
    {
        int line = _address >= Line2 ? Line2 : 0;
        int column = (_address - line + (_increment ? 1 : LineLength - 1)) % LineLength;
        _address = line + column;
    }

    private static int Index(int address) =>
        address >= Line2 ? LineLength + Math.Min(address - Line2, LineLength - 1) : Math.Min(address, LineLength - 1);

    /// <summary>
    /// What the display shows: <paramref name="rows"/> rows of <paramref name="columns"/> (rows 3 and 4
    /// of a 20x4 continue lines 1 and 2 at 0x14 and 0x54). Blank while the display is off.
    /// </summary>
    public string[] Rows(int columns, int rows)
    {
        var result = new string[rows];
        for (int r = 0; r < rows; r++)
        {
            if (!DisplayOn)
            {
                result[r] = new string(' ', columns);
                continue;
            }
            int start = (r % 2 == 0 ? 0 : LineLength) + (r >= 2 ? columns : 0);
            var sb = new StringBuilder(columns);
            for (int c = 0; c < columns; c++)
            {
                int i = start + c;
                byte b = i < _ram.Length ? _ram[i] : (byte)' ';
                sb.Append(b is >= 0x20 and < 0x7F ? (char)b : '?');
            }
            result[r] = sb.ToString();
        }
        return result;
    }
}
