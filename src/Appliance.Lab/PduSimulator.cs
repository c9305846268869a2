using System.Runtime.InteropServices;
using System.Text;
using Appliance.Core.Config;
using Appliance.Core.Fencing;
using Appliance.Linux;
using Appliance.Linux.Serial;

namespace Appliance.Lab;

/// <summary>
/// <c>appliance-lab pdusim</c>: a WTI RPS-10 power switch (serial-pdu.md section 3.3) on a pty of
/// its own, for cluster-glue's <c>stonith -t rps10</c> and our serial-pdu driver. A pty carries no
/// DTR, so the simulator watches the speed the client sets on the slave: B0 is DTR low, and
/// "RPS-10 Ready" follows 200 ms after it rises (3.6). Faults come from a file that is read every
/// loop, so a test can change them while both ends run.
/// </summary>
internal sealed class PduSimulator
{
    public const string Summary = "a WTI RPS-10 serial power switch on a pty, with faults (stonith -t rps10, serial-pdu)";

    private const string Help = """
        usage: appliance-lab pdusim --link PATH --state FILE [--fault-file FILE] [--units N]
                                    [--toggle-off DURATION] [--ready-every DURATION]
          --link PATH             symlink to the device (the pty slave); replaced atomically, removed at exit
          --state FILE            outlet states, one "<outlet> on|off" line each; rewritten atomically at start and on every change
          --fault-file FILE       one word, read every loop: none | silent | slow | garbage | liar (absent or empty: none)
          --units N               units '0' to N-1, 1 to 10 (default 10); all start on
          --toggle-off DURATION   off-time of a toggle 'T' (default 2s)
          --ready-every DURATION  also send "RPS-10 Ready" whenever idle this long (through socat, DTR is invisible)
        Faults: silent = reads and discards everything, answers nothing; slow = every line 3s late;
        garbage = every line replaced by noise, and noise between commands; liar = acknowledges off/on
        but does not switch ('?' tells the truth).
        Logs every frame received and every line sent to stderr. SIGTERM/SIGINT: remove the link, exit 0.
        """;

    /// <summary>Loop period: how often the slave's speed is read to see DTR (the reference simulator polls every ~50 ms; our shortest drop is 200 ms).</summary>
    private static readonly TimeSpan LoopPeriod = TimeSpan.FromMilliseconds(50);

    /// <summary>From DTR rising to "RPS-10 Ready" (serial-pdu.md 3.6; the real device: 5-10 s, which cluster-glue's 12 s wait covers).</summary>
    private static readonly TimeSpan ReadyDelay = TimeSpan.FromMilliseconds(200);

    /// <summary>Fault "slow": each line this late, longer than the driver's 2 s reply timeout.</summary>
    private static readonly TimeSpan SlowDelay = TimeSpan.FromSeconds(3);

    /// <summary>Fault "garbage": a burst of noise this often between commands.</summary>
    private static readonly TimeSpan NoiseEvery = TimeSpan.FromMilliseconds(300);

    private const int NoiseBytesMax = 40;

    /// <summary>Lines waiting to be sent: a toggle of every unit is 21; a client flooding commands beyond that loses replies.</summary>
    private const int OutboxMax = 256;

    private const int ReadChunkBytes = 1024;

    /// <summary>The RPS-10's only speed; a pty ignores it, but the slave starts as a real port would.</summary>
    private const int SerialPduBaud = 9600;

    /// <summary>The noise alphabet: every 7-bit byte but the first letters of "Plug", "Complete" and "RPS-10 Ready", so noise never forms a token.</summary>
    private static readonly byte[] NoiseAlphabet = Enumerable.Range(0, 0x80).Select(b => (byte)b).Where(b => b is not ((byte)'P' or (byte)'C' or (byte)'R')).ToArray();

    private enum Fault { None, Silent, Slow, Garbage, Liar }

    /// <summary>A line to send at <paramref name="Due"/>; its text is made then (a status reports the state at that moment) and <paramref name="Effect"/> switches an outlet.</summary>
    private sealed record Line(TimeSpan Due, Func<string> Text, Action? Effect);

