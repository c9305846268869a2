using System.Diagnostics;
using Appliance.Core.Config;
using Appliance.Core.Ports;
using Appliance.Linux.Resources;

namespace Appliance.Integration.Tests.Edge;

/// <summary>Its tests change this process's environment: nothing else may run meanwhile.</summary>
[CollectionDefinition(nameof(ScriptResourceTests), DisableParallelization = true)]
public sealed class ScriptResourceTestsCollection;

/// <summary>ScriptResource over the shared child-process runner: exit codes, reasons, missing programs, timeouts, environment, killing.</summary>
[Collection(nameof(ScriptResourceTests))]
public sealed class ScriptResourceTests
{
    private static ScriptResource Exec(string start, double timeoutSeconds = 10)
        => new(new ScriptResourceConfig("r", ResourceKind.Exec, start, "true", null, null, [], TimeSpan.FromSeconds(timeoutSeconds)));

    [Fact]
    public async Task Exit_0_is_done_and_a_failure_quotes_the_last_stderr_line()
    {
        Assert.Equal(ResourceOutcome.Done("start: exit 0"), await Exec("read x; true").StartAsync(CancellationToken.None)); // stdin is EOF, not ours
        Assert.Equal(ResourceOutcome.Failed("start: exit 3: boom"), await Exec("echo noise; echo boom >&2; exit 3").StartAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_missing_script_and_a_timeout_fail_with_a_reason()
    {
        var lsb = new ScriptResource(new ScriptResourceConfig("r", ResourceKind.Lsb, null, null, "/nonexistent/init", null, [], TimeSpan.FromSeconds(5)));
        Assert.Equal(ResourceOutcome.Failed("cannot run /nonexistent/init: no such file"), await lsb.StartAsync(CancellationToken.None));
        Assert.Equal(ResourceOutcome.Failed("start: no answer within 0.3 s (killed)"), await Exec("sleep 100", 0.3).StartAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_real_ocf_agent_gets_its_parameters_and_runs_start_and_stop()
    {
        string dir = Directory.CreateTempSubdirectory("apl-ocf-").FullName;
        try
        {
            string state = Path.Combine(dir, "dummy.state");
            var dummy = new ScriptResource(new ScriptResourceConfig("dummy", ResourceKind.Ocf, null, null, null, "heartbeat:Dummy",
                [new("state", state)], TimeSpan.FromSeconds(20)));
            Assert.Equal(ResourceOutcome.Done("start: exit 0"), await dummy.StartAsync(CancellationToken.None));
            Assert.True(File.Exists(state), "Dummy wrote its OCF_RESKEY_state file");
            Assert.Equal(ResourceOutcome.Done("stop: exit 0"), await dummy.StopAsync(CancellationToken.None));
            Assert.False(File.Exists(state));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_child_gets_a_clean_environment_without_systemd_or_runtime_variables()
    {
        string[] inherited = ["NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
            "INVOCATION_ID", "JOURNAL_STREAM", "DOTNET_gcServer", "APL_TEST_SECRET"];
        string dir = Directory.CreateTempSubdirectory("apl-env-").FullName;
        var saved = inherited.ToDictionary(n => n, Environment.GetEnvironmentVariable);
        string? path = Environment.GetEnvironmentVariable("PATH");
        try
        {
            foreach (string name in inherited)
                Environment.SetEnvironmentVariable(name, name == "NOTIFY_SOCKET" ? "/run/apl-test-no-such-notify" : "42");
            Environment.SetEnvironmentVariable("PATH", "/apl/no-such/bin:" + path);
            string dump = Path.Combine(dir, "env");
            Assert.Equal(ResourceOutcome.Done("start: exit 0"), await Exec($"env > {dump}").StartAsync(CancellationToken.None));

            var env = File.ReadAllLines(dump).Select(l => l.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv.Length > 1 ? kv[1] : "");
            foreach (string name in inherited)
                Assert.False(env.ContainsKey(name), $"{name} reached the child: {string.Join(' ', env.Keys)}");
            Assert.Equal("r", env["APPLIANCE_RESOURCE"]); // what the caller sets is kept
            Assert.Equal("C", env["LANG"]);
            Assert.Equal("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", env["PATH"]);
        }
        finally
        {
            foreach (var (name, value) in saved)
                Environment.SetEnvironmentVariable(name, value);
            Environment.SetEnvironmentVariable("PATH", path);
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_grandchild_that_left_session_and_tree_is_killed_at_the_timeout()
    {
        string dir = Directory.CreateTempSubdirectory("apl-setsid-").FullName;
        string pidFile = Path.Combine(dir, "pid");
        int grandchild = 0;
        try
        {
            // The subshell starts a grandchild in a session of its own and exits, so the grandchild is
            // neither in the script's process group nor, once orphaned, in its process tree.
            string script = $"( setsid sh -c 'echo $$ > {pidFile}.tmp; mv {pidFile}.tmp {pidFile}; exec sleep 1000' & ); " +
                            $"while [ ! -s {pidFile} ]; do sleep 0.02; done; sleep 100";
            Assert.Equal(ResourceOutcome.Failed("start: no answer within 3 s (killed)"), await Exec(script, 3).StartAsync(CancellationToken.None));
            grandchild = int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            long deadline = Environment.TickCount64 + 5000;
            while (IsRunning(grandchild) && Environment.TickCount64 < deadline)
                Thread.Sleep(20);
            Assert.False(IsRunning(grandchild), $"the setsid grandchild {grandchild} survived the timeout");
            grandchild = 0;
        }
        finally
        {
            if (grandchild > 0 && IsRunning(grandchild))
                Process.GetProcessById(grandchild).Kill(); // ours: its pid came from the file our script wrote
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Alive and not a zombie (an orphan's zombie waits for whichever init reaps it).</summary>
    private static bool IsRunning(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] != 'Z' && stat.Contains("(sleep)");
        }
        catch (IOException)
        {
            return false;
        }
    }
}
