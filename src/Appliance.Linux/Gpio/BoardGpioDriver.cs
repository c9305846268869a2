using System.Device.Gpio;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Appliance.Core.Board;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Linux.Gpio;

/// <summary>Something the driver's event thread wants its owner to know (it has no logger of its own).</summary>
/// <param name="Line">The board line's name.</param>
/// <param name="Text">What happened, for a log line.</param>
/// <param name="Failed">The line stopped reporting changes (its callbacks get nothing more); false: a fallback, it still works.</param>
public sealed record GpioEdgeNotice(string Line, string Text, bool Failed);

/// <summary>
/// A System.Device.Gpio <see cref="GpioDriver"/> over our own line requests
/// (<see cref="GpioChips"/>: the uAPI v2 character device, or the lab's simulated chip), so that
/// <see cref="GpioController"/>, the Iot.Device.Bindings LCD and Iot.Device.Button's GpioButton run
/// on the board's lines without libgpiod (Debian 12's is uAPI v1 only). Pin numbers are indexes into
/// the board lines it was given; a line is requested when its mode is set and released when the pin
/// is closed. Values are logical (active-low applied by the request), and so are edges: rising is
/// inactive to active.
/// </summary>
/// <remarks>
/// Edge events (<see cref="AddCallbackForPinValueChangedEvent"/>, <see cref="WaitForEvent"/>): inputs
/// are requested with edge detection and the debounce given here. One thread of the driver's own
/// ("gpio-events", started with the first watched pin) waits in poll(2) on the lines' fds and runs
/// the callbacks:
/// <list type="bullet">
/// <item>a kernel line: the kernel's debounced <c>gpio_v2_line_event</c> records, in order (a gap
/// in their sequence numbers, the kernel's buffer overflowing, is settled by reading the line);</item>
/// <item>the simulated chip: inotify on the level file; once the writes have stopped for the
/// debounce time the level is read and an edge reported if it differs from the last one;</item>
/// <item>a line whose chip refused edge detection (EINVAL, ENXIO): read every
/// <see cref="SamplePeriod"/> on that thread, a change reported once it has held for the debounce
/// time; told once through the notices.</item>
/// </list>
/// With nothing pending the thread sleeps in poll without a timeout. A line that fails (its fd
/// reports an error) is told through the notices and left alone; the others carry on.
/// </remarks>
public sealed class BoardGpioDriver : GpioDriver
{
    /// <summary>How often a line without edge detection is read: the rate the panel sampled its buttons at before edges.</summary>
    public static readonly TimeSpan SamplePeriod = TimeSpan.FromMilliseconds(20);

    /// <summary>Longest debounce: the kernel's <c>debounce_period_us</c> is a u32, and nothing a person presses needs more than a second.</summary>
    public static readonly TimeSpan DebounceMax = TimeSpan.FromSeconds(1);

    /// <summary>How long <see cref="Dispose(bool)"/> waits for the event thread (it wakes at once unless a callback blocks).</summary>
    private static readonly TimeSpan StopWait = TimeSpan.FromSeconds(2);

    private readonly IReadOnlyList<BoardLine> _lines;
    private readonly string _consumer;
    private readonly TimeSpan _debounce;
    private readonly Action<GpioEdgeNotice>? _notices;
    private readonly IDisposable?[] _held;
    private readonly PinMode[] _modes;

    // Guarded by _gate: the watched pins and their callbacks; _version counts changes for the event thread.
    private readonly Lock _gate = new();
    private readonly Dictionary<int, Watch> _watches = [];
    private int _version;
    private bool _stopping;
    private Thread? _thread;
    private SafeFileHandle? _wake;

    /// <param name="lines">The board lines, pin i = lines[i].</param>
    /// <param name="consumer">Who holds the lines (gpioinfo shows it).</param>
    /// <param name="inputDebounce">How long an input must hold a new level before its edge counts (zero: every change).</param>
    /// <param name="notices">Told from the event thread when a line falls back to sampling or fails; must not block.</param>
    public BoardGpioDriver(IReadOnlyList<BoardLine> lines, string consumer, TimeSpan inputDebounce = default, Action<GpioEdgeNotice>? notices = null)
    {
        ArgumentNullException.ThrowIfNull(lines);
        ArgumentException.ThrowIfNullOrEmpty(consumer);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputDebounce, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(inputDebounce, DebounceMax);
        _lines = lines;
        _consumer = consumer;
        _debounce = inputDebounce;
        _notices = notices;
        _held = new IDisposable?[lines.Count];
        _modes = new PinMode[lines.Count];
    }

