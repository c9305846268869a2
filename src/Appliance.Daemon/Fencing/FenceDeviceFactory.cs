using Appliance.Core.Config;
using Appliance.Core.Fencing;

namespace Appliance.Daemon.Fencing;

/// <summary>Builds the driver for a configured fence device (boards are data: no per-board classes).</summary>
internal static class FenceDeviceFactory
{
    /// <param name="selfName">This node, for the consumer name a GPIO line is requested with.</param>
    public static IFenceDevice Create(FenceDeviceConfig config, string selfName) => config switch
    {
        ManualFenceConfig m => new ManualFenceDevice(m.Name),
        FenceAgentFenceConfig a => new Appliance.Linux.Fencing.FenceAgentDevice(a.Name, a.Agent,
            a.Plugs.IsEmpty ? null : a.Plugs.ToDictionary(p => p.Key, p => p.Value), a.Params),
        GpioRelayFenceConfig r => new Appliance.Linux.Fencing.GpioRelayFenceDevice(r.Name, r.Chip, r.Line, r.ActiveLow, $"applianced:{selfName}:{r.Name}"),
        _ => throw new NotSupportedException($"fence device kind {config.Kind} is not wired yet"),
    };
}
