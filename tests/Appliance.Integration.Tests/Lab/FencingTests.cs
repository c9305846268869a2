using System.Diagnostics;
using System.Text.Json;
using Appliance.Integration.Tests.Edge;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Lab;

/// <summary>The lab options shared by the fencing fixtures: fast timers, a short fence_delay.</summary>
internal static class FencingLab
{
    public static readonly string[] Timers = ["--fencing", "required", "--keepalive", "50ms", "--deadtime", "250ms",
        "--fence-delay", "300ms", "--fence-delay-random", "200ms"];

    public static string[] With(params string[] fence) => [.. Timers, "--fence", string.Join(',', fence)];

    public static string Other(string node) => node == "alpha" ? "beta" : "alpha";

    /// <summary>The node whose kernel holds the VIP (or null).</summary>
    public static string? Holder(Lab lab) =>
        lab.KernelHoldsVip("alpha") ? "alpha" : lab.KernelHoldsVip("beta") ? "beta" : null;

    /// <summary>
    /// Back to two powered, healthy nodes with one of them active: faults cleared, plugs in, a node
    /// held off by its peer's fence powered on with `fence on`.
    /// </summary>
    public static void Restore(Lab lab)
    {
        lab.Run("pdu", "fault", "none");
        lab.Run("relay", "fix", "alpha");
        lab.Run("relay", "fix", "beta");
        lab.Must("heal", "all");
        foreach (var n in new[] { "alpha", "beta" })
        {
            lab.Run("power", "on", n);
            if (lab.Power(n) == "off")
                lab.Run("ctl", Other(n), "fence", "on", n);
        }
        Wait(lab, () => lab.Power("alpha") == "on" && lab.Power("beta") == "on", TimeSpan.FromSeconds(10), "both nodes powered");
        lab.WaitBothUp(TimeSpan.FromSeconds(20));
        Wait(lab, () => Holder(lab) is not null, TimeSpan.FromSeconds(10), "one node holds the VIP");
        // A PDU's session opens with a 2 s handshake at daemon start: wait until it is watched.
        Wait(lab, () => new[] { "alpha", "beta" }.All(n => lab.Status(n)?.GetProperty("fencing").GetProperty("devices").EnumerateArray()
                .All(d => d.GetProperty("kind").GetString() != "serial-pdu" || d.GetProperty("health").GetString()!.StartsWith("session up")) == true),
            TimeSpan.FromSeconds(20), "every PDU session up");
    }

    /// <summary>Like <see cref="Lab.WaitUntil"/>, but a timeout carries both nodes' status and log tails.</summary>
    public static TimeSpan Wait(Lab lab, Func<bool> condition, TimeSpan timeout, string what)
    {
        try
        {
            return Lab.WaitUntil(condition, timeout, what);
        }
        catch (TimeoutException e)
        {
            var detail = new System.Text.StringBuilder(e.Message);
            foreach (var n in new[] { "alpha", "beta" })
            {
                detail.Append($"\n--- {n}: power {lab.Power(n)}\n").Append(lab.Run("ctl", n, "status").Out);
                var log = lab.Log(n).Split('\n');
                detail.Append(string.Join('\n', log.Skip(Math.Max(0, log.Length - 25))));
            }
            throw new TimeoutException(detail.ToString(), e);
        }
    }

    /// <summary>The fence history of NODE as JSON entries.</summary>
    public static JsonElement[] History(Lab lab, string node)
    {
        string? text = lab.Control(node, "{\"cmd\":\"fence-history\"}");
        Assert.NotNull(text);
        using var doc = JsonDocument.Parse(text);
        return [.. doc.RootElement.GetProperty("history").EnumerateArray().Select(e => e.Clone())];
    }
}

public sealed class RelayLabFixture() : LabFixture("r", FencingLab.With("relay"));

/// <summary>
/// Fencing by the peer's relay (issue 4): a true partition leaves exactly one node, never two with
/// the VIP; a node whose plug is pulled is fenced (already off counts once verified) and taken over.
/// </summary>
[Collection("lab")]
public sealed class RelayFencingTests(RelayLabFixture fixture, ITestOutputHelper output) : IClassFixture<RelayLabFixture>
{
    private Lab L => fixture.Lab;

