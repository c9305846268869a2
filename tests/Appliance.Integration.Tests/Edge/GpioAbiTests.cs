namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// Pins Interop.Gpio (the GPIO chardev uAPI v2) and Interop.Files (open/flock of the simulated chip)
/// against native/gpio_abi.c compiled with the installed &lt;linux/gpio.h&gt;: every constant both
/// ways, every struct's size and the offset of every field both ways (the edge event record a line
/// request fd yields included). Interop.Inotify (the simulated chip's change notifications) likewise
/// against native/inotify_abi.c.
/// </summary>
public sealed class GpioAbiTests
{
    private const string Source = "gpio_abi.c";

    private const string InotifySource = "inotify_abi.c";

    private static readonly Lazy<Dictionary<string, ulong>> Native = new(() => NativeAbi.CompileAndRun(Source));

    [Fact]
    public void Every_gpio_and_file_constant_matches_the_kernel_headers()
    {
        List<string> problems = NativeAbi.ConstantMismatches(Native.Value, Source, typeof(Interop.Gpio), typeof(Interop.Files));
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void Every_gpio_struct_matches_the_kernel_layout()
    {
        List<string> problems = new[]
        {
            NativeAbi.StructMismatches<Interop.Gpio.GpioChipInfo>(Native.Value, Source, "gpiochip_info"),
            NativeAbi.StructMismatches<Interop.Gpio.LineAttribute>(Native.Value, Source, "gpio_v2_line_attribute"),
            NativeAbi.StructMismatches<Interop.Gpio.LineConfigAttribute>(Native.Value, Source, "gpio_v2_line_config_attribute"),
            NativeAbi.StructMismatches<Interop.Gpio.LineConfig>(Native.Value, Source, "gpio_v2_line_config"),
            NativeAbi.StructMismatches<Interop.Gpio.LineRequest>(Native.Value, Source, "gpio_v2_line_request"),
            NativeAbi.StructMismatches<Interop.Gpio.LineValues>(Native.Value, Source, "gpio_v2_line_values"),
            NativeAbi.StructMismatches<Interop.Gpio.LineInfo>(Native.Value, Source, "gpio_v2_line_info"),
            NativeAbi.StructMismatches<Interop.Gpio.LineEvent>(Native.Value, Source, "gpio_v2_line_event"),
        }.SelectMany(p => p).ToList();
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void Inotify_constants_and_its_event_header_match_the_headers()
    {
        var native = NativeAbi.CompileAndRun(InotifySource);
        List<string> problems = [.. NativeAbi.ConstantMismatches(native, InotifySource, typeof(Interop.Inotify)),
            .. NativeAbi.StructMismatches<Interop.Inotify.InotifyEvent>(native, InotifySource, "inotify_event")];
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }
}