    private readonly string _link;
    private readonly string _stateFile;
    private readonly string? _faultFile;
    private readonly bool[] _on;
    private readonly TimeSpan _toggleOff;
    private readonly TimeSpan? _readyEvery;
    private readonly Queue<Line> _outbox = new();
    private readonly List<Line> _switching = new();
    private readonly Rps10CommandReader _frames = new();
    private readonly Random _random = new();
    private PseudoTerminal _pty = null!;
    private Fault _fault;
    private string _faultWord = "none";
    private TimeSpan _lastDue;
    private TimeSpan _lastTx;
    private TimeSpan _nextNoise;
    private volatile bool _stop;

    private PduSimulator(string link, string stateFile, string? faultFile, int units, TimeSpan toggleOff, TimeSpan? readyEvery)
    {
        _link = link;
        _stateFile = stateFile;
        _faultFile = faultFile;
        _on = Enumerable.Repeat(true, units).ToArray();
        _toggleOff = toggleOff;
        _readyEvery = readyEvery;
    }

    private static TimeSpan Now => TimeSpan.FromMilliseconds(Environment.TickCount64);

    public static int Command(string[] args)
    {
        if (args is ["--help" or "-h"])
        {
            Console.Out.Write(Help);
            return 0;
        }
        if (Parse(args, out string error) is not { } sim)
        {
            Console.Error.WriteLine($"pdusim: {error}");
            Console.Error.Write(Help);
            return 2;
        }
        try
        {
            return sim.Run();
        }
        catch (NativeIoException e)
        {
            Console.Error.WriteLine($"pdusim: {e.Message}");
            return 1;
        }
    }

    private static PduSimulator? Parse(string[] args, out string error)
    {
        string? link = null, state = null, fault = null;
        int units = Rps10.MaxUnits;
        TimeSpan toggleOff = TimeSpan.FromSeconds(2);
        TimeSpan? readyEvery = null;
        for (int i = 0; i < args.Length; i++)
        {
            string option = args[i];
            if (i + 1 >= args.Length)
            {
                error = $"{option}: missing value";
                return null;
            }
            string value = args[++i];
            switch (option)
            {
                case "--link": link = Path.GetFullPath(value); break;
                case "--state": state = Path.GetFullPath(value); break;
                case "--fault-file": fault = Path.GetFullPath(value); break;
                case "--units" when int.TryParse(value, out units) && units is >= 1 and <= Rps10.MaxUnits: break;
                case "--units":
                    error = $"--units: expected 1 to {Rps10.MaxUnits}, got '{value}'";
                    return null;
                case "--toggle-off" or "--ready-every":
                    if (!Duration.TryParse(value, out TimeSpan d, out string why) || d <= TimeSpan.Zero)
                    {
                        error = $"{option}: {(why.Length > 0 ? why : "must be positive")}";
                        return null;
                    }
                    if (option == "--toggle-off")
                        toggleOff = d;
                    else
                        readyEvery = d;
                    break;
                default:
                    error = $"unknown option {option}";
                    return null;
            }
        }
        if (link is null || state is null)
        {
            error = "--link and --state are required";
            return null;
        }
        error = "";
        return new PduSimulator(link, state, fault, units, toggleOff, readyEvery);
    }

