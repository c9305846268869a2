using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>Log events of the pair's config sync: ids 2200-2299.</summary>
internal static partial class Trace
{
    [LoggerMessage(2200, LogLevel.Information, "config sync: {Message}")]
    public static partial void SyncState(ILogger log, string message);

    [LoggerMessage(2201, LogLevel.Warning, "config sync: {Message}")]
    public static partial void SyncDiverged(ILogger log, string message);

    [LoggerMessage(2202, LogLevel.Information, "config sync: {Message}")]
    public static partial void SyncTransfer(ILogger log, string message);

    [LoggerMessage(2203, LogLevel.Warning, "config sync: {Message}")]
    public static partial void SyncTransferFailed(ILogger log, string message);

    [LoggerMessage(2204, LogLevel.Warning, "config sync: {Message}")]
    public static partial void SyncRefused(ILogger log, string message);

    [LoggerMessage(2205, LogLevel.Information, "config sync: {Message}")]
    public static partial void SyncReported(ILogger log, string message);

    [LoggerMessage(2206, LogLevel.Warning, "config sync: {Message}")]
    public static partial void SyncProtocol(ILogger log, string message);

    [LoggerMessage(2207, LogLevel.Information, "config sync: checking {What} {Stamp} from {Peer} ({Bytes} bytes)")]
    public static partial void SyncChecking(ILogger log, string what, string stamp, string peer, int bytes);

    [LoggerMessage(2208, LogLevel.Warning, "config sync: refused {Stamp} from {Peer}, this node keeps {Local}: {Reason}")]
    public static partial void SyncApplyRefused(ILogger log, string stamp, string peer, string local, string reason);

    [LoggerMessage(2209, LogLevel.Information, "config sync: {Outcome} {Stamp} from {Peer}{Detail}")]
    public static partial void SyncApplied(ILogger log, string outcome, string stamp, string peer, string detail);

    [LoggerMessage(2210, LogLevel.Warning, "config sync: cannot use the sync state {Path}: {Reason}; starting without the last agreed version (different configs show as diverged)")]
    public static partial void SyncStateUnreadable(ILogger log, string path, string reason);

    [LoggerMessage(2211, LogLevel.Error, "config sync: cannot write the sync state {Path}: {Reason}")]
    public static partial void SyncStateUnwritable(ILogger log, string path, string reason);

    [LoggerMessage(2212, LogLevel.Information, "config sync: {Operation} ended: {Outcome}: {Message}")]
    public static partial void SyncOperation(ILogger log, string operation, string outcome, string message);
}
