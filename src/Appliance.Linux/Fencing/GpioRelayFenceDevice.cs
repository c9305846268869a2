using Appliance.Core.Fencing;
using Appliance.Linux.Gpio;

namespace Appliance.Linux.Fencing;

/// <summary>
/// Fencing by a relay on a GPIO line: a normally-closed contact in the target's supply, energized
/// to open, so the target has power while the line is inactive (also when this node is off or the
/// line is not driven) and loses it while the line is ACTIVE. Off = drive active, On = drive inactive.
/// </summary>
/// <remarks>
/// The line is requested at the first Off or On with that action's value as its initial value (no
/// glitch), then held until <see cref="Dispose"/>: released, its level would be up to the driver.
/// Status never requests the line, because requesting drives it. A failed request is a hard error
/// (the controller moves to the next device) and is tried again at the next call; a failed set or
/// read after that is an error (retry). Calls are quick and synchronous; they are serialized.
/// </remarks>
public sealed class GpioRelayFenceDevice : IFenceDevice, IDisposable
{
    /// <summary>The config kind.</summary>
    public const string KindName = "gpio-relay";

    private readonly string _chip;
    private readonly string _line;
    private readonly bool _activeLow;
    private readonly string _consumer;
    private readonly Lock _gate = new();
    private IGpioOutput? _output;
    private bool _disposed;

    public GpioRelayFenceDevice(string name, string chip, string line, bool activeLow, string consumer = "applianced")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(chip);
        ArgumentException.ThrowIfNullOrWhiteSpace(line);
        ArgumentException.ThrowIfNullOrEmpty(consumer);
        Name = name;
        _chip = chip;
        _line = line;
        _activeLow = activeLow;
        _consumer = consumer;
    }

    public string Name { get; }

    public string Kind => KindName;

    /// <summary>A relay only switches; the controller does off, wait, on.</summary>
    public bool CanReboot => false;

    public Task<FenceResult> RunAsync(FenceAction action, string target, CancellationToken ct)
    {
        if (ct.IsCancellationRequested)
            return Task.FromResult(FenceResult.Timeout($"{Name}: cancelled before {action} of {target}"));
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return Task.FromResult(action switch
            {
                FenceAction.Off => Drive(active: true, target),
                FenceAction.On => Drive(active: false, target),
                FenceAction.Status => Status(target),
                FenceAction.Reboot => FenceResult.HardError($"{Name}: a {KindName} cannot reboot by itself; use off then on"),
                _ => throw new ArgumentOutOfRangeException(nameof(action), action, null),
            });
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _output?.Dispose();
            _output = null;
        }
    }

    private FenceResult Drive(bool active, string target)
    {
        try
        {
            if (_output is null)
                _output = GpioChips.RequestOutput(_chip, _line, _activeLow, initialActive: active, _consumer);
            else
                _output.Set(active);
        }
        catch (IOException ex)
        {
            // No line yet: this device cannot fence now (next device; requested again next call).
            return _output is null
                ? FenceResult.HardError($"{Name}: cannot take the relay line: {ex.Message}")
                : FenceResult.Error($"{Name}: {ex.Message}");
        }
        return FenceResult.Done(active ? PowerState.Off : PowerState.On, $"{Name}: {_output.Description} driven {State(active, target)}");
    }

    private FenceResult Status(string target)
    {
        if (_output is null)
            return FenceResult.Error($"{Name}: relay line not driven by this daemon yet; its state is unknown");
        try
        {
            bool active = _output.Get();
            return FenceResult.Done(active ? PowerState.Off : PowerState.On, $"{Name}: {_output.Description} is {State(active, target)}");
        }
        catch (IOException ex)
        {
            return FenceResult.Error($"{Name}: {ex.Message}");
        }
    }

    private static string State(bool active, string target)
        => active ? $"active: power to {target} cut" : $"inactive: {target} powered";
}
