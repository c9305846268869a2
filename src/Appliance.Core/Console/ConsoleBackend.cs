using Appliance.Core.Config;

namespace Appliance.Core.Console;

/// <summary>Exit codes of the console and its commands (DESIGN.md section 6).</summary>
internal static class ConsoleExit
{
    public const int Ok = 0;

    /// <summary>A refused or failed action: the daemon said no, or could not be reached.</summary>
    public const int Refused = 1;

    /// <summary>Bad usage or bad input: an unknown command, a bad path or value, a candidate the checker rejects.</summary>
    public const int BadInput = 2;
}

/// <summary>What a backend call printed and how it ended.</summary>
internal sealed record ConsoleReply(int Exit, string Text)
{
    public static ConsoleReply Ok(string text) => new(ConsoleExit.Ok, text);

    public static ConsoleReply Refused(string text) => new(ConsoleExit.Refused, text);

    public bool Success => Exit == ConsoleExit.Ok;
}

/// <summary>A config generation as the daemon keeps it: its text, version and the sha256 of its bytes.</summary>
internal sealed record ConfigSnapshot(string Text, long Version, string Sha256);

/// <summary>The outcome of a commit: the reply and, when it was written, the new generation.</summary>
internal sealed record CommitReply(ConsoleReply Reply, long? Version);

/// <summary>The operational commands the console offers, as the host carries them out.</summary>
internal enum ShowTopic
{
    Status,
    Peer,
    Resources,
    FenceHistory,
    Log,
    History,
}

/// <summary>
/// The console's port to the daemon and the machine: the shell (<see cref="ConsoleShell"/>) decides
/// what to ask, the host (appliancectl's control client) carries it out and formats the answers.
/// Synchronous: one person types one command at a time.
/// </summary>
internal interface IConsoleBackend
{
    /// <summary>This node's name, for the prompt.</summary>
    string Node { get; }

    ConsoleReply Show(ShowTopic topic, int lines);

    ConsoleReply Standby();

    ConsoleReply Takeover(bool force);

    ConsoleReply Fence(string node);

    ConsoleReply Ping(string host, int count);

    /// <summary>The running generation (<paramref name="version"/> null) or an older one still kept; null with the reason in <paramref name="error"/>.</summary>
    ConfigSnapshot? Generation(long? version, out string error);

    /// <summary>
    /// Commits <paramref name="text"/> as the next generation, refused if the running generation is
    /// no longer <paramref name="baseVersion"/>; <paramref name="confirmMinutes"/> set: rolled back
    /// unless confirmed within that time.
    /// </summary>
    CommitReply Commit(string text, long baseVersion, string comment, double? confirmMinutes);

    ConsoleReply Confirm();

    /// <summary>The config checker over a candidate text, with the board profiles of this machine; empty when it is valid.</summary>
    IReadOnlyList<ConfigError> Check(string text);
}
