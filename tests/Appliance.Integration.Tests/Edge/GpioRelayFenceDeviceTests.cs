using Appliance.Core.Fencing;
using Appliance.Linux.Fencing;
using Appliance.Linux.Gpio;

namespace Appliance.Integration.Tests.Edge;

/// <summary>The GPIO relay fence device against a simulated chip, watched through its files.</summary>
public sealed class GpioRelayFenceDeviceTests
{
    private static readonly string[] Names = ["led-active", "relay-alpha", "relay-beta"];

    [Theory]
    [InlineData(false, "1\n", "0\n")]
    [InlineData(true, "0\n", "1\n")]
    public async Task Off_status_on_round_trip_drives_the_line(bool activeLow, string cutLevel, string poweredLevel)
    {
        using var sim = new SimChip(Names);
        using var device = new GpioRelayFenceDevice("relay-beta", sim.Chip, "relay-beta", activeLow, "test-fence");
        Assert.Equal("gpio-relay", device.Kind);
        Assert.False(device.CanReboot);

        FenceResult status = await device.RunAsync(FenceAction.Status, "beta", CancellationToken.None);
        Assert.Equal(FenceOutcome.Error, status.Outcome);
        Assert.Contains("not driven by this daemon yet", status.Reason);
        Assert.Null(sim.Level(2)); // Status never requests (requesting drives)

        FenceResult off = await device.RunAsync(FenceAction.Off, "beta", CancellationToken.None);
        Assert.Equal(FenceResult.Done(PowerState.Off, off.Reason), off);
        Assert.Contains("line 2 (relay-beta)", off.Reason);
        Assert.Equal(cutLevel, sim.Level(2));
        Assert.Equal("test-fence\n", File.ReadAllText(SimulatedGpioChip.ConsumerPath(sim.Directory, 2)));
        Assert.Equal(PowerState.Off, (await device.RunAsync(FenceAction.Status, "beta", CancellationToken.None)).Power);

        FenceResult on = await device.RunAsync(FenceAction.On, "beta", CancellationToken.None);
        Assert.Equal(FenceResult.Done(PowerState.On, on.Reason), on);
        Assert.Equal(poweredLevel, sim.Level(2));
        FenceResult after = await device.RunAsync(FenceAction.Status, "beta", CancellationToken.None);
        Assert.Equal((FenceOutcome.Done, PowerState.On), (after.Outcome, after.Power));

        device.Dispose();
        Assert.Equal(poweredLevel, sim.Level(2)); // released, level kept
        using IGpioOutput free = GpioChips.RequestOutput(sim.Chip, "2", activeLow, initialActive: false, "test");
    }

    [Fact]
    public async Task A_busy_line_is_a_hard_error_naming_it_and_works_once_released()
    {
        using var sim = new SimChip(Names);
        using var device = new GpioRelayFenceDevice("relay-beta", sim.Chip, "relay-beta", activeLow: false);
        using (FlockHolder.Start(sim.LevelPath(2)))
        {
            FenceResult busy = await device.RunAsync(FenceAction.Off, "beta", CancellationToken.None);
            Assert.Equal(FenceOutcome.HardError, busy.Outcome);
            Assert.Contains("line relay-beta", busy.Reason);
            Assert.Contains("busy: line 2 is already requested", busy.Reason);
            Assert.Equal("", Edge.Run("cat", sim.LevelPath(2)));
        }
        FenceResult off = await device.RunAsync(FenceAction.Off, "beta", CancellationToken.None);
        Assert.Equal(FenceOutcome.Done, off.Outcome);
        Assert.Equal("1\n", sim.Level(2));
        Assert.Equal("applianced\n", File.ReadAllText(SimulatedGpioChip.ConsumerPath(sim.Directory, 2)));
    }

    [Fact]
    public async Task A_missing_chip_is_a_hard_error()
    {
        using var device = new GpioRelayFenceDevice("relay-beta", "/dev/gpiochip99", "17", activeLow: false);
        FenceResult result = await device.RunAsync(FenceAction.On, "beta", CancellationToken.None);
        Assert.Equal(FenceOutcome.HardError, result.Outcome);
        Assert.Contains("/dev/gpiochip99 line 17: no such GPIO chip", result.Reason);
    }

    [Fact]
    public async Task Cancelled_is_a_timeout_and_reboot_is_not_done_by_a_relay()
    {
        using var sim = new SimChip(Names);
        using var device = new GpioRelayFenceDevice("relay-beta", sim.Chip, "2", activeLow: false);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Equal(FenceOutcome.Timeout, (await device.RunAsync(FenceAction.Off, "beta", cancelled.Token)).Outcome);
        Assert.Equal(FenceOutcome.HardError, (await device.RunAsync(FenceAction.Reboot, "beta", CancellationToken.None)).Outcome);
        Assert.Null(sim.Level(2)); // neither touched the line
    }
}
