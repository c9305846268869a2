using System.Diagnostics;
using System.Text;
using Appliance.Core.Fencing;
using Appliance.Linux.Fencing;
using Appliance.Linux.Serial;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// <c>appliance-lab pdusim</c> run as a real child process (from this test's output directory)
/// in a fresh temp dir: the device at <see cref="Link"/>, outlet states in <see cref="StateFile"/>,
/// faults through <see cref="SetFault"/>. Killed by its PID on dispose.
/// </summary>
internal sealed class PduSim : IDisposable
{
    private readonly StringBuilder _log = new();
    private readonly string[] _options;
    private Process _process;

    private PduSim(string dir, string[] options)
    {
        Dir = dir;
        _options = options;
        _process = Launch();
    }

    public string Dir { get; }
    public string Link => Path.Combine(Dir, "ttyPDU0");
    public string StateFile => Path.Combine(Dir, "state");
    public string FaultFile => Path.Combine(Dir, "fault");
    public int Pid => _process.Id;

    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    public static PduSim Start(params string[] options)
    {
        string dir = Directory.CreateTempSubdirectory("apl-pdu-").FullName;
        try
        {
            return new PduSim(dir, options);
        }
        catch
        {
            Directory.Delete(dir, recursive: true);
            throw;
        }
    }

