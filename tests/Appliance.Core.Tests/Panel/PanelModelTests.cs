using System.Collections.Immutable;
using System.Text.Json;
using Appliance.Core.Panel;
using Appliance.Core.Tests.Architecture;

namespace Appliance.Core.Tests.Panel;

/// <summary>
/// The panel model on fake time: LED patterns from each role and alarm, LCD text for each screen,
/// alarms that take over until acknowledged, debounced buttons, the held-SELECT switchover and a
/// stuck button. Time starts at a random instant, so nothing here can lean on a real clock.
/// </summary>
public class PanelModelTests
{
    private static readonly TimeSpan Start = TimeSpan.FromMilliseconds(Random.Shared.Next(1, int.MaxValue));
    private static readonly PanelTimings T = PanelTimings.Default;
    private TimeSpan _now = Start;

    private static PanelView View(string role = "active", string peer = "up", bool linksUp = true, params AlarmCondition[] conditions) =>
        new("alpha", role, "the peer released", "beta", peer, "standby")
        {
            Links = [new PanelLink("serial0", true), new PanelLink("lan1", linksUp)],
            Resources = [new PanelResource("vip-web", "vip", "started"), new PanelResource("web", "exec", "started")],
            Vips = ["203.0.113.10"],
            Conditions = [.. conditions],
        };

    private PanelModel Model(PanelView? view = null, LcdSize size = LcdSize.Size16x2)
    {
        var m = new PanelModel("alpha", size, T, _now);
        foreach (var b in Enum.GetValues<ButtonRole>())
            m.Sample(_now, b, false);
        m.Update(_now, view ?? View());
        return m;
    }

    /// <summary>Holds <paramref name="button"/> at <paramref name="pressed"/> for <paramref name="span"/>, sampling every 10 ms as the panel thread does.</summary>
    private List<ButtonEventKind> Drive(PanelModel m, ButtonRole button, bool pressed, TimeSpan span)
    {
        var events = new List<ButtonEventKind>();
        var end = _now + span;
        while (_now < end)
        {
            _now += TimeSpan.FromMilliseconds(10);
            if (m.Sample(_now, button, pressed) is { } e)
                events.Add(e);
        }
        return events;
    }

    private List<ButtonEventKind> Press(PanelModel m, ButtonRole b, TimeSpan hold)
    {
        var events = Drive(m, b, true, hold);
        events.AddRange(Drive(m, b, false, TimeSpan.FromMilliseconds(100)));
        return events;
    }

    public static TheoryData<string, string, bool, bool, LedPattern, LedPattern, LedPattern> LedCases() => new()
    {
        // role, peer state, all links up, alarm open -> active, peer, fault
        { "active", "up", true, false, LedPattern.On, LedPattern.On, LedPattern.Off },
        { "standby", "up", true, false, LedPattern.Slow, LedPattern.On, LedPattern.Off },
        { "takeover", "dead", true, false, LedPattern.Fast, LedPattern.Off, LedPattern.Off },
        { "fencing", "dead", true, true, LedPattern.Fast, LedPattern.Off, LedPattern.On },
        { "releasing", "up", true, false, LedPattern.Fast, LedPattern.On, LedPattern.Off },
        { "starting", "unknown", true, false, LedPattern.Off, LedPattern.Off, LedPattern.Off },
        { "failed", "up", true, true, LedPattern.Off, LedPattern.On, LedPattern.On },
        { "active", "up", false, false, LedPattern.On, LedPattern.Slow, LedPattern.Off },
        { "active", "warn", true, false, LedPattern.On, LedPattern.Slow, LedPattern.Off },
        { "active", "fenced", true, true, LedPattern.On, LedPattern.Off, LedPattern.On },
        { "active", "stopped", true, false, LedPattern.On, LedPattern.Off, LedPattern.Off },
    };

    [Theory]
    [MemberData(nameof(LedCases))]
    public void Leds_follow_role_peer_and_alarms(string role, string peer, bool linksUp, bool alarm, LedPattern active, LedPattern peerLed, LedPattern fault)
    {
        var m = Model(View(role, peer, linksUp, alarm ? [new AlarmCondition("fence-failed:beta", "fence failed beta")] : []));
        Assert.Equal(new LedSet(LedPattern.On, active, peerLed, fault), m.Leds);
    }

