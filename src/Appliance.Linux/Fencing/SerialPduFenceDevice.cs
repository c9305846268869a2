using System.Collections.Frozen;
using Appliance.Core.Fencing;
using Appliance.Linux.Serial;

namespace Appliance.Linux.Fencing;

/// <summary>
/// A WTI RPS-10 power switch on a serial line (<c>serial-pdu</c>), speaking the protocol of
/// <see cref="Rps10"/>. Unlike cluster-glue, which opens the port and redoes the 2 s DTR
/// handshake for every action, this keeps one session open and watched: open 9600 8N1 raw, drop
/// DTR (speed B0) for <see cref="Rps10Timing.DtrDrop"/>, wait for "RPS-10 Ready", then hold the
/// port. A '?' every <see cref="Rps10Timing.MonitorInterval"/> of idle time doubles as the device
/// monitor (<see cref="Health"/>), and a fence costs one command round trip. A timeout, a
/// vanished device or a garbage streak drops the session; the next request (or the retry timer)
/// builds a new one.
/// </summary>
/// <remarks>
/// One thread per device owns the port and does everything in order, so the monitor never
/// interleaves with a fence. Callers queue requests; a cancelled caller gets
/// <see cref="FenceOutcome.Timeout"/> at once, while the thread still finishes the exchange on the
/// line (bounded by the reply timeouts) to stay in step with the device. The driver reports what
/// the device acknowledged; verifying the power is the controller's job. While the session is
/// open it holds the UUCP lock of the port, so cluster-glue's <c>stonith -t rps10</c> on the same
/// port fails at once instead of garbling our exchanges.
/// </remarks>
public sealed class SerialPduFenceDevice : IFenceDevice, IDisposable
{
    public const string KindName = "serial-pdu";

    /// <summary>Where cluster-glue (and minicom, ...) put UUCP lock files on Debian (a link to /run/lock).</summary>
    public const string DefaultLockDirectory = UucpLock.DefaultDirectory;

    /// <summary>The RPS-10's only line speed (8N1, no flow control).</summary>
    public const int Baud = 9600;

    /// <summary>Requests waiting for the line. A two-node cluster has a fence and a status or two in flight; more is a runaway caller.</summary>
    public const int MaxPendingRequests = 16;

    /// <summary>Bytes per read(2): at 9600 baud about 1 s of the line; more just waits for the next read.</summary>
    private const int ReadChunkBytes = 1024;

    /// <summary>Pause between attempts when the tty's output queue is full (a UART drains 9 bytes in ~10 ms).</summary>
    private const int WriteRetryMs = 10;

    /// <summary>How long Dispose waits for the session thread, which wakes within one poll.</summary>
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    private readonly FrozenDictionary<string, char> _outlets;
    private readonly char _monitorOutlet;
    private readonly string? _lockDirectory;
    private readonly object _gate = new();
    private readonly Queue<Request> _queue = new();
    private readonly Poller _poller = new(capacity: 1);
    private Thread? _thread;
    private volatile bool _stopping;

    // Owned by the session thread.
    private readonly Rps10ReplyReader _reader = new();
    private readonly byte[] _rx = new byte[ReadChunkBytes];
    private int _rxStart, _rxEnd;
    private SerialPort? _port;
    private UucpLock? _lock;
    private TimeSpan _nextRetry;
    private Request? _current;

    // Snapshot for other threads, under _gate.
    private SessionState _state = SessionState.NotStarted;
    private string _stateDetail = "";
    private TimeSpan _lastCheck;
    private long _handshakes;
    private long _noiseLines;