    private int Run()
    {
        using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using PosixSignalRegistration intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using PseudoTerminal pty = PseudoTerminal.Open(SerialPduBaud);
        using var poller = new Poller(capacity: 1);
        _pty = pty;
        WriteState();
        string tmpLink = $"{_link}.{Environment.ProcessId}.tmp";
        File.Delete(tmpLink);
        File.CreateSymbolicLink(tmpLink, pty.SlavePath);
        File.Move(tmpLink, _link, overwrite: true); // rename(2): a stale link from a killed run is replaced at once
        Log($"RPS-10 with {_on.Length} units at {_link} -> {pty.SlavePath}; toggle off-time {Duration.Format(_toggleOff)}"
            + (_readyEvery is { } e ? $", Ready every {Duration.Format(e)} when idle" : ""));

        var rx = new byte[ReadChunkBytes];
        bool dtrLow = pty.SlaveHungUp();
        try
        {
            while (!_stop)
            {
                TimeSpan now = Now;
                ReadFault();
                TimeSpan wait = _outbox.TryPeek(out Line? next) && next.Due - now < LoopPeriod ? next.Due - now : LoopPeriod;
                poller.Clear();
                int master = poller.Add(pty.Master.Fd);
                poller.Wait(Math.Max(0, (int)Math.Ceiling(wait.TotalMilliseconds)));
                if (poller.IsReady(master))
                    Receive(rx);

                bool low = pty.SlaveHungUp();
                if (low != dtrLow)
                {
                    dtrLow = low;
                    Log(low ? "DTR dropped (client set speed B0)" : "DTR raised (speed restored)");
                    if (low)
                        ResetSession();
                    else
                        Enqueue(() => Rps10.ReadyText + Rps10.LineEnd, null, ReadyDelay);
                }
                now = Now;
                if (_readyEvery is { } every && _outbox.Count == 0 && now - _lastTx >= every)
                    Enqueue(() => Rps10.ReadyText + Rps10.LineEnd, null);
                if (_fault == Fault.Garbage && now >= _nextNoise)
                {
                    _nextNoise = now + NoiseEvery;
                    Transmit(Noise(_random.Next(1, NoiseBytesMax)), "noise");
                }
                while (_outbox.TryPeek(out Line? line) && line.Due <= Now)
                {
                    _outbox.Dequeue();
                    line.Effect?.Invoke();
                    Send(line.Text());
                }
                _switching.RemoveAll(line =>
                {
                    if (line.Due > Now)
                        return false;
                    line.Effect!.Invoke();
                    return true;
                });
            }
        }
        finally
        {
            if (new FileInfo(_link).LinkTarget == pty.SlavePath)
                File.Delete(_link);
            Log("stopped");
        }
        return 0;
    }

    private void Stop(PosixSignalContext context)
    {
        context.Cancel = true;
        _stop = true;
    }

    private void Receive(byte[] rx)
    {
        int n = _pty.Master.Read(rx);
        if (n <= 0)
        {
            if (n == SerialPort.DeviceGone)
                Log($"read: device gone (errno {_pty.Master.LastErrno})");
            return;
        }
        if (_fault == Fault.Silent)
        {
            Log($"silent: discarded {n} bytes");
            return;
        }
        long discarded = _frames.DiscardedBytes;
        ReadOnlySpan<byte> input = rx.AsSpan(0, n);
        while (!input.IsEmpty)
        {
            int used = _frames.Push(input, out Rps10Frame? frame);
            if (frame is { } f)
            {
                Log($"RX {Rps10.Escape(Rps10.Frame(f.Address, f.Command))}: {Rps10.Describe(f.Command)} outlet {f.Address}");
                Execute(f);
            }
            input = input[used..];
        }
        if (_frames.DiscardedBytes > discarded)
            Log($"RX {_frames.DiscardedBytes - discarded} bytes outside frames");
    }

    private void Execute(Rps10Frame frame)
    {
        int[] units = frame.Address == Rps10.AllOutlets
            ? Enumerable.Range(0, _on.Length).ToArray()
            : frame.Address - '0' < _on.Length ? [frame.Address - '0'] : [];
        bool liar = _fault == Fault.Liar;
        switch (frame.Command)
        {
            case Rps10Command.Off or Rps10Command.On:
                bool on = frame.Command == Rps10Command.On;
                foreach (int u in units)
                    Enqueue(() => Rps10.PlugLine(Unit(u), on), liar ? null : () => Switch(u, on));
                break;
            case Rps10Command.Toggle:
                foreach (int u in units)
                    Enqueue(() => Rps10.PlugLine(Unit(u), false), liar ? null : () => Switch(u, false));
                for (int i = 0; i < units.Length; i++)
                {
                    int u = units[i];
                    Enqueue(() => Rps10.PlugLine(Unit(u), true), liar ? null : () => Switch(u, true), i == 0 ? _toggleOff : TimeSpan.Zero);
                }
                break;
            default:
                foreach (int u in units)
                    Enqueue(() => Rps10.PlugLine(Unit(u), _on[u]), null);
                break;
        }
        Enqueue(() => Rps10.CompleteText + Rps10.LineEnd, null);
    }