    [Fact]
    public void A_standby_fencing_its_peer_blinks_fast()
    {
        var m = Model(View("standby", "dead") with { FencingState = "retrying" });
        Assert.Equal(LedPattern.Fast, m.Leds.Active);
    }

    [Fact]
    public void Blink_rates_are_1_hz_and_4_hz()
    {
        int Toggles(LedPattern p)
        {
            int n = 0;
            bool last = Leds.Lit(p, Start, T);
            for (var t = Start; t < Start + TimeSpan.FromSeconds(10); t += TimeSpan.FromMilliseconds(5))
            {
                bool lit = Leds.Lit(p, t, T);
                if (lit != last) n++;
                last = lit;
            }
            return n;
        }
        Assert.InRange(Toggles(LedPattern.Slow), 19, 21);  // 10 s at 1 Hz: 20 edges
        Assert.InRange(Toggles(LedPattern.Fast), 79, 81);  // 10 s at 4 Hz: 80 edges
        Assert.Equal(0, Toggles(LedPattern.On));
        Assert.True(Leds.Lit(LedPattern.On, Start, T));
        Assert.False(Leds.Lit(LedPattern.Off, Start, T));
    }

    [Fact]
    public void Lcd_shows_each_screen_on_a_16x2()
    {
        var view = View() with { LastFence = new PanelFence("beta", "fenced"), ConfigSync = "in sync", ConfigVersion = "v7 1a2b3c4d" };
        var m = Model(view);
        _now += TimeSpan.FromMinutes(15);
        m.Update(_now, view);
        Assert.Equal(["alpha ACTIVE 15m", "the peer release"], m.Lcd(_now));
        Press(m, ButtonRole.Next, TimeSpan.FromMilliseconds(100));
        Assert.Equal(["peer beta up    ", "links 2/2 up    "], m.Lcd(_now));
        Press(m, ButtonRole.Next, TimeSpan.FromMilliseconds(100));
        Assert.Equal(["config in sync  ", "v7 1a2b3c4d     "], m.Lcd(_now));
        Press(m, ButtonRole.Next, TimeSpan.FromMilliseconds(100));
        Assert.Equal(["VIP 203.0.113.10", "res 2/2 started "], m.Lcd(_now));
        Press(m, ButtonRole.Next, TimeSpan.FromMilliseconds(100));
        Assert.Equal(["fence beta ok   ", "fencing: idle   "], m.Lcd(_now));
        Press(m, ButtonRole.Next, TimeSpan.FromMilliseconds(100));
        Assert.Equal(["no alarms       ", "                "], m.Lcd(_now));
        Press(m, ButtonRole.Prev, TimeSpan.FromMilliseconds(100));
        Assert.Equal(PanelScreen.Fence, m.Screen);
        Press(m, ButtonRole.Next, TimeSpan.FromMilliseconds(100));
        Press(m, ButtonRole.Next, TimeSpan.FromMilliseconds(100));
        Assert.Equal(PanelScreen.Role, m.Screen);
    }

    [Fact]
    public void After_a_failover_the_role_line_counts_from_the_transition()
    {
        var m = Model(View("standby"));
        _now += TimeSpan.FromHours(3);
        m.Update(_now, View("takeover", "dead"));
        _now += TimeSpan.FromSeconds(3);
        Assert.Equal(["alpha going acti", "3s the peer rele"], m.Lcd(_now));
        m.Update(_now, View("active", "fenced") with { LastFence = new PanelFence("beta", "fenced") });
        _now += TimeSpan.FromSeconds(2);
        Assert.Equal("alpha ACTIVE 2s ", m.Lcd(_now)[0]);
        var wide = Model(View("takeover", "dead"), LcdSize.Size20x4);
        _now += TimeSpan.FromSeconds(3);
        Assert.Equal(["alpha going active  ", "3s the peer released", "peer beta dead      ", "links 2/2 up        "], wide.Lcd(_now));
    }

