using System.Device.Gpio;
using Appliance.Core.Board;

namespace Appliance.Linux.Gpio;

/// <summary>
/// A System.Device.Gpio <see cref="GpioDriver"/> over our own line requests
/// (<see cref="GpioChips"/>: the uAPI v2 character device, or the lab's simulated chip), so that
/// <see cref="GpioController"/> and the Iot.Device.Bindings LCD run on the board's lines without
/// libgpiod (Debian 12's is uAPI v1 only). Pin numbers are indexes into the board lines it was
/// given; a line is requested when its mode is set and released when the pin is closed.
/// Values are logical (active-low applied by the request). No edge events: the panel samples
/// its buttons on its own thread.
/// </summary>
public sealed class BoardGpioDriver(IReadOnlyList<BoardLine> lines, string consumer) : GpioDriver
{
    private readonly IDisposable?[] _held = new IDisposable?[lines.Count];
    private readonly PinMode[] _modes = new PinMode[lines.Count];

    protected override int PinCount => lines.Count;

    /// <summary>The pin of a board line (its index), for the bindings' constructors.</summary>
    public int PinOf(BoardLine line)
    {
        for (int i = 0; i < lines.Count; i++)
            if (lines[i] == line)
                return i;
        throw new ArgumentException($"line {line.Name} is not one of this driver's lines", nameof(line));
    }

    protected override void OpenPin(int pinNumber) => Check(pinNumber);

    protected override void ClosePin(int pinNumber)
    {
        Check(pinNumber);
        _held[pinNumber]?.Dispose();
        _held[pinNumber] = null;
    }

    protected override void SetPinMode(int pinNumber, PinMode mode) => SetPinMode(pinNumber, mode, PinValue.Low);

    protected override void SetPinMode(int pinNumber, PinMode mode, PinValue initialValue)
    {
        Check(pinNumber);
        if (_held[pinNumber] is not null && _modes[pinNumber] == mode)
            return;
        if (!IsPinModeSupported(pinNumber, mode))
            throw new InvalidOperationException($"pin mode {mode} is not supported on {lines[pinNumber].Name}");
        _held[pinNumber]?.Dispose();
        _held[pinNumber] = null;
        var line = lines[pinNumber];
        _held[pinNumber] = mode == PinMode.Output
            ? GpioChips.RequestOutput(line.ChipPath, line.Line, line.ActiveLow, initialValue == PinValue.High, consumer)
            : GpioChips.RequestInput(line.ChipPath, line.Line, line.ActiveLow, consumer);
        _modes[pinNumber] = mode;
    }

    protected override PinMode GetPinMode(int pinNumber)
    {
        Check(pinNumber);
        return _modes[pinNumber];
    }

    // Inputs are taken as the board wires them (its pull-ups are on the board, active_low in the
    // profile), so a pull mode is accepted as a plain input.
    protected override bool IsPinModeSupported(int pinNumber, PinMode mode) =>
        mode is PinMode.Output or PinMode.Input or PinMode.InputPullUp or PinMode.InputPullDown;

    protected override PinValue Read(int pinNumber) => _held[Check(pinNumber)] switch
    {
        IGpioInput i => i.Get() ? PinValue.High : PinValue.Low,
        IGpioOutput o => o.Get() ? PinValue.High : PinValue.Low,
        _ => throw new InvalidOperationException($"{lines[pinNumber].Name}: set a pin mode before reading"),
    };

    protected override void Write(int pinNumber, PinValue value)
    {
        if (_held[Check(pinNumber)] is not IGpioOutput o)
            throw new InvalidOperationException($"{lines[pinNumber].Name} is not an output");
        o.Set(value == PinValue.High);
    }

    protected override WaitForEventResult WaitForEvent(int pinNumber, PinEventTypes eventTypes, CancellationToken cancellationToken) =>
        throw new NotSupportedException("no edge events: the panel samples its inputs");

    protected override void AddCallbackForPinValueChangedEvent(int pinNumber, PinEventTypes eventTypes, PinChangeEventHandler callback) =>
        throw new NotSupportedException("no edge events: the panel samples its inputs");

    protected override void RemoveCallbackForPinValueChangedEvent(int pinNumber, PinChangeEventHandler callback) =>
        throw new NotSupportedException("no edge events: the panel samples its inputs");

    private int Check(int pinNumber)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(pinNumber);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(pinNumber, lines.Count);
        return pinNumber;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            for (int i = 0; i < _held.Length; i++)
            {
                _held[i]?.Dispose();
                _held[i] = null;
            }
        base.Dispose(disposing);
    }
}
