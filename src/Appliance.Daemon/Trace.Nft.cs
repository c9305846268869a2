using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>Log events of the nft worker and its proxy (<see cref="NftWorker"/>, <see cref="NftProxy"/>): ids 1800-1809.</summary>
internal static partial class Trace
{
    [LoggerMessage(1800, LogLevel.Information, "nft worker started (pid {Pid}, {Backend}) in {Ms}ms")]
    public static partial void NftWorkerStarted(ILogger log, int pid, string backend, long ms);

    [LoggerMessage(1801, LogLevel.Error, "nft worker (pid {Pid}) {How}; {InFlight}; a new worker starts with the next request")]
    public static partial void NftWorkerDied(ILogger log, int pid, string how, string inFlight);

    [LoggerMessage(1802, LogLevel.Information, "nft transaction of {Bytes} bytes {Outcome} in {Ms}ms ({Backend}, {RoundTripMs}ms round trip)")]
    public static partial void NftApplied(ILogger log, int bytes, string outcome, double ms, string backend, double roundTripMs);

    [LoggerMessage(1803, LogLevel.Warning, "nft transaction of {Bytes} bytes rejected; the previous ruleset stays in force: {Error}")]
    public static partial void NftRejected(ILogger log, int bytes, string error);

    [LoggerMessage(1804, LogLevel.Error, "nft {Operation} failed: {Reason}")]
    public static partial void NftFailed(ILogger log, string operation, string reason);

    [LoggerMessage(1805, LogLevel.Warning, "nft worker (pid {Pid}) says: {Line}")]
    public static partial void NftWorkerSaid(ILogger log, int pid, string line);

    [LoggerMessage(1806, LogLevel.Warning, "nft worker cannot use libnftables ({Reason}); transactions go through `nft -f -`, a process each (slower)")]
    public static partial void NftFallback(ILogger log, string reason);

    [LoggerMessage(1807, LogLevel.Error, "nft worker (pid {Pid}) killed: {Reason}")]
    public static partial void NftWorkerKilled(ILogger log, int pid, string reason);

    [LoggerMessage(1810, LogLevel.Information, "director: table inet appliance loaded: {Services} services, {Servers} real servers, in {Ms}ms")]
    public static partial void DirectorLoaded(ILogger log, int services, int servers, long ms);

    [LoggerMessage(1811, LogLevel.Warning, "director: {Service} {Server} now {What}; applied in {Ms}ms")]
    public static partial void DirectorChanged(ILogger log, string service, string server, string what, long ms);

    [LoggerMessage(1812, LogLevel.Error, "director: {What} failed, the previous ruleset stays in force: {Reason}")]
    public static partial void DirectorApplyFailed(ILogger log, string what, string reason);

    [LoggerMessage(1813, LogLevel.Information, "conntrackd started (pid {Pid}, config {Config})")]
    public static partial void ConntrackdStarted(ILogger log, int pid, string config);

    [LoggerMessage(1814, LogLevel.Error, "{What}; starting it again in {BackoffMs}ms (connections do not survive a failover meanwhile)")]
    public static partial void ConntrackdEnded(ILogger log, string what, long backoffMs);

    [LoggerMessage(1815, LogLevel.Warning, "conntrackd says: {Line}")]
    public static partial void ConntrackdSays(ILogger log, string line);

    [LoggerMessage(1820, LogLevel.Warning, "check: {Service} {Server} {UpDown}: {Reason}; now {State}, applied in {Ms}ms")]
    public static partial void CheckFlipped(ILogger log, string service, string server, string upDown, string reason, string state, long ms);

    [LoggerMessage(1821, LogLevel.Information, "checks: {Targets} targets for {Servers} real servers (identical checks shared), {Down} down at start")]
    public static partial void ChecksStarted(ILogger log, int targets, int servers, int down);

    [LoggerMessage(1822, LogLevel.Error, "check of {Target} threw (counted as a failure): {Reason}")]
    public static partial void CheckThrew(ILogger log, string target, string reason);
}
