using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Appliance.Integration.Tests.Edge;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>
/// The console as a person uses it (issue 12 part 4): a real daemon in a namespace, `appliancectl
/// console` on a real pty driven key by key. Every mode and command, completion and '?', a bad value
/// refused with its path, compare and commit writing a new generation, `commit confirmed` rolled back
/// on time and kept by `confirm`, rollback and history, line noise that runs nothing, and a hang-up
/// in the middle of a commit that leaves the old file or the new one, never a mix. Needs the NativeAOT
/// binaries (`make bin`, APPLIANCE_BIN).
/// </summary>
public sealed class ConsoleTests(ITestOutputHelper output) : IDisposable
{
    private readonly DirectorDaemonHarness _h = new("con");
    private Process? _daemon;
    private System.Text.StringBuilder? _log;

    private string Ctl => Path.Combine(DirectorDaemonHarness.Bin, "appliancectl");

    private static string Config(string keyPath, string priority = "100", string deadtime = "1s") => $$"""
        # written by ConsoleTests: this comment goes with the first console commit
        cluster:
          name: contest
          key_file: {{keyPath}}
          fencing: off
          timers: {keepalive: 100ms, warntime: 300ms, deadtime: {{deadtime}}, initdead: 2s}
        nodes:
          - name: alpha
            priority: {{priority}}
            links:
              - {name: lan0, kind: udp, local: 127.0.0.1, peer: 127.0.0.2, port: 23711}
          - name: beta
            links:
              - {name: lan0, kind: udp, local: 127.0.0.2, peer: 127.0.0.1, port: 23711}
        monitors:
          - {name: loop, kind: exec, command: 'true', interval: 500ms, timeout: 400ms}

        """;

    private void StartDaemon()
    {
        _h.WriteKey();
        _h.WriteConfig(Config(_h.KeyPath));
        (_daemon, _log) = _h.StartDaemon();
        Lab.Lab.WaitUntil(() => _h.Ctl("status").Exit == 0, TimeSpan.FromSeconds(30), "the daemon's control socket");
    }

    private PtyConsole Open(int? rows = 200)
    {
        var c = new PtyConsole(_h.Ns, Ctl, _h.ControlPath, output, rows);
        c.Expect("alpha> ");
        return c;
    }

