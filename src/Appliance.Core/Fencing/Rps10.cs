using System.Text;

namespace Appliance.Core.Fencing;

/// <summary>The four commands of a WTI RPS-10; the value is the command byte of the frame.</summary>
public enum Rps10Command : byte
{
    Off = (byte)'0',
    On = (byte)'1',
    /// <summary>Off, the device's own delay, on: what a reboot is.</summary>
    Toggle = (byte)'T',
    /// <summary>Report the outlet(s); cluster-glue never sends it, we use it as the device monitor.</summary>
    Status = (byte)'?',
}

/// <summary>
/// The WTI RPS-10 serial protocol (reference serial-pdu.md section 3, taken from cluster-glue's
/// rps10.c and checked against its real client): pure frame building and the device's line texts.
/// </summary>
public static class Rps10
{
    /// <summary>Password (6) + address + command + CR: every command frame is exactly this long.</summary>
    public const int FrameBytes = 9;

    /// <summary>Bytes kept of one reply line. The device's longest line is "RPS-10 Ready" (12); a
    /// terminal line is 80 columns; anything longer is noise and is dropped, never buffered.</summary>
    public const int MaxLineBytes = 80;

    /// <summary>An RPS-10M master plus up to 9 slaves, one outlet each, addressed '0'-'9'.</summary>
    public const int MaxUnits = 10;

    /// <summary>The address of every unit at once.</summary>
    public const char AllOutlets = '*';

    /// <summary>cluster-glue's alias for '*' in configs, because '*' breaks some scripts.</summary>
    public const char AllOutletsAlias = 'A';

    /// <summary>What the device prints once DTR rises after a drop (manual: usually 5-10 s later).</summary>
    public const string ReadyText = "RPS-10 Ready";

    public const string PlugText = "Plug";

    public const string CompleteText = "Complete";

    /// <summary>The device ends every line with CR LF.</summary>
    public const string LineEnd = "\r\n";

    /// <summary>The frame's terminator.</summary>
    public const byte Cr = 0x0D;

    /// <summary>^B ^X ^X ^B ^X ^X: the fixed "password" that opens every frame.</summary>
    public static ReadOnlySpan<byte> Password => [0x02, 0x18, 0x18, 0x02, 0x18, 0x18];

    /// <summary>An address the device understands: one unit '0'-'9' or '*' (all).</summary>
    public static bool IsAddress(char c) => c is (>= '0' and <= '9') or AllOutlets;

    public static bool IsCommand(byte b) => b is (byte)Rps10Command.Off or (byte)Rps10Command.On
        or (byte)Rps10Command.Toggle or (byte)Rps10Command.Status;

    /// <summary>Config spelling to address: '0'-'9', '*', and cluster-glue's 'A' (or 'a') for '*'.</summary>
    public static bool TryParseOutlet(char c, out char outlet)
    {
        outlet = c is AllOutletsAlias or 'a' ? AllOutlets : c;
        return IsAddress(outlet);
    }

    /// <summary>Writes the 9-byte frame <c>02 18 18 02 18 18 addr cmd 0D</c>.</summary>
    /// <exception cref="ArgumentException">Not an address or not a command, or too small a destination: programming errors (configs are validated before).</exception>
    public static int WriteFrame(char outlet, Rps10Command command, Span<byte> destination)
    {
        if (!IsAddress(outlet))
            throw new ArgumentOutOfRangeException(nameof(outlet), outlet, "an RPS-10 address is '0'-'9' or '*'");
        if (!IsCommand((byte)command))
            throw new ArgumentOutOfRangeException(nameof(command), command, "not an RPS-10 command");
        if (destination.Length < FrameBytes)
            throw new ArgumentException($"destination holds {destination.Length} bytes, a frame needs {FrameBytes}", nameof(destination));
        Password.CopyTo(destination);
        destination[6] = (byte)outlet;
        destination[7] = (byte)command;
        destination[8] = Cr;
        return FrameBytes;
    }

