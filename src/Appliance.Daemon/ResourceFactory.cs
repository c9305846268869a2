using Appliance.Core.Config;
using Appliance.Core.Ports;
using Appliance.Linux.Resources;

namespace Appliance.Daemon;

/// <summary>Builds the edge implementation of each configured resource.</summary>
internal static class ResourceFactory
{
    public static IResource Create(ResourceConfig config) => config switch
    {
        VipResourceConfig vip => new VipResource(vip),
        ScriptResourceConfig script => new ScriptResource(script),
        _ => throw new ArgumentException($"no implementation for resource kind {config.Kind}", nameof(config)),
    };
}
