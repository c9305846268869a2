namespace Appliance.Core.Ports;

/// <summary>Where one resource is (DESIGN.md section 6: status resources[].state).</summary>
public enum ResourceState { Stopped, Starting, Started, Stopping, Failed }

/// <summary>The outcome of one resource action: done, or failed with a human reason.</summary>
public readonly record struct ResourceOutcome(bool Ok, string Reason)
{
    public static ResourceOutcome Done(string reason = "") => new(true, reason);
    public static ResourceOutcome Failed(string reason) => new(false, reason);
}

/// <summary>
/// A resource the active node runs (VIP, later OCF/LSB/exec). A driver with primitives only; the
/// daemon's resource manager does ordering, rollback and timeouts. Actions are idempotent: starting
/// a started resource or stopping a stopped one succeeds.
/// </summary>
public interface IResource
{
    string Name { get; }
    string Kind { get; }
    Task<ResourceOutcome> StartAsync(CancellationToken ct);
    Task<ResourceOutcome> StopAsync(CancellationToken ct);

    /// <summary>How often a started resource is checked (<see cref="MonitorAsync"/>); zero: never.</summary>
    TimeSpan MonitorInterval { get; }

    /// <summary>Is the started resource still running? Failed means it is not (or cannot tell).</summary>
    Task<ResourceOutcome> MonitorAsync(CancellationToken ct);

    /// <summary>
    /// The second step of a start that the node runs once every resource has started
    /// (<see cref="Node.ResourceSpec.FinishesLast"/>: the conntrack commit). Nothing for the others.
    /// </summary>
    Task<ResourceOutcome> FinishAsync(CancellationToken ct) => Task.FromResult(ResourceOutcome.Done());
}
