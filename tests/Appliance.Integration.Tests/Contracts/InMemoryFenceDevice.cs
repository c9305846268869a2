using Appliance.Core.Fencing;

namespace Appliance.Integration.Tests.Contracts;

/// <summary>
/// A simulated fence device in memory, honouring <see cref="IFenceDevice"/>'s contract the way the
/// real drivers do (<see cref="FenceDeviceContract"/> holds it to that): a power switch per known
/// node, each action one attempt after a small latency, a closed-set result with a reason for
/// everything (an unknown node is a hard error, as on a PDU without that outlet), and cancellation
/// answered at once with <see cref="FenceOutcome.Timeout"/>. <see cref="Hang"/> makes it a device
/// that never answers.
/// </summary>
internal sealed class InMemoryFenceDevice : IFenceDevice
{
    public const string KindName = "simulated";

    private readonly Lock _gate = new();
    private readonly Dictionary<string, PowerState> _power;
    private readonly TimeSpan _latency;

    /// <param name="targets">The nodes it can fence; each starts powered on.</param>
    /// <param name="latency">How long each action takes (a relay: microseconds; a PDU: a serial round trip).</param>
    public InMemoryFenceDevice(string name, IEnumerable<string> targets, TimeSpan latency)
    {
        Name = name;
        _power = targets.ToDictionary(t => t, _ => PowerState.On, StringComparer.Ordinal);
        _latency = latency;
    }

    public string Name { get; }

    public string Kind => KindName;

    public bool CanReboot => true;

    /// <summary>The device stops answering: every action waits until its caller cancels.</summary>
    public bool Hang { get; set; }

    /// <summary>What the simulated switch did to <paramref name="target"/>, for tests.</summary>
    public PowerState PowerOf(string target)
    {
        lock (_gate)
            return _power.GetValueOrDefault(target, PowerState.Unknown);
    }

    public async Task<FenceResult> RunAsync(FenceAction action, string target, CancellationToken ct)
    {
        if (!Enum.IsDefined(action))
            return FenceResult.HardError($"{Name}: no such action {action}");
        lock (_gate)
        {
            if (!_power.ContainsKey(target))
                return FenceResult.HardError($"{Name}: no outlet for node {target}");
        }
        try
        {
            await Task.Delay(Hang ? Timeout.InfiniteTimeSpan : _latency, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return FenceResult.Timeout($"{Name}: {action} of {target} cancelled by the caller");
        }
        lock (_gate)
        {
            switch (action)
            {
                case FenceAction.Off:
                    _power[target] = PowerState.Off;
                    return FenceResult.Done(PowerState.Off, $"{Name}: {target} switched off");
                case FenceAction.On:
                case FenceAction.Reboot:
                    _power[target] = PowerState.On;
                    return FenceResult.Done(PowerState.On, $"{Name}: {target} switched {(action == FenceAction.On ? "on" : "off and on")}");
                default:
                    return FenceResult.Done(_power[target], $"{Name}: {target} is {(_power[target] == PowerState.Off ? "off" : "on")}");
            }
        }
    }
}
