using Appliance.Linux.Gpio;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// The real character device path. This kernel has no GPIO subsystem, so the request is checked as
/// the struct we would hand the kernel, and the device path through its failures on real files.
/// </summary>
public sealed class GpioCharacterDeviceTests
{
    [Fact]
    public unsafe void Output_request_holds_one_line_its_flags_and_its_initial_value()
    {
        Interop.Gpio.LineRequest request = GpioCharacterDevice.BuildOutputRequest(17, activeLow: true, initialActive: true, "applianced");

        Assert.Equal(17u, request.offsets[0]);
        Assert.Equal(1u, request.num_lines);
        Assert.Equal("applianced\0"u8.ToArray(), new ReadOnlySpan<byte>(request.consumer, 11).ToArray());
        Assert.Equal(Interop.Gpio.GPIO_V2_LINE_FLAG_OUTPUT | Interop.Gpio.GPIO_V2_LINE_FLAG_ACTIVE_LOW, request.config.flags);
        Assert.Equal(1u, request.config.num_attrs);
        Assert.Equal(Interop.Gpio.GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES, request.config.attrs[0].attr.id);
        Assert.Equal(1ul, request.config.attrs[0].attr.values);
        Assert.Equal(1ul, request.config.attrs[0].mask);
        Assert.Equal(0u, request.config.attrs[0].attr.padding);

        // Everything else zero: the kernel rejects non-zero padding and unused attributes.
        Interop.Gpio.LineRequest expected = default;
        expected.offsets[0] = 17;
        expected.num_lines = 1;
        "applianced"u8.CopyTo(new Span<byte>(expected.consumer, Interop.Gpio.GPIO_MAX_NAME_SIZE));
        expected.config = request.config;
        Assert.Equal(
            new ReadOnlySpan<byte>(&expected, sizeof(Interop.Gpio.LineRequest)).ToArray(),
            new ReadOnlySpan<byte>(&request, sizeof(Interop.Gpio.LineRequest)).ToArray());
        for (int i = 1; i < Interop.Gpio.GPIO_V2_LINE_NUM_ATTRS_MAX; i++)
            Assert.Equal(default, request.config.attrs[i]);
    }

    [Fact]
    public unsafe void Input_request_with_edges_asks_for_both_edges_and_the_kernel_debounce()
    {
        Interop.Gpio.LineRequest plain = GpioCharacterDevice.BuildInputRequest(5, activeLow: true, "applianced-panel");
        Assert.Equal(Interop.Gpio.GPIO_V2_LINE_FLAG_INPUT | Interop.Gpio.GPIO_V2_LINE_FLAG_ACTIVE_LOW, plain.config.flags);
        Assert.Equal(0u, plain.config.num_attrs);

        Interop.Gpio.LineRequest request = GpioCharacterDevice.BuildInputRequest(5, activeLow: true, "applianced-panel", TimeSpan.FromMilliseconds(20));
        Assert.Equal(5u, request.offsets[0]);
        Assert.Equal(1u, request.num_lines);
        Assert.Equal(Interop.Gpio.GPIO_V2_LINE_FLAG_INPUT | Interop.Gpio.GPIO_V2_LINE_FLAG_ACTIVE_LOW
                     | Interop.Gpio.GPIO_V2_LINE_FLAG_EDGE_RISING | Interop.Gpio.GPIO_V2_LINE_FLAG_EDGE_FALLING, request.config.flags);
        Assert.Equal(1u, request.config.num_attrs);
        Assert.Equal(Interop.Gpio.GPIO_V2_LINE_ATTR_ID_DEBOUNCE, request.config.attrs[0].attr.id);
        Assert.Equal(20_000u, request.config.attrs[0].attr.debounce_period_us);
        Assert.Equal(0u, request.config.attrs[0].attr.padding);
        Assert.Equal(1ul, request.config.attrs[0].mask);
        // The union's upper half stays zero (debounce_period_us is a u32 over a u64).
        Assert.Equal(20_000ul, request.config.attrs[0].attr.flags);
        Assert.Equal(0u, request.event_buffer_size); // the kernel's default: 16 events per line
        for (int i = 1; i < Interop.Gpio.GPIO_V2_LINE_NUM_ATTRS_MAX; i++)
            Assert.Equal(default, request.config.attrs[i]);

        // No debounce: edges, and no attribute at all (an unused attribute would be rejected).
        Interop.Gpio.LineRequest raw = GpioCharacterDevice.BuildInputRequest(5, activeLow: false, "applianced-panel", TimeSpan.Zero);
        Assert.Equal(Interop.Gpio.GPIO_V2_LINE_FLAG_INPUT | Interop.Gpio.GPIO_V2_LINE_FLAG_EDGE_RISING | Interop.Gpio.GPIO_V2_LINE_FLAG_EDGE_FALLING,
            raw.config.flags);
        Assert.Equal(0u, raw.config.num_attrs);
        Assert.Equal(default, raw.config.attrs[0]);
    }

    [Fact]
    public unsafe void Output_request_without_active_low_starts_inactive_and_cuts_a_long_consumer()
    {
        Interop.Gpio.LineRequest request = GpioCharacterDevice.BuildOutputRequest(3, activeLow: false, initialActive: false,
            new string('c', 40));
        Assert.Equal(Interop.Gpio.GPIO_V2_LINE_FLAG_OUTPUT, request.config.flags);
        Assert.Equal(0ul, request.config.attrs[0].attr.values);
        Assert.Equal(1ul, request.config.attrs[0].mask); // the attribute still applies: initial value 0 on purpose
        var consumer = new ReadOnlySpan<byte>(request.consumer, Interop.Gpio.GPIO_MAX_NAME_SIZE);
        Assert.Equal(new string('c', 31), System.Text.Encoding.ASCII.GetString(consumer[..31]));
        Assert.Equal(0, consumer[31]); // always NUL-terminated
    }

    [Theory]
    [InlineData("/dev/gpiochip99")]
    [InlineData("gpiochip99")] // a bare name means /dev/NAME
    public void A_missing_chip_is_a_clear_error(string chip)
    {
        GpioException ex = Assert.Throws<GpioException>(
            () => GpioChips.RequestOutput(chip, "17", activeLow: false, initialActive: false, "test"));
        Assert.Equal(Interop.Sys.ENOENT, ex.Errno);
        Assert.Equal("/dev/gpiochip99", ex.Chip);
        Assert.Equal("17", ex.Line);
        Assert.StartsWith("GPIO /dev/gpiochip99 line 17: no such GPIO chip; ", ex.Message);
        Assert.EndsWith("(ENOENT, errno 2)", ex.Message);
    }

    [Fact]
    public void A_file_that_is_not_a_chip_is_refused_by_the_chipinfo_ioctl()
    {
        GpioException ex = Assert.Throws<GpioException>(
            () => GpioChips.RequestOutput("/dev/null", "0", activeLow: false, initialActive: false, "test"));
        Assert.Equal(Interop.Sys.ENOTTY, ex.Errno);
        Assert.Contains("not a GPIO character device", ex.Message);
    }
}