    [RootFact]
    public void A_true_partition_leaves_exactly_one_node_and_never_two_with_the_vip()
    {
        const int rounds = 10;
        var survivors = new List<string>();
        for (int round = 1; round <= rounds; round++)
        {
            FencingLab.Restore(L);
            string holder = FencingLab.Holder(L)!;
            var sw = Stopwatch.StartNew();
            int samples = 0, both = 0;
            L.Must("cut", "all");
            string? survivor = null;
            TimeSpan settledAt = TimeSpan.Zero;
            while (sw.Elapsed < TimeSpan.FromSeconds(8))
            {
                bool a = L.KernelHoldsVip("alpha"), b = L.KernelHoldsVip("beta");
                samples++;
                if (a && b)
                    both++;
                string pa = L.Power("alpha"), pb = L.Power("beta");
                string? now = pa == "on" && pb == "off" && a ? "alpha" : pb == "on" && pa == "off" && b ? "beta" : null;
                if (now is null || now != survivor)
                    (survivor, settledAt) = (now, sw.Elapsed);
                else if (sw.Elapsed - settledAt > TimeSpan.FromMilliseconds(500))
                    break;
                Thread.Sleep(10);
            }
            Assert.True(both == 0, $"round {round}: both nodes held the VIP in {both} of {samples} samples");
            Assert.True(survivor is not null, $"round {round}: no single survivor holding the VIP (alpha {L.Power("alpha")}, beta {L.Power("beta")})");
            var last = FencingLab.History(L, survivor!).Last();
            output.WriteLine($"round {round}: {holder} held the VIP; {survivor} survived and fenced {FencingLab.Other(survivor!)} via " +
                $"{last.GetProperty("device").GetString()} in {last.GetProperty("elapsed_ms").GetInt64()} ms ({samples} samples, never both)");
            survivors.Add(survivor!);
            Assert.Equal(holder, survivor); // the holder fences at once; the standby waits fence_delay
        }
        output.WriteLine($"survivors: alpha {survivors.Count(s => s == "alpha")}, beta {survivors.Count(s => s == "beta")}: " +
            "each time the node that held the VIP, because it fences without delay while the standby waits fence_delay (300 ms + up to 200 ms)");
        FencingLab.Restore(L);
    }

    [RootFact]
    public void Pulling_the_active_nodes_plug_gets_it_fenced_and_taken_over_and_the_history_says_how()
    {
        FencingLab.Restore(L);
        string active = FencingLab.Holder(L)!, standby = FencingLab.Other(active);
        int before = FencingLab.History(L, standby).Length;
        L.Must("power", "off", active);
        FencingLab.Wait(L, () => L.KernelHoldsVip(standby), TimeSpan.FromSeconds(5), $"{standby} takes the VIP");
        var history = FencingLab.History(L, standby);
        Assert.Equal(before + 1, history.Length);
        var e = history[^1];
        output.WriteLine($"{standby} fence history: {e}");
        Assert.Equal(active, e.GetProperty("target").GetString());
        Assert.Equal($"relay-{active}", e.GetProperty("device").GetString());
        Assert.True(e.GetProperty("verified").GetBoolean());
        Assert.Equal("fenced", e.GetProperty("result").GetString());
        Assert.InRange(e.GetProperty("elapsed_ms").GetInt64(), 300, 2000); // fence_delay 300-500 ms, then the relay
        Assert.Equal("fenced", L.PeerState(standby));
        // action off: the plug back in does not power a fenced node; `fence on` does.
        Assert.Contains("stays off", L.Run("power", "on", active).Out);
        Assert.Equal("off", L.Power(active));
        L.Must("ctl", standby, "fence", "on", active);
        FencingLab.Wait(L, () => L.Power(active) == "on", TimeSpan.FromSeconds(2), $"{active} powered on");
        L.WaitBothUp(TimeSpan.FromSeconds(20));
        Assert.True(L.KernelHoldsVip(standby)); // auto_failback false: it stays
    }