    [Fact]
    public void An_alarm_takes_over_until_select_acknowledges_it_and_the_fault_led_stays_on_while_open()
    {
        var m = Model();
        _now += TimeSpan.FromSeconds(1);
        var failed = new AlarmCondition("fence-failed:beta", "fence failed beta");
        m.Update(_now, View(conditions: failed));
        _now += TimeSpan.FromSeconds(4);
        m.Update(_now, View(conditions: [failed, new AlarmCondition("dup-vip:203.0.113.10", "dup VIP 203.0.113.10")]));
        Assert.Equal(["! dup VIP 203.0.", "0s ago SEL:ack  "], m.Lcd(_now));
        Assert.Equal(["dup VIP 203.0.113.10", "fence failed beta"], m.Alarms.Select(a => a.Text));
        Press(m, ButtonRole.Next, TimeSpan.FromMilliseconds(100)); // NEXT does not dismiss an alarm
        Assert.StartsWith("! dup VIP", m.Lcd(_now)[0]);
        Assert.Equal([ButtonEventKind.Press], Press(m, ButtonRole.Select, TimeSpan.FromMilliseconds(100)));
        Assert.Equal("! fence failed b", m.Lcd(_now)[0]);
        Press(m, ButtonRole.Select, TimeSpan.FromMilliseconds(100));
        Assert.Equal("alpha ACTIVE 5s ", m.Lcd(_now)[0]);
        Assert.Equal(LedPattern.On, m.Leds.Fault);
        m.Update(_now, View(conditions: failed));
        Assert.Equal(LedPattern.On, m.Leds.Fault);
        m.Update(_now, View());
        Assert.Equal(LedPattern.Off, m.Leds.Fault);
        Assert.Empty(m.Alarms);
    }

    [Fact]
    public void A_stall_stays_an_alarm_after_the_count_stops_growing_until_acknowledged()
    {
        var m = Model(View() with { Stalls = 2 });
        Assert.Empty(m.Alarms);
        m.Update(_now, View() with { Stalls = 3 });
        m.Update(_now, View() with { Stalls = 3 });
        Assert.Equal("stalled (not scheduled)", Assert.Single(m.Alarms).Text);
        Press(m, ButtonRole.Select, TimeSpan.FromMilliseconds(100));
        Assert.True(Assert.Single(m.Alarms).Acknowledged);
    }

    [Fact]
    public void Bounces_shorter_than_the_debounce_are_no_press()
    {
        var m = Model();
        var events = new List<ButtonEventKind>();
        for (int i = 0; i < 20; i++) // 5 ms contact chatter, never 20 ms stable
        {
            _now += TimeSpan.FromMilliseconds(5);
            if (m.Sample(_now, ButtonRole.Next, i % 2 == 0) is { } e) events.Add(e);
        }
        events.AddRange(Drive(m, ButtonRole.Next, false, TimeSpan.FromMilliseconds(100)));
        Assert.Empty(events);
        Assert.Equal(PanelScreen.Role, m.Screen);
        Assert.Equal([ButtonEventKind.Press], Press(m, ButtonRole.Next, TimeSpan.FromMilliseconds(60)));
    }

    [Fact]
    public void Holding_select_twice_for_3_s_asks_then_performs_a_standby()
    {
        var m = Model();
        Assert.Equal([ButtonEventKind.Hold], Press(m, ButtonRole.Select, TimeSpan.FromSeconds(3.2)));
        Assert.True(m.Confirming);
        Assert.Equal(["standby?        ", "hold to confirm "], m.Lcd(_now));
        Assert.Null(m.TakeAction());
        _now += TimeSpan.FromSeconds(1);
        Assert.Equal([ButtonEventKind.Hold], Press(m, ButtonRole.Select, TimeSpan.FromSeconds(3.2)));
        Assert.Equal(PanelAction.Standby, m.TakeAction());
        Assert.Null(m.TakeAction());
        Assert.Equal(["standby         ", "requested       "], m.Lcd(_now));
    }

    [Fact]
    public void A_short_press_or_a_hold_too_short_or_too_late_performs_nothing()
    {
        var m = Model();
        Press(m, ButtonRole.Select, TimeSpan.FromSeconds(2.5)); // below the hold
        Assert.False(m.Confirming);
        Press(m, ButtonRole.Select, TimeSpan.FromSeconds(3.2));
        Assert.True(m.Confirming);
        Assert.Equal([ButtonEventKind.Press], Press(m, ButtonRole.Select, TimeSpan.FromMilliseconds(200))); // cancels
        Assert.False(m.Confirming);
        Press(m, ButtonRole.Select, TimeSpan.FromSeconds(3.2));
        _now += T.ConfirmWindow; // the question times out
        Press(m, ButtonRole.Select, TimeSpan.FromSeconds(3.2));
        Assert.True(m.Confirming); // asked again, not performed
        Assert.Null(m.TakeAction());

        var other = Model();
        Press(other, ButtonRole.Next, TimeSpan.FromMilliseconds(100)); // not on the role screen
        Press(other, ButtonRole.Select, TimeSpan.FromSeconds(3.2));
        Press(other, ButtonRole.Select, TimeSpan.FromSeconds(3.2));
        Assert.Null(other.TakeAction());
    }