    protected override int PinCount => _lines.Count;

    /// <summary>The pin of a board line (its index), for the bindings' constructors.</summary>
    public int PinOf(BoardLine line)
    {
        for (int i = 0; i < _lines.Count; i++)
            if (_lines[i] == line)
                return i;
        throw new ArgumentException($"line {line.Name} is not one of this driver's lines", nameof(line));
    }

    /// <summary>For tests: how many <see cref="WaitForEvent"/> calls wait on the pin now.</summary>
    internal int WaitersOf(int pinNumber)
    {
        lock (_gate)
            return _watches.TryGetValue(pinNumber, out var w) ? w.Waiters.Count : 0;
    }

    /// <summary>For tests: the event thread is alive.</summary>
    internal bool EventThreadRunning => _thread is { IsAlive: true };

    /// <summary>How input <paramref name="pinNumber"/> reports its changes (after its mode is set).</summary>
    public GpioEdgeDetection EdgesOf(int pinNumber) =>
        _held[Check(pinNumber)] is IGpioInput input ? input.Edges : GpioEdgeDetection.None;

    protected override void OpenPin(int pinNumber) => Check(pinNumber);

    protected override void ClosePin(int pinNumber)
    {
        Check(pinNumber);
        Unwatch(pinNumber);
        _held[pinNumber]?.Dispose();
        _held[pinNumber] = null;
    }

    protected override void SetPinMode(int pinNumber, PinMode mode) => SetPinMode(pinNumber, mode, PinValue.Low);

    protected override void SetPinMode(int pinNumber, PinMode mode, PinValue initialValue)
    {
        Check(pinNumber);
        if (_held[pinNumber] is not null && _modes[pinNumber] == mode)
            return;
        if (!IsPinModeSupported(pinNumber, mode))
            throw new InvalidOperationException($"pin mode {mode} is not supported on {_lines[pinNumber].Name}");
        lock (_gate)
        {
            if (_watches.ContainsKey(pinNumber))
                throw new InvalidOperationException($"{_lines[pinNumber].Name} has edge callbacks: remove them before changing its mode");
        }
        _held[pinNumber]?.Dispose();
        _held[pinNumber] = null;
        var line = _lines[pinNumber];
        if (mode == PinMode.Output)
            _held[pinNumber] = GpioChips.RequestOutput(line.ChipPath, line.Line, line.ActiveLow, initialValue == PinValue.High, _consumer);
        else
        {
            var input = GpioChips.RequestInput(line.ChipPath, line.Line, line.ActiveLow, _consumer, _debounce);
            _held[pinNumber] = input;
            if (input.EdgeFallback.Length > 0)
                _notices?.Invoke(new GpioEdgeNotice(line.Name, $"{input.Description}: {input.EdgeFallback}; read every {SamplePeriod.TotalMilliseconds:0} ms instead", Failed: false));
        }
        _modes[pinNumber] = mode;
    }

    protected override PinMode GetPinMode(int pinNumber)
    {
        Check(pinNumber);
        return _modes[pinNumber];
    }

    // Inputs are taken as the board wires them (its pull-ups are on the board, active_low in the
    // profile), so a pull mode is accepted as a plain input.
    protected override bool IsPinModeSupported(int pinNumber, PinMode mode) =>
        mode is PinMode.Output or PinMode.Input or PinMode.InputPullUp or PinMode.InputPullDown;

    protected override PinValue Read(int pinNumber) => _held[Check(pinNumber)] switch
    {
        IGpioInput i => i.Get() ? PinValue.High : PinValue.Low,
        IGpioOutput o => o.Get() ? PinValue.High : PinValue.Low,
        _ => throw new InvalidOperationException($"{_lines[pinNumber].Name}: set a pin mode before reading"),
    };

    protected override void Write(int pinNumber, PinValue value)
    {
        if (_held[Check(pinNumber)] is not IGpioOutput o)
            throw new InvalidOperationException($"{_lines[pinNumber].Name} is not an output");
        o.Set(value == PinValue.High);
    }

    protected override void AddCallbackForPinValueChangedEvent(int pinNumber, PinEventTypes eventTypes, PinChangeEventHandler callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        if ((eventTypes & (PinEventTypes.Rising | PinEventTypes.Falling)) == 0)
            throw new ArgumentException("ask for rising and/or falling edges", nameof(eventTypes));
        lock (_gate)
        {
            Watched(pinNumber).Callbacks.Add((eventTypes, callback));
            Changed();
        }
    }

