using System.Diagnostics;
using System.Text;
using Appliance.Integration.Tests.Edge;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>
/// The pair keeps one config (issue 12 part 2), with two real daemons in namespaces joined by a
/// serial pty cable and a veth (<see cref="SyncPairHarness"/>): a change on alpha shows up on beta and
/// applies; a config beta's checker refuses keeps beta's and both say why; with UDP cut the transfer
/// completes over serial, behind the keepalives; a partition with a change on each side diverges and
/// neither wins until an operator pushes. Status shows each state.
/// </summary>
[Collection("lab")]
public sealed class ConfigSyncPairTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    private static SyncPairHarness Pair(string tag, ITestOutputHelper output, string extra = "", bool boards = false, Action<SyncPairHarness>? before = null)
    {
        var h = new SyncPairHarness(tag, output);
        try
        {
            before?.Invoke(h);
            foreach (var n in SyncPairHarness.Nodes)
            {
                h.WriteConfig(n, h.Config(extra));
                h.Start(n, boards);
            }
            h.WaitBothUp(TimeSpan.FromSeconds(30));
            h.WaitSync("in sync", "in sync", Generous);
            return h;
        }
        catch
        {
            h.Dispose();
            throw;
        }
    }

    /// <summary>Edits NODE's file and reloads it (what the console's commit does through the store); returns appliancectl's output.</summary>
    private static (int Exit, string Out, string Err) Commit(SyncPairHarness h, string node, string text)
    {
        h.WriteConfig(node, text);
        return h.Ctl(node, "reload");
    }

    [RootFact]
    public void A_change_on_alpha_shows_up_on_beta_applies_and_reports_back()
    {
        using var h = Pair("cs", output);
        var before = h.Sync("alpha").GetProperty("local");
        Assert.Equal(before.GetProperty("sha256").GetString(), h.Sync("beta").GetProperty("local").GetProperty("sha256").GetString());
        Assert.Contains("config in sync: both run v1", h.Ctl("alpha", "status").Out);

        string changed = h.Config() + "# a comment from alpha's operator\nmetrics: {listen: 127.0.0.1:9107}\n";
        var sw = Stopwatch.StartNew();
        var r = Commit(h, "alpha", changed);
        output.WriteLine($"reload on alpha ({sw.ElapsedMilliseconds} ms):\n{r.Out}{r.Err}");
        Assert.Equal(0, r.Exit);
        // The commit's reply carries beta's report.
        Assert.Matches(@"config sync: replication of v2 \(\w+\) to beta: applied", r.Out);
        Assert.Equal(changed, h.ReadConfig("beta"));
        h.WaitSync("in sync", "in sync", Generous);
        foreach (var n in SyncPairHarness.Nodes)
        {
            var s = h.Sync(n);
            Assert.Equal(2, s.GetProperty("local").GetProperty("version").GetInt32());
            Assert.Equal(s.GetProperty("local").GetProperty("sha256").GetString(), s.GetProperty("agreed").GetProperty("sha256").GetString());
            Assert.Contains("metrics", s.GetProperty("last").GetString());
        }
        // Over UDP while it is up. The worker reports its counters to the daemon about once a second,
        // so the count beta's status shows may trail the transfer it already applied.
        Lab.Lab.WaitUntil(() => h.SyncLink("beta", "lan0").GetProperty("rx_messages").GetInt64() > 0, TimeSpan.FromSeconds(10),
            "beta's status counts sync messages received on lan0");
        Assert.Contains("applied", h.Log("beta"));
        // The keepalives carry the new version: v2 in the high half of the config word (status reads it once a second).
        Lab.Lab.WaitUntil(() => h.Sync("alpha").GetProperty("peer_word").GetUInt32() >> 16 == 2, TimeSpan.FromSeconds(10),
            "alpha hears v2 in beta's keepalives");
        // Its state file holds the stamps for the next start.
        string state = File.ReadAllText(Path.Combine(h.NodeDir("beta"), "state", "config-sync"));
        Assert.Contains(h.Sync("alpha").GetProperty("local").GetProperty("sha256").GetString()!, state);
    }

    private const string BoardAlpha = """
        name: edge-board
        chips:
          - {name: main, path: "sim:/nonexistent/apl-sync-gpio"}
        lines:
          - {name: led-pwr, chip: main, line: LED_PWR, use: led}
          - {name: led-fault, chip: main, line: LED_FAULT, use: led}
        """;

    /// <summary>An older revision of the board: no fault LED.</summary>
    private const string BoardBeta = """
        name: edge-board
        chips:
          - {name: main, path: "sim:/nonexistent/apl-sync-gpio"}
        lines:
          - {name: led-pwr, chip: main, line: LED_PWR, use: led}
        """;

    [RootFact]
    public void A_config_beta_refuses_leaves_beta_on_its_own_and_both_say_why()
    {
        using var h = Pair("cr", output, extra: "board: edge-board\n", boards: true, before: h =>
        {
            h.WriteBoard("alpha", BoardAlpha);
            h.WriteBoard("beta", BoardBeta);
        });
        string betaBefore = h.ReadConfig("beta");
        // Valid on alpha's board, not on beta's: beta's checker refuses it for beta.
        string panel = h.Config("board: edge-board\n") + "panel:\n  leds: {power: led-pwr, fault: led-fault}\n";
        var r = Commit(h, "alpha", panel);
        output.WriteLine($"reload on alpha:\n{r.Out}{r.Err}");
        Assert.Equal(0, r.Exit); // alpha's own reload applied; its replication was refused
        Assert.Contains("to beta: refused", r.Out);
        Assert.Contains("board 'edge-board' has no line 'led-fault'", r.Out);
        Assert.Contains("appliance.yaml:", r.Out); // the checker's file:line:col
        Assert.Equal(betaBefore, h.ReadConfig("beta"));
        h.WaitSync("local newer", "peer newer", Generous);
        Assert.Contains("has no line 'led-fault'", h.Sync("beta").GetProperty("last").GetString());
        Assert.Contains("has no line 'led-fault'", h.Sync("alpha").GetProperty("last").GetString());
        Assert.Contains("refused", h.Log("beta"));
        Assert.Contains("has no line 'led-fault'", h.Log("alpha"));
        // Not retried by itself: still refused, still beta's config a while later.
        Thread.Sleep(3000);
        Assert.Equal(betaBefore, h.ReadConfig("beta"));
        Assert.Equal("local newer", h.SyncState("alpha"));
        // Pushing does not get around the checker either.
        var push = h.Ctl("alpha", "config", "push");
        Assert.Equal(1, push.Exit);
        Assert.Contains("has no line 'led-fault'", push.Err);
    }

    [RootFact]
    public void A_change_of_the_pair_identity_needs_force_then_applies()
    {
        using var h = Pair("ci", output);
        string otherKey = Path.Combine(h.Dir, "authkey2");
        File.Copy(h.KeyPath, otherKey);
        File.SetUnixFileMode(otherKey, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        string moved = h.Config().Replace($"key_file: {h.KeyPath}", $"key_file: {otherKey}");
        var r = Commit(h, "alpha", moved);
        output.WriteLine(r.Out + r.Err);
        Assert.Contains("never replicated silently", r.Out);
        Assert.Contains("cluster.key_file", r.Out);
        Assert.NotEqual(moved, h.ReadConfig("beta"));
        h.WaitSync("local newer", "peer newer", Generous);
        var push = h.Ctl("alpha", "config", "push", "--force");
        output.WriteLine(push.Out + push.Err);
        Assert.Equal(0, push.Exit);
        Assert.Contains("to beta: applied", push.Out);
        Assert.Equal(moved, h.ReadConfig("beta"));
        h.WaitSync("in sync", "in sync", Generous);
    }

    [RootFact]
    public void With_udp_cut_the_transfer_completes_over_serial_behind_the_keepalives()
    {
        using var h = Pair("cu", output);
        h.CutUdp();
        Lab.Lab.WaitUntil(() => h.LinkState("alpha", "lan0") == "down" && h.LinkState("beta", "lan0") == "down",
            TimeSpan.FromSeconds(10), "lan0 down on both");
        Assert.Equal("in sync", h.SyncState("alpha")); // still heard over serial
        Thread.Sleep(1500); // status's sync link counters are the worker's as of the last second
        long lanBefore = h.SyncLink("beta", "lan0").GetProperty("rx_messages").GetInt64();
        long serialBefore = h.SyncLink("beta", "serial0").GetProperty("rx_messages").GetInt64();
        foreach (var n in SyncPairHarness.Nodes)
            Assert.NotNull(h.Request(n, "{\"cmd\":\"reset-cadence\"}"));
        // 20 KB of config: a director's worth of real servers written out as comments.
        var big = new StringBuilder(h.Config());
        for (int i = 0; big.Length < 20_000; i++)
            big.Append($"# real server 10.0.{i / 250}.{i % 250 + 1}:8080 weight {i % 7 + 1}\n");
        var sw = Stopwatch.StartNew();
        var r = Commit(h, "alpha", big.ToString());
        output.WriteLine($"reload on alpha ({sw.ElapsedMilliseconds} ms):\n{r.Out}{r.Err}");
        Lab.Lab.WaitUntil(() => h.ReadConfig("beta") == big.ToString(), Generous, "beta holds alpha's config");
        var took = sw.Elapsed;
        h.WaitSync("in sync", "in sync", Generous);
        Thread.Sleep(1500); // the counters in status are as of the last second
        long serialMessages = h.SyncLink("beta", "serial0").GetProperty("rx_messages").GetInt64() - serialBefore;
        long alphaTx = h.SyncLink("alpha", "serial0").GetProperty("tx_bytes").GetInt64();
        output.WriteLine($"{big.Length} bytes over serial in {took.TotalSeconds:F1} s ({big.Length / took.TotalSeconds / 1024:F1} KiB/s of config), " +
            $"{serialMessages} sync messages received on serial0 by beta, alpha sent {alphaTx} sync bytes on serial0, " +
            $"retransmissions {h.Sync("alpha").GetProperty("retransmissions").GetInt64()}");
        Assert.Equal(lanBefore, h.SyncLink("beta", "lan0").GetProperty("rx_messages").GetInt64());
        Assert.True(serialMessages > big.Length / 177, $"{serialMessages} messages on serial0");
        // The keepalives kept their cadence meanwhile (200 ms): the worst gap between two sends.
        foreach (var n in SyncPairHarness.Nodes)
        {
            var hb = h.Status(n)!.Value.GetProperty("heartbeat");
            long gapUs = hb.GetProperty("worst_send_gap_us").GetInt64();
            output.WriteLine($"{n}: worst keepalive send gap {gapUs / 1000.0:F1} ms, worker GCs {hb.GetProperty("worker_gc_count").GetInt64()}");
            Assert.Equal("up", h.LinkState(n, "serial0"));
        }
        h.HealUdp();
    }

    [RootFact]
    public void A_change_on_each_side_of_a_partition_diverges_until_an_operator_pushes()
    {
        using var h = Pair("cp", output);
        h.CutUdp();
        h.CutSerial();
        Lab.Lab.WaitUntil(() => h.Status("alpha")?.GetProperty("peer").GetProperty("state").GetString() == "dead"
                                && h.Status("beta")?.GetProperty("peer").GetProperty("state").GetString() == "dead",
            TimeSpan.FromSeconds(20), "both see the peer dead");
        h.WaitSync("unknown", "unknown", Generous);
        string alphaText = h.Config() + "# alpha's change during the partition\n";
        string betaText = h.Config() + "# beta's change during the partition\n";
        var ra = Commit(h, "alpha", alphaText);
        Assert.Contains("config sync: beta is not heard", ra.Out);
        Commit(h, "beta", betaText);
        h.HealSerial();
        h.HealUdp();
        h.WaitBothUp(TimeSpan.FromSeconds(30));
        h.WaitSync("diverged", "diverged", Generous);
        Assert.Contains("config DIVERGED", h.Ctl("alpha", "status").Out);
        Assert.Contains("neither wins by itself", h.Sync("beta").GetProperty("detail").GetString());
        // Neither wins by itself.
        Thread.Sleep(3000);
        Assert.Equal(alphaText, h.ReadConfig("alpha"));
        Assert.Equal(betaText, h.ReadConfig("beta"));
        Assert.Equal("diverged", h.SyncState("alpha"));
        // The operator chooses alpha's.
        var push = h.Ctl("alpha", "config", "push");
        output.WriteLine(push.Out + push.Err);
        Assert.Equal(0, push.Exit);
        Assert.Equal(alphaText, h.ReadConfig("beta"));
        h.WaitSync("in sync", "in sync", Generous);
    }

    [RootFact]
    public void Pull_takes_the_peer_config_here()
    {
        using var h = Pair("cl", output);
        h.CutUdp();
        h.CutSerial();
        Lab.Lab.WaitUntil(() => h.SyncState("alpha") == "unknown" && h.SyncState("beta") == "unknown", Generous, "both unknown");
        string alphaText = h.Config() + "# alpha\n";
        Commit(h, "alpha", alphaText);
        Commit(h, "beta", h.Config() + "# beta\n");
        h.HealSerial();
        h.HealUdp();
        h.WaitSync("diverged", "diverged", Generous);
        var pull = h.Ctl("beta", "config", "pull");
        output.WriteLine(pull.Out + pull.Err);
        Assert.Equal(0, pull.Exit);
        Assert.Equal(alphaText, h.ReadConfig("beta"));
        h.WaitSync("in sync", "in sync", Generous);
    }
}
