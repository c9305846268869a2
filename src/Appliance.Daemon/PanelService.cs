using System.Text.Json;
using Appliance.Core.Panel;
using Appliance.Linux.Gpio;
using Appliance.Linux.Panel;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>
/// Runs the front panel on a thread of its own: every <see cref="Tick"/> it samples the buttons,
/// drives the LEDs' blink patterns and rewrites the LCD rows that changed (the binding blocks ~38 ms
/// for two rows), from the <see cref="PanelModel"/>. The node's state comes from the same
/// documents as <c>appliancectl status --json</c> and <c>services --json</c>, asked through the
/// control handler every <see cref="StatusInterval"/>, and a held SELECT goes through the
/// handler's <c>standby</c>: the same path as <c>appliancectl standby</c>. Nothing here is on the
/// heartbeat's path (that is another process) or the arbiter's; a panel that fails is logged,
/// shown in status (<see cref="WriteStatus"/>) and tried again, never fatal.
/// </summary>
internal sealed class PanelService : IDisposable
{
    /// <summary>
    /// Sampling period: 20 ms resolves the 20 ms debounce (a press counts after 20-40 ms; a finger
    /// is down 80 ms or more) and the 125 ms fast blink, at 50 wake-ups a second.
    /// </summary>
    public static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(20);

    /// <summary>How often the node's state is read (a status request to the heartbeat worker each): a role change shows within half a second.</summary>
    public static readonly TimeSpan StatusInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>After a hardware failure, wait this long before opening it again (a log line per try).</summary>
    public static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(30);

    private readonly PanelConfig _config;
    private readonly Func<string, JsonElement, Task<byte[]>> _handle;
    private readonly bool _director;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly long _origin;
    private readonly PanelModel _model;
    private readonly CancellationTokenSource _stop = new();
    private Thread? _thread;
    private volatile Snapshot _snapshot = new("starting", "", "", null, null, [], []);

    /// <summary>What status shows of the panel; replaced whole by the panel thread.</summary>
    private sealed record Snapshot(string State, string Error, string LcdError, LedSet? Leds, string[]? Lcd,
        IReadOnlyList<PanelAlarm> Alarms, IReadOnlyList<string> Stuck);

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
    }

    private void Run()
    {
        PanelHardware? hw = null;
        var hwRetryAt = TimeSpan.Zero;
        var lcdRetryAt = TimeSpan.Zero;
        bool lcdOk = false;
        string error = "", lcdError = "";
        Task<byte[]>? status = null, services = null;
        Task<byte[]>? standby = null;
        var nextStatus = TimeSpan.Zero;
        var stuckSeen = new HashSet<ButtonRole>();
        int acked = 0;
        while (!_stop.IsCancellationRequested)
        {
            var now = Now();
            // The node's state: asked without waiting, taken when it is there.
            if (status is null && now >= nextStatus)
            {
                status = _handle("status", default);
                services = _director ? _handle("services", default) : null;
                nextStatus = now + StatusInterval;
            }
            if (status is { IsCompleted: true } && (services is null || services.IsCompleted))
            {
                try
                {
                    using var doc = JsonDocument.Parse(status.Result);
                    using var svc = services is { IsCompletedSuccessfully: true } ? JsonDocument.Parse(services.Result) : null;
                    _model.Update(now, PanelView.FromStatus(doc.RootElement, svc?.RootElement));
                }
                catch (Exception e) when (e is AggregateException or JsonException or IOException or InvalidOperationException)
                {
                    Trace.PanelStatusFailed(_log, e.GetBaseException().Message);
                }
                status = services = null;
            }
            if (standby is { IsCompleted: true })
            {
                string said = standby.IsCompletedSuccessfully ? Message(standby.Result) : standby.Exception!.GetBaseException().Message;
                if (!standby.IsCompletedSuccessfully)
                    Trace.PanelStandbyFailed(_log, said);
                _model.Say(now, "standby", said);
                standby = null;
            }

            if (hw is null && now >= hwRetryAt)
            {
                try
                {
                    hw = PanelHardware.Open(_config);
                    error = "";
                    Trace.PanelStarted(_log, CountLeds(), hw.Buttons.Count(), _config.Lcd is { } l ? $"LCD {l.Size.Columns()}x{l.Size.Rows()}" : "no LCD");
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
                    foreach (var b in hw.Buttons)
                    {
                        var kind = _model.Sample(now, b, hw.ReadButton(b) == true);
                        if (kind == ButtonEventKind.Stuck && stuckSeen.Add(b))
                            Trace.PanelButtonStuck(_log, PanelModel.Name(b), _config.Timings.Stuck.TotalSeconds);
                        else if (kind == ButtonEventKind.Unstuck && stuckSeen.Remove(b))
                            Trace.PanelButtonUnstuck(_log, PanelModel.Name(b));
                    }
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
                [.. _model.Alarms], [.. _model.StuckButtons.Select(PanelModel.Name)]);
            _stop.Token.WaitHandle.WaitOne(Tick);
        }
        hw?.Dispose();
    }

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
        w.WriteEndObject();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread?.Join(TimeSpan.FromSeconds(2));
        _stop.Dispose();
    }
}
