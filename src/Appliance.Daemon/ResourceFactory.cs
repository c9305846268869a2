using Appliance.Core.Config;
using Appliance.Core.Ports;
using Appliance.Linux.Resources;

namespace Appliance.Daemon;

/// <summary>Builds the edge implementation of each configured resource.</summary>
internal static class ResourceFactory
{
    /// <param name="conntrackdConfig">The supervised conntrackd's config file (for the conntrack-sync resource).</param>
    public static IResource Create(ResourceConfig config, string? conntrackdConfig = null) => config switch
    {
        VipResourceConfig vip => new VipResource(vip),
        ScriptResourceConfig script => new ScriptResource(script),
        Appliance.Core.Director.ConntrackSyncResourceConfig => new ConntrackSyncResource([ConntrackdSupervisor.Program],
            conntrackdConfig ?? throw new ArgumentException("the conntrack-sync resource needs the conntrackd config", nameof(conntrackdConfig))),
        _ => throw new ArgumentException($"no implementation for resource kind {config.Kind}", nameof(config)),
    };
}