    /// <param name="name">The device's name in the config.</param>
    /// <param name="device">The tty path (absolute: cluster-glue's lock name skips its first 5 characters).</param>
    /// <param name="outlets">Node name (case-insensitive, as cluster-glue) to outlet: '0'-'9', '*' or 'A' (all).</param>
    /// <param name="timing">The protocol waits; <see cref="Rps10Timing.Default"/> when null.</param>
    /// <param name="lockDirectory">Where the UUCP lock goes; null: no lock (then nothing keeps cluster-glue off the port).</param>
    public SerialPduFenceDevice(string name, string device, IReadOnlyDictionary<string, char> outlets,
        Rps10Timing? timing = null, string? lockDirectory = DefaultLockDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(device);
        ArgumentNullException.ThrowIfNull(outlets);
        if (outlets.Count == 0)
            throw new ArgumentException("a PDU needs at least one node -> outlet entry", nameof(outlets));
        var map = new Dictionary<string, char>(StringComparer.OrdinalIgnoreCase);
        foreach ((string node, char spelled) in outlets)
        {
            if (!Rps10.TryParseOutlet(spelled, out char outlet))
                throw new ArgumentException($"outlet '{spelled}' of node {node}: an RPS-10 outlet is '0'-'9', '*' or 'A'", nameof(outlets));
            map.Add(node, outlet);
        }
        Name = name;
        Device = device;
        Timing = timing ?? Rps10Timing.Default;
        Timing.Validate();
        _outlets = map.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        // The lowest unit the config names answers with one line; '*' only if that is all we have.
        _monitorOutlet = map.Values.Where(c => c != Rps10.AllOutlets).DefaultIfEmpty(Rps10.AllOutlets).Min();
        _lockDirectory = lockDirectory;
    }

    private enum SessionState { NotStarted, Connecting, Up, Lost, Stopped }

    private enum Wait { Reply, TimedOut, Woken, Gone, Stopping }

    public string Name { get; }

    public string Kind => KindName;

    /// <summary>The RPS-10 toggles itself ('T': off, its delay, on).</summary>
    public bool CanReboot => true;

    public string Device { get; }

    public Rps10Timing Timing { get; }

    /// <summary>The outlet whose '?' is the periodic session check.</summary>
    public char MonitorOutlet => _monitorOutlet;

    /// <summary>A handshake succeeded and nothing since has broken the session.</summary>
    public bool SessionUp
    {
        get { lock (_gate) return _state == SessionState.Up; }
    }

    /// <summary>Handshakes begun (DTR drops); stays at 1 while the session holds.</summary>
    public long Handshakes
    {
        get { lock (_gate) return _handshakes; }
    }

    /// <summary>Unreadable reply lines seen so far.</summary>
    public long NoiseLines => Interlocked.Read(ref _noiseLines);

    /// <summary>One line for status: "session up, last check 1.2 s ago", "session lost: no answer ...".</summary>
    public string Health
    {
        get
        {
            lock (_gate)
            {
                return _state switch
                {
                    SessionState.NotStarted => "not started",
                    SessionState.Connecting => $"connecting: {_stateDetail}",
                    SessionState.Up => $"session up, last check {(Now - _lastCheck).TotalSeconds:0.0} s ago",
                    SessionState.Lost => $"session lost: {_stateDetail}",
                    _ => "stopped",
                };
            }
        }
    }

    /// <summary>Raised on the session thread when the session comes up, is lost or stops, with the new <see cref="Health"/>. Handlers must not block.</summary>
    public event Action<string>? HealthChanged;

    private static TimeSpan Now => TimeSpan.FromMilliseconds(Environment.TickCount64);

    /// <summary>Starts the session thread (idempotent; <see cref="RunAsync"/> starts it too).</summary>
    public void Start()
    {
        lock (_gate)
        {
            if (_thread is not null || _stopping)
                return;
            _thread = new Thread(SessionLoop) { Name = $"pdu {Name}", IsBackground = true };
            _thread.Start();
        }
    }