    private string FileSha => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(_h.ConfigPath)));

    private JsonElement History() => _h.Json("config", "history", "--json");

    public void Dispose()
    {
        if (_daemon is not null)
        {
            DirectorDaemonHarness.Stop(_daemon, _log!, output);
            _daemon.Dispose();
        }
        _h.Dispose();
    }

    [RootFact]
    public void Every_command_of_both_modes_through_a_pty_with_completion_help_and_a_bad_value()
    {
        StartDaemon();
        using var c = Open();

        // Operational mode.
        Assert.Contains("alpha  ", c.Command("show status", "alpha> "));
        Assert.Contains("peer beta:", c.Command("show peer", "alpha> "));
        Assert.Contains("no resources configured", c.Command("show resources", "alpha> "));
        Assert.Contains("no fencing recorded", c.Command("show fence history", "alpha> "));
        Assert.Contains("[1001] ready: control socket", c.Command("show log 100", "alpha> "));
        Assert.Contains("deadtime: 1s", c.Command("show config cluster timers", "alpha> "));
        Assert.Contains("this comment goes", c.Command("show config", "alpha> "));
        Assert.Contains("reply from 127.0.0.1", c.Command("ping 127.0.0.1 count 1", "alpha> "));
        Assert.Contains("[initial]", c.Command("show history", "alpha> "));
        Assert.Contains("unknown command 'shwo'; did you mean 'show'?", c.Command("shwo status", "alpha> "));

        // Tab completes a command and a topic; '?' lists with help and redraws the line.
        c.Type("sh\t");
        c.Expect("show ");
        c.Type("pe\t");
        c.Expect("peer ");
        c.Type("\x15?");
        string help = c.Expect("alpha> ");
        Assert.Contains("configure", help);
        Assert.Contains("edit a candidate config", help);
        c.Type("\x15");

        // Configuration mode: a bad value refused with its path and what was expected.
        Assert.Contains("configuration mode: the candidate is generation 1", c.Command("configure", "alpha# "));
        Assert.Contains("error: nodes alpha links lan0 port: port (70000) must be from 1 to 65535", c.Command("set nodes alpha links lan0 port 70000"));
        Assert.Contains("error: nodes alpha prio: unknown option 'prio'; did you mean 'priority'?", c.Command("set nodes alpha prio 3"));
        c.Type("set nodes alpha pri\t");
        c.Expect("priority ");
        c.Type("?");
        string value = c.Expect("alpha# ");
        Assert.Contains("an integer from 0 to 255; now 100", value);
        c.Type("120\r");
        c.Expect("alpha# ");
        Assert.Equal("", c.Command("set monitors loop interval 1s").Trim());
        string diff = c.Command("compare");
        Assert.Contains("-    priority: 100\n+    priority: 120\n", diff);
        Assert.Contains("+    interval: 1s\n", diff);
        Assert.Contains("priority: 120", c.Command("show nodes alpha"));
        Assert.Contains("the candidate is valid", c.Command("validate"));
        string commit = c.Command("commit comment prefer alpha");
        output.WriteLine(commit);
        Assert.Contains("committed generation 2", commit);
        Assert.Contains("nodes[alpha].priority", commit); // needs a restart, and says so
        Assert.Contains("priority: 120", File.ReadAllText(_h.ConfigPath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_h.ConfigPath));
        Assert.Equal(History().GetProperty("generations")[0].GetProperty("sha256").GetString(), FileSha);

        string history = c.Command("show history");
        Assert.Matches(@"\* 2 .* root@pts/\d+ +prefer alpha", history);

        // rollback 1 into the candidate, compare, commit: generation 3 is generation 1's config.
        Assert.Contains("loaded generation 1", c.Command("rollback 1"));
        Assert.Contains("+    priority: 100\n", c.Command("compare"));
        Assert.Contains("committed generation 3", c.Command("commit"));
        Assert.DoesNotContain("priority: 120", File.ReadAllText(_h.ConfigPath));

        // exit with uncommitted changes warns once; the second exit leaves.
        c.Command("set cluster fence_delay 2s");
        Assert.Contains("uncommitted changes", c.Command("exit"));
        Assert.Contains("discarded", c.Command("exit", "alpha> "));
        c.Type("exit\r");
        Assert.True(c.WaitForExit(TimeSpan.FromSeconds(10)), "the console leaves on exit");
        Assert.Equal(0, c.ExitCode);
        Assert.Equal(3, History().GetProperty("version").GetInt64());
    }

    [RootFact]
    public void Long_output_is_paged_at_24_lines()
    {
        StartDaemon();
        using var c = Open(rows: null);
        c.Type("configure\r");
        c.Expect("alpha# ");
        for (int i = 0; i < 12; i++)
            c.Command($"set monitors m{i} kind exec");
        c.Type("show\r");
        string page = c.Expect("--More--");
        Assert.InRange(page.Split('\n').Length, 23, 25);
        c.Type(" ");
        c.Type("q");
        c.Expect("alpha# ");
    }

    [RootFact]
    public void Commit_confirmed_is_rolled_back_on_time_and_confirm_keeps_it()
    {
        StartDaemon();
        string original = File.ReadAllText(_h.ConfigPath);
        using var c = Open();
        c.Command("configure", "alpha# ");
        c.Command("set cluster fence_delay 2s");
        string said = c.Command("commit confirmed 0.05");
        output.WriteLine(said);
        Assert.Contains("unless `confirm` follows", said);
        Assert.Contains("fence_delay: 2s", File.ReadAllText(_h.ConfigPath));
        var took = Lab.Lab.WaitUntil(() => File.ReadAllText(_h.ConfigPath) == original, TimeSpan.FromSeconds(30), "the rollback of the unconfirmed commit");
        output.WriteLine($"rolled back {took.TotalSeconds:0.0} s after the commit returned (asked: 3 s)");
        Assert.True(took >= TimeSpan.FromSeconds(2), "not before its time");
        var h = History().GetProperty("generations");
        Assert.Equal("rollback", h[0].GetProperty("kind").GetString());
        Assert.Contains("was not confirmed within 3 s", h[0].GetProperty("comment").GetString());
        Assert.Contains("[rollback]", c.Command("show history"));

        // Confirmed in time: it stays. The candidate is from before the rollback, so start again.
        c.Command("exit", "alpha> ");
        c.Command("configure", "alpha# ");
        c.Command("set cluster fence_delay 2s");
        c.Command("commit confirmed 0.05");
        Assert.Contains("confirmed generation", c.Command("confirm"));
        Thread.Sleep(TimeSpan.FromSeconds(5)); // past the deadline that no longer exists
        Assert.Contains("fence_delay: 2s", File.ReadAllText(_h.ConfigPath));
        Assert.Contains("(confirmed", c.Command("show history"));
    }

    [RootFact]
    public void Line_noise_runs_nothing_and_a_hang_up_in_the_middle_of_a_commit_leaves_the_old_file_or_the_new()
    {
        StartDaemon();
        using (var c = Open())
        {
            // Noise between the keys of a command: control bytes, high bytes, broken escape sequences.
            c.Type("sh\x00\x1b[99;99;99;99;99;99z\x80\xff\x12ow\x1b\x1bx\x1b[\x12 peer\x16\r");
            string screen = c.Expect("alpha> ");
            Assert.Contains("peer beta:", screen);
            Assert.DoesNotContain("error", screen);
            // Noise alone, with no Enter, runs nothing.
            c.Type("\x1b[M\x07\x0f\xfe\x1bO\x19");
            c.Type("\x15show resources\r");
            Assert.Contains("no resources configured", c.Expect("alpha> "));
        }

        string[] priorities = ["101", "102", "103", "104", "105", "106"];
        var seen = new Dictionary<string, string>(); // sha -> what
        seen[FileSha] = "the original";
        for (int i = 0; i < priorities.Length; i++)
        {
            string before = File.ReadAllText(_h.ConfigPath);
            using var c = Open();
            c.Command("configure", "alpha# ");
            c.Command($"set nodes alpha priority {priorities[i]}");
            c.Type("commit\r");
            // Hang up at a different moment each time: at once, or a few milliseconds into the commit.
            Thread.Sleep(i * 7);
            if (i % 2 == 0)
                c.HangUp();
            else
                using (var kill = Process.Start("kill", $"-KILL {c.Pid}")) kill.WaitForExit();
            Assert.True(c.WaitForExit(TimeSpan.FromSeconds(10)), "the console ends when its line hangs up");

            // The daemon finishes what it started or never saw it: the file is one whole generation.
            Thread.Sleep(500);
            string now = File.ReadAllText(_h.ConfigPath);
            bool old = now == before;
            bool whole = old || (now.Contains($"priority: {priorities[i]}") && Regex.Matches(now, "priority:").Count == 1);
            output.WriteLine($"hang-up {i}: the file is {(old ? "the old one" : "the new one")}");
            Assert.True(whole, now);
            var generations = History().GetProperty("generations");
            Assert.Equal(FileSha, generations[0].GetProperty("sha256").GetString()); // the history agrees with the file
            Assert.Equal(0, _h.Ctl("config", "check", _h.ConfigPath).Exit);
        }
        Assert.Equal(0, _h.Ctl("status").Exit); // the daemon is fine
    }

    [RootFact]
    public void Piped_lines_run_as_typed_and_stop_at_the_first_failure_and_appliancectl_config_verbs()
    {
        StartDaemon();
        var ok = Piped("show peer\nconfigure\nset cluster fence_delay 3s\ncommit comment piped\n");
        Assert.Equal(0, ok.Exit);
        Assert.Contains("alpha> show peer\npeer beta:", ok.Out);
        Assert.Contains("alpha# commit comment piped\ncommitted generation 2", ok.Out);

        var bad = Piped("configure\nset cluster fence_delay soon\ncommit\n");
        output.WriteLine(bad.Out);
        Assert.Equal(2, bad.Exit);
        Assert.Contains("error: cluster fence_delay: expected a duration", bad.Out);
        Assert.Contains("stopped: the line above failed (exit 2)", bad.Out);
        Assert.DoesNotContain("alpha# commit", bad.Out);
        Assert.Equal(2, History().GetProperty("version").GetInt64());

        // appliancectl config: commit a file (invalid: exit 2, refused: exit 1), history, rollback.
        string file = Path.Combine(_h.Dir, "next.yaml");
        File.WriteAllText(file, Config(_h.KeyPath, deadtime: "150ms"));
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var invalid = _h.Ctl("config", "commit", file);
        Assert.Equal(2, invalid.Exit);
        Assert.Contains($"{file}:", invalid.Err);
        File.WriteAllText(file, Config(_h.KeyPath, priority: "99"));
        Assert.Equal(1, _h.Ctl("config", "commit", file, "--base", "1").Exit); // generation 2 runs
        var committed = _h.Ctl("config", "commit", file, "--comment", "from a file", "--base", "2");
        Assert.True(committed.Exit == 0, committed.Err);
        Assert.Contains("committed generation 3", committed.Out);
        Assert.Contains("from a file", _h.Ctl("config", "history").Out);
        var back = _h.Ctl("config", "rollback", "1");
        Assert.True(back.Exit == 0, back.Err);
        Assert.Contains("fence_delay: 3s", File.ReadAllText(_h.ConfigPath));
        Assert.Equal(2, _h.Ctl("config", "rollback", "zero").Exit);
        Assert.Equal(1, _h.Ctl("config", "confirm").Exit); // nothing waits
    }

    private (int Exit, string Out) Piped(string lines)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { "netns", "exec", _h.Ns, Ctl, "--control", _h.ControlPath, "console" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardInput.Write(lines);
        p.StandardInput.Close();
        string o = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), "the piped console ends");
        return (p.ExitCode, o);
    }
}
