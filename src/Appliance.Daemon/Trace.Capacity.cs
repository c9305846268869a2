using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>Log events of the connection counts and the N-1 capacity warning (<see cref="ConnectionSampler"/>): ids 1860-1869.</summary>
internal static partial class Trace
{
    [LoggerMessage(1860, LogLevel.Warning, "director: CAPACITY WARNING: {Warning}")]
    public static partial void CapacityWarning(ILogger log, string warning);

    [LoggerMessage(1861, LogLevel.Information, "director: capacity warning for service {Service} cleared: peak {Peak}, without the busiest real server {WithoutBusiest}")]
    public static partial void CapacityCleared(ILogger log, string service, long peak, string withoutBusiest);

    [LoggerMessage(1862, LogLevel.Warning, "director: cannot count active connections (conntrack over ctnetlink): {Reason}; trying again every {IntervalS}s")]
    public static partial void ConnectionCountFailed(ILogger log, string reason, double intervalS);

    [LoggerMessage(1863, LogLevel.Information, "director: counting active connections again ({Entries} conntrack entries in {Ms}ms)")]
    public static partial void ConnectionCountRecovered(ILogger log, long entries, double ms);
}
