namespace Appliance.Core.Fencing;

/// <summary>What a fence device is asked to do. Devices implement only these primitives; policy
/// (levels, verification, retries, delays) is the fencing controller's.</summary>
public enum FenceAction
{
    /// <summary>Cut the target's power.</summary>
    Off,
    /// <summary>Restore the target's power.</summary>
    On,
    /// <summary>Read the target's power state (the answer is <see cref="FenceResult.Power"/>).</summary>
    Status,
    /// <summary>Off then on, done by the device itself; only where <see cref="IFenceDevice.CanReboot"/>.</summary>
    Reboot,
}

/// <summary>The target's power as a device reports it.</summary>
public enum PowerState { Unknown, On, Off }

/// <summary>
/// The closed set of outcomes of one device action, each with its retry meaning (STYLE.md,
/// after pacemaker's results.h). Not bools, not exceptions.
/// </summary>
public enum FenceOutcome
{
    /// <summary>Carried out (for <see cref="FenceAction.Status"/>: the state was read).</summary>
    Done,
    /// <summary>No answer in time. Retry the same device (after a backoff).</summary>
    Timeout,
    /// <summary>Failed, may work next time (line noise, busy device). Retry the same device.</summary>
    Error,
    /// <summary>This device cannot do it (broken, misconfigured, does not switch): skip to the next device.</summary>
    HardError,
    /// <summary>Stop fencing altogether; an operator must act (e.g. asked to fence the node itself).</summary>
    Fatal,
    /// <summary>No device can fence the target.</summary>
    NoDevice,
}

/// <summary>One device action's result: the outcome, the power state seen (if any), and why, for people.</summary>
public readonly record struct FenceResult(FenceOutcome Outcome, PowerState Power, string Reason)
{
    public static FenceResult Done(PowerState power, string reason = "") => new(FenceOutcome.Done, power, reason);

    public static FenceResult Timeout(string reason) => new(FenceOutcome.Timeout, PowerState.Unknown, reason);

    public static FenceResult Error(string reason) => new(FenceOutcome.Error, PowerState.Unknown, reason);

    public static FenceResult HardError(string reason) => new(FenceOutcome.HardError, PowerState.Unknown, reason);

    public static FenceResult Fatal(string reason) => new(FenceOutcome.Fatal, PowerState.Unknown, reason);

    public bool Ok => Outcome == FenceOutcome.Done;
}

/// <summary>
/// A STONITH device driver (port; the edge implements it: GPIO relay, serial PDU, external fence
/// agent, manual). Primitives only, each one attempt: no retries, no verification, no delay.
/// The caller bounds every call with its own timeout and cancels the token when it expires; a
/// driver must return soon after cancellation (with <see cref="FenceOutcome.Timeout"/>) and must
/// never throw for an operating error (dead device, garbage on the line): those are results.
/// </summary>
public interface IFenceDevice
{
    /// <summary>The device's name in the config (<c>fence_devices[].name</c>).</summary>
    string Name { get; }

    /// <summary>The config kind: gpio-relay, serial-pdu, fence-agent, manual.</summary>
    string Kind { get; }

    /// <summary>The device can do <see cref="FenceAction.Reboot"/> itself.</summary>
    bool CanReboot { get; }

    /// <summary>Does <paramref name="action"/> to <paramref name="target"/> (a node name) once.</summary>
    Task<FenceResult> RunAsync(FenceAction action, string target, CancellationToken ct);
}
