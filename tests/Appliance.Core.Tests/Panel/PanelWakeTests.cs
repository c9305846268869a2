using System.Text.Json;
using Appliance.Core.Panel;
using Xunit.Abstractions;

namespace Appliance.Core.Tests.Panel;

/// <summary>
/// The panel thread sleeps between button edges, status changes and the instants
/// <see cref="PanelModel.NextDue"/> names. These tests hold it to that: a model woken only then
/// reports the same button events and actions at the same instants, and shows the same LEDs and
/// LCD at every millisecond, as a model sampled every millisecond. Fake time, seeded schedules
/// (the seed is printed and in every failure).
/// </summary>
public class PanelWakeTests(ITestOutputHelper output)
{
    private static readonly PanelTimings T = PanelTimings.Default;
    private static readonly ButtonRole[] Roles = Enum.GetValues<ButtonRole>();

    /// <summary>One input: a button's new raw level, or a new view of the node, at a whole millisecond.</summary>
    private sealed record Input(long Ms, ButtonRole? Button, bool Level, PanelView? View);

    private static PanelView View(string role, string peer, bool alarm, long stalls) =>
        new("alpha", role, "the peer released", "beta", peer, "standby")
        {
            Links = [new PanelLink("serial0", true), new PanelLink("lan1", peer == "up")],
            Resources = [new PanelResource("vip-web", "vip", role == "active" ? "started" : "stopped")],
            Vips = ["203.0.113.10"],
            Stalls = stalls,
            Conditions = alarm ? [new AlarmCondition("fence-failed:beta", "fence failed beta")] : [],
        };

    /// <summary>
    /// Presses of every kind (a bounce alone, short, a hold, a long hold, now and then stuck), each
    /// with contact bounce at make and break, and a node that changes role, peer state and alarms.
    /// Each button changes only at its own residue modulo 10 ms and views at another, and every
    /// model time (debounce 20 ms, hold 3 s, stuck 30 s, the 10 s question) is a multiple of 10 ms:
    /// two things never fall on one instant, so the order within an instant cannot differ.
    /// </summary>
    private static List<Input> Schedule(int seed, long endMs)
    {
        var rng = new Random(seed);
        var inputs = new List<Input>();
        for (int b = 0; b < Roles.Length; b++)
        {
            long t = 1000 + rng.Next(0, 300) * 10 + b * 3;
            bool level = false;
            void Set(bool v)
            {
                if (v == level)
                    return;
                level = v;
                inputs.Add(new Input(t, Roles[b], v, null));
            }
            void Bounce(bool to)
            {
                for (int i = rng.Next(0, 4); i > 0; i--)
                {
                    Set(to);
                    t += 10;
                    Set(!to);
                    t += 10;
                }
                Set(to);
            }
            while (t < endMs - 40_000)
            {
                t += rng.Next(20, 400) * 10;
                int kind = rng.Next(100);
                if (kind < 10) // chatter only, never 20 ms stable
                {
                    Set(true);
                    t += 10;
                    Set(false);
                    continue;
                }
                long hold = kind < 50 ? rng.Next(6, 40) * 10L
                    : kind < 80 ? rng.Next(300, 360) * 10L
                    : kind < 96 ? rng.Next(500, 900) * 10L
                    : rng.Next(3100, 3300) * 10L; // stuck
                Bounce(true);
                t += hold;
                Bounce(false);
            }
        }
        long v = 1008;
        while (v < endMs)
        {
            string role = new[] { "active", "standby", "takeover", "fencing" }[rng.Next(4)];
            string peer = new[] { "up", "warn", "dead" }[rng.Next(3)];
            inputs.Add(new Input(v, null, false, View(role, peer, rng.Next(4) == 0, rng.Next(3))));
            v += rng.Next(100, 800) * 10;
        }
        return [.. inputs.OrderBy(i => i.Ms).ThenBy(i => i.View is null)];
    }

    private static bool[] Lit(PanelModel m, TimeSpan now) =>
        [.. Enum.GetValues<LedRole>().Select(r => Leds.Lit(m.Leds[r], now, T))];

    [Theory]
    [InlineData(LcdSize.Size16x2)]
    [InlineData(LcdSize.Size20x4)]
    public void Woken_only_at_inputs_and_next_due_the_panel_shows_and_does_what_sampling_every_ms_does(LcdSize size)
    {
        for (int round = 0; round < 3; round++)
        {
            int seed = Random.Shared.Next();
            output.WriteLine($"seed {seed} ({size})");
            Compare(seed, size);
        }
    }