    public static byte[] Frame(char outlet, Rps10Command command)
    {
        var frame = new byte[FrameBytes];
        WriteFrame(outlet, command, frame);
        return frame;
    }

    /// <summary>The device's report of one unit, CR LF included: <c>Plug 0 On</c>.</summary>
    public static string PlugLine(char unit, bool on) => $"{PlugText} {unit} {(on ? "On" : "Off")}{LineEnd}";

    /// <summary>For logs and reasons: printable ASCII as is, anything else as \r, \n or \xNN.</summary>
    public static string Escape(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length);
        foreach (byte b in bytes)
        {
            _ = b switch
            {
                (byte)'\r' => sb.Append("\\r"),
                (byte)'\n' => sb.Append("\\n"),
                (byte)'\\' => sb.Append("\\\\"),
                >= 0x20 and < 0x7F => sb.Append((char)b),
                _ => sb.Append($"\\x{b:x2}"),
            };
        }
        return sb.ToString();
    }

    public static string Describe(Rps10Command command) => command switch
    {
        Rps10Command.Off => "off",
        Rps10Command.On => "on",
        Rps10Command.Toggle => "toggle",
        Rps10Command.Status => "status",
        _ => $"command 0x{(byte)command:x2}",
    };
}

/// <summary>
/// The protocol's waits. Defaults are cluster-glue's (serial-pdu.md 3.4) except where noted; tests
/// shorten them. Plain data: the edge owns the clock.
/// </summary>
public sealed record Rps10Timing
{
    public static readonly Rps10Timing Default = new();

    /// <summary>How long DTR is held low (speed B0) to reset the device's session: rps10.c holds 2 s.</summary>
    public TimeSpan DtrDrop { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Wait for "RPS-10 Ready" after DTR rises: rps10.c waits 12 s (manual: 5-10 s).</summary>
    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromSeconds(12);

    /// <summary>Wait for each reply line. rps10.c allows 5 s for the first token and 2 s for the
    /// rest; the device answers in milliseconds, and a fence is on the clock, so 2 s for all.</summary>
    public TimeSpan ReplyTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Wait for the rest of a toggle after its "Off" line: the device's off-time must fit in rps10.c's 14 s window.</summary>
    public TimeSpan ToggleTimeout { get; init; } = TimeSpan.FromSeconds(14);

    /// <summary>Idle time after which a '?' checks the session (ours; cluster-glue keeps no session).</summary>
    public TimeSpan MonitorInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Wait before trying a new handshake after one failed, unless a request is waiting.</summary>
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Every wait must be positive: a zero wait would fail every exchange or spin.</summary>
    public void Validate()
    {
        foreach ((TimeSpan value, string name) in new[]
        {
            (DtrDrop, nameof(DtrDrop)), (ReadyTimeout, nameof(ReadyTimeout)), (ReplyTimeout, nameof(ReplyTimeout)),
            (ToggleTimeout, nameof(ToggleTimeout)), (MonitorInterval, nameof(MonitorInterval)), (RetryInterval, nameof(RetryInterval)),
        })
        {
            if (value <= TimeSpan.Zero)
                throw new ArgumentOutOfRangeException(name, value, "RPS-10 timings must be positive");
        }
    }
}

public enum Rps10ReplyKind
{
    /// <summary>"RPS-10 Ready": the device (re)started a session.</summary>
    Ready,
    /// <summary>"Plug &lt;unit&gt; On|Off".</summary>
    Plug,
    /// <summary>"Complete": the command is finished.</summary>
    Complete,
    /// <summary>A non-empty line that is none of the above (or too long); counted and dropped.</summary>
    Noise,
}

/// <summary>One reply line. <see cref="Unit"/> and <see cref="Power"/> for <see cref="Rps10ReplyKind.Plug"/>;
/// <see cref="Text"/> (escaped, bounded) for <see cref="Rps10ReplyKind.Noise"/>.</summary>
public readonly record struct Rps10Reply(Rps10ReplyKind Kind, char Unit = '\0', PowerState Power = PowerState.Unknown, string Text = "")
{
    public static readonly Rps10Reply Ready = new(Rps10ReplyKind.Ready);
    public static readonly Rps10Reply Complete = new(Rps10ReplyKind.Complete);

    public static Rps10Reply Plug(char unit, bool on) => new(Rps10ReplyKind.Plug, unit, on ? PowerState.On : PowerState.Off);

    public override string ToString() => Kind switch
    {
        Rps10ReplyKind.Ready => Rps10.ReadyText,
        Rps10ReplyKind.Complete => Rps10.CompleteText,
        Rps10ReplyKind.Plug => $"{Rps10.PlugText} {Unit} {Power}",
        _ => Text,
    };
}

/// <summary>
/// Incremental reader of the device's replies (client side). Feed it bytes as they arrive; it
/// yields one event per line. Lines end at CR or LF, so CR LF, LF CR, LF and CR all work and the
/// empty lines between are skipped. Tokens are found anywhere in a line, as cluster-glue's
/// substring scanner does, so noise before a token on the same line is tolerated. Never throws,
/// never grows: its buffer is <see cref="Rps10.MaxLineBytes"/>.
/// </summary>
public sealed class Rps10ReplyReader
{
    private readonly byte[] _line = new byte[Rps10.MaxLineBytes];
    private int _length;
    private bool _overflowed;

