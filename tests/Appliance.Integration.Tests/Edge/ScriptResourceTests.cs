using Appliance.Core.Config;
using Appliance.Core.Ports;
using Appliance.Linux.Resources;

namespace Appliance.Integration.Tests.Edge;

/// <summary>ScriptResource over the shared child-process runner: exit codes, reasons, missing programs, timeouts.</summary>
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
}
