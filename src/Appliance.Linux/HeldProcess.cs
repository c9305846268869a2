namespace Appliance.Linux;

/// <summary>
/// How the probes (the node's monitors, the director's checks) tell a held daemon from a slow
/// service. Under full load the daemon itself can be held past a deadline (a GC pause, its CPU
/// taken by other work); the bench's tcp monitor of a local listener "timed out" at 150 ms, most likely that way,
/// and moved the VIP. A deadline is the service's, not the daemon's: a look at it that comes more
/// than <see cref="Slack"/> late gives the exchange that long again, once.
/// </summary>
internal static class HeldProcess
{
    /// <summary>
    /// A look at a deadline later than this means the daemon was held, not that the service was slow:
    /// timers of a process that runs are late by a millisecond or two even under load (cyclictest's
    /// worst under the bench's stress-ng was 10 ms, for a real-time thread).
    /// </summary>
    public static readonly TimeSpan Slack = TimeSpan.FromMilliseconds(10);
}
