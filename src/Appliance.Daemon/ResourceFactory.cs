using Appliance.Core.Config;
using Appliance.Core.Ports;
using Appliance.Linux.Resources;

namespace Appliance.Daemon;

/// <summary>Builds the edge implementation of each configured resource.</summary>
internal static class ResourceFactory
{
    /// <param name="conntrackd">The supervised conntrackd (for the conntrack-sync resource: its config file, and its commit waits until it is up).</param>
    /// <param name="director">The director's table, which the start waits for (the takeover's order: table, VIPs, commit).</param>
    public static IResource Create(ResourceConfig config, ConntrackdSupervisor? conntrackd = null, DirectorService? director = null) => config switch
    {
        VipResourceConfig vip => new VipResource(vip),
        ScriptResourceConfig script => new ScriptResource(script),
        Appliance.Core.Director.ConntrackSyncResourceConfig => conntrackd is null
            ? throw new ArgumentException("the conntrack-sync resource needs the conntrackd supervisor", nameof(conntrackd))
            : new ConntrackSyncResource(conntrackd.ControlSocket, conntrackd.WaitReadyAsync, director is null ? null : director.WaitLoadedAsync),
        _ => throw new ArgumentException($"no implementation for resource kind {config.Kind}", nameof(config)),
    };
}