    public async Task<FenceResult> RunAsync(FenceAction action, string target, CancellationToken ct)
    {
        if (!_outlets.TryGetValue(target, out char outlet))
            return FenceResult.HardError(Say($"pdu has no outlet for node {target}"));
        Rps10Command command = action switch
        {
            FenceAction.Off => Rps10Command.Off,
            FenceAction.On => Rps10Command.On,
            FenceAction.Status => Rps10Command.Status,
            FenceAction.Reboot => Rps10Command.Toggle,
            _ => throw new ArgumentOutOfRangeException(nameof(action), action, null),
        };
        string what = $"{Rps10.Describe(command)} of {target} (outlet {outlet})";
        if (ct.IsCancellationRequested)
            return FenceResult.Timeout(Say($"{what} cancelled before it started"));

        var request = new Request(command, outlet, Now);
        lock (_gate)
        {
            if (_stopping)
                return FenceResult.Error(Say("the driver is shutting down"));
            if (_queue.Count >= MaxPendingRequests)
                return FenceResult.Error(Say($"busy: {_queue.Count} requests already wait for the line"));
            _queue.Enqueue(request);
        }
        Start();
        try
        {
            _poller.Wake();
        }
        catch (ObjectDisposedException)
        {
            // Disposed meanwhile: the shutdown has failed the queue, this request included.
        }
        using CancellationTokenRegistration cancel = ct.Register(() => request.Complete(FenceResult.Timeout(
            Say($"{what} cancelled by the caller after {(Now - request.QueuedAt).TotalSeconds:0.0} s ({Health})"))));
        return await request.Result.ConfigureAwait(false);
    }

    public void Dispose()
    {
        Thread? thread;
        lock (_gate)
        {
            if (_stopping)
                return;
            _stopping = true;
            thread = _thread;
        }
        if (thread is null)
            Stopped(); // never started: only a request that raced us can be queued
        else
        {
            _poller.Wake();
            if (!thread.Join(StopTimeout))
                return; // the thread still uses the poller; it closes the session itself when it gets there
        }
        _poller.Dispose();
    }

    /// <summary>Last act of the session thread (or of Dispose if it never ran): close, fail what waits, say so.</summary>
    private void Stopped()
    {
        CloseSession();
        FailQueued(FenceResult.Error(Say("the driver is shutting down")), before: TimeSpan.MaxValue);
        SetState(SessionState.Stopped, "");
    }

    private string Say(string reason) => $"{Name} ({Device}): {reason}";

    private void SessionLoop()
    {
        while (!_stopping)
        {
            try
            {
                if (_port is null)
                    Reconnect();
                else if (Dequeue() is { } request)
                    Execute(request);
                else if (Now >= LastCheck + Timing.MonitorInterval)
                    RunMonitor();
                else
                    Idle(LastCheck + Timing.MonitorInterval);
            }
            catch (NativeIoException e)
            {
                // An errno SerialPort does not expect: still a broken device, not a reason to die.
                Lose(e.Message);
                _current?.Complete(FenceResult.Error(Say(e.Message)));
            }
            _current = null;
        }
        Stopped();
    }

    private TimeSpan LastCheck
    {
        get { lock (_gate) return _lastCheck; }
    }

    /// <summary>No session: build one when a request waits or the retry time came; else sleep until then (a request wakes us).</summary>
    private void Reconnect()
    {
        TimeSpan now = Now;
        if (!RequestWaiting && now < _nextRetry)
        {
            Pause(_nextRetry - now, wakeable: true);
            return;
        }
        if (Handshake() is { } failure)
        {
            // Requests older than this attempt had their chance; newer ones get a fresh handshake.
            FailQueued(failure, before: now);
            _nextRetry = Now + Timing.RetryInterval;
        }
    }

    /// <summary>Lock, open, DTR low for DtrDrop, DTR high, "RPS-10 Ready". Returns null when the session is up.</summary>
    private FenceResult? Handshake()
    {
        lock (_gate)
            _handshakes++;
        SetState(SessionState.Connecting, "opening");
        if (_lockDirectory is not null)
        {
            _lock = UucpLock.TryAcquire(_lockDirectory, Device, out string why);
            if (_lock is null)
                return Lose(why, FenceResult.Error);
        }
        try
        {
            _port = SerialPort.Open(Device, Baud);
            SetState(SessionState.Connecting, "DTR low");
            _port.SetHangup(true);
            Pause(Timing.DtrDrop, wakeable: false);
            if (_stopping)
                return Lose("stopped", FenceResult.Error);
            _port.SetHangup(false);
        }
        catch (NativeIoException e)
        {
            return Lose(e.Message, FenceResult.Error);
        }
        // Whatever came before DTR rose is not the answer to this handshake.
        if (!Discard())
            return Lose($"device gone during the DTR drop ({ErrnoText()})", FenceResult.Error);

        SetState(SessionState.Connecting, $"waiting for {Rps10.ReadyText}");
        long noiseBefore = _reader.NoiseLines;
        TimeSpan deadline = Now + Timing.ReadyTimeout;
        while (true)
        {
            switch (Next(deadline, wakeable: false, out Rps10Reply reply))
            {
                case Wait.Reply when reply.Kind == Rps10ReplyKind.Ready:
                    lock (_gate)
                        _lastCheck = Now;
                    SetState(SessionState.Up, "");
                    return null;
                case Wait.Reply:
                    continue;
                case Wait.TimedOut:
                    long noise = _reader.NoiseLines - noiseBefore;
                    return Lose($"no {Rps10.ReadyText} within {Timing.ReadyTimeout.TotalSeconds:0.###} s after the DTR drop"
                        + (noise > 0 ? $" ({noise} unreadable lines)" : ""), FenceResult.Timeout);
                case Wait.Gone:
                    return Lose($"device gone while waiting for {Rps10.ReadyText} ({ErrnoText()})", FenceResult.Error);
                default:
                    return Lose("stopped", FenceResult.Error);
            }
        }
    }