    protected override void RemoveCallbackForPinValueChangedEvent(int pinNumber, PinChangeEventHandler callback)
    {
        Check(pinNumber);
        lock (_gate)
        {
            if (!_watches.TryGetValue(pinNumber, out var watch))
                return;
            int i = watch.Callbacks.FindIndex(c => c.Handler == callback);
            if (i >= 0)
                watch.Callbacks.RemoveAt(i);
            DropIfUnused(watch);
        }
    }

    /// <summary>Blocks until an edge of <paramref name="eventTypes"/> on the pin, or until <paramref name="cancellationToken"/> (TimedOut).</summary>
    protected override WaitForEventResult WaitForEvent(int pinNumber, PinEventTypes eventTypes, CancellationToken cancellationToken)
    {
        if ((eventTypes & (PinEventTypes.Rising | PinEventTypes.Falling)) == 0)
            throw new ArgumentException("ask for rising and/or falling edges", nameof(eventTypes));
        var waiter = new Waiter(eventTypes);
        Watch watch;
        lock (_gate)
        {
            watch = Watched(pinNumber);
            watch.Waiters.Add(waiter);
            Changed();
        }
        try
        {
            waiter.Done.Task.Wait(cancellationToken);
            return new WaitForEventResult { EventTypes = waiter.Done.Task.Result, TimedOut = false };
        }
        catch (OperationCanceledException)
        {
            return new WaitForEventResult { EventTypes = PinEventTypes.None, TimedOut = true };
        }
        finally
        {
            lock (_gate)
            {
                watch.Waiters.Remove(waiter);
                DropIfUnused(watch);
            }
        }
    }

    /// <summary>The watch of an input pin, created (and the event thread started) on first use. Under _gate.</summary>
    private Watch Watched(int pinNumber)
    {
        Check(pinNumber);
        ObjectDisposedException.ThrowIf(_stopping, this);
        if (_watches.TryGetValue(pinNumber, out var watch))
            return watch;
        if (_held[pinNumber] is not IGpioInput input || _modes[pinNumber] == PinMode.Output)
            throw new InvalidOperationException($"{_lines[pinNumber].Name}: edge events need the pin opened as an input");
        bool level = input.Get();
        watch = new Watch(pinNumber, _lines[pinNumber].Name, input) { Reported = level, Seen = level, NextSampleAt = Stopwatch.GetTimestamp() };
        _watches.Add(pinNumber, watch);
        StartThread();
        return watch;
    }

    private void DropIfUnused(Watch watch)
    {
        if (watch.Callbacks.Count > 0 || watch.Waiters.Count > 0)
            return;
        watch.Removed = true;
        _watches.Remove(watch.Pin);
        Changed();
    }

    private void Unwatch(int pinNumber)
    {
        lock (_gate)
        {
            if (!_watches.Remove(pinNumber, out var watch))
                return;
            watch.Removed = true;
            foreach (var w in watch.Waiters)
                w.Done.TrySetCanceled();
            Changed();
        }
    }

    /// <summary>Tells the event thread to take the watches again. Under _gate.</summary>
    private void Changed()
    {
        _version++;
        if (_wake is { } wake && Interop.Sys.EventFdWrite(wake, 1) != 0)
            throw Interop.Sys.CreateIoExceptionForLastError("eventfd_write", "the GPIO event thread's wake-up");
    }

    private void StartThread()
    {
        if (_thread is not null)
            return;
        int fd = Interop.Sys.EventFd(0, Interop.Sys.EFD_CLOEXEC | Interop.Sys.EFD_NONBLOCK);
        if (fd < 0)
            throw Interop.Sys.CreateIoExceptionForLastError("eventfd", "the GPIO event thread's wake-up");
        _wake = new SafeFileHandle(fd, ownsHandle: true);
        _thread = new Thread(Run) { Name = "gpio-events", IsBackground = true };
        _thread.Start();
    }

