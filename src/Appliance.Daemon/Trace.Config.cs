using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>Log events of the config's life (ConfigStore: commits, confirmations, rollbacks, history): ids 2000-2019.</summary>
internal static partial class Trace
{
    [LoggerMessage(2000, LogLevel.Information, "config: generation {Version} committed ({Kind} by {Who}), sha256 {Sha256}: {Comment}")]
    public static partial void ConfigCommitted(ILogger log, long version, string sha256, string who, string kind, string comment);

    [LoggerMessage(2001, LogLevel.Warning, "config: commit by {Who} refused ({Status}): {Reason}")]
    public static partial void ConfigCommitRefused(ILogger log, string who, string status, string reason);

    [LoggerMessage(2002, LogLevel.Warning, "config: generation {Version} committed with `commit confirmed`: rolled back to generation {RollbackTo} in {Seconds} s unless confirmed")]
    public static partial void ConfigPendingArmed(ILogger log, long version, long rollbackTo, double seconds);

    [LoggerMessage(2003, LogLevel.Information, "config: generation {Version} confirmed by {Who}")]
    public static partial void ConfigConfirmed(ILogger log, long version, string who);

    [LoggerMessage(2004, LogLevel.Warning, "config: ROLLED BACK from generation {Version} to generation {RollbackTo}: {Reason}")]
    public static partial void ConfigRolledBack(ILogger log, long version, long rollbackTo, string reason);

    [LoggerMessage(2005, LogLevel.Information, "config: generation {Version} (sha256 {Sha256}) recorded from the file: {Reason}")]
    public static partial void ConfigAdopted(ILogger log, long version, string sha256, string reason);

    [LoggerMessage(2006, LogLevel.Warning, "config history: {Problem}")]
    public static partial void ConfigHistoryProblem(ILogger log, string problem);

    [LoggerMessage(2007, LogLevel.Error, "config: the rollback of generation {Version} to generation {RollbackTo} FAILED: {Reason}")]
    public static partial void ConfigRollbackFailed(ILogger log, long version, long rollbackTo, string reason);
}
