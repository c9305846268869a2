using System.Collections.Concurrent;
using System.Text.Json;
using Appliance.Core.Panel;
using Appliance.Linux.Gpio;
using Appliance.Linux.Panel;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>
/// Runs the front panel on a thread of its own, woken only when something changes: a button edge
/// (Iot.Device.Button's GpioButton on the GPIO driver's edge events, handed over with the instant it
/// came), a new view of the node, the answer to a standby request, or the instant the
/// <see cref="PanelModel"/> says its output changes by itself (<see cref="PanelModel.NextDue"/>: a
/// blink turning, the LCD's seconds ticking over, a hold or stuck time, a debounce ending). Each
/// wake drives the LEDs and rewrites the LCD rows that changed (the binding blocks ~38 ms for two
/// rows). The node's state comes from the same documents as <c>appliancectl status --json</c> and
/// <c>services --json</c>, asked through the control handler every <see cref="StatusInterval"/>
/// by a timer off this thread, which wakes it only when what the panel shows of them changed; a
/// held SELECT goes through the handler's <c>standby</c>: the same path as <c>appliancectl
/// standby</c>. Nothing here is on the heartbeat's path (that is another process) or the arbiter's;
/// a panel that fails is logged, shown in status (<see cref="WriteStatus"/>) and tried again,
/// never fatal.
/// </summary>
internal sealed class PanelService : IDisposable
{
    /// <summary>How often the node's state is read (a status request to the heartbeat worker each): a role change shows within half a second.</summary>
    public static readonly TimeSpan StatusInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>After a hardware failure, wait this long before opening it again (a log line per try).</summary>
    public static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Most button edges waiting for the panel thread (it takes them within an LCD write, ~40 ms; a
    /// person makes a few a second). Past it the panel reads the buttons' levels instead, which
    /// loses no press that is still down or up.
    /// </summary>
    private const int EdgeQueueMax = 64;

    /// <summary>Most driver notices waiting (one per button line at most, each time the panel opens).</summary>
    private const int NoticeQueueMax = 16;

    private readonly PanelConfig _config;
    private readonly Func<string, JsonElement, Task<byte[]>> _handle;
    private readonly bool _director;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly long _origin;
    private readonly PanelModel _model;
    private readonly CancellationTokenSource _stop = new();
    private readonly AutoResetEvent _wake = new(false);
    private readonly ConcurrentQueue<(ButtonRole Role, bool Pressed, TimeSpan At)> _edges = new();
    private readonly ConcurrentQueue<GpioEdgeNotice> _notices = new();
    private readonly HashSet<string> _fallbacksLogged = new(StringComparer.Ordinal);
    private int _edgeCount;
    private int _noticeCount;
    private volatile bool _resync;
    private PanelView? _pendingView;
    private TimeSpan _modelTime;
    private Thread? _thread;
    private Task? _statusLoop;
    private volatile Snapshot _snapshot = new("starting", "", "", null, null, [], [], []);

    /// <summary>What status shows of the panel; replaced whole by the panel thread.</summary>
    private sealed record Snapshot(string State, string Error, string LcdError, LedSet? Leds, string[]? Lcd,
        IReadOnlyList<PanelAlarm> Alarms, IReadOnlyList<string> Stuck, IReadOnlyList<(string Button, string Edges)> Buttons);

    public PanelService(PanelConfig config, string node, Func<string, JsonElement, Task<byte[]>> handle, bool director, ILogger log, TimeProvider time)
    {
        _config = config;
        _handle = handle;
        _director = director;
        _log = log;
        _time = time;
        _origin = time.GetTimestamp();
        _model = new PanelModel(node, config.Lcd?.Size ?? LcdSize.Size16x2, config.Timings, Now());
    }

    private TimeSpan Now() => _time.GetElapsedTime(_origin);

    public void Start()
    {
        _thread = new Thread(Run) { Name = "panel", IsBackground = true };
        _thread.Start();
        _statusLoop = Task.Run(PollStatusAsync);
    }

    /// <summary>
    /// Reads the node's state every <see cref="StatusInterval"/> and hands the panel thread a new
    /// view only when it differs from the last one (value equality: counters that move in every
    /// status document are not part of it).
    /// </summary>
    private async Task PollStatusAsync()
    {
        PanelView? last = null;
        while (!_stop.IsCancellationRequested)
        {
            Task<byte[]> status = _handle("status", default);
            Task<byte[]>? services = _director ? _handle("services", default) : null;
            try
            {
                byte[] reply = await status.ConfigureAwait(false);
                byte[]? servicesReply = null;
                if (services is not null)
                {
                    try
                    {
                        servicesReply = await services.ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is IOException or InvalidOperationException)
                    {
                        // The panel shows the node without the director's alarms this time.
                    }
                }
                using var doc = JsonDocument.Parse(reply);
                using var svc = servicesReply is null ? null : JsonDocument.Parse(servicesReply);
                var view = PanelView.FromStatus(doc.RootElement, svc?.RootElement);
                if (!view.Equals(last))
                {
                    last = view;
                    Volatile.Write(ref _pendingView, view);
                    _wake.Set();
                }
            }
            catch (Exception e) when (!_stop.IsCancellationRequested)
            {
                // Whatever the handler or the parse throws, the loop goes on: a panel that stopped
                // reading status would show a stale role without saying so.
                Trace.PanelStatusFailed(_log, e.Message);
            }
            try
            {
                await Task.Delay(StatusInterval, _time, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>A button edge from the GPIO driver's event thread: queued with its instant, the panel thread woken.</summary>
    private void OnButton(ButtonRole role, bool pressed)
    {
        if (Interlocked.Increment(ref _edgeCount) > EdgeQueueMax)
        {
            Interlocked.Decrement(ref _edgeCount);
            _resync = true;
        }
        else
            _edges.Enqueue((role, pressed, Now()));
        _wake.Set();
    }

    /// <summary>A driver notice (a line sampled instead of edges, a line that stopped reporting), for the panel thread to log.</summary>
    private void OnNotice(GpioEdgeNotice notice)
    {
        if (Interlocked.Increment(ref _noticeCount) > NoticeQueueMax)
        {
            Interlocked.Decrement(ref _noticeCount);
            return;
        }
        _notices.Enqueue(notice);
        _wake.Set();
    }

    private void Run()
    {
        PanelHardware? hw = null;
        var hwRetryAt = TimeSpan.Zero;
        var lcdRetryAt = TimeSpan.Zero;
        bool lcdOk = false;
        string error = "", lcdError = "";
        Task<byte[]>? standby = null;
        int acked = 0;
        IReadOnlyList<(string, string)> buttons = [];
        WaitHandle[] waits = [_wake, _stop.Token.WaitHandle];
        while (!_stop.IsCancellationRequested)
        {
            var now = Now();
            if (Interlocked.Exchange(ref _pendingView, null) is { } view)
                _model.Update(now, view);
            if (standby is { IsCompleted: true })
            {
                string said = standby.IsCompletedSuccessfully ? Message(standby.Result) : standby.Exception!.GetBaseException().Message;
                if (!standby.IsCompletedSuccessfully)
                    Trace.PanelStandbyFailed(_log, said);
                _model.Say(now, "standby", said);
                standby = null;
            }
            while (_notices.TryDequeue(out var notice))
            {
                Interlocked.Decrement(ref _noticeCount);
                if (!notice.Failed)
                {
                    // Logged once for the daemon's life, not at every reopen.
                    if (_fallbacksLogged.Add(notice.Line))
                        Trace.PanelButtonSampled(_log, notice.Line, notice.Text);
                }
                else if (hw is not null)
                {
                    error = notice.Text;
                    Trace.PanelFailed(_log, notice.Text, RetryInterval.TotalSeconds);
                    hw.Dispose();
                    hw = null;
                    lcdOk = false;
                    hwRetryAt = now + RetryInterval;
                }
            }

            if (hw is null && now >= hwRetryAt)
            {
                try
                {
                    DropEdges();
                    hw = PanelHardware.Open(_config, OnButton, OnNotice);
                    error = "";
                    buttons = [.. hw.Buttons.Select(b => (PanelModel.Name(b).ToLowerInvariant(), EdgesWord(hw.ButtonEdges(b))))];
                    Trace.PanelStarted(_log, CountLeds(), hw.Buttons.Count(), _config.Lcd is { } l ? $"LCD {l.Size.Columns()}x{l.Size.Rows()}" : "no LCD");
                    Trace.PanelButtonsRead(_log, string.Join(", ", buttons.Select(b => $"{b.Item1} {b.Item2}")));
                    _resync = true; // the levels now, edges after
                }
                catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException or ArgumentException)
                {
                    error = e.Message;
                    hwRetryAt = now + RetryInterval;
                    Trace.PanelFailed(_log, e.Message, RetryInterval.TotalSeconds);
                }
            }
            if (hw is not null)
            {
                try
                {
                    if (_resync)
                    {
                        _resync = false;
                        DropEdges();
                        foreach (var b in hw.Buttons)
                            Feed(now, b, hw.ReadButton(b) == true);
                    }
                    while (_edges.TryDequeue(out var edge))
                    {
                        Interlocked.Decrement(ref _edgeCount);
                        Feed(edge.At, edge.Role, edge.Pressed);
                    }
                    foreach (var e in _model.Advance(Later(now)))
                        LogButton(e.Button, e.Kind);
                    var leds = _model.Leds;
                    foreach (var role in Enum.GetValues<LedRole>())
                        hw.SetLed(role, Leds.Lit(leds[role], now, _config.Timings));
                }
                catch (Exception e) when (e is IOException or InvalidOperationException)
                {
                    error = e.Message;
                    Trace.PanelFailed(_log, e.Message, RetryInterval.TotalSeconds);
                    hw.Dispose();
                    hw = null;
                    lcdOk = false;
                    hwRetryAt = now + RetryInterval;
                }
            }
            if (_model.TakeAction() == PanelAction.Standby && standby is null)
            {
                Trace.PanelStandby(_log);
                standby = _handle("standby", default);
                standby.ContinueWith(static (_, wake) => ((AutoResetEvent)wake!).Set(), _wake, CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
            int nowAcked = _model.Alarms.Count(a => a.Acknowledged);
            if (nowAcked > acked && _model.Alarms.FirstOrDefault(a => a.Acknowledged) is { } newest)
                Trace.PanelAlarmAcknowledged(_log, newest.Text);
            acked = nowAcked;

            string[] rows = _model.Lcd(now);
            if (hw is not null && hw.HasLcd)
            {
                try
                {
                    if (!lcdOk && now >= lcdRetryAt)
                    {
                        hw.OpenLcd();
                        if (lcdError.Length > 0)
                            Trace.PanelLcdRecovered(_log);
                        lcdOk = true;
                        lcdError = "";
                    }
                    if (lcdOk)
                        hw.WriteLcd(rows);
                }
                catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException or ArgumentException or PlatformNotSupportedException)
                {
                    lcdError = e.Message;
                    lcdOk = false;
                    lcdRetryAt = now + RetryInterval;
                    hw.CloseLcd();
                    Trace.PanelLcdFailed(_log, e.Message, RetryInterval.TotalSeconds);
                }
            }
            _snapshot = new Snapshot(hw is null ? "failed" : "running", error, lcdError, _model.Leds, rows,
                [.. _model.Alarms], [.. _model.StuckButtons.Select(PanelModel.Name)], hw is null ? [] : buttons);

            // Sleep until the next change the model foresees, a retry, or a wake-up.
            TimeSpan? due = _model.NextDue(now);
            if (hw is null)
                due = Earliest(due, hwRetryAt);
            else if (hw.HasLcd && !lcdOk)
                due = Earliest(due, lcdRetryAt);
            int timeoutMs = due is { } d
                ? (int)Math.Clamp(Math.Ceiling((d - Now()).TotalMilliseconds), 0, int.MaxValue)
                : Timeout.Infinite;
            WaitHandle.WaitAny(waits, timeoutMs);
        }
        hw?.Dispose();
    }

    /// <summary>Feeds one button level to the model at its instant (never before what the model has seen: edges may be queued late).</summary>
    private void Feed(TimeSpan at, ButtonRole role, bool pressed)
    {
        if (_model.Sample(Later(at), role, pressed) is { } kind)
            LogButton(role, kind);
    }

    /// <summary><paramref name="t"/>, or the latest instant already given to the model if that is later: the model's time never goes back.</summary>
    private TimeSpan Later(TimeSpan t)
    {
        if (t > _modelTime)
            _modelTime = t;
        return _modelTime;
    }

    private void LogButton(ButtonRole role, ButtonEventKind kind)
    {
        if (kind == ButtonEventKind.Stuck)
            Trace.PanelButtonStuck(_log, PanelModel.Name(role), _config.Timings.Stuck.TotalSeconds);
        else if (kind == ButtonEventKind.Unstuck)
            Trace.PanelButtonUnstuck(_log, PanelModel.Name(role));
    }

    /// <summary>Forgets queued edges (of a closed panel, or before the levels are read afresh).</summary>
    private void DropEdges()
    {
        while (_edges.TryDequeue(out _))
            Interlocked.Decrement(ref _edgeCount);
    }

    private static TimeSpan? Earliest(TimeSpan? a, TimeSpan b) => a is { } x && x < b ? x : b;

    /// <summary>How a button is read, for status and the log.</summary>
    private static string EdgesWord(GpioEdgeDetection edges) => edges switch
    {
        GpioEdgeDetection.Kernel => "edges",
        GpioEdgeDetection.Notified => "notified",
        _ => "sampled",
    };

    private int CountLeds() => new[] { _config.Leds.Power, _config.Leds.Active, _config.Leds.Peer, _config.Leds.Fault }.Count(l => l is not null);

    /// <summary>The control reply's message, cut to fit the LCD's second row.</summary>
    private static string Message(byte[] reply)
    {
        using var doc = JsonDocument.Parse(reply);
        var root = doc.RootElement;
        if (root.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String)
            return "refused";
        return root.TryGetProperty("ok", out var ok) && ok.ValueKind == JsonValueKind.False ? "refused" : "requested";
    }

    /// <summary>The panel in <c>status --json</c>: <c>"panel": {"state", "error", "lcd_error", "leds", "lcd", "alarms", "stuck"}</c>.</summary>
    public void WriteStatus(Utf8JsonWriter w)
    {
        var s = _snapshot;
        w.WriteStartObject("panel");
        w.WriteString("state", s.State);
        w.WriteString("error", s.Error);
        w.WriteString("lcd_error", s.LcdError);
        w.WriteStartObject("leds");
        if (s.Leds is { } leds)
            foreach (var role in Enum.GetValues<LedRole>())
                w.WriteString(role.ToString().ToLowerInvariant(), leds[role].ToString().ToLowerInvariant());
        w.WriteEndObject();
        w.WriteStartArray("lcd");
        foreach (string row in s.Lcd ?? [])
            w.WriteStringValue(row);
        w.WriteEndArray();
        w.WriteStartArray("alarms");
        foreach (var a in s.Alarms)
        {
            w.WriteStartObject();
            w.WriteString("text", a.Text);
            w.WriteBoolean("acknowledged", a.Acknowledged);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("stuck");
        foreach (string b in s.Stuck)
            w.WriteStringValue(b.ToLowerInvariant());
        w.WriteEndArray();
        // How each button is read: edges (the kernel's), notified (the simulated chip), sampled (no edge detection).
        w.WriteStartObject("buttons");
        foreach (var (button, edges) in s.Buttons)
            w.WriteString(button, edges);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread?.Join(TimeSpan.FromSeconds(2));
        try
        {
            _statusLoop?.Wait(TimeSpan.FromSeconds(2));
        }
        catch (AggregateException)
        {
            // Its failures were logged as they happened.
        }
        _stop.Dispose();
        _wake.Dispose();
    }
}