    /// <summary>Non-empty lines that were not a reply (including over-long ones).</summary>
    public long NoiseLines { get; private set; }

    /// <summary>Bytes of over-long lines that did not fit the buffer.</summary>
    public long DiscardedBytes { get; private set; }

    /// <summary>Forgets a partial line (e.g. before a new command: stale text must not complete it).</summary>
    public void Reset()
    {
        _length = 0;
        _overflowed = false;
    }

    /// <summary>
    /// Consumes <paramref name="input"/> up to and including the end of the next non-empty line.
    /// Returns the bytes consumed and, if a line ended, its event; call again with the rest.
    /// </summary>
    public int Push(ReadOnlySpan<byte> input, out Rps10Reply? reply)
    {
        reply = null;
        for (int i = 0; i < input.Length; i++)
        {
            byte b = input[i];
            if (b is (byte)'\r' or (byte)'\n')
            {
                if (_length == 0 && !_overflowed)
                    continue;
                reply = Finish();
                return i + 1;
            }
            if (_length < _line.Length)
                _line[_length++] = b;
            else
            {
                _overflowed = true;
                DiscardedBytes++;
            }
        }
        return input.Length;
    }

    private Rps10Reply Finish()
    {
        ReadOnlySpan<byte> line = _line.AsSpan(0, _length);
        bool overflowed = _overflowed;
        Reset();
        Rps10Reply? parsed = overflowed ? null : Parse(line);
        if (parsed is { } reply)
            return reply;
        NoiseLines++;
        string text = Rps10.Escape(line);
        return new Rps10Reply(Rps10ReplyKind.Noise, Text: overflowed ? $"{text}... (longer than {Rps10.MaxLineBytes} bytes)" : text);
    }

    /// <summary>The first token in the line decides; a malformed Plug line is noise.</summary>
    private static Rps10Reply? Parse(ReadOnlySpan<byte> line)
    {
        int plug = line.IndexOf("Plug"u8);
        int complete = line.IndexOf("Complete"u8);
        int ready = line.IndexOf("RPS-10 Ready"u8);
        int first = Min(plug, Min(complete, ready));
        if (first < 0)
            return null;
        if (first == complete)
            return Rps10Reply.Complete;
        if (first == ready)
            return Rps10Reply.Ready;
        return ParsePlug(line[(plug + 4)..]);

        static int Min(int a, int b) => a < 0 ? b : b < 0 ? a : Math.Min(a, b);
    }

