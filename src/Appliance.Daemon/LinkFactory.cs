using Appliance.Core.Config;
using Appliance.Core.Ports;
using Appliance.Linux.Links;

namespace Appliance.Daemon;

/// <summary>Opens the edge implementation of a configured heartbeat link.</summary>
internal static class LinkFactory
{
    public static IHeartbeatLink Open(LinkConfig config, LinkCounters counters) => config switch
    {
        SerialLinkConfig s => SerialHeartbeatLink.Open(s, counters),
        UdpLinkConfig u => UdpHeartbeatLink.Open(u, counters),
        _ => throw new ArgumentException($"no link implementation for {config.GetType().Name}", nameof(config)),
    };
}
