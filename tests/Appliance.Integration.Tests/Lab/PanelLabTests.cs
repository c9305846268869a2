using System.Diagnostics;
using System.Text.Json;
using Appliance.Core.Panel;
using Appliance.Integration.Tests.Edge;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Lab;

/// <summary>Fencing required (the relays, then the PDUs), so a node powered off is fenced and its peer takes over.</summary>
public sealed class PanelLabFixture() : LabFixture("p", "--fencing", "required");

/// <summary>
/// The front panels of the lab pair as a person reads them (issue 11): `lab panel NODE --json`
/// samples the LED lines and reads the LCD text the simulated HD44780 decoded from the daemon's pin
/// writes; `lab press` presses a button. The active and standby LEDs, an alarm shown and
/// acknowledged, a held SELECT performing a planned switchover and a short press not, the survivor
/// of a fence showing it, a stuck button (down from before the daemon started, or held past
/// panel.stuck) reported and not obeyed. The buttons are read by edge events (the simulated chip's
/// change notifications): nothing here samples them.
/// </summary>
[Collection("lab")]
public sealed class PanelLabTests(PanelLabFixture fixture, ITestOutputHelper output) : IClassFixture<PanelLabFixture>
{
    private Lab L => fixture.Lab;

    private (Dictionary<string, string> Leds, string[] Lcd) Panel(string node)
    {
        var r = L.Run("panel", node, "--json");
        Assert.True(r.Exit == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var leds = doc.RootElement.GetProperty("leds").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        string[] lcd = [.. doc.RootElement.GetProperty("lcd").EnumerateArray().Select(e => e.GetString()!)];
        return (leds, lcd);
    }

    /// <summary>Both nodes up, one of them active and its LCD saying so.</summary>
    private (string Active, string Standby) Settled()
    {
        string? active = null;
        Lab.WaitUntil(() => (active = FencingLab.Holder(L)) is not null
                            && L.Status(active)?.GetProperty("role").GetString() == "active"
                            && L.Status(FencingLab.Other(active))?.GetProperty("role").GetString() == "standby",
            TimeSpan.FromSeconds(30), "one node active, the other standby");
        return (active!, FencingLab.Other(active!));
    }

    [RootFact]
    public void The_active_node_lights_active_and_the_standby_blinks_slowly()
    {
        var (active, standby) = Settled();
        Lab.WaitUntil(() => Panel(active).Lcd[0].StartsWith($"{active} ACTIVE", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the active LCD");
        var a = Panel(active);
        var s = Panel(standby);
        output.WriteLine($"{active}: {string.Join(' ', a.Leds)} | {string.Join(" | ", a.Lcd)}");
        output.WriteLine($"{standby}: {string.Join(' ', s.Leds)} | {string.Join(" | ", s.Lcd)}");
        Assert.Equal(new Dictionary<string, string> { ["power"] = "on", ["active"] = "on", ["peer"] = "on", ["fault"] = "off" }, a.Leds);
        Assert.Equal(new Dictionary<string, string> { ["power"] = "on", ["active"] = "slow", ["peer"] = "on", ["fault"] = "off" }, s.Leds);
        Assert.StartsWith($"{standby} standby", s.Lcd[0]);
        Assert.Equal(16, a.Lcd[0].Length);

        L.Must("press", active, "next");
        Lab.WaitUntil(() => Panel(active).Lcd[0].StartsWith($"peer {standby} up", StringComparison.Ordinal), TimeSpan.FromSeconds(5), "the peer screen");
        Assert.Equal("links 2/2 up    ", Panel(active).Lcd[1]);
        L.Must("press", active, "prev");
        Lab.WaitUntil(() => Panel(active).Lcd[0].StartsWith($"{active} ACTIVE", StringComparison.Ordinal), TimeSpan.FromSeconds(5), "back to the role screen");
    }

    [RootFact]
    public void A_real_server_down_is_an_alarm_on_the_lcd_until_select_acknowledges_it()
    {
        var (active, _) = Settled();
        try
        {
            L.Must("rs", "stop", "rs1");
            var sw = Stopwatch.StartNew();
            Lab.WaitUntil(() => Panel(active).Lcd[0].StartsWith("! down 10.77.0.1", StringComparison.Ordinal), TimeSpan.FromSeconds(20), "the alarm on the LCD");
            output.WriteLine($"alarm on the LCD {sw.ElapsedMilliseconds} ms after the real server stopped");
            var p = Panel(active);
            Assert.Equal("on", p.Leds["fault"]);
            Assert.EndsWith("SEL:ack", p.Lcd[1].TrimEnd());
            L.Must("press", active, "next"); // does not dismiss it
            Assert.StartsWith("! down", Panel(active).Lcd[0]);
            L.Must("press", active, "select");
            Lab.WaitUntil(() => Panel(active).Lcd[0].StartsWith($"{active} ACTIVE", StringComparison.Ordinal), TimeSpan.FromSeconds(5), "the alarm acknowledged");
            Assert.Equal("on", Panel(active).Leds["fault"]); // still open
            var panel = L.Status(active)!.Value.GetProperty("panel");
            Assert.Contains(panel.GetProperty("alarms").EnumerateArray(), a => a.GetProperty("acknowledged").GetBoolean());
        }
        finally
        {
            L.Run("rs", "start", "rs1");
        }
        Lab.WaitUntil(() => Panel(active).Leds["fault"] == "off", TimeSpan.FromSeconds(20), "the fault LED off once the real server is back");
    }

    [RootFact]
    public void Select_held_twice_on_the_role_screen_is_a_planned_switchover_and_a_short_press_is_not()
    {
        var (active, standby) = Settled();
        L.Must("press", active, "select");
        L.Must("press", active, "select", "--hold", "1");
        Thread.Sleep(TimeSpan.FromSeconds(2));
        Assert.Equal(active, FencingLab.Holder(L));

        L.Must("press", active, "select", "--hold", "3.5");
        Assert.Equal(["standby?        ", "hold to confirm "], Panel(active).Lcd);
        Assert.Equal(active, FencingLab.Holder(L));
        var sw = Stopwatch.StartNew();
        L.Must("press", active, "select", "--hold", "3.5");
        var took = Lab.WaitUntil(() => FencingLab.Holder(L) == standby, TimeSpan.FromSeconds(20), "the VIP on the other node");
        output.WriteLine($"the VIP moved {sw.ElapsedMilliseconds} ms after the confirming hold began");
        Assert.Contains("panel: SELECT held twice", L.Log(active));
        Lab.WaitUntil(() => Panel(standby).Lcd[0].StartsWith($"{standby} ACTIVE", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the new active LCD");
        Assert.Equal("slow", Panel(active).Leds["active"]);
        // No fencing: a planned switchover.
        Assert.Equal("idle", L.Status(standby)!.Value.GetProperty("fencing").GetProperty("state").GetString());
    }

    [RootFact]
    public void The_panel_thread_leaves_the_heartbeat_cadence_alone()
    {
        var (active, _) = Settled();
        // Keep the LCD busy (screen changes rewrite both rows) for a while, then read the heartbeat's
        // own worst gap between sends; generous bound, the figure is printed.
        for (int i = 0; i < 10; i++)
            L.Must("press", active, i % 2 == 0 ? "next" : "prev");
        var hb = L.Status(active)!.Value.GetProperty("heartbeat");
        long worstUs = hb.GetProperty("worst_send_gap_us").GetInt64();
        output.WriteLine($"worst send gap with the panel updating: {worstUs / 1000.0:0.0} ms (keepalive 200 ms)");
        Assert.True(worstUs < 600_000, $"worst send gap {worstUs} us reached warntime");
    }

    [RootFact]
    public void A_dead_lcd_is_shown_in_status_and_leaves_the_leds_and_the_heartbeat_alone()
    {
        var (_, standby) = Settled();
        L.Must("stop", standby);
        // Another holder of the LCD's E line (offset 9 of the chip): the LCD cannot be opened.
        using (FlockHolder.Start(Path.Combine(L.Env["LAB_DIR"], $"gpio-{standby}", "line9")))
        {
            L.Must("start", standby);
            L.WaitBothUp(TimeSpan.FromSeconds(30));
            string lcdError = "";
            Lab.WaitUntil(() => (lcdError = L.Status(standby)?.GetProperty("panel").GetProperty("lcd_error").GetString() ?? "").Length > 0,
                TimeSpan.FromSeconds(10), "the LCD's failure in status");
            output.WriteLine($"panel.lcd_error: {lcdError}");
            Assert.Contains("busy", lcdError);
            var panel = L.Status(standby)!.Value.GetProperty("panel");
            Assert.Equal("running", panel.GetProperty("state").GetString());
            var p = Panel(standby);
            Assert.Equal("on", p.Leds["power"]);
            Assert.Equal("slow", p.Leds["active"]);
            Assert.Equal("up", L.PeerState(FencingLab.Other(standby)));
            Assert.Contains("panel: the LCD failed", L.Log(standby));
        }
        // The LCD is tried again every 30 s; a new boot gives the next tests a working one now.
        L.Must("restart", standby);
        L.WaitBothUp(TimeSpan.FromSeconds(30));
        Lab.WaitUntil(() => Panel(standby).Lcd[0].StartsWith($"{standby} standby", StringComparison.Ordinal), TimeSpan.FromSeconds(15), "the LCD working after the restart");
    }

    [RootFact]
    public void After_a_fence_the_survivor_shows_the_fence_and_lights_active()
    {
        var (active, survivor) = Settled();
        try
        {
            L.Must("power", "off", active);
            FencingLab.Wait(L, () => L.Status(survivor) is { } s && s.GetProperty("role").GetString() == "active"
                                     && s.GetProperty("fencing").GetProperty("last").ValueKind == JsonValueKind.Object
                                     && s.GetProperty("fencing").GetProperty("last").GetProperty("result").GetString() == "fenced",
                TimeSpan.FromSeconds(30), $"{survivor} fenced {active} and took over");
            Lab.WaitUntil(() => Panel(survivor).Lcd[0].StartsWith($"{survivor} ACTIVE", StringComparison.Ordinal), TimeSpan.FromSeconds(10),
                "the survivor's LCD saying ACTIVE");
            var p = Panel(survivor);
            output.WriteLine($"{survivor} after fencing {active}: {string.Join(' ', p.Leds)} | {string.Join(" | ", p.Lcd)}");
            Assert.Equal(new Dictionary<string, string> { ["power"] = "on", ["active"] = "on", ["peer"] = "off", ["fault"] = "off" }, p.Leds);
            // The last-fence screen, four screens on from the role screen (peer, config, resources,
            // fence): one press at a time, each seen on the LCD before the next (presses in quick
            // succession on a loaded machine could fall within one debounce window and count once).
            static string ScreenOf(string line) => line.Split(' ')[0];
            for (int i = 1; i <= 4; i++)
            {
                string before = ScreenOf(Panel(survivor).Lcd[0]);
                L.Must("press", survivor, "next");
                Lab.WaitUntil(() => ScreenOf(Panel(survivor).Lcd[0]) != before, TimeSpan.FromSeconds(5), $"the LCD moving on after NEXT press {i}");
            }
            Assert.Equal($"fence {active} ok".PadRight(16), Panel(survivor).Lcd[0]);
            Assert.StartsWith("fencing: ", Panel(survivor).Lcd[1]); // the fencing phase: done, then idle
        }
        finally
        {
            // Back to the role screen for the next tests (NEXT wraps around the six screens).
            for (int i = 0; i < 6 && !Panel(survivor).Lcd[0].StartsWith($"{survivor} ", StringComparison.Ordinal); i++)
            {
                L.Run("press", survivor, "next");
                Thread.Sleep(200);
            }
            FencingLab.Restore(L);
        }
    }

    [RootFact]
    public void A_button_down_from_before_the_daemon_starts_or_held_past_stuck_is_reported_and_not_obeyed()
    {
        var (_, node) = Settled();
        string chip = Path.Combine(L.Env["LAB_DIR"], $"gpio-{node}");
        // Offsets 5-7 are SELECT, NEXT, PREV (lib/verbs-panel.sh); not active low in board/lab.yaml.
        using var select = LevelWriter.Open(Path.Combine(chip, "line5"), level: false);
        using var next = LevelWriter.Open(Path.Combine(chip, "line6"), level: false);
        L.Must("stop", node);
        select.Set(true); // a jammed SELECT, down before the daemon starts: no edge will ever say so
        L.Must("start", node);
        L.WaitBothUp(TimeSpan.FromSeconds(30));
        JsonElement Panel() => L.Status(node)!.Value.GetProperty("panel");
        string[] Stuck() => [.. Panel().GetProperty("stuck").EnumerateArray().Select(e => e.GetString()!)];
        Lab.WaitUntil(() => Stuck().SequenceEqual(["select"]), TimeSpan.FromSeconds(10), "SELECT stuck in status");
        Assert.Equal("notified", Panel().GetProperty("buttons").GetProperty("select").GetString());
        Assert.Contains(Panel().GetProperty("alarms").EnumerateArray(), a => a.GetProperty("text").GetString() == "stuck SELECT");
        Assert.Contains("button SELECT is stuck", L.Log(node));
        Lab.WaitUntil(() => this.Panel(node).Lcd[0].StartsWith($"{node} standby", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the role screen");
        // Down far longer than the 3 s hold: obeyed, it would ask "standby?". It does not.
        Thread.Sleep(PanelTimings.Default.Hold * 2);
        var p = this.Panel(node);
        Assert.StartsWith($"{node} standby", p.Lcd[0]);
        Assert.Equal("on", p.Leds["fault"]); // an alarm is open
        // The other buttons are obeyed meanwhile.
        L.Must("press", node, "next");
        Lab.WaitUntil(() => this.Panel(node).Lcd[0].StartsWith("peer ", StringComparison.Ordinal), TimeSpan.FromSeconds(5), "NEXT obeyed");
        L.Must("press", node, "prev");

        select.Set(false);
        Lab.WaitUntil(() => Stuck().Length == 0, TimeSpan.FromSeconds(10), "SELECT released");
        Assert.Contains("button SELECT released, obeyed again", L.Log(node));
        Lab.WaitUntil(() => this.Panel(node).Leds["fault"] == "off", TimeSpan.FromSeconds(10), "the fault LED off");

        // Held past panel.stuck (30 s) while the daemon runs: no edge comes then, the panel's own timer says so.
        next.Set(true);
        var sw = Stopwatch.StartNew();
        try
        {
            Lab.WaitUntil(() => Stuck().SequenceEqual(["next"]), PanelTimings.Default.Stuck + TimeSpan.FromSeconds(15), "NEXT stuck in status");
            output.WriteLine($"NEXT reported stuck {sw.Elapsed.TotalSeconds:0.0} s after it went down (panel.stuck 30 s)");
            Assert.True(sw.Elapsed >= PanelTimings.Default.Stuck - TimeSpan.FromSeconds(1), $"stuck after {sw.Elapsed}");
        }
        finally
        {
            next.Set(false);
        }
        Lab.WaitUntil(() => Stuck().Length == 0, TimeSpan.FromSeconds(10), "NEXT released");
        Lab.WaitUntil(() => this.Panel(node).Lcd[0].StartsWith($"{node} standby", StringComparison.Ordinal), TimeSpan.FromSeconds(5),
            "still the role screen: a stuck button's release is no press");
    }
}