    private Process Launch()
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "appliance-lab.dll");
        Assert.True(File.Exists(dll), $"{dll} missing: the test project references src/Appliance.Lab");
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (string a in new[] { dll, "pdusim", "--link", Link, "--state", StateFile, "--fault-file", FaultFile }.Concat(_options))
            psi.ArgumentList.Add(a);
        int logStart = Log.Length; // after a restart, only this run's lines count
        Process p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start appliance-lab");
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                lock (_log) _log.AppendLine(e.Data);
        };
        p.BeginErrorReadLine();
        long deadline = Environment.TickCount64 + 15_000;
        while (!(Log[logStart..].Contains($"at {Link} ->") && File.Exists(StateFile)))
        {
            if (p.HasExited || Environment.TickCount64 > deadline)
            {
                Kill(p);
                throw new InvalidOperationException($"pdusim did not come up (exit {(p.HasExited ? p.ExitCode : "-")}):\n{Log}");
            }
            Thread.Sleep(10);
        }
        return p;
    }

    /// <summary>The outlet's state from the state file: "on" or "off".</summary>
    public string State(char outlet) => File.ReadAllLines(StateFile).Single(l => l[0] == outlet)[2..];

    public void SetFault(string word) => File.WriteAllText(FaultFile, word);

    /// <summary>SIGKILL, as a crash: the link is left dangling and the driver's pty hangs up.</summary>
    public void Kill() => Kill(_process);

    /// <summary>A new simulator process on the same link (outlets start on again).</summary>
    public void Restart()
    {
        Kill();
        _process.Dispose();
        _process = Launch();
    }

    /// <summary>SIGTERM through kill(1); returns the exit code.</summary>
    public int Terminate()
    {
        Process.Start("kill", ["-TERM", Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        Assert.True(_process.WaitForExit(5000), "pdusim ignored SIGTERM");
        return _process.ExitCode;
    }

    private static void Kill(Process p)
    {
        if (!p.HasExited)
        {
            p.Kill();
            p.WaitForExit(5000);
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
        Directory.Delete(Dir, recursive: true);
    }
}

/// <summary>
/// Interop: the real cluster-glue client (<c>stonith -t rps10</c>) against our simulator, proving
/// the simulator speaks the protocol as the real device does (serial-pdu.md 3.7).
/// </summary>
public sealed class PduSimulatorInteropTests
{
    private const string StonithPath = "/usr/sbin/stonith";

    /// <summary>S_OOPS: cluster-glue's "anything else", e.g. the tty lock is held.</summary>
    internal const int StonithOops = 8;

    internal static (int Exit, string Out) Stonith(string parameters, params string[] action)
    {
        Assert.True(File.Exists(StonithPath), $"{StonithPath} missing: apt-get install cluster-glue (the PDU interop tests run the real client)");
        var psi = new ProcessStartInfo(StonithPath) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (string a in new[] { "-d", "-t", "rps10", "-p", parameters }.Concat(action))
            psi.ArgumentList.Add(a);
        using Process p = Process.Start(psi)!;
        p.StandardInput.Close();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Assert.True(p.WaitForExit(30_000), "stonith hung");
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    [Fact]
    public void Cluster_glue_stonith_status_off_on_and_reset_against_the_simulator()
    {
        using PduSim sim = PduSim.Start("--toggle-off", "1s");
        string parameters = $"{sim.Link} nodeb 0 nodec 1";

        var status = Stonith(parameters, "-S");
        Assert.True(status.Exit == 0, $"stonith -S exited {status.Exit}:\n{status.Out}\n{sim.Log}");
        Assert.Contains("DTR dropped", sim.Log);

        var off = Stonith(parameters, "-T", "off", "nodeb");
        Assert.True(off.Exit == 0, $"stonith -T off exited {off.Exit}:\n{off.Out}\n{sim.Log}");
        Assert.Equal("off", sim.State('0'));
        Assert.Equal("on", sim.State('1'));

        var on = Stonith(parameters, "-T", "on", "nodeb");
        Assert.True(on.Exit == 0, $"stonith -T on exited {on.Exit}:\n{on.Out}\n{sim.Log}");
        Assert.Equal("on", sim.State('0'));

        var reset = Stonith(parameters, "-T", "reset", "nodec");
        Assert.True(reset.Exit == 0, $"stonith -T reset exited {reset.Exit}:\n{reset.Out}\n{sim.Log}");
        Assert.Equal("on", sim.State('1'));
        string log = sim.Log;
        Assert.Contains("toggle outlet 1", log);
        Assert.True(log.IndexOf("outlet 1 off", StringComparison.Ordinal) < log.IndexOf("outlet 1 on", StringComparison.Ordinal), log);
    }

    [Fact]
    public void The_simulator_exits_cleanly_on_sigterm_and_removes_its_link()
    {
        using PduSim sim = PduSim.Start();
        Assert.Equal("on", sim.State('9'));
        Assert.Equal(0, sim.Terminate());
        Assert.False(File.Exists(sim.Link) || new FileInfo(sim.Link).LinkTarget is not null, "link left behind");
    }
}

/// <summary>Our serial-pdu driver against the simulator: one session, acknowledgements, faults, recovery.</summary>
public sealed class SerialPduFenceDeviceTests
{
    private static readonly Dictionary<string, char> Outlets = new() { ["nodeb"] = '0', ["nodec"] = '1' };

    /// <summary>Short handshakes (the simulator sees a 200 ms B0 edge) and a busy monitor; the reply timeout stays the 2 s default.</summary>
    private static readonly Rps10Timing Fast = Rps10Timing.Default with
    {
        DtrDrop = TimeSpan.FromMilliseconds(200),
        ReadyTimeout = TimeSpan.FromSeconds(2),
        MonitorInterval = TimeSpan.FromMilliseconds(300),
        RetryInterval = TimeSpan.FromSeconds(1),
    };

    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(20);

    private static async Task<FenceResult> Run(SerialPduFenceDevice pdu, FenceAction action, string target)
    {
        using var cts = new CancellationTokenSource(CallTimeout);
        return await pdu.RunAsync(action, target, cts.Token);
    }

    private static void AssertDone(FenceResult r, PowerState power)
    {
        Assert.True(r.Outcome == FenceOutcome.Done, r.ToString());
        Assert.Equal(power, r.Power);
    }

    private static void WaitUntil(Func<bool> condition, string what, int timeoutMs = 5000)
    {
        long deadline = Environment.TickCount64 + timeoutMs;
        while (!condition())
        {
            Assert.True(Environment.TickCount64 < deadline, $"timed out waiting for: {what}");
            Thread.Sleep(10);
        }
    }

    [Fact]
    public async Task Off_status_on_and_reboot_share_one_session()
    {
        using PduSim sim = PduSim.Start("--toggle-off", "500ms");
        using var pdu = new SerialPduFenceDevice("pdu1", sim.Link, Outlets, Fast);
        Assert.Equal("serial-pdu", pdu.Kind);
        Assert.True(pdu.CanReboot);

        AssertDone(await Run(pdu, FenceAction.Status, "nodeb"), PowerState.On);
        Assert.Contains("DTR raised", sim.Log);

        var sw = Stopwatch.StartNew();
        FenceResult off = await Run(pdu, FenceAction.Off, "NodeB"); // node names are case-insensitive, as in cluster-glue
        TimeSpan offTook = sw.Elapsed;
        AssertDone(off, PowerState.Off);
        Assert.Contains("Plug 0 Off", off.Reason);
        Assert.Contains(sim.Link, off.Reason);
        Assert.True(offTook < TimeSpan.FromSeconds(1), $"off took {offTook}: a held session costs one round trip, not a {Rps10Timing.Default.DtrDrop} handshake");
        Assert.Equal("off", sim.State('0'));

        AssertDone(await Run(pdu, FenceAction.Status, "nodeb"), PowerState.Off);
        AssertDone(await Run(pdu, FenceAction.On, "nodeb"), PowerState.On);
        Assert.Equal("on", sim.State('0'));

        FenceResult reboot = await Run(pdu, FenceAction.Reboot, "nodec");
        AssertDone(reboot, PowerState.On);
        Assert.Contains("toggle outlet 1", sim.Log);
        Assert.Equal("on", sim.State('1'));

        // The monitor keeps asking '?' in between, on the same session.
        WaitUntil(() => sim.Log.Split("status outlet 0").Length > 3, "three monitor checks");
        Assert.Equal(1, pdu.Handshakes);
        Assert.True(pdu.SessionUp, pdu.Health);
        Assert.StartsWith("session up, last check ", pdu.Health);
        Assert.Equal(1, sim.Log.Split("DTR dropped").Length - 1);
    }

    [Fact]
    public async Task Unknown_node_is_a_hard_error_without_touching_the_line()
    {
        using var pdu = new SerialPduFenceDevice("pdu1", "/dev/apl-no-such-pdu", Outlets, Fast);
        FenceResult r = await Run(pdu, FenceAction.Off, "nodez");
        Assert.Equal(FenceOutcome.HardError, r.Outcome);
        Assert.Contains("pdu has no outlet for node nodez", r.Reason);
        Assert.Contains("/dev/apl-no-such-pdu", r.Reason);
        Assert.Equal(0, pdu.Handshakes);
    }

    [Fact]
    public async Task A_missing_device_is_an_error_naming_it()
    {
        using var pdu = new SerialPduFenceDevice("pdu1", "/dev/apl-no-such-pdu", Outlets, Fast);
        FenceResult r = await Run(pdu, FenceAction.Status, "nodeb");
        Assert.Equal(FenceOutcome.Error, r.Outcome);
        Assert.Contains("/dev/apl-no-such-pdu", r.Reason);
        Assert.Contains("ENOENT", r.Reason);
        Assert.StartsWith("session lost: ", pdu.Health);
    }

    [Fact]
    public async Task A_liar_acknowledges_off_but_status_tells_the_truth()
    {
        using PduSim sim = PduSim.Start();
        using var pdu = new SerialPduFenceDevice("pdu1", sim.Link, Outlets, Fast);
        AssertDone(await Run(pdu, FenceAction.Status, "nodeb"), PowerState.On);
        sim.SetFault("liar");
        WaitUntil(() => sim.Log.Contains("fault: liar"), "the simulator reads the fault");

        AssertDone(await Run(pdu, FenceAction.Off, "nodeb"), PowerState.Off); // the driver reports what was acknowledged
        AssertDone(await Run(pdu, FenceAction.Status, "nodeb"), PowerState.On); // the controller's verification catches it
        Assert.Equal("on", sim.State('0'));
    }

    [Fact]
    public async Task A_silent_device_times_out_and_the_next_action_after_recovery_rehandshakes()
    {
        using PduSim sim = PduSim.Start();
        using var pdu = new SerialPduFenceDevice("pdu1", sim.Link, Outlets, Fast);
        AssertDone(await Run(pdu, FenceAction.Status, "nodeb"), PowerState.On);
        sim.SetFault("silent");
        WaitUntil(() => sim.Log.Contains("fault: silent"), "the simulator reads the fault");

        var sw = Stopwatch.StartNew();
        FenceResult off = await Run(pdu, FenceAction.Off, "nodeb");
        Assert.Equal(FenceOutcome.Timeout, off.Outcome);
        Assert.Contains(sim.Link, off.Reason);
        Assert.Matches("no answer to off of outlet 0 within 2 s|no RPS-10 Ready within 2 s", off.Reason);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(6), $"took {sw.Elapsed}"); // at worst a monitor check's 2 s, then a failed handshake
        Assert.False(pdu.SessionUp);
        Assert.StartsWith("session lost: ", pdu.Health);
        Assert.Equal("on", sim.State('0'));

        sim.SetFault("none");
        long before = pdu.Handshakes;
        AssertDone(await Run(pdu, FenceAction.Off, "nodeb"), PowerState.Off);
        Assert.True(pdu.Handshakes > before);
        Assert.Equal("off", sim.State('0'));
        Assert.True(pdu.SessionUp, pdu.Health);
    }

    [Fact]
    public async Task Garbage_is_an_error_or_a_timeout_never_an_exception_and_the_session_recovers()
    {
        using PduSim sim = PduSim.Start();
        using var pdu = new SerialPduFenceDevice("pdu1", sim.Link, Outlets, Fast);
        AssertDone(await Run(pdu, FenceAction.Status, "nodeb"), PowerState.On);
        sim.SetFault("garbage");
        WaitUntil(() => sim.Log.Contains("fault: garbage"), "the simulator reads the fault");

        FenceResult off = await Run(pdu, FenceAction.Off, "nodeb");
        Assert.True(off.Outcome is FenceOutcome.Error or FenceOutcome.Timeout, off.ToString());
        Assert.Contains(sim.Link, off.Reason);
        Assert.True(pdu.NoiseLines > 0);

        sim.SetFault("none");
        WaitUntil(() => sim.Log.Contains("fault: none"), "the simulator reads the fault");
        AssertDone(await Run(pdu, FenceAction.Status, "nodeb"), sim.State('0') == "on" ? PowerState.On : PowerState.Off);
    }

    [Fact]
    public async Task A_slow_device_misses_the_default_reply_timeout()
    {
        using PduSim sim = PduSim.Start();
        using var pdu = new SerialPduFenceDevice("pdu1", sim.Link, Outlets, Fast with { MonitorInterval = TimeSpan.FromSeconds(30) });
        Assert.Equal(TimeSpan.FromSeconds(2), pdu.Timing.ReplyTimeout);
        AssertDone(await Run(pdu, FenceAction.Status, "nodeb"), PowerState.On);
        sim.SetFault("slow");
        WaitUntil(() => sim.Log.Contains("fault: slow"), "the simulator reads the fault");

        FenceResult status = await Run(pdu, FenceAction.Status, "nodeb");
        Assert.Equal(FenceOutcome.Timeout, status.Outcome);
        Assert.Contains("no answer to status of outlet 0 within 2 s", status.Reason);

        // A DTR drop resets the device's session: the late lines never reach the new one.
        sim.SetFault("none");
        WaitUntil(() => sim.Log.Contains("fault: none"), "the simulator reads the fault");
        AssertDone(await Run(pdu, FenceAction.Status, "nodeb"), PowerState.On);
    }

    [Fact]
    public async Task A_crashed_and_restarted_device_is_noticed_and_a_new_session_works()
    {
        using PduSim sim = PduSim.Start();
        using var pdu = new SerialPduFenceDevice("pdu1", sim.Link, Outlets, Fast);
        AssertDone(await Run(pdu, FenceAction.Off, "nodec"), PowerState.Off);

        sim.Kill();
        WaitUntil(() => !pdu.SessionUp, "the driver notices the hang-up");
        Assert.StartsWith("session lost: ", pdu.Health);

        sim.Restart();
        AssertDone(await Run(pdu, FenceAction.Status, "nodec"), PowerState.On); // a fresh simulator starts with every outlet on
        Assert.True(pdu.Handshakes >= 2);
        Assert.True(pdu.SessionUp, pdu.Health);
    }

    [Fact]
    public async Task Cancellation_returns_a_timeout_promptly()
    {
        using PduSim sim = PduSim.Start();
        sim.SetFault("silent");
        WaitUntil(() => sim.Log.Contains("fault: silent"), "the simulator reads the fault");
        using var pdu = new SerialPduFenceDevice("pdu1", sim.Link, Outlets, Fast with { ReadyTimeout = TimeSpan.FromSeconds(12) });

        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(700)); // well after the 200 ms DTR drop
        var sw = Stopwatch.StartNew();
        FenceResult r = await pdu.RunAsync(FenceAction.Off, "nodeb", cts.Token);
        Assert.Equal(FenceOutcome.Timeout, r.Outcome);
        Assert.Contains("cancelled by the caller", r.Reason);
        Assert.Contains("waiting for RPS-10 Ready", r.Reason);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(1.5), $"took {sw.Elapsed}");
    }

    [Fact]
    public async Task The_session_holds_the_uucp_lock_so_cluster_glue_backs_off_and_stale_locks_are_taken_over()
    {
        using PduSim sim = PduSim.Start();
        string lockPath = Path.Combine(UucpLock.DefaultDirectory, UucpLock.NameFor(sim.Link));
        File.WriteAllText(lockPath, $"{int.MaxValue,10}\n"); // a PID that cannot be running: stale
        try
        {
            using (var pdu = new SerialPduFenceDevice("pdu1", sim.Link, Outlets, Fast))
            {
                AssertDone(await Run(pdu, FenceAction.Status, "nodeb"), PowerState.On);
                Assert.Equal($"{Environment.ProcessId,10}\n", File.ReadAllText(lockPath));

                var sw = Stopwatch.StartNew();
                var stonith = PduSimulatorInteropTests.Stonith($"{sim.Link} nodeb 0", "-S");
                Assert.True(stonith.Exit == PduSimulatorInteropTests.StonithOops, $"stonith -S exited {stonith.Exit}:\n{stonith.Out}");
                Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2), $"stonith took {sw.Elapsed}: it should fail on the lock at once");
                Assert.True(pdu.SessionUp, pdu.Health);
            }
            Assert.False(File.Exists(lockPath), "lock left behind after Dispose");
        }
        finally
        {
            File.Delete(lockPath);
        }
    }
}