    /// <summary>The event thread: timers (debounce, sampling), then poll(2) on the wake-up and every line that can report, until disposed.</summary>
    private void Run()
    {
        Watch[] watches = [];
        int version = -1;
        var polled = new List<Watch>();
        var fds = new List<Interop.Sys.PollFd>();
        var referenced = new List<SafeHandle>();
        var edges = new Interop.Gpio.LineEvent[GpioCharacterDevice.EdgeBatchMax];
        while (true)
        {
            lock (_gate)
            {
                if (_stopping)
                    return;
                if (version != _version)
                {
                    watches = [.. _watches.Values];
                    version = _version;
                }
            }

            long now = Stopwatch.GetTimestamp();
            long next = long.MaxValue;
            foreach (var w in watches)
            {
                if (w.Removed || w.Failed)
                    continue;
                Guard(w, () => Timers(w, now));
                if (w.Failed)
                    continue;
                next = Math.Min(next, w.DueAt);
                if (w.Input.Edges == GpioEdgeDetection.None)
                    next = Math.Min(next, w.NextSampleAt);
            }

            polled.Clear();
            fds.Clear();
            referenced.Clear();
            fds.Add(new Interop.Sys.PollFd((int)_wake!.DangerousGetHandle(), Interop.Sys.POLLIN));
            try
            {
                foreach (var w in watches)
                {
                    if (w.Removed || w.Failed || w.Input is not IGpioEdgeInput { Edges: not GpioEdgeDetection.None } e)
                        continue;
                    SafeHandle h = e.ChangeHandle;
                    bool added = false;
                    try
                    {
                        h.DangerousAddRef(ref added); // closed by a ClosePin meanwhile: the fd number stays ours until released
                    }
                    catch (ObjectDisposedException)
                    {
                        continue;
                    }
                    referenced.Add(h);
                    polled.Add(w);
                    fds.Add(new Interop.Sys.PollFd((int)h.DangerousGetHandle(), Interop.Sys.POLLIN));
                }

                int timeoutMs = next == long.MaxValue ? -1
                    : (int)Math.Clamp(Math.Ceiling(Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next).TotalMilliseconds), 0, int.MaxValue);
                Span<Interop.Sys.PollFd> set = CollectionsMarshal.AsSpan(fds);
                int n = Interop.Sys.Poll(set, timeoutMs);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Interop.Sys.EINTR)
                        continue;
                    FailAll($"poll failed: {Interop.Sys.DescribeErrno(errno)}");
                    return;
                }
                if ((set[0].REvents & Interop.Sys.POLLIN) != 0)
                {
                    ulong ignored;
                    unsafe
                    {
                        Interop.Sys.EventFdRead(_wake, &ignored);
                    }
                }
                now = Stopwatch.GetTimestamp();
                for (int i = 0; i < polled.Count; i++)
                {
                    short revents = set[i + 1].REvents;
                    var w = polled[i];
                    if (revents == 0 || w.Removed)
                        continue;
                    if ((revents & (Interop.Sys.POLLERR | Interop.Sys.POLLHUP | Interop.Sys.POLLNVAL)) != 0 && (revents & Interop.Sys.POLLIN) == 0)
                    {
                        Fail(w, $"its fd reports {((revents & Interop.Sys.POLLHUP) != 0 ? "a hang-up" : "an error")} (the chip went away?)");
                        continue;
                    }
                    Guard(w, () => Changes(w, (IGpioEdgeInput)w.Input, edges, now));
                }
            }
            finally
            {
                foreach (var h in referenced)
                    h.DangerousRelease();
            }
        }
    }

    /// <summary>A line's sampling and debounce deadline, at <paramref name="now"/>.</summary>
    private void Timers(Watch w, long now)
    {
        bool sampled = w.Input.Edges == GpioEdgeDetection.None;
        if (sampled && now >= w.NextSampleAt)
        {
            w.NextSampleAt = now + Ticks(SamplePeriod);
            bool level = w.Input.Get();
            if (level != w.Seen)
            {
                w.Seen = level;
                w.DueAt = now + Ticks(_debounce);
            }
        }
        if (now < w.DueAt)
            return;
        bool settled = w.Input.Get();
        if (sampled && settled != w.Seen)
        {
            // It changed again within the debounce: start over from this level.
            w.Seen = settled;
            w.DueAt = now + Ticks(_debounce);
            return;
        }
        w.DueAt = long.MaxValue;
        if (settled != w.Reported)
            Report(w, settled);
    }

    /// <summary>What a readable fd says: the kernel's edges in order, or a notification that restarts the debounce.</summary>
    private void Changes(Watch w, IGpioEdgeInput input, Interop.Gpio.LineEvent[] edges, long now)
    {
        if (input.Edges == GpioEdgeDetection.Notified)
        {
            input.ReadChanges(edges);
            w.DueAt = now + Ticks(_debounce);
            if (_debounce == TimeSpan.Zero)
                Timers(w, now);
            return;
        }
        int n = input.ReadChanges(edges);
        bool gap = false;
        for (int i = 0; i < n && !w.Removed; i++)
        {
            ref readonly var e = ref edges[i];
            gap |= w.LineSeqno != 0 && e.line_seqno != w.LineSeqno + 1;
            w.LineSeqno = e.line_seqno;
            bool rising = e.id == Interop.Gpio.GPIO_V2_LINE_EVENT_RISING_EDGE;
            if (rising != w.Reported)
                Report(w, rising);
        }
        // Records were dropped (the kernel's buffer was full): the line's level now settles it.
        if (gap && !w.Removed && input.Get() is var level && level != w.Reported)
            Report(w, level);
    }

    /// <summary>Reports an edge to the pin's callbacks and waiters (outside the lock: a callback may remove itself).</summary>
    private void Report(Watch w, bool level)
    {
        w.Reported = level;
        var type = level ? PinEventTypes.Rising : PinEventTypes.Falling;
        (PinEventTypes Types, PinChangeEventHandler Handler)[] callbacks;
        lock (_gate)
        {
            callbacks = [.. w.Callbacks];
            foreach (var waiter in w.Waiters)
                if ((waiter.Types & type) != 0)
                    waiter.Done.TrySetResult(type);
        }
        var args = new PinValueChangedEventArgs(type, w.Pin);
        foreach (var (types, handler) in callbacks)
        {
            if ((types & type) == 0)
                continue;
            try
            {
                handler(this, args);
            }
            catch (Exception e)
            {
                // A callback's bug must not end the thread that serves every other line.
                _notices?.Invoke(new GpioEdgeNotice(w.Name, $"an edge callback failed: {e.GetType().Name}: {e.Message}", Failed: false));
            }
        }
    }

    /// <summary>Runs one step of a line; a GPIO or I/O error stops that line only (a line closed meanwhile is simply skipped).</summary>
    private void Guard(Watch w, Action step)
    {
        try
        {
            step();
        }
        catch (ObjectDisposedException) when (w.Removed)
        {
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (!w.Removed)
                Fail(w, e.Message);
        }
    }

    private void Fail(Watch w, string reason)
    {
        w.Failed = true;
        _notices?.Invoke(new GpioEdgeNotice(w.Name, $"{w.Input.Description}: no more edge events: {reason}", Failed: true));
    }

    private void FailAll(string reason)
    {
        Watch[] all;
        lock (_gate)
            all = [.. _watches.Values];
        foreach (var w in all)
            Fail(w, reason);
    }

    private static long Ticks(TimeSpan t) => (long)(t.TotalSeconds * Stopwatch.Frequency);

    private int Check(int pinNumber)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(pinNumber);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(pinNumber, _lines.Count);
        return pinNumber;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Thread? thread;
            lock (_gate)
            {
                if (_stopping)
                    return; // GpioController disposes its driver, and so does the driver's owner
                _stopping = true;
                if (_wake is { } wake)
                    Interop.Sys.EventFdWrite(wake, 1);
                foreach (var w in _watches.Values)
                {
                    w.Removed = true;
                    foreach (var waiter in w.Waiters)
                        waiter.Done.TrySetCanceled();
                }
                _watches.Clear();
                thread = _thread;
            }
            if (thread is not null && thread != Thread.CurrentThread)
                thread.Join(StopWait);
            for (int i = 0; i < _held.Length; i++)
            {
                _held[i]?.Dispose();
                _held[i] = null;
            }
            if (thread is null || thread == Thread.CurrentThread || !thread.IsAlive)
                _wake?.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <summary>A pin with edge callbacks or waiters. Timing fields are the event thread's alone.</summary>
    private sealed class Watch(int pin, string name, IGpioInput input)
    {
        public int Pin { get; } = pin;
        public string Name { get; } = name;
        public IGpioInput Input { get; } = input;
        public List<(PinEventTypes Types, PinChangeEventHandler Handler)> Callbacks { get; } = [];
        public List<Waiter> Waiters { get; } = [];

        /// <summary>The level last reported as an edge (at the start: the level when watched).</summary>
        public bool Reported;

        /// <summary>A sampled line: the level of the last sample.</summary>
        public bool Seen;

        /// <summary>When the debounce ends (Stopwatch ticks), or long.MaxValue.</summary>
        public long DueAt = long.MaxValue;

        /// <summary>A sampled line: when to read it next.</summary>
        public long NextSampleAt;

        /// <summary>A kernel line: the last record's line_seqno (0: none yet).</summary>
        public uint LineSeqno;

        public volatile bool Removed;
        public volatile bool Failed;
    }

    private sealed class Waiter(PinEventTypes types)
    {
        public PinEventTypes Types { get; } = types;
        public TaskCompletionSource<PinEventTypes> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