    /// <summary>
    /// DTR low resets the device's session: what it had still to say is dropped, so the "Ready"
    /// after the rise comes at once; outlets still switch when they were due (a toggle in
    /// progress completes).
    /// </summary>
    private void ResetSession()
    {
        if (_outbox.Count > 0)
            Log($"session reset: {_outbox.Count} unsent lines dropped");
        _switching.AddRange(_outbox.Where(line => line.Effect is not null));
        _outbox.Clear();
        _lastDue = Now;
    }

    private static char Unit(int u) => (char)('0' + u);

    private void Switch(int unit, bool on)
    {
        if (_on[unit] == on)
            return;
        _on[unit] = on;
        Log($"outlet {Unit(unit)} {(on ? "on" : "off")}");
        WriteState();
    }

    /// <summary>Queues a line after the ones already queued, as the device answers in order.</summary>
    private void Enqueue(Func<string> text, Action? effect, TimeSpan delay = default)
    {
        if (_outbox.Count >= OutboxMax)
        {
            Log("outbox full: line dropped");
            return;
        }
        TimeSpan now = Now;
        TimeSpan due = (_lastDue > now ? _lastDue : now) + delay + (_fault == Fault.Slow ? SlowDelay : TimeSpan.Zero);
        _lastDue = due;
        _outbox.Enqueue(new Line(due, text, effect));
    }

    private void Send(string text)
    {
        switch (_fault)
        {
            case Fault.Silent:
                Log($"silent: not sending '{Rps10.Escape(Encoding.ASCII.GetBytes(text))}'");
                return;
            case Fault.Garbage:
                byte[] noise = Noise(_random.Next(4, 30));
                Transmit([.. noise, (byte)'\r', (byte)'\n'], $"garbage instead of '{Rps10.Escape(Encoding.ASCII.GetBytes(text))}'");
                return;
            default:
                Transmit(Encoding.ASCII.GetBytes(text), null);
                return;
        }
    }

    private void Transmit(byte[] bytes, string? note)
    {
        _lastTx = Now;
        int n = _pty.Master.Write(bytes);
        string sent = n == bytes.Length ? "" : n == SerialPort.DeviceGone ? " (device gone)" : $" (only {n} of {bytes.Length} bytes: nobody reads)";
        Log($"TX '{Rps10.Escape(bytes)}'{(note is null ? "" : $" [{note}]")}{sent}");
    }

    private byte[] Noise(int length)
    {
        var noise = new byte[length];
        for (int i = 0; i < length; i++)
            noise[i] = NoiseAlphabet[_random.Next(NoiseAlphabet.Length)];
        return noise;
    }

    private void ReadFault()
    {
        string word;
        try
        {
            word = _faultFile is null ? "" : File.ReadAllText(_faultFile).Trim().ToLowerInvariant();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            word = "";
        }
        if (word.Length == 0)
            word = "none";
        if (word == _faultWord)
            return;
        _faultWord = word;
        _fault = word switch
        {
            "silent" => Fault.Silent,
            "slow" => Fault.Slow,
            "garbage" => Fault.Garbage,
            "liar" => Fault.Liar,
            _ => Fault.None,
        };
        Log(_fault == Fault.None && word != "none" ? $"fault '{word}' unknown: none" : $"fault: {word}");
    }

    /// <summary>All outlets, "0 on" per line, written to a temporary file and renamed over the old one: readers never see half a file.</summary>
    private void WriteState()
    {
        var text = new StringBuilder();
        for (int u = 0; u < _on.Length; u++)
            text.Append(Unit(u)).Append(_on[u] ? " on\n" : " off\n");
        string tmp = $"{_stateFile}.{Environment.ProcessId}.tmp";
        File.WriteAllText(tmp, text.ToString());
        File.Move(tmp, _stateFile, overwrite: true);
    }

    private static void Log(string message) =>
        Console.Error.WriteLine($"[pdusim {DateTime.Now:HH:mm:ss.fff}] {message}");
}
