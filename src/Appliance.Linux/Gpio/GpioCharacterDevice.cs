using System.Runtime.InteropServices;

namespace Appliance.Linux.Gpio;

/// <summary>
/// A line of a real chip through the GPIO character device uAPI v2 (reference gpio-uapi.md §4):
/// open the chip, look the line up, request it as an output with its initial value in the same
/// ioctl (so it never glitches), keep only the request fd and close the chip.
/// </summary>
internal static class GpioCharacterDevice
{
    /// <summary>Bit of the request's first (only) line in masks and value bitmaps: bit i = offsets[i].</summary>
    private const ulong FirstLineBit = 1;

    public static IGpioOutput RequestOutput(string path, string line, bool activeLow, bool initialActive, string consumer)
    {
        var (request, description) = Request(path, line, "an output", offset => BuildOutputRequest(offset, activeLow, initialActive, consumer));
        return new Output(request, path, line, description);
    }

    /// <summary>Requests <paramref name="line"/> as an input (a button): values are logical, active-low applied by the kernel.</summary>
    public static IGpioInput RequestInput(string path, string line, bool activeLow, string consumer)
    {
        var (request, description) = Request(path, line, "an input", offset => BuildInputRequest(offset, activeLow, consumer));
        return new Output(request, path, line, description);
    }

    /// <summary>Opens the chip, resolves the line, makes the request <paramref name="build"/> describes; the chip fd is closed after.</summary>
    private static unsafe (SafeGpioHandle Request, string Description) Request(string path, string line, string what, Func<uint, Interop.Gpio.LineRequest> build)
    {
        using SafeGpioHandle chip = SafeGpioHandle.Open(path, line, out Interop.Gpio.GpioChipInfo info);
        uint offset = GpioChips.ResolveLine(path, line, info.lines, i => LineInfo(chip, path, line, i).Name);
        string name = LineInfo(chip, path, line, offset).Name;

        Interop.Gpio.LineRequest request = build(offset);
        if (Interop.Gpio.Ioctl(chip, Interop.Gpio.GPIO_V2_GET_LINE_IOCTL, &request) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Interop.Sys.EBUSY)
                throw Interop.Gpio.CreateException(path, line, errno,
                    $"requesting line {offset} as {what} failed: {Marshal.GetPInvokeErrorMessage(errno)}");
            string holder = LineInfo(chip, path, line, offset).Consumer;
            throw Interop.Gpio.CreateException(path, line, errno,
                $"busy: line {offset} is already requested by {(holder.Length > 0 ? $"\"{holder}\"" : "another process")}");
        }
        return (SafeGpioHandle.Adopt(request.fd), GpioChips.Describe(path, offset, name));
    }

    /// <summary>The GPIO_V2_GET_LINE_IOCTL argument for one input line: zeroed, INPUT [| ACTIVE_LOW], no edge events (the panel samples). Pure, for tests.</summary>
    internal static unsafe Interop.Gpio.LineRequest BuildInputRequest(uint offset, bool activeLow, string consumer)
    {
        Interop.Gpio.LineRequest request = default;
        request.offsets[0] = offset;
        request.num_lines = 1;
        Interop.Gpio.WriteName(request.consumer, consumer);
        request.config.flags = Interop.Gpio.GPIO_V2_LINE_FLAG_INPUT | (activeLow ? Interop.Gpio.GPIO_V2_LINE_FLAG_ACTIVE_LOW : 0);
        return request;
    }

    /// <summary>
    /// The GPIO_V2_GET_LINE_IOCTL argument for one output line: zeroed (the kernel rejects non-zero
    /// padding), OUTPUT [| ACTIVE_LOW] for all lines, and one OUTPUT_VALUES attribute carrying the
    /// logical initial value (without it an output starts inactive). Pure, for tests.
    /// </summary>
    internal static unsafe Interop.Gpio.LineRequest BuildOutputRequest(uint offset, bool activeLow, bool initialActive, string consumer)
    {
        Interop.Gpio.LineRequest request = default;
        request.offsets[0] = offset;
        request.num_lines = 1;
        Interop.Gpio.WriteName(request.consumer, consumer);
        request.config.flags = Interop.Gpio.GPIO_V2_LINE_FLAG_OUTPUT | (activeLow ? Interop.Gpio.GPIO_V2_LINE_FLAG_ACTIVE_LOW : 0);
        request.config.num_attrs = 1;
        ref Interop.Gpio.LineConfigAttribute initial = ref request.config.attrs[0];
        initial.attr.id = Interop.Gpio.GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES;
        initial.attr.values = initialActive ? FirstLineBit : 0;
        initial.mask = FirstLineBit;
        return request;
    }

    /// <summary>The name and consumer of line <paramref name="offset"/> (GPIO_V2_GET_LINEINFO_IOCTL).</summary>
    private static unsafe (string Name, string Consumer) LineInfo(SafeGpioHandle chip, string path, string line, uint offset)
    {
        Interop.Gpio.LineInfo info = default;
        info.offset = offset;
        if (Interop.Gpio.Ioctl(chip, Interop.Gpio.GPIO_V2_GET_LINEINFO_IOCTL, &info) != 0)
            throw Interop.Gpio.CreateExceptionForLastError(path, line, $"reading the info of line {offset} failed");
        return (Interop.Gpio.ReadName(info.name), Interop.Gpio.ReadName(info.consumer));
    }

    private sealed class Output(SafeGpioHandle request, string path, string line, string description) : IGpioOutput, IGpioInput
    {
        public string Description { get; } = description;

        public unsafe bool Get()
        {
            var values = new Interop.Gpio.LineValues { mask = FirstLineBit };
            if (Interop.Gpio.Ioctl(request, Interop.Gpio.GPIO_V2_LINE_GET_VALUES_IOCTL, &values) != 0)
                throw Interop.Gpio.CreateExceptionForLastError(path, line, "reading the line failed");
            return (values.bits & FirstLineBit) != 0;
        }

        public unsafe void Set(bool active)
        {
            var values = new Interop.Gpio.LineValues { bits = active ? FirstLineBit : 0, mask = FirstLineBit };
            if (Interop.Gpio.Ioctl(request, Interop.Gpio.GPIO_V2_LINE_SET_VALUES_IOCTL, &values) != 0)
                throw Interop.Gpio.CreateExceptionForLastError(path, line, $"driving the line {(active ? "active" : "inactive")} failed");
        }

        public void Dispose() => request.Dispose();
    }
}
