using System.Collections.Immutable;
using System.Globalization;

namespace Appliance.Core.Panel;

/// <summary>What the panel asks the daemon to do.</summary>
public enum PanelAction
{
    /// <summary>A planned switchover, the same as <c>appliancectl standby</c>.</summary>
    Standby,
}

/// <summary>An open alarm: newest first in <see cref="PanelModel.Alarms"/>.</summary>
public sealed record PanelAlarm(string Key, string Text, TimeSpan OpenedAt, bool Acknowledged);

/// <summary>The screens NEXT and PREV step through.</summary>
public enum PanelScreen { Role, Peer, Config, Resources, Fence, Alarms }

/// <summary>
/// The front panel's logic, pure and step-driven: node state in (<see cref="Update"/>), button
/// samples in (<see cref="Sample"/>), LED patterns, LCD text, the alarm list and actions out.
/// <list type="bullet">
/// <item>Alarms open when their condition appears (and, for a stall, when the stall count grows)
/// and close when it clears (a stall stays until acknowledged). An unacknowledged alarm takes over
/// the LCD, newest first, until SELECT acknowledges it; the fault LED is on while any is open.</item>
/// <item>On the role screen, holding SELECT for the hold time asks "standby? hold to confirm";
/// holding it again within <see cref="PanelTimings.ConfirmWindow"/> yields
/// <see cref="PanelAction.Standby"/>. A short press cancels the question.</item>
/// <item>A stuck button is reported (an alarm, <see cref="StuckButtons"/>) and not obeyed.</item>
/// </list>
/// </summary>
public sealed class PanelModel
{
    /// <summary>Most alarms kept: a flapping real-server farm must not grow the list without end.</summary>
    public const int AlarmsMax = 32;

    /// <summary>How long a message ("standby requested") stays on the LCD.</summary>
    public static readonly TimeSpan MessageTime = TimeSpan.FromSeconds(5);

    private readonly PanelTimings _timings;
    private readonly Dictionary<ButtonRole, Button> _buttons = [];
    private readonly List<PanelAlarm> _alarms = []; // newest first
    private PanelView _view;
    private TimeSpan _roleSince;
    private long? _stallsSeen;
    private PanelScreen _screen = PanelScreen.Role;
    private TimeSpan? _confirmUntil;
    private (string[] Lines, TimeSpan Until)? _message;
    private PanelAction? _action;

    public PanelModel(string node, LcdSize size, PanelTimings timings, TimeSpan now)
    {
        Size = size;
        _timings = timings;
        _view = PanelView.Unknown(node);
        _roleSince = now;
        foreach (var role in Enum.GetValues<ButtonRole>())
            _buttons[role] = new Button(role, timings);
    }

    public LcdSize Size { get; }

    public PanelView View => _view;

    public PanelScreen Screen => _screen;

    /// <summary>Asking "standby?": the next hold of SELECT performs it.</summary>
    public bool Confirming => _confirmUntil is not null;

    /// <summary>Open alarms, newest first.</summary>
    public IReadOnlyList<PanelAlarm> Alarms => _alarms;

    public IEnumerable<ButtonRole> StuckButtons => _buttons.Values.Where(b => b.IsStuck).Select(b => b.Role);

    public LedSet Leds => Panel.Leds.For(_view, _alarms.Count > 0);

    /// <summary>A new view of the node (from status). Tracks role transitions and opens and closes alarms.</summary>
    public void Update(TimeSpan now, PanelView view)
    {
        ArgumentNullException.ThrowIfNull(view);
        if (view.Role != _view.Role)
            _roleSince = now;
        _view = view;

        var present = view.Conditions.Select(c => c.Key).ToHashSet(StringComparer.Ordinal);
        _alarms.RemoveAll(a => !a.Key.StartsWith(StallKeyPrefix, StringComparison.Ordinal) && !a.Key.StartsWith(StuckKeyPrefix, StringComparison.Ordinal)
                               && !present.Contains(a.Key));
        foreach (var c in view.Conditions)
            Open(now, c.Key, c.Text, acknowledged: false);
        if (_stallsSeen is { } seen && view.Stalls > seen)
            Open(now, StallKeyPrefix + view.Stalls.ToString(CultureInfo.InvariantCulture), "stalled (not scheduled)", acknowledged: false);
        _stallsSeen = view.Stalls;
    }

    private const string StallKeyPrefix = "stall:";
    private const string StuckKeyPrefix = "stuck:";

    private void Open(TimeSpan now, string key, string text, bool acknowledged)
    {
        if (_alarms.Any(a => a.Key == key))
            return;
        _alarms.Insert(0, new PanelAlarm(key, text, now, acknowledged));
        if (_alarms.Count > AlarmsMax)
            _alarms.RemoveAt(_alarms.Count - 1);
    }

