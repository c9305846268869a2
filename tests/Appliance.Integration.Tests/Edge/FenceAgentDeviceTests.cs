using Appliance.Core.Fencing;
using Appliance.Linux.Fencing;

namespace Appliance.Integration.Tests.Edge;

/// <summary>A fact that drives the real fence_dummy of Debian's fence-agents; skipped, saying so, when it is not installed.</summary>
public sealed class FenceDummyFactAttribute : FactAttribute
{
    public const string Path = "/usr/sbin/fence_dummy";

    public FenceDummyFactAttribute()
    {
        if (!File.Exists(Path))
            Skip = $"{Path} not installed (apt-get install fence-agents); CI has it";
    }
}

/// <summary>FenceAgentDevice running the real fence_dummy and small fake agents (fence-agents.md section 5a).</summary>
public sealed class FenceAgentDeviceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("apl-fence-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Task<FenceResult> Run(IFenceDevice device, FenceAction action, string target = "alpha", int timeoutMs = 30_000)
    {
        using var cts = new CancellationTokenSource(timeoutMs);
        return device.RunAsync(action, target, cts.Token);
    }

    private FenceAgentDevice Dummy(IReadOnlyDictionary<string, string>? plugs = null)
        => new("dummy", FenceDummyFactAttribute.Path, plugs, [new("status_file", Path.Combine(_dir, "status"))]);

    private string Script(string name, string body)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, "#!/bin/sh\n" + body);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    [FenceDummyFact]
    public async Task Off_then_status_reads_off_and_on_then_status_reads_on()
    {
        var device = Dummy();
        Assert.Equal(("fence-agent", true), (device.Kind, device.CanReboot));

        var off = await Run(device, FenceAction.Off);
        Assert.Equal((FenceOutcome.Done, PowerState.Off), (off.Outcome, off.Power));
        Assert.Contains("Success:", off.Reason); // Powered OFF, or Already OFF (fence_dummy's default with no status file)
        var status = await Run(device, FenceAction.Status);
        Assert.Equal((FenceOutcome.Done, PowerState.Off), (status.Outcome, status.Power));
        Assert.Equal("dummy: Status: OFF", status.Reason);

        Assert.Equal((FenceOutcome.Done, PowerState.On), ((await Run(device, FenceAction.On)).Outcome, (await Run(device, FenceAction.Status)).Power));
        Assert.Equal("on", File.ReadAllText(Path.Combine(_dir, "status")));

        var reboot = await Run(device, FenceAction.Reboot);
        Assert.Equal(FenceOutcome.Done, reboot.Outcome);
        Assert.Equal("dummy: Success: Rebooted", reboot.Reason);
    }

    [FenceDummyFact]
    public async Task Plugs_map_nodes_and_an_unmapped_node_is_a_hard_error()
    {
        var device = Dummy(new Dictionary<string, string> { ["alpha"] = "1" });
        Assert.Equal(FenceOutcome.Done, (await Run(device, FenceAction.Status, "alpha")).Outcome); // fence_dummy warns about plug and carries on
        var beta = await Run(device, FenceAction.Status, "beta");
        Assert.Equal(FenceOutcome.HardError, beta.Outcome);
        Assert.Contains("no plug configured for node beta", beta.Reason);
    }

    [FenceDummyFact]
    public async Task An_action_the_protocol_does_not_have_is_a_hard_error_without_running_the_agent()
    {
        var r = await Run(Dummy(), (FenceAction)42);
        Assert.Equal(FenceOutcome.HardError, r.Outcome);
        Assert.False(File.Exists(Path.Combine(_dir, "status")));
    }

    [Fact]
    public async Task The_request_goes_to_stdin_and_a_failing_agent_is_an_error_quoting_its_failed_line()
    {
        string request = Path.Combine(_dir, "request");
        string agent = Script("fence_fail", $"""
            cat > {request}
            echo "2026-01-01 10:00:00,000 ERROR: Failed: Unable to connect/login to fencing device" >&2
            echo "2026-01-01 10:00:00,000 ERROR: Please use '-h' for usage" >&2
            exit 1
            """);
        var device = new FenceAgentDevice("pdu", agent, new Dictionary<string, string> { ["beta"] = "2" }, [new("ipaddr", "10.0.0.9"), new("login", "apc")]);
        var r = await Run(device, FenceAction.Off, "beta");
        Assert.Equal(FenceOutcome.Error, r.Outcome);
        Assert.Equal("pdu: off: exit 1: Failed: Unable to connect/login to fencing device", r.Reason);
        Assert.Equal("action=off\nplug=2\nnodename=beta\nipaddr=10.0.0.9\nlogin=apc\n", File.ReadAllText(request));
    }

    [Fact]
    public async Task Without_a_failed_line_the_reason_is_the_last_stderr_line()
    {
        var device = new FenceAgentDevice("x", Script("fence_x", "echo 'connection refused' >&2; exit 1\n"), null, []);
        Assert.Equal("x: status: exit 1: connection refused", (await Run(device, FenceAction.Status)).Reason);
    }

    [Fact]
    public async Task A_missing_or_non_executable_agent_is_a_hard_error_naming_the_path()
    {
        string missing = Path.Combine(_dir, "fence_nothing");
        var r = await Run(new FenceAgentDevice("x", missing, null, []), FenceAction.Off);
        Assert.Equal(FenceOutcome.HardError, r.Outcome);
        Assert.Equal($"cannot run fence agent {missing}: no such file", r.Reason);

        string plain = Path.Combine(_dir, "fence_plain");
        File.WriteAllText(plain, "#!/bin/sh\nexit 0\n");
        var notExecutable = await Run(new FenceAgentDevice("x", plain, null, []), FenceAction.Off);
        Assert.Equal((FenceOutcome.HardError, $"cannot run fence agent {plain}: not executable"), (notExecutable.Outcome, notExecutable.Reason));
    }

    [Fact]
    public void Parameters_the_request_cannot_carry_are_refused_when_configured()
    {
        Assert.Throws<ArgumentException>(() => new FenceAgentDevice("x", "/bin/true", null, [new("login", "a\nb")]));
        Assert.Throws<ArgumentException>(() => new FenceAgentDevice("x", "/bin/true", null, [new("action", "off")]));
        Assert.Throws<ArgumentException>(() => new FenceAgentDevice("x", "/bin/true", new Dictionary<string, string> { ["alpha"] = "1\n2" }, []));
    }

    [Fact]
    public async Task A_hanging_agent_times_out_and_everything_it_started_is_killed()
    {
        string pids = Path.Combine(_dir, "pids");
        // The agent, a child in its tree, a child in a session of its own (pexpect's telnet/ssh do
        // that), and a double-forked one that left the tree but not the process group.
        string agent = Script("fence_hang", $"""
            echo $$ >> {pids}
            sleep 1000 & echo $! >> {pids}
            setsid sleep 1000 & echo $! >> {pids}
            (sleep 1000 & echo $! >> {pids})
            sleep 1000
            """);
        var device = new FenceAgentDevice("hang", agent, null, []);
        using var cts = new CancellationTokenSource();
        var run = device.RunAsync(FenceAction.Off, "alpha", cts.Token);
        Assert.True(SpinWait.SpinUntil(() => File.Exists(pids) && File.ReadAllLines(pids).Length == 4, 10_000), "the agent started its children");
        int[] started = File.ReadAllLines(pids).Select(int.Parse).ToArray();
        Assert.All(started, pid => Assert.False(Gone(pid), $"{pid} runs before the timeout"));

        cts.Cancel();
        var r = await run.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(FenceOutcome.Timeout, r.Outcome);
        Assert.Contains("agent killed", r.Reason);
        foreach (int pid in started)
            Assert.True(SpinWait.SpinUntil(() => Gone(pid), 5000), $"process {pid} survived the timeout");
    }

    /// <summary>No such process, or a zombie (dead, waiting for a parent that may be a non-reaping PID 1 in a container).</summary>
    private static bool Gone(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2] == 'Z';
        }
        catch (IOException)
        {
            return true;
        }
    }
}
