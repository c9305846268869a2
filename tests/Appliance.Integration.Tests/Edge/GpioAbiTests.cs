using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// Pins Interop.Gpio (the GPIO chardev uAPI v2) and Interop.Files (open/flock of the simulated chip)
/// against native/gpio_abi.c compiled with the installed &lt;linux/gpio.h&gt;: every constant both
/// ways, every struct's size and the offset of every field both ways.
/// </summary>
public sealed class GpioAbiTests
{
    private const string Source = "gpio_abi.c";

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
        var problems = new List<string>();
        Check<Interop.Gpio.GpioChipInfo>("gpiochip_info", problems);
        Check<Interop.Gpio.LineAttribute>("gpio_v2_line_attribute", problems);
        Check<Interop.Gpio.LineConfigAttribute>("gpio_v2_line_config_attribute", problems);
        Check<Interop.Gpio.LineConfig>("gpio_v2_line_config", problems);
        Check<Interop.Gpio.LineRequest>("gpio_v2_line_request", problems);
        Check<Interop.Gpio.LineValues>("gpio_v2_line_values", problems);
        Check<Interop.Gpio.LineInfo>("gpio_v2_line_info", problems);
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    private static void Check<T>(string cName, List<string> problems) where T : unmanaged
    {
        Dictionary<string, ulong> native = Native.Value;
        if (!native.TryGetValue($"sizeof.{cName}", out ulong size))
        {
            problems.Add($"{cName}: sizeof not printed by {Source}");
            return;
        }
        if ((ulong)Unsafe.SizeOf<T>() != size || (ulong)Marshal.SizeOf<T>() != size)
            problems.Add($"{cName}: C# size {Unsafe.SizeOf<T>()} (marshalled {Marshal.SizeOf<T>()}), kernel {size}");

        string[] fields = typeof(T).GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            .Select(f => f.Name).ToArray();
        foreach (string field in fields)
        {
            ulong managed = (ulong)Marshal.OffsetOf<T>(field);
            if (!native.TryGetValue($"offsetof.{cName}.{field}", out ulong expected))
                problems.Add($"{cName}.{field}: offset not printed by {Source} (add it there)");
            else if (managed != expected)
                problems.Add($"{cName}.{field}: C# offset {managed}, kernel {expected}");
        }
        string prefix = $"offsetof.{cName}.";
        foreach (string key in native.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)))
        {
            if (!fields.Contains(key[prefix.Length..]))
                problems.Add($"{cName}.{key[prefix.Length..]}: printed by {Source} but missing from {typeof(T).Name}");
        }
    }
}