    /// <summary>
    /// What time alone changes at <paramref name="now"/>: a button's debounce ending, its hold or
    /// stuck time (each button fed its last level again, acted on as <see cref="Sample"/> does), the
    /// question's window closing. For a reader told of button changes as they happen (edge events)
    /// rather than sampling: call it at <see cref="NextDue"/>. Returns the button events it caused.
    /// </summary>
    public IReadOnlyList<ButtonEvent> Advance(TimeSpan now)
    {
        if (_confirmUntil is { } until && now > until)
            _confirmUntil = null;
        List<ButtonEvent>? events = null;
        foreach (var b in _buttons.Values)
            if (b.NextDue is { } due && due <= now && Sample(now, b.Role, b.Level) is { } kind)
                (events ??= []).Add(new ButtonEvent(b.Role, kind));
        return events ?? (IReadOnlyList<ButtonEvent>)[];
    }

    /// <summary>
    /// The next instant after <paramref name="now"/> at which the panel changes without new input:
    /// a button's debounce, hold or stuck time, the question or a message running out, a blinking
    /// LED turning on or off, the LCD's "15s ago" ticking over. Null: nothing until the next input
    /// (a status, a button). A panel thread sleeps until then.
    /// </summary>
    public TimeSpan? NextDue(TimeSpan now)
    {
        TimeSpan? due = null;
        void Consider(TimeSpan? t)
        {
            if (t is not { } v)
                return;
            if (v <= now)
                v = now;
            if (due is not { } d || v < d)
                due = v;
        }
        foreach (var b in _buttons.Values)
            Consider(b.NextDue);
        if (_confirmUntil is { } until)
            Consider(until + TimeSpan.FromTicks(1)); // it ends once now is past it
        bool showingMessage = _message is { } m && now < m.Until;
        if (showingMessage)
            Consider(_message!.Value.Until);
        foreach (var role in Enum.GetValues<LedRole>())
        {
            var pattern = Leds[role];
            if (pattern is LedPattern.Slow or LedPattern.Fast)
                Consider(NextBoundary(now, pattern == LedPattern.Slow ? _timings.SlowHalfPeriod : _timings.FastHalfPeriod));
        }
        if (_alarms.FirstOrDefault(a => !a.Acknowledged) is { } alarm)
            Consider(NextAgoChange(now, alarm.OpenedAt));
        else if (_confirmUntil is null && !showingMessage)
        {
            bool roleShown = _screen == PanelScreen.Role
                             || Size.Rows() > 2 && (PanelScreen)(((int)_screen + 1) % Enum.GetValues<PanelScreen>().Length) == PanelScreen.Role;
            if (roleShown)
                Consider(NextAgoChange(now, _roleSince));
        }
        return due;
    }

    /// <summary>The first multiple of <paramref name="period"/> after <paramref name="now"/>: when a blink turns.</summary>
    private static TimeSpan NextBoundary(TimeSpan now, TimeSpan period) => TimeSpan.FromTicks((now.Ticks / period.Ticks + 1) * period.Ticks);

    /// <summary>When <see cref="Ago"/> of the time since <paramref name="since"/> next reads differently.</summary>
    internal static TimeSpan NextAgoChange(TimeSpan now, TimeSpan since)
    {
        var elapsed = now - since;
        if (elapsed < TimeSpan.Zero)
            return since;
        var unit = elapsed.TotalSeconds < 60 ? TimeSpan.FromSeconds(1)
            : elapsed.TotalMinutes < 60 ? TimeSpan.FromMinutes(1)
            : elapsed.TotalHours < 48 ? TimeSpan.FromHours(1)
            : TimeSpan.FromDays(1);
        return since + TimeSpan.FromTicks((elapsed.Ticks / unit.Ticks + 1) * unit.Ticks);
    }

    /// <summary>One raw sample of a button (true = pressed); acts on the debounced events.</summary>
    public ButtonEventKind? Sample(TimeSpan now, ButtonRole role, bool pressed)
    {
        if (_confirmUntil is { } until && now > until)
            _confirmUntil = null;
        var kind = _buttons[role].Sample(now, pressed);
        switch (kind)
        {
            case ButtonEventKind.Stuck:
                _confirmUntil = null;
                // Reported, not shown over the screen: a stuck SELECT could never acknowledge it.
                Open(now, StuckKeyPrefix + Name(role), $"stuck {Name(role)}", acknowledged: true);
                break;
            case ButtonEventKind.Unstuck:
                _alarms.RemoveAll(a => a.Key == StuckKeyPrefix + Name(role));
                break;
            case ButtonEventKind.Press:
                OnPress(now, role);
                break;
            case ButtonEventKind.Hold:
                OnHold(now, role);
                break;
        }
        return kind;
    }

    private void OnPress(TimeSpan now, ButtonRole role)
    {
        int unacked = _alarms.FindIndex(a => !a.Acknowledged);
        if (role == ButtonRole.Select)
        {
            if (_confirmUntil is not null)
            {
                _confirmUntil = null;
                Say(now, "standby", "cancelled");
            }
            else if (unacked >= 0)
                _alarms[unacked] = _alarms[unacked] with { Acknowledged = true };
            else
                _message = null;
            return;
        }
        if (unacked >= 0)
            return; // alarms take the screen until acknowledged
        _confirmUntil = null;
        _message = null;
        int count = Enum.GetValues<PanelScreen>().Length;
        _screen = (PanelScreen)(((int)_screen + (role == ButtonRole.Next ? 1 : count - 1)) % count);
    }

