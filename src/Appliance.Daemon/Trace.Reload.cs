using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>Log events of the config reload (SIGHUP, `appliancectl reload`): ids 1840-1849.</summary>
internal static partial class Trace
{
    [LoggerMessage(1840, LogLevel.Information, "reload ({Trigger}): reading {Path}")]
    public static partial void ReloadStarted(ILogger log, string trigger, string path);

    [LoggerMessage(1841, LogLevel.Warning, "reload ({Trigger}) refused, the running config stays: {Reason}")]
    public static partial void ReloadRefused(ILogger log, string trigger, string reason);

    [LoggerMessage(1842, LogLevel.Information, "reload ({Trigger}): {Change}")]
    public static partial void ReloadChange(ILogger log, string trigger, string change);

    [LoggerMessage(1843, LogLevel.Warning, "reload ({Trigger}): not applied, needs a restart of applianced: {Path}")]
    public static partial void ReloadNeedsRestart(ILogger log, string trigger, string path);

    [LoggerMessage(1844, LogLevel.Information, "reload ({Trigger}) applied: {Changes} director changes in one transaction of {Commands} nft commands, kernel {KernelMs}ms, reload {TotalMs}ms (reading and validating {ReadMs}ms); operator overrides kept {Kept}, forgotten {Forgotten}; {Restart} paths need a restart")]
    public static partial void ReloadApplied(ILogger log, string trigger, int changes, int commands, double kernelMs, double totalMs, double readMs, int kept, int forgotten, int restart);

    [LoggerMessage(1845, LogLevel.Information, "reload ({Trigger}): the file is the running config, nothing to do")]
    public static partial void ReloadUnchanged(ILogger log, string trigger);

    [LoggerMessage(1846, LogLevel.Information, "checks reloaded: {Before} targets before, {After} now, {Down} down")]
    public static partial void ChecksReloaded(ILogger log, int before, int after, int down);

    [LoggerMessage(1847, LogLevel.Warning, "reload ({Trigger}): warning: {Warning}")]
    public static partial void ReloadWarning(ILogger log, string trigger, string warning);
}