    [RootFact]
    public void A_node_refuses_to_fence_itself_and_an_operator_can_fence_the_peer()
    {
        FencingLab.Restore(L);
        var self = L.Run("ctl", "alpha", "fence", "alpha");
        Assert.Equal(1, self.Exit);
        Assert.Contains("refusing to fence alpha: it is this node", self.Err);
        var unknown = L.Run("ctl", "alpha", "fence", "gamma");
        Assert.Equal(1, unknown.Exit);
        Assert.Contains("unknown node 'gamma'", unknown.Err);
        var r = L.Run("ctl", "alpha", "fence", "beta");
        Assert.True(r.Exit == 0, r.Err);
        Assert.Contains("beta fenced via relay-beta", r.Out);
        FencingLab.Wait(L, () => L.Power("beta") == "off", TimeSpan.FromSeconds(2), "beta powered off");
        FencingLab.Wait(L, () => L.KernelHoldsVip("alpha"), TimeSpan.FromSeconds(5), "alpha holds the VIP");
        var history = L.Run("ctl", "alpha", "fence", "history");
        Assert.Contains("beta off via relay-beta: fenced", history.Out);
        Assert.Contains("operator", history.Out);
        FencingLab.Restore(L);
    }
}

public sealed class ManualLabFixture() : LabFixture("m", FencingLab.With("manual"));

/// <summary>Meatware: no takeover until an operator confirms the plug is pulled.</summary>
[Collection("lab")]
public sealed class ManualFencingTests(ManualLabFixture fixture, ITestOutputHelper output) : IClassFixture<ManualLabFixture>
{
    private Lab L => fixture.Lab;

    [RootFact]
    public void The_standby_waits_for_the_operator_and_says_so_then_takes_over()
    {
        string active = FencingLab.Holder(L)!, standby = FencingLab.Other(active);
        Assert.Equal(1, L.Run("ctl", standby, "fence", "confirm", active).Exit); // nothing is waiting yet
        L.Must("power", "off", active);
        FencingLab.Wait(L, () => L.Status(standby)?.GetProperty("fencing").GetProperty("state").GetString() == "waiting-operator",
            TimeSpan.FromSeconds(5), "status says it waits for the operator");
        Thread.Sleep(1000);
        Assert.False(L.KernelHoldsVip(standby), "took over without a confirmed fence");
        string text = L.Run("ctl", standby, "status").Out;
        output.WriteLine(text);
        Assert.Contains($"OPERATOR INTERVENTION REQUIRED: cut the power of {active}, then run `appliancectl fence confirm {active}`", text);
        Assert.Contains("OPERATOR INTERVENTION REQUIRED", L.Log(standby));
        L.Must("ctl", standby, "fence", "confirm", active);
        FencingLab.Wait(L, () => L.KernelHoldsVip(standby), TimeSpan.FromSeconds(5), $"{standby} takes over after the confirmation");
        var e = FencingLab.History(L, standby)[^1];
        Assert.Equal("manual", e.GetProperty("device").GetString());
        Assert.True(e.GetProperty("verified").GetBoolean());
        L.Must("power", "on", active);
        L.WaitBothUp(TimeSpan.FromSeconds(20));
    }
}

public sealed class RelayPduLabFixture() : LabFixture("p", FencingLab.With("relay", "pdu"));

/// <summary>Two levels: a relay whose line cannot be requested hands over to the PDU.</summary>
[Collection("lab")]
public sealed class RelayPduFencingTests(RelayPduLabFixture fixture, ITestOutputHelper output) : IClassFixture<RelayPduLabFixture>
{
    private Lab L => fixture.Lab;