    [Fact]
    public void A_stuck_button_is_reported_and_not_obeyed_until_released()
    {
        var m = Model();
        var events = Drive(m, ButtonRole.Select, true, T.Stuck + TimeSpan.FromSeconds(1));
        Assert.Equal([ButtonEventKind.Hold, ButtonEventKind.Stuck], events);
        Assert.Equal([ButtonRole.Select], m.StuckButtons);
        Assert.False(m.Confirming);
        Assert.Equal("stuck SELECT", Assert.Single(m.Alarms).Text);
        Assert.Equal(LedPattern.On, m.Leds.Fault);
        Assert.Equal("alpha ACTIVE 31s", m.Lcd(_now)[0]); // reported, but not over the screen
        Assert.Equal([ButtonEventKind.Unstuck], Drive(m, ButtonRole.Select, false, TimeSpan.FromMilliseconds(100)));
        Assert.Empty(m.Alarms);
        Assert.Empty(m.StuckButtons);
    }

    [Fact]
    public void A_button_down_at_the_first_sample_is_stuck()
    {
        var m = new PanelModel("alpha", LcdSize.Size16x2, T, _now);
        Assert.Equal(ButtonEventKind.Stuck, m.Sample(_now, ButtonRole.Select, true));
        Assert.Empty(Drive(m, ButtonRole.Select, true, TimeSpan.FromSeconds(7))); // no hold, no question
        Assert.False(m.Confirming);
    }

    [Fact]
    public void View_reads_the_status_document_golden()
    {
        string path = Path.Combine(CoreIsSansIoTests.RepoRoot(), "tests", "Appliance.Integration.Tests", "Daemon", "Golden", "status.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        using var services = JsonDocument.Parse("""{"services": [{"name": "web", "servers": [{"address": "10.0.0.11:8080", "state": "down", "sorry": false}, {"address": "10.0.0.12:8080", "state": "up", "sorry": false}, {"address": "10.0.0.250:80", "state": "down", "sorry": true}]}]}""");
        var v = PanelView.FromStatus(doc.RootElement, services.RootElement);
        Assert.Equal(("alpha", "fencing", "beta", "dead"), (v.Node, v.Role, v.PeerName, v.PeerState));
        Assert.Equal([new PanelLink("serial0", false), new PanelLink("lan1", false)], v.Links.Take(2));
        Assert.Equal(new PanelFence("beta", "failed"), v.LastFence);
        Assert.Equal(["203.0.113.10"], v.Vips.ToArray());
        Assert.Equal(1, v.Stalls);
        Assert.Equal("retrying", v.FencingState);
        Assert.Equal(["fence-failed:beta", "rs-down:web:10.0.0.11:8080"], v.Conditions.Select(c => c.Key).Where(k => !k.StartsWith("warning:")));
        Assert.Contains(v.Conditions, c => c.Key.StartsWith("warning:service web"));
    }

    [Fact]
    public void A_diverged_config_is_an_alarm_and_the_config_screen_says_so()
    {
        using var doc = JsonDocument.Parse("""
            {"node": "alpha", "role": "active", "peer": {"name": "beta", "state": "up"},
             "config_sync": {"state": "diverged", "local": {"version": 9, "sha256": "1a2b3c4d5e6f00112233445566778899aabbccddeeff00112233445566778899"}}}
            """);
        var v = PanelView.FromStatus(doc.RootElement);
        Assert.Equal("diverged", v.ConfigSync);
        Assert.Equal("v9 1a2b3c4d", v.ConfigVersion);
        Assert.Contains(v.Conditions, c => c.Key == "config-diverged" && c.Text == "config diverged");
        using var older = JsonDocument.Parse("""{"node": "alpha", "role": "active"}""");
        var w = PanelView.FromStatus(older.RootElement);
        Assert.Equal("unknown", w.ConfigSync);
        Assert.DoesNotContain(w.Conditions, c => c.Key == "config-diverged");
    }
}
