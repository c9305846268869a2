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
}
