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
        SerialPduFenceConfig p => StartPdu(new Appliance.Linux.Fencing.SerialPduFenceDevice(p.Name, p.Device,
            p.Outlets.ToDictionary(o => o.Key, o => o.Value), Rps10Timing.Default with { MonitorInterval = p.MonitorInterval })),
        FenceAgentFenceConfig a => new Appliance.Linux.Fencing.FenceAgentDevice(a.Name, a.Agent,
            a.Plugs.IsEmpty ? null : a.Plugs.ToDictionary(p => p.Key, p => p.Value), a.Params),
        GpioRelayFenceConfig r => new Appliance.Linux.Fencing.GpioRelayFenceDevice(r.Name, r.Chip, r.Line, r.ActiveLow, $"applianced:{selfName}:{r.Name}"),
        _ => throw new NotSupportedException($"fence device kind {config.Kind} has no driver"),
    };

    /// <summary>The PDU's session opens (and its monitor starts) at daemon start, not at the first fence.</summary>
    private static Appliance.Linux.Fencing.SerialPduFenceDevice StartPdu(Appliance.Linux.Fencing.SerialPduFenceDevice pdu)
    {
        pdu.Start();
        return pdu;
    }
}