    /// <summary>After "Plug": blanks, one digit, blanks, "On" or "Off", then the end or a non-letter.</summary>
    private static Rps10Reply? ParsePlug(ReadOnlySpan<byte> rest)
    {
        int i = SkipBlanks(rest, 0);
        if (i == 0 || i >= rest.Length || rest[i] is < (byte)'0' or > (byte)'9')
            return null;
        char unit = (char)rest[i];
        int j = SkipBlanks(rest, i + 1);
        if (j == i + 1)
            return null;
        rest = rest[j..];
        bool on;
        if (rest.StartsWith("Off"u8))
        {
            on = false;
            rest = rest[3..];
        }
        else if (rest.StartsWith("On"u8))
        {
            on = true;
            rest = rest[2..];
        }
        else
            return null;
        if (!rest.IsEmpty && char.IsAsciiLetter((char)rest[0]))
            return null;
        return Rps10Reply.Plug(unit, on);

        static int SkipBlanks(ReadOnlySpan<byte> s, int k)
        {
            while (k < s.Length && s[k] is (byte)' ' or (byte)'\t')
                k++;
            return k;
        }
    }
}

/// <summary>A command frame as the device received it (device side, for simulators).</summary>
public readonly record struct Rps10Frame(char Address, Rps10Command Command);

/// <summary>
/// Incremental reader of command frames (device side). It keeps only a window that can still
/// become a frame (password, valid address, valid command, CR) and drops the first byte whenever
/// the window stops being one, so a truncated frame followed by a good one loses only the
/// truncated one. Never throws, never grows past <see cref="Rps10.FrameBytes"/>.
/// </summary>
public sealed class Rps10CommandReader
{
    private readonly byte[] _window = new byte[Rps10.FrameBytes];
    private int _length;

    /// <summary>Bytes that were not part of a frame.</summary>
    public long DiscardedBytes { get; private set; }

    public int Push(ReadOnlySpan<byte> input, out Rps10Frame? frame)
    {
        frame = null;
        for (int i = 0; i < input.Length; i++)
        {
            _window[_length++] = input[i];
            while (_length > 0 && !CanBecomeFrame(_window.AsSpan(0, _length)))
            {
                _window.AsSpan(1, _length - 1).CopyTo(_window);
                _length--;
                DiscardedBytes++;
            }
            if (_length == Rps10.FrameBytes)
            {
                _length = 0;
                frame = new Rps10Frame((char)_window[6], (Rps10Command)_window[7]);
                return i + 1;
            }
        }
        return input.Length;
    }

    private static bool CanBecomeFrame(ReadOnlySpan<byte> w)
    {
        ReadOnlySpan<byte> password = Rps10.Password;
        for (int k = 0; k < w.Length; k++)
        {
            bool ok = k switch
            {
                < 6 => w[k] == password[k],
                6 => Rps10.IsAddress((char)w[k]),
                7 => Rps10.IsCommand(w[k]),
                _ => w[k] == Rps10.Cr,
            };
            if (!ok)
                return false;
        }
        return true;
    }
}

/// <summary>How one exchange ended: the result for the caller, and whether the line is still in
/// step with the device (a "Complete" was seen) or the session must be rebuilt.</summary>
public readonly record struct Rps10Verdict(FenceResult Result, bool SessionLost);

/// <summary>
/// One command's exchange with the device, as a pure state machine: the edge sends
/// <see cref="Frame"/>, then feeds every reply line with the current monotonic time, and calls
/// <see cref="OnTimeout"/> if <see cref="Deadline"/> passes first. It checks the acknowledgement
/// (the right unit, the right state, then "Complete") but does not verify the power: the fencing
/// controller does that with a status read after off. Reasons name the command and the outlet;
/// the edge adds the device.
/// </summary>
public sealed class Rps10Exchange
{
    /// <summary>Unreadable lines in a row after which the line is judged garbage and the session dropped.</summary>
    public const int GarbageStreakMax = 8;

    private readonly Rps10Timing _timing;
    private readonly List<Rps10Reply> _plugs = new(Rps10.MaxUnits);
    private int _noiseStreak;
    private string? _lastNoise;

