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
        return new Line(request, path, line, description, GpioEdgeDetection.None, "");
    }

    /// <summary>Most edge records one read(2) takes: a button makes a few per second; the kernel queues more (at least 16 per line).</summary>
    internal const int EdgeBatchMax = 16;

    /// <summary>
    /// Requests <paramref name="line"/> as an input (a button): values are logical, active-low
    /// applied by the kernel. With <paramref name="edgeDebounce"/>, the request asks for both edges
    /// and the kernel's debounce of that period; a chip that refuses edge detection (EINVAL, or
    /// ENXIO: the line has no interrupt) gets a plain input instead, whose
    /// <see cref="IGpioInput.EdgeFallback"/> says why, for the caller to sample it.
    /// </summary>
    public static IGpioInput RequestInput(string path, string line, bool activeLow, string consumer, TimeSpan? edgeDebounce = null)
    {
        if (edgeDebounce is { } debounce)
        {
            try
            {
                var (edged, edgedDescription) = Request(path, line, "an input with edge events",
                    offset => BuildInputRequest(offset, activeLow, consumer, debounce));
                return new Line(edged, path, line, edgedDescription, GpioEdgeDetection.Kernel, "");
            }
            catch (GpioException e) when (e.Errno is Interop.Sys.EINVAL or Interop.Sys.ENXIO)
            {
                var (plain, plainDescription) = Request(path, line, "an input", offset => BuildInputRequest(offset, activeLow, consumer));
                return new Line(plain, path, line, plainDescription, GpioEdgeDetection.None,
                    $"edge detection refused: {e.Reason} ({Interop.Sys.NameAndNumber(e.Errno)})");
            }
        }
        var (request, description) = Request(path, line, "an input", offset => BuildInputRequest(offset, activeLow, consumer));
        return new Line(request, path, line, description, GpioEdgeDetection.None, "");
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

    /// <summary>
    /// The GPIO_V2_GET_LINE_IOCTL argument for one input line: zeroed, INPUT [| ACTIVE_LOW]; with
    /// <paramref name="edgeDebounce"/>, also EDGE_RISING | EDGE_FALLING and, when it is above zero,
    /// one DEBOUNCE attribute of that period in microseconds (the kernel debounces in hardware or in
    /// software and reports an edge once the line has held its new level that long). The event clock
    /// stays the default, CLOCK_MONOTONIC. Pure, for tests.
    /// </summary>
    internal static unsafe Interop.Gpio.LineRequest BuildInputRequest(uint offset, bool activeLow, string consumer, TimeSpan? edgeDebounce = null)
    {
        Interop.Gpio.LineRequest request = default;
        request.offsets[0] = offset;
        request.num_lines = 1;
        Interop.Gpio.WriteName(request.consumer, consumer);
        request.config.flags = Interop.Gpio.GPIO_V2_LINE_FLAG_INPUT | (activeLow ? Interop.Gpio.GPIO_V2_LINE_FLAG_ACTIVE_LOW : 0);
        if (edgeDebounce is not { } debounce)
            return request;
        ArgumentOutOfRangeException.ThrowIfLessThan(debounce, TimeSpan.Zero, nameof(edgeDebounce));
        request.config.flags |= Interop.Gpio.GPIO_V2_LINE_FLAG_EDGE_RISING | Interop.Gpio.GPIO_V2_LINE_FLAG_EDGE_FALLING;
        if (debounce > TimeSpan.Zero)
        {
            request.config.num_attrs = 1;
            ref Interop.Gpio.LineConfigAttribute attribute = ref request.config.attrs[0];
            attribute.attr.id = Interop.Gpio.GPIO_V2_LINE_ATTR_ID_DEBOUNCE;
            attribute.attr.debounce_period_us = (uint)Math.Min(Math.Ceiling(debounce.TotalMicroseconds), uint.MaxValue);
            attribute.mask = FirstLineBit;
        }
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

    /// <summary>A held line request: an output, or an input with or without edge events.</summary>
    private sealed class Line(SafeGpioHandle request, string path, string line, string description, GpioEdgeDetection edges, string edgeFallback)
        : IGpioOutput, IGpioEdgeInput
    {
        public string Description { get; } = description;

        public GpioEdgeDetection Edges { get; } = edges;

        public string EdgeFallback { get; } = edgeFallback;

        public System.Runtime.InteropServices.SafeHandle ChangeHandle => request;

        /// <summary>One read(2) of whole event records (the fd polled readable, so it does not block).</summary>
        public unsafe int ReadChanges(Span<Interop.Gpio.LineEvent> edges)
        {
            int size = sizeof(Interop.Gpio.LineEvent);
            int capacity = Math.Min(edges.Length, EdgeBatchMax);
            nint n;
            fixed (Interop.Gpio.LineEvent* p = edges)
                n = Interop.Gpio.ReadEvents(request, p, (nuint)(capacity * size));
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno is Interop.Sys.EAGAIN or Interop.Sys.EINTR)
                    return 0;
                throw Interop.Gpio.CreateException(path, line, errno, $"reading edge events failed: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
            if (n % size != 0)
                throw Interop.Gpio.CreateException(path, line, Interop.Sys.EIO, $"read {n} bytes of edge events, not whole {size}-byte records");
            return (int)(n / size);
        }

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
