using System.Diagnostics;
using System.Xml.Linq;
using Appliance.Core.Fencing;
using Appliance.Ctl;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// An in-memory fence device: a power state per node, every call recorded. It can be made to lie
/// (acknowledge off while the power stays on), to fail its status reads, or to hang until cancelled.
/// </summary>
internal sealed class FakeFenceDevice(bool canReboot = false) : IFenceDevice
{
    public Dictionary<string, PowerState> Power { get; } = new();
    public List<string> Calls { get; } = [];
    public bool Liar { get; init; }
    public bool StatusFails { get; init; }
    public bool Hangs { get; init; }

    public string Name => "fake";
    public string Kind => "fake";
    public bool CanReboot => canReboot;

    public async Task<FenceResult> RunAsync(FenceAction action, string target, CancellationToken ct)
    {
        Calls.Add($"{action} {target}");
        if (Hangs)
        {
            await Task.Delay(Timeout.Infinite, ct).ContinueWith(_ => { }, CancellationToken.None);
            return FenceResult.Timeout("no answer from the fake");
        }
        switch (action)
        {
            case FenceAction.Status when StatusFails:
                return FenceResult.Error("line noise");
            case FenceAction.Status:
                return FenceResult.Done(Power.GetValueOrDefault(target, PowerState.On));
            case FenceAction.Off:
                if (!Liar)
                    Power[target] = PowerState.Off;
                return FenceResult.Done(PowerState.Off);
            case FenceAction.On:
                Power[target] = PowerState.On;
                return FenceResult.Done(PowerState.On);
            default:
                Power[target] = PowerState.On;
                return FenceResult.Done(PowerState.On);
        }
    }
}

/// <summary>appliancectl fence-agent: our drivers behind the fence-agents convention (fence-agents.md sections 1-3, 5b).</summary>
public sealed class FenceAgentCommandTests
{
    private static readonly AgentDescription Pdu = FenceAgents.Pdu;

    private const string PduOptions = "serial_port=/dev/ttyS1\noutlets=alpha=1,beta=2\n";

    private static (int Exit, string Out, string Err) Agent(FakeFenceDevice device, string stdin, params string[] args)
        => Agent(FenceAgents.PduFactory(_ => device), Pdu, stdin, args);

