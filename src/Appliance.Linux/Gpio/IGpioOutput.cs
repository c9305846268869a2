namespace Appliance.Linux.Gpio;

/// <summary>
/// One GPIO line requested as an output and held until <see cref="IDisposable.Dispose"/>. Values
/// are logical: true = active, which is a low level on an active-low line. Obtained from
/// <see cref="GpioChips.RequestOutput"/>. Failures throw <see cref="GpioException"/>.
/// </summary>
public interface IGpioOutput : IDisposable
{
    /// <summary>For logs and messages: "/dev/gpiochip0 line 17 (relay-beta)".</summary>
    string Description { get; }

    /// <summary>Reads the line back: true when active.</summary>
    bool Get();

    /// <summary>Drives the line active (true) or inactive (false).</summary>
    void Set(bool active);
}

/// <summary>
/// One GPIO line requested as an input and held until <see cref="IDisposable.Dispose"/>. Values
/// are logical: true = active (a low level on an active-low line: a button to ground with a
/// pull-up). Obtained from <see cref="GpioChips.RequestInput"/>.
/// </summary>
public interface IGpioInput : IDisposable
{
    string Description { get; }

    /// <summary>Reads the line: true when active.</summary>
    bool Get();

    /// <summary>How the line reports its changes (<see cref="GpioEdgeDetection.None"/>: read it to know).</summary>
    GpioEdgeDetection Edges { get; }

    /// <summary>
    /// Why <see cref="Edges"/> is <see cref="GpioEdgeDetection.None"/> although edges were asked for
    /// (the chip refused them: "edge detection refused: ... (ENXIO, errno 6)"); "" otherwise.
    /// </summary>
    string EdgeFallback { get; }
}

/// <summary>How an input line tells its reader that it changed.</summary>
public enum GpioEdgeDetection
{
    /// <summary>Not asked for, or the chip cannot: whoever wants changes samples the line.</summary>
    None,

    /// <summary>
    /// The kernel reports the edges, debounced by it (the DEBOUNCE attribute): <c>gpio_v2_line_event</c>
    /// records on the line request fd (reference gpio-uapi.md §4).
    /// </summary>
    Kernel,

    /// <summary>
    /// The simulated chip: inotify says the level file was written; the reader waits for the writes
    /// to stop for the debounce time, then reads the level.
    /// </summary>
    Notified,
}

/// <summary>The pollable side of an input with edge detection, for <see cref="BoardGpioDriver"/>'s event thread.</summary>
internal interface IGpioEdgeInput : IGpioInput
{
    /// <summary>Polls readable (POLLIN) when the line may have changed.</summary>
    System.Runtime.InteropServices.SafeHandle ChangeHandle { get; }

    /// <summary>
    /// Consumes what is queued on <see cref="ChangeHandle"/> without blocking. A kernel line fills
    /// <paramref name="edges"/> with the records read and returns their count; a notified line drains
    /// its notifications and returns 0. Throws <see cref="GpioException"/> when the line can no longer
    /// report (its level file was removed, a read failed).
    /// </summary>
    int ReadChanges(Span<Interop.Gpio.LineEvent> edges);
}