    private void Compare(int seed, LcdSize size)
    {
        const long endMs = 150_000;
        var start = TimeSpan.FromMilliseconds(new Random(seed).Next(1, int.MaxValue / 2) * 10L);
        TimeSpan At(long ms) => start + TimeSpan.FromMilliseconds(ms);
        var inputs = Schedule(seed, endMs);
        var initial = View("standby", "up", false, 0);

        // S: sampled every millisecond, as a panel thread that never sleeps.
        var s = new PanelModel("alpha", size, T, start);
        // E: woken only at inputs and at NextDue, as PanelService.
        var e = new PanelModel("alpha", size, T, start);
        foreach (var m in new[] { s, e })
        {
            m.Update(start, initial);
            foreach (var b in Roles)
                m.Sample(start, b, false);
        }
        var levels = new bool[Roles.Length];
        var sEvents = new List<string>();
        var eEvents = new List<string>();
        int si = 0, ei = 0, wakes = 0;
        var eNow = start;
        string[] eRows = e.Lcd(start);
        bool[] eLit = Lit(e, start);

        for (long ms = 1; ms <= endMs; ms++)
        {
            var t = At(ms);
            // E: every wake-up up to t, in order.
            for (int guard = 0; ; guard++)
            {
                Assert.True(guard < 1000, $"seed {seed}: more than 1000 wake-ups within one millisecond at {ms} ms");
                var nextInput = ei < inputs.Count ? At(inputs[ei].Ms) : TimeSpan.MaxValue;
                var nextDue = e.NextDue(eNow) ?? TimeSpan.MaxValue;
                Assert.True(nextDue >= eNow, $"seed {seed}: NextDue {nextDue} before now {eNow}");
                var w = nextInput < nextDue ? nextInput : nextDue;
                if (w > t)
                    break;
                eNow = w;
                wakes++;
                while (ei < inputs.Count && At(inputs[ei].Ms) == w)
                {
                    var input = inputs[ei++];
                    if (input.View is { } v)
                        e.Update(w, v);
                    else if (e.Sample(w, input.Button!.Value, input.Level) is { } kind)
                        eEvents.Add($"{(w - start).TotalMilliseconds} {input.Button} {kind}");
                }
                foreach (var ev in e.Advance(w))
                    eEvents.Add($"{(w - start).TotalMilliseconds} {ev.Button} {ev.Kind}");
                if (e.TakeAction() is { } action)
                    eEvents.Add($"{(w - start).TotalMilliseconds} action {action}");
                eRows = e.Lcd(w);
                eLit = Lit(e, w);
            }

            // S: the inputs at t, then every button sampled.
            while (si < inputs.Count && inputs[si].Ms == ms)
            {
                var input = inputs[si++];
                if (input.View is { } v)
                    s.Update(t, v);
                else
                    levels[Array.IndexOf(Roles, input.Button!.Value)] = input.Level;
            }
            for (int b = 0; b < Roles.Length; b++)
                if (s.Sample(t, Roles[b], levels[b]) is { } kind)
                    sEvents.Add($"{ms} {Roles[b]} {kind}");
            if (s.TakeAction() is { } sAction)
                sEvents.Add($"{ms} action {sAction}");

            string[] sRows = s.Lcd(t);
            if (!sRows.SequenceEqual(eRows) || !Lit(s, t).SequenceEqual(eLit))
                Assert.Fail($"seed {seed}: at {ms} ms the panel last woken at {(eNow - start).TotalMilliseconds} ms shows " +
                            $"[{string.Join("|", eRows)}] LEDs {string.Join("", eLit.Select(l => l ? '1' : '0'))}, " +
                            $"sampling shows [{string.Join("|", sRows)}] LEDs {string.Join("", Lit(s, t).Select(l => l ? '1' : '0'))}");
        }
        Assert.True(sEvents.SequenceEqual(eEvents),
            $"seed {seed}: events differ\nsampled: {string.Join(", ", sEvents)}\nwoken:   {string.Join(", ", eEvents)}");
        Assert.Contains(sEvents, x => x.EndsWith(" Hold", StringComparison.Ordinal));
        Assert.Contains(sEvents, x => x.EndsWith(" Press", StringComparison.Ordinal));
        output.WriteLine($"  {sEvents.Count} button events and actions, the same; {wakes} wake-ups against {endMs} samples");
    }

