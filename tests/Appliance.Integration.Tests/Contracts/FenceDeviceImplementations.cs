using Appliance.Core.Fencing;
using Appliance.Daemon.Fencing;
using Appliance.Integration.Tests.Edge;
using Appliance.Linux.Fencing;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Contracts;

/// <summary>The contract against the in-memory device: the fake must behave like the real drivers.</summary>
public sealed class InMemoryFenceDeviceContract(ITestOutputHelper output) : FenceDeviceContract(output)
{
    protected override string ExpectedKind => InMemoryFenceDevice.KindName;
    protected override string Target => "beta";
    protected override string? UnknownTarget => "gamma";

    protected override IFenceDevice CreateDevice() => new InMemoryFenceDevice(DeviceName, ["alpha", "beta"], TimeSpan.FromMilliseconds(5));

    protected override void MakeUnresponsive(IFenceDevice device) => ((InMemoryFenceDevice)device).Hang = true;
}

/// <summary>GpioRelayFenceDevice on a simulated GPIO chip (the lab's power rail): relay-beta cuts beta's supply.</summary>
[ContractSkip(nameof(An_action_in_flight_returns_a_timeout_within_the_cancel_grace_of_the_cancel),
    "not applicable: a relay action is one ioctl on a held line that returns at once, it is never in flight " +
    "(cancellation before the call is covered)")]
[ContractSkip(nameof(An_unknown_target_is_a_hard_error_naming_it_and_switches_nothing),
    "not applicable: a relay is wired into one node's supply and has no node map; the config's nodes[].fence " +
    "decides which relay fences which node")]
public sealed class GpioRelayFenceDeviceContract(ITestOutputHelper output) : FenceDeviceContract(output)
{
    private SimChip? _chip;

    protected override string ExpectedKind => GpioRelayFenceDevice.KindName;
    protected override string Target => "beta";

    protected override IFenceDevice CreateDevice()
    {
        _chip = Track(new SimChip("relay-alpha", "relay-beta"));
        return new GpioRelayFenceDevice(DeviceName, _chip.Chip, "relay-beta", activeLow: false, "contract-test");
    }
}

/// <summary>SerialPduFenceDevice on <c>appliance-lab pdusim</c> (an RPS-10 on a pty): outlet 0 powers alpha, 1 beta.</summary>
public sealed class SerialPduFenceDeviceContract(ITestOutputHelper output) : FenceDeviceContract(output)
{
    /// <summary>Short handshakes and retries (the simulator sees a 200 ms DTR drop); the reply timeout stays 2 s.</summary>
    private static readonly Rps10Timing Fast = Rps10Timing.Default with
    {
        DtrDrop = TimeSpan.FromMilliseconds(200),
        ReadyTimeout = TimeSpan.FromSeconds(2),
        MonitorInterval = TimeSpan.FromSeconds(1),
        RetryInterval = TimeSpan.FromSeconds(1),
    };

    private PduSim? _sim;

    protected override string ExpectedKind => SerialPduFenceDevice.KindName;
    protected override string Target => "beta";
    protected override string? UnknownTarget => "gamma";

    protected override IFenceDevice CreateDevice()
    {
        _sim = Track(PduSim.Start("--toggle-off", "300ms"));
        return new SerialPduFenceDevice(DeviceName, _sim.Link, new Dictionary<string, char> { ["alpha"] = '0', ["beta"] = '1' }, Fast);
    }

    protected override void MakeUnresponsive(IFenceDevice device)
    {
        _sim!.SetFault("silent");
        long deadline = Environment.TickCount64 + 5000;
        while (!_sim.Log.Contains("fault: silent", StringComparison.Ordinal))
        {
            Assert.True(Environment.TickCount64 < deadline, $"pdusim did not take the fault:\n{_sim.Log}");
            Thread.Sleep(10);
        }
    }
}

/// <summary>
/// FenceAgentDevice running Debian's real fence_dummy through a wrapper that can hang instead
/// (a fence agent whose device stopped answering); plugs map alpha and beta.
/// </summary>
[ContractNeedsFile(FenceDummyFactAttribute.Path, "apt-get install fence-agents")]
public sealed class FenceAgentDeviceContract(ITestOutputHelper output) : FenceDeviceContract(output)
{
    private readonly string _dir = Directory.CreateTempSubdirectory("apl-fence-contract-").FullName;

    protected override string ExpectedKind => "fence-agent";
    protected override string Target => "beta";
    protected override string? UnknownTarget => "gamma";

    private string HangFlag => Path.Combine(_dir, "hang");

    protected override IFenceDevice CreateDevice()
    {
        Track(new TempDirectory(_dir));
        string agent = Path.Combine(_dir, "fence_contract");
        File.WriteAllText(agent, $"""
            #!/bin/sh
            [ -e {HangFlag} ] && exec sleep 1000
            exec {FenceDummyFactAttribute.Path} "$@"
            """);
        File.SetUnixFileMode(agent, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return new FenceAgentDevice(DeviceName, agent, new Dictionary<string, string> { ["alpha"] = "1", ["beta"] = "2" },
            [new("status_file", Path.Combine(_dir, "status"))]);
    }

    protected override void MakeUnresponsive(IFenceDevice device) => File.WriteAllText(HangFlag, "");

    private sealed class TempDirectory(string path) : IDisposable
    {
        public void Dispose() => Directory.Delete(path, recursive: true);
    }
}

/// <summary>
/// ManualFenceDevice (meatware): the contract plays the operator, who cuts the power and runs
/// <c>appliancectl fence confirm NODE</c> once the device asks. Powering on is a person's job, so On
/// is a hard error.
/// </summary>
[ContractSkip(nameof(An_unknown_target_is_a_hard_error_naming_it_and_switches_nothing),
    "not applicable: the operator powers off whichever node the request names; the manual device has no node map")]
public sealed class ManualFenceDeviceContract(ITestOutputHelper output) : FenceDeviceContract(output)
{
    protected override string ExpectedKind => "manual";
    protected override string Target => "beta";
    protected override bool CanPowerOn => false;

    protected override IFenceDevice CreateDevice() => new ManualFenceDevice(DeviceName);

    protected override void PlayOperator(IFenceDevice device, FenceAction action, string target)
    {
        if (action != FenceAction.Off)
            return;
        var manual = (ManualFenceDevice)device;
        Assert.Equal(target, manual.WaitingFor); // the device asks for this node before anyone confirms
        manual.Confirm(target);
    }

    /// <summary>No operator comes: Off waits until the caller gives up.</summary>
    protected override void MakeUnresponsive(IFenceDevice device)
    {
    }
}
