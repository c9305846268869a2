using Appliance.Linux.Gpio;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// The simulated GPIO chip through the public API, observed from outside the process as the lab
/// does (cat, flock(1)): logical vs physical levels, exclusivity, lookup errors, release.
/// </summary>
public sealed class SimulatedGpioChipTests
{
    private static readonly string[] Names = ["led-active", "", "relay-alpha", "relay-beta"];

    [Fact]
    public void Create_writes_one_name_per_line_in_offset_order()
    {
        using var sim = new SimChip(Names);
        Assert.Equal("led-active\n\nrelay-alpha\nrelay-beta\n", File.ReadAllText(Path.Combine(sim.Directory, SimulatedGpioChip.NamesFile)));
        Assert.Null(sim.Level(3)); // absent = level 0
    }

    [Fact]
    public void Request_by_offset_drives_the_physical_level_and_names_the_consumer()
    {
        using var sim = new SimChip(Names);
        using (IGpioOutput line = GpioChips.RequestOutput(sim.Chip, "3", activeLow: false, initialActive: true, "test-a"))
        {
            Assert.Equal($"{sim.Chip} line 3 (relay-beta)", line.Description);
            Assert.Equal("1\n", sim.Level(3));
            Assert.Equal("test-a\n", File.ReadAllText(SimulatedGpioChip.ConsumerPath(sim.Directory, 3)));
            Assert.True(line.Get());

            line.Set(false);
            Assert.Equal("0\n", sim.Level(3));
            Assert.False(line.Get());
        }
        Assert.False(File.Exists(SimulatedGpioChip.ConsumerPath(sim.Directory, 3)));
    }

    [Fact]
    public void Active_low_line_by_name_keeps_values_logical_and_the_file_physical()
    {
        using var sim = new SimChip(Names);
        using IGpioOutput line = GpioChips.RequestOutput(sim.Chip, "relay-alpha", activeLow: true, initialActive: true, "test");
        Assert.Equal($"{sim.Chip} line 2 (relay-alpha)", line.Description);
        Assert.Equal("0\n", sim.Level(2)); // active = low
        Assert.True(line.Get());

        line.Set(false);
        Assert.Equal("1\n", sim.Level(2));
        Assert.False(line.Get());
    }

    [Fact]
    public void An_unnamed_line_is_described_by_its_offset()
    {
        using var sim = new SimChip(Names);
        using IGpioOutput line = GpioChips.RequestOutput(sim.Chip, "1", activeLow: false, initialActive: false, "test");
        Assert.Equal($"{sim.Chip} line 1", line.Description);
        Assert.Equal("0\n", sim.Level(1));
    }

    [Fact]
    public void A_line_held_by_another_process_is_busy_until_released()
    {
        using var sim = new SimChip(Names);
        using (FlockHolder.Start(sim.LevelPath(3)))
        {
            GpioException ex = Assert.Throws<GpioException>(
                () => GpioChips.RequestOutput(sim.Chip, "relay-beta", activeLow: false, initialActive: true, "test"));
            Assert.Equal(Interop.Sys.EBUSY, ex.Errno);
            Assert.Equal(sim.Chip, ex.Chip);
            Assert.Equal("relay-beta", ex.Line);
            Assert.Contains("busy: line 3 is already requested by another process", ex.Message);
            Assert.Equal("", Edge.Run("cat", sim.LevelPath(3))); // the level was not touched
        }
        using IGpioOutput line = GpioChips.RequestOutput(sim.Chip, "relay-beta", activeLow: false, initialActive: true, "test");
        Assert.Equal("1\n", sim.Level(3));
    }

    [Fact]
    public void A_second_request_in_the_same_process_is_busy_and_names_the_holder()
    {
        using var sim = new SimChip(Names);
        using IGpioOutput first = GpioChips.RequestOutput(sim.Chip, "3", activeLow: false, initialActive: true, "first-holder");
        GpioException ex = Assert.Throws<GpioException>(
            () => GpioChips.RequestOutput(sim.Chip, "3", activeLow: false, initialActive: false, "second"));
        Assert.Equal(Interop.Sys.EBUSY, ex.Errno);
        Assert.Contains("line 3 is already requested by \"first-holder\"", ex.Message);
        Assert.Equal("1\n", sim.Level(3)); // the loser did not drive it
    }

    [Fact]
    public void An_unknown_line_name_lists_available_names()
    {
        using var sim = new SimChip(Names);
        GpioException ex = Assert.Throws<GpioException>(
            () => GpioChips.RequestOutput(sim.Chip, "relay-gamma", activeLow: false, initialActive: false, "test"));
        Assert.Equal(Interop.Sys.ENOENT, ex.Errno);
        Assert.Contains("no line named \"relay-gamma\" among the chip's 4 lines", ex.Message);
        Assert.Contains("led-active, relay-alpha, relay-beta", ex.Message);
    }

    [Fact]
    public void An_offset_out_of_range_gives_the_line_count()
    {
        using var sim = new SimChip(Names);
        GpioException ex = Assert.Throws<GpioException>(
            () => GpioChips.RequestOutput(sim.Chip, "4", activeLow: false, initialActive: false, "test"));
        Assert.Equal(Interop.Sys.EINVAL, ex.Errno);
        Assert.Contains("offset 4 is out of range: the chip has 4 lines (0..3)", ex.Message);
        Assert.False(File.Exists(sim.LevelPath(4)));
    }

    [Fact]
    public void A_missing_chip_directory_is_no_such_chip()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"apl-gpio-{Guid.NewGuid():N}");
        GpioException ex = Assert.Throws<GpioException>(
            () => GpioChips.RequestOutput(GpioChips.SimulatedPrefix + dir, "3", activeLow: false, initialActive: false, "test"));
        Assert.Equal(Interop.Sys.ENOENT, ex.Errno);
        Assert.Contains("no such simulated GPIO chip", ex.Message);
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public void Release_keeps_the_level_and_frees_the_line()
    {
        using var sim = new SimChip(Names);
        IGpioOutput line = GpioChips.RequestOutput(sim.Chip, "0", activeLow: false, initialActive: false, "test");
        line.Set(true);
        line.Dispose();
        line.Dispose(); // idempotent
        Assert.Equal("1\n", sim.Level(0));

        using IGpioOutput again = GpioChips.RequestOutput(sim.Chip, "0", activeLow: true, initialActive: true, "test");
        Assert.Equal("0\n", sim.Level(0));
    }

    [Fact]
    public void Create_rejects_names_the_format_cannot_hold()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"apl-gpio-{Guid.NewGuid():N}");
        Assert.Throws<ArgumentException>(() => SimulatedGpioChip.Create(dir, ["a\nb"]));
        Assert.Throws<ArgumentException>(() => SimulatedGpioChip.Create(dir, [new string('x', 32)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => SimulatedGpioChip.Create(dir, []));
        Assert.False(Directory.Exists(dir));
    }
}