    public Rps10Exchange(char outlet, Rps10Command command, Rps10Timing timing, TimeSpan now)
    {
        Frame = Rps10.Frame(outlet, command);
        Outlet = outlet;
        Command = command;
        _timing = timing;
        Deadline = now + timing.ReplyTimeout;
    }

    public char Outlet { get; }

    public Rps10Command Command { get; }

    public byte[] Frame { get; }

    /// <summary>When to give up waiting for the next line; moves with every meaningful line, not with noise.</summary>
    public TimeSpan Deadline { get; private set; }

    private string What => $"{Rps10.Describe(Command)} of outlet {Outlet}";

    /// <summary>Takes one reply; returns the verdict once the exchange is over, else null.</summary>
    public Rps10Verdict? OnReply(Rps10Reply reply, TimeSpan now)
    {
        switch (reply.Kind)
        {
            case Rps10ReplyKind.Noise:
                _lastNoise = reply.Text;
                if (++_noiseStreak < GarbageStreakMax)
                    return null;
                return new(FenceResult.Error($"{GarbageStreakMax} unreadable lines in a row during {What} (last: '{_lastNoise}')"), SessionLost: true);
            case Rps10ReplyKind.Ready:
                // Unprompted banners arrive periodically through socat setups; they answer nothing.
                _noiseStreak = 0;
                return null;
            case Rps10ReplyKind.Plug:
                _noiseStreak = 0;
                if (_plugs.Count == Rps10.MaxUnits)
                    return new(FenceResult.Error($"more than {Rps10.MaxUnits} Plug lines for {What}"), SessionLost: true);
                _plugs.Add(reply);
                bool toggleOffSeen = Command == Rps10Command.Toggle && reply.Power == PowerState.Off;
                Deadline = now + (toggleOffSeen ? _timing.ToggleTimeout : _timing.ReplyTimeout);
                return null;
            default:
                return new(Judge(), SessionLost: false);
        }
    }

    /// <summary>The deadline passed without "Complete": the device is gone or out of step.</summary>
    public Rps10Verdict OnTimeout()
    {
        string heard = _plugs.Count == 0
            ? _lastNoise is null ? "no answer" : $"no reply, only noise (last: '{_lastNoise}')"
            : $"'{string.Join("', '", _plugs)}' but no Complete";
        TimeSpan waited = Command == Rps10Command.Toggle && _plugs.Count > 0 ? _timing.ToggleTimeout : _timing.ReplyTimeout;
        return new(FenceResult.Timeout($"{heard} to {What} within {waited.TotalSeconds:0.###} s"), SessionLost: true);
    }

    private FenceResult Judge()
    {
        if (_plugs.Count == 0)
            return FenceResult.Error($"Complete without a Plug line for {What}");
        foreach (Rps10Reply p in _plugs)
        {
            if (Outlet != Rps10.AllOutlets && p.Unit != Outlet)
                return FenceResult.Error($"answered '{p}' to {What}: wrong outlet");
        }
        switch (Command)
        {
            case Rps10Command.Off or Rps10Command.On:
                PowerState want = Command == Rps10Command.On ? PowerState.On : PowerState.Off;
                foreach (Rps10Reply p in _plugs)
                {
                    if (p.Power != want)
                        return FenceResult.Error($"answered '{p}' to {What}: wrong state");
                }
                return FenceResult.Done(want, $"acknowledged '{string.Join("', '", _plugs)}'");
            case Rps10Command.Status:
                // For '*' the target has power while any unit has.
                PowerState power = _plugs.Any(p => p.Power == PowerState.On) ? PowerState.On : PowerState.Off;
                return FenceResult.Done(power, $"reported '{string.Join("', '", _plugs)}'");
            default:
                if (_plugs[0].Power != PowerState.Off)
                    return FenceResult.Error($"answered '{_plugs[0]}' first to {What}: a toggle starts with Off");
                PowerState after = _plugs.Count > 1 ? _plugs[^1].Power : PowerState.Unknown;
                return FenceResult.Done(after, $"acknowledged '{string.Join("', '", _plugs)}'");
        }
    }
}