    private void Execute(Request request)
    {
        if (request.Result.IsCompleted)
            return; // cancelled while it waited
        _current = request;
        Rps10Verdict verdict = Exchange(request.Outlet, request.Command);
        request.Complete(verdict.Result with { Reason = Say(verdict.Result.Reason) });
    }

    private void RunMonitor()
    {
        Rps10Verdict verdict = Exchange(_monitorOutlet, Rps10Command.Status);
        if (!verdict.Result.Ok && _port is not null)
            Lose($"check failed: {verdict.Result.Reason}"); // answered, but not as it must: rebuild anyway
    }

    /// <summary>One command round trip. A verdict that loses the session closes it; a complete one counts as a check.</summary>
    private Rps10Verdict Exchange(char outlet, Rps10Command command)
    {
        if (!Discard())
            return Lost($"device gone ({ErrnoText()})");
        var exchange = new Rps10Exchange(outlet, command, Timing, Now);
        if (!WriteAll(exchange.Frame, exchange.Deadline))
            return Lost($"could not send {Rps10.Describe(command)} ({ErrnoText()})");
        while (true)
        {
            Rps10Verdict? verdict = Next(exchange.Deadline, wakeable: false, out Rps10Reply reply) switch
            {
                Wait.Reply => exchange.OnReply(reply, Now),
                Wait.TimedOut => exchange.OnTimeout(),
                Wait.Gone => new(FenceResult.Error($"device gone during {Rps10.Describe(command)} of outlet {outlet} ({ErrnoText()})"), SessionLost: true),
                _ => new(FenceResult.Error("the driver is shutting down"), SessionLost: true),
            };
            if (verdict is not { } v)
                continue;
            if (v.SessionLost)
                Lose(v.Result.Reason);
            else
            {
                lock (_gate)
                    _lastCheck = Now;
            }
            return v;
        }

        Rps10Verdict Lost(string reason)
        {
            Lose(reason);
            return new(FenceResult.Error(reason), SessionLost: true);
        }
    }

    /// <summary>Reads while idle (unprompted banners, noise) until <paramref name="until"/> or a request arrives.</summary>
    private void Idle(TimeSpan until)
    {
        while (true)
        {
            switch (Next(until, wakeable: true, out _))
            {
                case Wait.Reply:
                    continue;
                case Wait.Gone:
                    Lose($"device gone ({ErrnoText()})");
                    return;
                default:
                    return;
            }
        }
    }

