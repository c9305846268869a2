using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>Log events of the duplicate VIP watch (<see cref="DuplicateVipWatch"/>): ids 1700-1709.</summary>
internal static partial class Trace
{
    [LoggerMessage(1700, LogLevel.Critical, "DUPLICATE VIP {Vip} on {Interface}: claimed by {Mac} ({Who}) — two nodes may hold it")]
    public static partial void DuplicateVip(ILogger log, string vip, string @interface, string mac, string who);

    [LoggerMessage(1701, LogLevel.Information, "duplicate VIP {Vip} on {Interface}: {Mac} silent for {QuietS}s after {Count} claims; alarm cleared")]
    public static partial void DuplicateVipCleared(ILogger log, string vip, string @interface, string mac, long count, long quietS);

    [LoggerMessage(1702, LogLevel.Information, "VIP {Vip} on {Interface}: {Mac} is taken as the peer's MAC (the first to claim the VIP while this node holds nothing)")]
    public static partial void ArpPeerLearned(ILogger log, string vip, string @interface, string mac);

    [LoggerMessage(1703, LogLevel.Warning, "cannot watch ARP on {Interface}: {Reason}; a duplicate VIP there goes unseen; retrying every {RetryMs}ms")]
    public static partial void ArpWatchOpenFailed(ILogger log, string @interface, string reason, long retryMs);

    [LoggerMessage(1704, LogLevel.Information, "watching ARP and neighbour advertisements on {Interface} ({Mac}) for {Vips}")]
    public static partial void ArpWatching(ILogger log, string @interface, string mac, string vips);

    [LoggerMessage(1705, LogLevel.Warning, "ARP watch on {Interface} stopped: {Reason}; reopening in {RetryMs}ms")]
    public static partial void ArpWatchLost(ILogger log, string @interface, string reason, long retryMs);
}
