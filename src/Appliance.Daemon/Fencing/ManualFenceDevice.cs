using Appliance.Core.Fencing;

namespace Appliance.Daemon.Fencing;

/// <summary>
/// Meatware: an operator cuts the target's power by hand and confirms it with
/// <c>appliancectl fence confirm NODE</c> (cluster-glue's meatware + meatclient handshake, on our
/// control socket). Off waits for the confirmation; Status reads off once confirmed. A confirmation
/// is consumed by the verification that follows it, so an old one never fences a later failure.
/// </summary>
internal sealed class ManualFenceDevice(string name) : IFenceDevice
{
    private readonly object _gate = new();
    private TaskCompletionSource _confirmed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string? _waitingFor;

    public string Name => name;

    public string Kind => "manual";

    public bool CanReboot => false;

    /// <summary>The node an operator is being asked to power off, or null.</summary>
    public string? WaitingFor
    {
        get { lock (_gate) return _waitingFor; }
    }

    /// <summary>The operator says <paramref name="target"/> is off.</summary>
    public void Confirm(string target)
    {
        lock (_gate)
        {
            _waitingFor = target;
            _confirmed.TrySetResult();
        }
    }

    public async Task<FenceResult> RunAsync(FenceAction action, string target, CancellationToken ct)
    {
        Task confirmed;
        lock (_gate)
        {
            switch (action)
            {
                case FenceAction.Status:
                    bool off = _confirmed.Task.IsCompleted && _waitingFor == target;
                    if (off)
                        (_confirmed, _waitingFor) = (new(TaskCreationOptions.RunContinuationsAsynchronously), null);
                    return FenceResult.Done(off ? PowerState.Off : PowerState.Unknown,
                        off ? "an operator confirmed it is off" : "no operator confirmation");
                case FenceAction.Off:
                    if (_waitingFor != target)
                        (_confirmed, _waitingFor) = (new(TaskCreationOptions.RunContinuationsAsynchronously), target);
                    confirmed = _confirmed.Task;
                    break;
                default:
                    return FenceResult.HardError($"{name} is manual: power {target} on by hand");
            }
        }
        try
        {
            await confirmed.WaitAsync(ct).ConfigureAwait(false);
            return FenceResult.Done(PowerState.Unknown, "an operator confirmed it");
        }
        catch (OperationCanceledException)
        {
            return FenceResult.Timeout($"OPERATOR INTERVENTION REQUIRED: cut the power of {target}, then run `appliancectl fence confirm {target}`");
        }
    }
}