    private void OnHold(TimeSpan now, ButtonRole role)
    {
        if (role != ButtonRole.Select)
            return;
        int unacked = _alarms.FindIndex(a => !a.Acknowledged);
        if (unacked >= 0)
        {
            _alarms[unacked] = _alarms[unacked] with { Acknowledged = true };
            return;
        }
        if (_confirmUntil is not null)
        {
            _confirmUntil = null;
            _action = PanelAction.Standby;
            Say(now, "standby", "requested");
        }
        else if (_screen == PanelScreen.Role)
        {
            _confirmUntil = now + _timings.ConfirmWindow;
            _message = null;
        }
    }

    /// <summary>The action asked for since the last call, once.</summary>
    public PanelAction? TakeAction()
    {
        var a = _action;
        _action = null;
        return a;
    }

    /// <summary>Shows two lines for <see cref="MessageTime"/> (the outcome of an action).</summary>
    public void Say(TimeSpan now, string line1, string line2) => _message = ([line1, line2], now + MessageTime);

    /// <summary>The LCD's rows at <paramref name="now"/>, each exactly as wide as the display.</summary>
    public string[] Lcd(TimeSpan now)
    {
        int cols = Size.Columns(), rows = Size.Rows();
        string[] text;
        if (_alarms.FirstOrDefault(a => !a.Acknowledged) is { } alarm)
            text = ["! " + alarm.Text, $"{Ago(now - alarm.OpenedAt)} ago SEL:ack"];
        else if (_confirmUntil is not null)
            text = ["standby?", "hold to confirm"];
        else if (_message is { } m && now < m.Until)
            text = m.Lines;
        else
        {
            text = ScreenText(_screen, now, cols);
            if (rows > 2) // a 20x4 shows the next screen below
                text = [.. text, .. ScreenText((PanelScreen)(((int)_screen + 1) % Enum.GetValues<PanelScreen>().Length), now, cols)];
        }
        var lines = new string[rows];
        for (int i = 0; i < rows; i++)
        {
            string t = i < text.Length ? text[i] : "";
            lines[i] = t.Length > cols ? t[..cols] : t.PadRight(cols);
        }
        return lines;
    }

    private string[] ScreenText(PanelScreen screen, TimeSpan now, int cols)
    {
        var v = _view;
        switch (screen)
        {
            case PanelScreen.Role:
            {
                string head = $"{v.Node} {RoleWord(v.Role)}";
                string ago = Ago(now - _roleSince);
                return head.Length + 1 + ago.Length <= cols ? [$"{head} {ago}", v.RoleReason] : [head, $"{ago} {v.RoleReason}"];
            }
            case PanelScreen.Peer:
            {
                int up = v.Links.Count(l => l.Up);
                string links = v.Links.IsEmpty ? "no links" : up == v.Links.Length ? $"links {up}/{v.Links.Length} up"
                    : "down: " + string.Join(" ", v.Links.Where(l => !l.Up).Select(l => l.Name));
                return [$"peer {v.PeerName} {v.PeerState}", links];
            }
            case PanelScreen.Config:
                return [v.ConfigSync == "diverged" ? "config DIVERGED" : "config " + v.ConfigSync, v.ConfigVersion];
            case PanelScreen.Resources:
            {
                int started = v.Resources.Count(r => r.State == "started");
                return [v.Vips.IsEmpty ? "no VIP" : "VIP " + v.Vips[0],
                    v.Resources.IsEmpty ? "no resources" : $"res {started}/{v.Resources.Length} started"];
            }
            case PanelScreen.Fence:
                return [v.LastFence is { } f ? $"fence {f.Target} {(f.Result == "fenced" ? "ok" : f.Result)}" : "no fence yet",
                    $"fencing: {v.FencingState}"];
            default:
                return [_alarms.Count == 0 ? "no alarms" : _alarms.Count == 1 ? "1 alarm" : $"{_alarms.Count} alarms",
                    _alarms.Count == 0 ? "" : _alarms[0].Text];
        }
    }

    /// <summary>The role as a person reads it on the LCD.</summary>
    public static string RoleWord(string role) => role switch
    {
        "active" => "ACTIVE",
        "takeover" => "going active",
        "failed" => "FAILED",
        _ => role,
    };

    /// <summary>"3s", "15m", "4h", "12d": the biggest unit, rounded down.</summary>
    public static string Ago(TimeSpan t)
    {
        if (t < TimeSpan.Zero)
            t = TimeSpan.Zero;
        return t.TotalSeconds < 60 ? $"{(int)t.TotalSeconds}s"
            : t.TotalMinutes < 60 ? $"{(int)t.TotalMinutes}m"
            : t.TotalHours < 48 ? $"{(int)t.TotalHours}h"
            : $"{(int)t.TotalDays}d";
    }

    public static string Name(ButtonRole role) => role.ToString().ToUpperInvariant();
}