    [Fact]
    public void An_idle_active_node_wakes_once_a_minute_and_a_standby_twice_a_second()
    {
        var start = TimeSpan.FromMilliseconds(Random.Shared.Next(1, int.MaxValue));
        int Wakes(string role, TimeSpan span)
        {
            var m = new PanelModel("alpha", LcdSize.Size16x2, T, start);
            foreach (var b in Roles)
                m.Sample(start, b, false);
            m.Update(start, View(role, "up", false, 0));
            var now = start + TimeSpan.FromHours(1); // the role line counts hours by then
            var end = now + span;
            int n = 0;
            while (m.NextDue(now) is { } due && due <= end)
            {
                now = due;
                m.Advance(now);
                n++;
            }
            return n;
        }
        // Active: every LED steady, the LCD's "1h" changes once an hour.
        Assert.InRange(Wakes("active", TimeSpan.FromMinutes(10)), 0, 1);
        // Standby: the active LED blinks at 1 Hz (two changes a second); nothing else.
        Assert.Equal(20, Wakes("standby", TimeSpan.FromSeconds(10)));
        // Taking over: 4 Hz, eight changes a second.
        Assert.Equal(80, Wakes("takeover", TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void A_button_held_is_due_at_its_hold_and_then_its_stuck_time_and_released_at_nothing()
    {
        var since = TimeSpan.FromMilliseconds(Random.Shared.Next(1, int.MaxValue));
        var m = new PanelModel("alpha", LcdSize.Size16x2, T, since);
        m.Update(since, View("active", "up", false, 0));
        foreach (var b in Roles)
            m.Sample(since, b, false);
        // Three days on, the role line's age turns once a day: out of the way of what is tested.
        var now = since + TimeSpan.FromDays(3) + TimeSpan.FromHours(1);
        Assert.Equal(since + TimeSpan.FromDays(4), m.NextDue(now));
        var down = now + TimeSpan.FromSeconds(1);
        m.Sample(down, ButtonRole.Next, true);
        Assert.Equal(down + T.Debounce, m.NextDue(down));
        Assert.Empty(m.Advance(down + T.Debounce));
        Assert.Equal(down + T.Hold, m.NextDue(down + T.Debounce));
        Assert.Equal([new ButtonEvent(ButtonRole.Next, ButtonEventKind.Hold)], m.Advance(down + T.Hold));
        Assert.Equal(down + T.Stuck, m.NextDue(down + T.Hold));
        Assert.Equal([new ButtonEvent(ButtonRole.Next, ButtonEventKind.Stuck)], m.Advance(down + T.Stuck));
        Assert.Equal([ButtonRole.Next], m.StuckButtons);
        var up = down + T.Stuck + TimeSpan.FromSeconds(5);
        Assert.Equal(since + TimeSpan.FromDays(4), m.NextDue(up)); // stuck: nothing of the button's is due (its alarm is not on screen)
        Assert.Null(m.Sample(up, ButtonRole.Next, false));
        Assert.Equal(up + T.Debounce, m.NextDue(up));
        Assert.Equal([new ButtonEvent(ButtonRole.Next, ButtonEventKind.Unstuck)], m.Advance(up + T.Debounce));
        Assert.Empty(m.StuckButtons);
    }

    [Theory]
    [InlineData(0, 1_000)]
    [InlineData(999, 1_000)]
    [InlineData(1_000, 2_000)]
    [InlineData(59_999, 60_000)]
    [InlineData(60_000, 120_000)]
    [InlineData(3_599_999, 3_600_000)]
    [InlineData(3_600_000, 7_200_000)]
    [InlineData(48 * 3_600_000L, 72 * 3_600_000L)]
    public void The_lcd_age_turns_at_whole_units(long elapsedMs, long nextMs)
    {
        var since = TimeSpan.FromMilliseconds(Random.Shared.Next(1, int.MaxValue));
        var next = PanelModel.NextAgoChange(since + TimeSpan.FromMilliseconds(elapsedMs), since);
        Assert.Equal(TimeSpan.FromMilliseconds(nextMs), next - since);
        Assert.NotEqual(PanelModel.Ago(next - since - TimeSpan.FromTicks(1)), PanelModel.Ago(next - since));
    }

    [Fact]
    public void Views_of_the_same_state_are_equal_whatever_the_counters_say()
    {
        const string a = """{"node": "alpha", "role": "active", "peer": {"name": "beta", "state": "up", "links": [{"name": "serial0", "state": "up", "counters": {"rx": 10}}]}, "resources": [{"name": "vip", "kind": "vip", "state": "started"}], "heartbeat": {"sent": 100}}""";
        const string b = """{"node": "alpha", "role": "active", "peer": {"name": "beta", "state": "up", "links": [{"name": "serial0", "state": "up", "counters": {"rx": 99}}]}, "resources": [{"name": "vip", "kind": "vip", "state": "started"}], "heartbeat": {"sent": 512}}""";
        const string c = """{"node": "alpha", "role": "active", "peer": {"name": "beta", "state": "up", "links": [{"name": "serial0", "state": "down"}]}, "resources": [{"name": "vip", "kind": "vip", "state": "started"}]}""";
        PanelView Read(string json)
        {
            using var doc = JsonDocument.Parse(json);
            return PanelView.FromStatus(doc.RootElement);
        }
        Assert.Equal(Read(a), Read(b));
        Assert.Equal(Read(a).GetHashCode(), Read(b).GetHashCode());
        Assert.NotEqual(Read(a), Read(c));
        Assert.NotEqual(Read(a), Read(a) with { Conditions = [new AlarmCondition("unfit", "unfit: x")] });
        Assert.NotEqual(Read(a), Read(a) with { LastFence = new PanelFence("beta", "fenced") });
        Assert.NotEqual(Read(a), Read(a) with { Stalls = 1 });
    }
}