    /// <summary>The next reply line, from what is buffered or from the port, waiting until <paramref name="deadline"/>.</summary>
    private Wait Next(TimeSpan deadline, bool wakeable, out Rps10Reply reply)
    {
        while (true)
        {
            while (_rxStart < _rxEnd)
            {
                _rxStart += _reader.Push(_rx.AsSpan(_rxStart, _rxEnd - _rxStart), out Rps10Reply? line);
                if (line is { } l)
                {
                    if (l.Kind == Rps10ReplyKind.Noise)
                        Interlocked.Increment(ref _noiseLines);
                    reply = l;
                    return Wait.Reply;
                }
            }
            reply = default;
            if (_stopping)
                return Wait.Stopping;
            // A wake-up may have been used up by a poll that also had input: look at the queue itself.
            if (wakeable && RequestWaiting)
                return Wait.Woken;
            TimeSpan left = deadline - Now;
            if (left <= TimeSpan.Zero)
                return Wait.TimedOut;
            _poller.Clear();
            int port = _poller.Add(_port!.Fd);
            _poller.Wait((int)Math.Ceiling(left.TotalMilliseconds));
            if (!_poller.IsReady(port))
            {
                if (wakeable)
                    return Wait.Woken;
                continue;
            }
            int n = _port.Read(_rx);
            if (n == SerialPort.DeviceGone)
                return Wait.Gone;
            _rxStart = 0;
            _rxEnd = n;
        }
    }

    /// <summary>Drops whatever is buffered or waiting on the port; false if the device is gone.</summary>
    private bool Discard()
    {
        _reader.Reset();
        _rxStart = _rxEnd = 0;
        while (true)
        {
            int n = _port!.Read(_rx);
            if (n == SerialPort.DeviceGone)
                return false;
            if (n == 0)
                return true;
        }
    }

    private bool WriteAll(ReadOnlySpan<byte> data, TimeSpan deadline)
    {
        while (!data.IsEmpty)
        {
            int n = _port!.Write(data);
            if (n == SerialPort.DeviceGone)
                return false;
            data = data[n..];
            if (n == 0)
            {
                if (Now >= deadline || _stopping)
                    return false;
                Pause(TimeSpan.FromMilliseconds(WriteRetryMs), wakeable: false);
            }
        }
        return true;
    }

    /// <summary>Sleeps on the poller: Dispose always cuts it short; a new request does if <paramref name="wakeable"/>.</summary>
    private void Pause(TimeSpan duration, bool wakeable)
    {
        TimeSpan until = Now + duration;
        while (!_stopping)
        {
            TimeSpan left = until - Now;
            if (left <= TimeSpan.Zero)
                return;
            _poller.Clear();
            if (_poller.Wait((int)Math.Ceiling(left.TotalMilliseconds)) > 0 && wakeable)
                return;
        }
    }

    private string ErrnoText() => _port is { LastErrno: int e } && e != 0
        ? $"{Interop.Sys.ErrnoName(e) ?? "errno " + e}"
        : "end of file";

    private FenceResult Lose(string reason, Func<string, FenceResult> result)
    {
        Lose(reason);
        return result(Say(reason));
    }

    private void Lose(string reason)
    {
        CloseSession();
        _nextRetry = Now + Timing.RetryInterval;
        SetState(SessionState.Lost, reason);
    }

    private void CloseSession()
    {
        _port?.Dispose();
        _port = null;
        _lock?.Dispose();
        _lock = null;
    }

    private void SetState(SessionState state, string detail)
    {
        bool announce;
        lock (_gate)
        {
            announce = state != SessionState.Connecting && (state != _state || detail != _stateDetail);
            _state = state;
            _stateDetail = detail;
        }
        if (announce)
            HealthChanged?.Invoke(Health);
    }

    private bool RequestWaiting
    {
        get { lock (_gate) return _queue.Count > 0; }
    }

    private Request? Dequeue()
    {
        lock (_gate)
            return _queue.TryDequeue(out Request? r) ? r : null;
    }

    private void FailQueued(FenceResult result, TimeSpan before)
    {
        lock (_gate)
        {
            int n = _queue.Count;
            for (int i = 0; i < n; i++)
            {
                Request r = _queue.Dequeue();
                if (r.QueuedAt <= before)
                    r.Complete(result);
                else
                    _queue.Enqueue(r);
            }
        }
    }

    private sealed class Request(Rps10Command command, char outlet, TimeSpan queuedAt)
    {
        private readonly TaskCompletionSource<FenceResult> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Rps10Command Command => command;
        public char Outlet => outlet;
        public TimeSpan QueuedAt => queuedAt;
        public Task<FenceResult> Result => _done.Task;

        public void Complete(FenceResult result) => _done.TrySetResult(result);
    }
}