    private static (int Exit, string Out, string Err) Agent(AgentFactory factory, AgentDescription description, string stdin, params string[] args)
    {
        var stdout = new StringWriter { NewLine = "\n" };
        var stderr = new StringWriter { NewLine = "\n" };
        int exit = FenceAgentCommand.Run(description, args, new StringReader(stdin), stdout, stderr, factory);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Stdin_mode_status_exits_0_on_and_2_off()
    {
        var device = new FakeFenceDevice();
        Assert.Equal((0, "Status: ON\n", ""), Agent(device, PduOptions + "action=status\nplug=1\n"));
        device.Power["alpha"] = PowerState.Off;
        Assert.Equal((2, "Status: OFF\n", ""), Agent(device, PduOptions + "action=status\nplug=alpha\n"));
        Assert.Equal(["Status alpha", "Status alpha"], device.Calls);
    }

    [Fact]
    public void Argv_mode_off_checks_status_switches_and_verifies()
    {
        var device = new FakeFenceDevice();
        var r = Agent(device, "", "-o", "off", "-n", "2", "--serial-port=/dev/ttyS1", "--outlets", "alpha=1,beta=2");
        Assert.Equal((0, "Success: Powered OFF\n", ""), r);
        Assert.Equal(["Status beta", "Off beta", "Status beta"], device.Calls);
        Assert.Equal(PowerState.Off, device.Power["beta"]);
    }

    [Fact]
    public void Off_when_already_off_says_so_and_does_not_switch()
    {
        var device = new FakeFenceDevice();
        device.Power["alpha"] = PowerState.Off;
        Assert.Equal((0, "Success: Already OFF\n", ""), Agent(device, PduOptions + "action=off\nplug=alpha\n"));
        Assert.Equal(["Status alpha"], device.Calls);
    }

    [Fact]
    public void A_device_that_acknowledges_off_but_stays_on_fails_the_off_and_the_reboot()
    {
        var liar = new FakeFenceDevice { Liar = true };
        var off = Agent(liar, PduOptions + "action=off\nplug=alpha\n");
        Assert.Equal((1, ""), (off.Exit, off.Out));
        Assert.Contains("ERROR: Failed: Timed out waiting to power OFF", off.Err);
        Assert.Contains("status reads ON", off.Err);

        var reboot = Agent(new FakeFenceDevice { Liar = true }, PduOptions + "action=reboot\nplug=alpha\n");
        Assert.Equal((1, ""), (reboot.Exit, reboot.Out));
    }

    [Fact]
    public void On_powers_on_and_reports_already_on()
    {
        var device = new FakeFenceDevice();
        device.Power["beta"] = PowerState.Off;
        Assert.Equal((0, "Success: Powered ON\n", ""), Agent(device, PduOptions + "action=on\nport=beta\n"));
        Assert.Equal((0, "Success: Already ON\n", ""), Agent(device, PduOptions + "action=on\nplug=beta\n"));
    }

    [Fact]
    public void Reboot_is_native_when_the_device_can_else_off_verified_then_on()
    {
        var native = new FakeFenceDevice(canReboot: true);
        Assert.Equal((0, "Success: Rebooted\n", ""), Agent(native, PduOptions + "action=reboot\nplug=alpha\n"));
        Assert.Equal(["Reboot alpha"], native.Calls);

        var plain = new FakeFenceDevice();
        Assert.Equal((0, "Success: Rebooted\n", ""), Agent(plain, PduOptions + "nodename=alpha\n")); // reboot is the default action
        Assert.Equal(["Status alpha", "Off alpha", "Status alpha", "Status alpha", "On alpha", "Status alpha"], plain.Calls);
    }

    [Fact]
    public void A_status_the_device_cannot_read_exits_1()
    {
        var r = Agent(new FakeFenceDevice { StatusFails = true }, PduOptions + "action=status\nplug=1\n");
        Assert.Equal((1, "", "ERROR: Failed: line noise\n"), r);
        Assert.Equal(1, Agent(new FakeFenceDevice { StatusFails = true }, PduOptions + "action=off\nplug=1\n").Exit);
    }

    [Fact]
    public void Monitor_is_a_silent_status_read()
    {
        var device = new FakeFenceDevice();
        device.Power["alpha"] = PowerState.Off;
        Assert.Equal((0, "", ""), Agent(device, PduOptions + "action=monitor\n"));
        Assert.Equal(["Status alpha"], device.Calls);
        Assert.Equal(1, Agent(new FakeFenceDevice { StatusFails = true }, PduOptions + "action=monitor\n").Exit);
    }

    [Fact]
    public void List_prints_plug_and_node_and_list_status_adds_the_state()
    {
        var device = new FakeFenceDevice();
        device.Power["beta"] = PowerState.Off;
        Assert.Equal((0, "1,alpha\n2,beta\n", ""), Agent(device, PduOptions + "action=list\n"));
        Assert.Equal((0, "1;alpha\n2;beta\n", ""), Agent(device, PduOptions + "action=list\nseparator=;\n"));
        Assert.Equal((0, "1,alpha,ON\n2,beta,OFF\n", ""), Agent(device, PduOptions + "action=list-status\n"));
    }

    [Fact]
    public void Power_actions_need_a_known_plug()
    {
        var none = Agent(new FakeFenceDevice(), PduOptions + "action=off\n");
        Assert.Equal((1, "ERROR: Failed: You have to enter plug number or machine identification\n"), (none.Exit, none.Err));
        var unknown = Agent(new FakeFenceDevice(), PduOptions + "action=off\nplug=7\n");
        Assert.Equal((1, "ERROR: Failed: plug '7' is not one of this device's plugs (1=alpha, 2=beta)\n"), (unknown.Exit, unknown.Err));
    }

    [Fact]
    public void Unknown_actions_exit_1_and_unknown_options_are_warnings()
    {
        Assert.Equal((1, "", "ERROR: Failed: Unrecognised action 'bogus'\n"), Agent(new FakeFenceDevice(), "action=bogus\n"));
        var r = Agent(new FakeFenceDevice(), PduOptions + "action=status\nplug=1\nfoo=bar\n");
        Assert.Equal((0, "Status: ON\n", "WARNING: Parse error: Ignoring unknown option 'foo=bar'\n"), r);
    }

    [Fact]
    public void Validate_all_checks_the_options()
    {
        Assert.Equal((0, "", ""), Agent(new FakeFenceDevice(), PduOptions + "action=validate-all\n"));
        Assert.Equal((1, "", "ERROR: Failed: You have to set serial_port\n"), Agent(new FakeFenceDevice(), "action=validate-all\noutlets=a=1\n"));
        var twice = Agent(new FakeFenceDevice(), "action=validate-all\nserial_port=/dev/ttyS1\noutlets=a=1,b=1\n");
        Assert.Equal((1, "ERROR: Failed: outlets: outlet 1 is given to a and b\n"), (twice.Exit, twice.Err));
        Assert.Equal(1, Agent(new FakeFenceDevice(), PduOptions + "action=validate-all\npower_timeout=soon\n").Exit);
    }

    [Fact]
    public void A_device_call_is_bounded_by_power_timeout()
    {
        var device = new FakeFenceDevice { Hangs = true };
        var watch = Stopwatch.StartNew();
        var r = Agent(device, PduOptions + "action=status\nplug=1\npower_timeout=1\n");
        Assert.Equal((1, "ERROR: Failed: no answer from the fake\n"), (r.Exit, r.Err));
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void The_gpio_agent_passes_its_options_to_the_driver_and_lists_its_one_node()
    {
        FenceAgents.GpioSettings? seen = null;
        var device = new FakeFenceDevice();
        AgentFactory factory = FenceAgents.GpioFactory(s => { seen = s; return device; });
        var r = Agent(factory, FenceAgents.Gpio, "chip=/dev/gpiochip0\nline=relay-beta\nactive_low=yes\nnodename=beta\naction=list\n");
        Assert.Equal((0, "beta,beta\n", ""), r);
        Assert.Equal(new FenceAgents.GpioSettings("/dev/gpiochip0", "relay-beta", true), seen);

        Assert.Equal((0, "Success: Powered OFF\n", ""), Agent(factory, FenceAgents.Gpio, "", "-o", "off", "-n", "beta", "--chip", "sim:/tmp/x", "--line=3"));
        Assert.Equal(new FenceAgents.GpioSettings("sim:/tmp/x", "3", false), seen);
        Assert.Equal((0, "", ""), Agent(factory, FenceAgents.Gpio, "chip=/dev/gpiochip0\nline=3\naction=list\n"));
        Assert.Equal((0, "", ""), Agent(factory, FenceAgents.Gpio, "chip=/dev/gpiochip0\nline=3\naction=monitor\n")); // no node to name: still a status read
    }

    [Fact]
    public void The_pdu_agent_passes_the_outlet_map_to_the_driver()
    {
        FenceAgents.PduSettings? seen = null;
        var r = Agent(FenceAgents.PduFactory(s => { seen = s; return new FakeFenceDevice(); }), Pdu, "serial_port=/dev/ttyUSB0\noutlets=\"alpha=1, beta=*\"\naction=validate-all\n");
        Assert.Equal(0, r.Exit);
        Assert.Equal("/dev/ttyUSB0", seen!.SerialPort);
        Assert.Equal(new Dictionary<string, char> { ["alpha"] = '1', ["beta"] = '*' }, seen.Outlets);
        Assert.Null(FenceAgents.ParseOutlets("alpha=12").Outlets);
        Assert.Null(FenceAgents.ParseOutlets("=1").Outlets);
        Assert.Null(FenceAgents.ParseOutlets("").Outlets);
    }

    [Fact]
    public void A_driver_that_throws_still_answers_exit_1()
    {
        var r = Agent(FenceAgents.PduFactory(_ => throw new ArgumentException("no such serial port")), Pdu, PduOptions + "action=status\nplug=1\n");
        Assert.Equal((1, "", "ERROR: Failed: no such serial port\n"), r);
    }

    [Fact]
    public void Manpage_names_the_agent_and_its_options()
    {
        var r = Agent(new FakeFenceDevice(), "action=manpage\n");
        Assert.Equal(0, r.Exit);
        Assert.Contains("fence_appliance_pdu", r.Out);
        Assert.Contains("--serial-port=[path]", r.Out);
    }

    [Theory]
    [InlineData("gpio", "metadata")]
    [InlineData("pdu", "meta-data")]
    public void Metadata_has_what_fence_agents_metadata_rng_requires(string kind, string action)
    {
        var description = kind == "gpio" ? FenceAgents.Gpio : FenceAgents.Pdu;
        // Metadata needs no device: Pacemaker asks for it when the device is registered.
        var r = Agent(_ => throw new InvalidOperationException("no device for metadata"), description, $"action={action}\n");
        Assert.Equal((0, ""), (r.Exit, r.Err));

        var root = XDocument.Parse(r.Out).Root!;
        Assert.Equal("resource-agent", root.Name.LocalName);
        Assert.Equal(description.Name, (string?)root.Attribute("name"));
        Assert.False(string.IsNullOrEmpty((string?)root.Attribute("shortdesc")));
        Assert.NotNull(root.Element("longdesc"));
        Assert.NotNull(root.Element("vendor-url"));
        var parameters = root.Element("parameters")!.Elements("parameter").ToList();
        Assert.Contains(parameters, p => (string?)p.Attribute("name") == "plug");
        foreach (var p in parameters)
        {
            Assert.NotNull(p.Attribute("name"));
            Assert.Contains((string?)p.Attribute("unique"), new[] { "0", "1" });
            Assert.Contains((string?)p.Attribute("required"), new[] { "0", "1" });
            Assert.NotNull(p.Element("getopt")?.Attribute("mixed"));
            Assert.Contains((string?)p.Element("content")?.Attribute("type"), new[] { "boolean", "string", "second", "integer" });
            Assert.NotNull(p.Element("shortdesc")?.Attribute("lang"));
        }
        foreach (string own in description.Parameters.Select(p => p.Name))
            Assert.Contains(parameters, p => (string?)p.Attribute("name") == own);
        var actions = root.Element("actions")!.Elements("action").ToDictionary(a => (string)a.Attribute("name")!);
        Assert.Equal(["on", "off", "reboot", "status", "monitor", "list", "list-status", "metadata", "validate-all", "manpage"], actions.Keys);
        Assert.Equal("0", (string?)actions["on"].Attribute("automatic"));

        Assert.Equal(0, Xmllint(r.Out, "--noout", "-"));
        const string rng = "/usr/share/cluster/relaxng/metadata.rng"; // fence-agents' own schema, where installed
        if (File.Exists(rng))
            Assert.Equal(0, Xmllint(r.Out, "--noout", "--relaxng", rng, "-"));
    }

    private static int Xmllint(string input, params string[] args)
    {
        var psi = new ProcessStartInfo("xmllint") { RedirectStandardInput = true, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardInput.Write(input);
        p.StandardInput.Close();
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"xmllint {string.Join(' ', args)}: {err}");
        return p.ExitCode;
    }

    /// <summary>
    /// Starts a program this test has just written. Another test's process start may fork while the file
    /// is still open for writing here; its child holds that descriptor until it execs, and an exec of the
    /// file meanwhile fails with ETXTBSY ("Text file busy", CI 2026-12-07). That lasts microseconds: retry.
    /// </summary>
    private static Process StartFreshlyWritten(ProcessStartInfo psi)
    {
        const int TextFileBusy = 26;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return Process.Start(psi)!;
            }
            catch (System.ComponentModel.Win32Exception e) when (e.NativeErrorCode == TextFileBusy && attempt < 20)
            {
                System.Threading.Thread.Sleep(10);
            }
        }
    }