    [RootFact]
    public void A_broken_relay_hands_over_to_the_pdu()
    {
        FencingLab.Restore(L);
        string active = FencingLab.Holder(L)!, standby = FencingLab.Other(active);
        L.Must("relay", "break", active);
        L.Must("power", "off", active);
        FencingLab.Wait(L, () => L.KernelHoldsVip(standby), TimeSpan.FromSeconds(10), $"{standby} takes the VIP");
        var e = FencingLab.History(L, standby)[^1];
        output.WriteLine(e.ToString());
        Assert.Equal($"pdu-{active}", e.GetProperty("device").GetString());
        Assert.True(e.GetProperty("verified").GetBoolean());
        Assert.Contains("off", File.ReadAllText(Path.Combine(L.Env["LAB_DIR"], $"pdu-{standby}.state")));
        Assert.Contains($"relay-{active}", L.Log(standby)); // the relay's failure is in the trail
        FencingLab.Restore(L);
    }
}

public sealed class PduLabFixture() : LabFixture("q", FencingLab.With("pdu"));

/// <summary>The PDU as the only device: a silent one blocks the takeover, a lying one is caught.</summary>
[Collection("lab")]
public sealed class PduFencingTests(PduLabFixture fixture, ITestOutputHelper output) : IClassFixture<PduLabFixture>
{
    private Lab L => fixture.Lab;

    private JsonElement Fencing(string node) => L.Status(node)!.Value.GetProperty("fencing");

    [RootFact]
    public void A_silent_pdu_blocks_the_takeover_and_says_why_until_it_answers_again()
    {
        FencingLab.Restore(L);
        string active = FencingLab.Holder(L)!, standby = FencingLab.Other(active);
        L.Must("pdu", "fault", "silent");
        L.Must("power", "off", active);
        FencingLab.Wait(L, () => Fencing(standby).GetProperty("rounds_failed").GetInt32() >= 2, TimeSpan.FromSeconds(40),
            "two failed fencing rounds");
        Assert.False(L.KernelHoldsVip(standby), "took over without a verified fence");
        var f = Fencing(standby);
        string progress = f.GetProperty("progress").GetString()!;
        output.WriteLine($"state {f.GetProperty("state")}: {progress}");
        string text = L.Run("ctl", standby, "status").Out;
        output.WriteLine(text);
        Assert.Contains("FENCING", text);
        var failed = FencingLab.History(L, standby).Where(e => !e.GetProperty("verified").GetBoolean() && e.GetProperty("action").GetString() == "off").ToArray();
        Assert.True(failed.Length >= 2);
        Assert.Contains("timeout", failed[^1].GetProperty("reason").GetString());
        L.Must("pdu", "fault", "none");
        var took = FencingLab.Wait(L, () => L.KernelHoldsVip(standby), TimeSpan.FromSeconds(30), $"{standby} takes over once the PDU answers");
        output.WriteLine($"after `pdu fault none` {standby} took over in {took.TotalSeconds:0.0} s");
        Assert.True(FencingLab.History(L, standby)[^1].GetProperty("verified").GetBoolean());
        FencingLab.Restore(L);
    }

    [RootFact]
    public void A_lying_pdu_is_caught_by_verification_and_nothing_is_taken_over()
    {
        FencingLab.Restore(L);
        string active = FencingLab.Holder(L)!, standby = FencingLab.Other(active);
        L.Must("pdu", "fault", "liar");
        L.Must("power", "off", active);
        FencingLab.Wait(L, () => FencingLab.History(L, standby).Any(e => e.GetProperty("reason").GetString()!.Contains("acknowledged off but its status reads on")),
            TimeSpan.FromSeconds(30), "the lie is caught");
        Thread.Sleep(1000);
        Assert.False(L.KernelHoldsVip(standby), "took over on an unverified fence");
        Assert.DoesNotContain(FencingLab.History(L, standby), e => e.GetProperty("verified").GetBoolean() && e.GetProperty("action").GetString() == "off" &&
            e.GetProperty("at").GetString()!.CompareTo(DateTime.UtcNow.AddSeconds(-20).ToString("yyyy-MM-ddTHH:mm:ss")) > 0);
        output.WriteLine(FencingLab.History(L, standby)[^1].ToString());
        L.Must("pdu", "fault", "none");
        FencingLab.Wait(L, () => L.KernelHoldsVip(standby), TimeSpan.FromSeconds(30), $"{standby} takes over once the PDU switches for real");
        FencingLab.Restore(L);
    }
}