    [Theory]
    [InlineData("fence_appliance_gpio", "gpio")]
    [InlineData("fence_appliance_pdu", "pdu")]
    public void The_shipped_wrappers_exec_the_appliancectl_next_to_them_even_through_a_symlink(string wrapper, string kind)
    {
        string dir = Directory.CreateTempSubdirectory("apl-fence-wrap-").FullName;
        try
        {
            string bin = Directory.CreateDirectory(Path.Combine(dir, "opt")).FullName;
            string source = Path.Combine(Lab.Lab.RepoRoot(), "board", "fence", wrapper);
            Assert.True((File.GetUnixFileMode(source) & UnixFileMode.UserExecute) != 0, $"{source} must be executable");
            File.Copy(source, Path.Combine(bin, wrapper));
            File.SetUnixFileMode(Path.Combine(bin, wrapper), File.GetUnixFileMode(source));
            string ctl = Path.Combine(bin, "appliancectl");
            File.WriteAllText(ctl, "#!/bin/sh\necho \"$@\"\ncat\n");
            File.SetUnixFileMode(ctl, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            string link = Path.Combine(dir, wrapper);
            File.CreateSymbolicLink(link, Path.Combine(bin, wrapper));

            var psi = new ProcessStartInfo(link) { RedirectStandardInput = true, RedirectStandardOutput = true };
            psi.ArgumentList.Add("-o");
            psi.ArgumentList.Add("status");
            psi.Environment["PATH"] = "/usr/bin:/bin";
            using var p = StartFreshlyWritten(psi);
            p.StandardInput.Write("plug=alpha\n");
            p.StandardInput.Close();
            string output = p.StandardOutput.ReadToEnd();
            Assert.True(p.WaitForExit(10_000));
            Assert.Equal((0, $"fence-agent {kind} -o status\nplug=alpha\n"), (p.ExitCode, output));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
