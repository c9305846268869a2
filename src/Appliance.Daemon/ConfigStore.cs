using System.Collections.Immutable;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Appliance.Core.Config;
using Appliance.Linux;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>One generation of the config: what was committed, by whom, when and why.</summary>
internal sealed record ConfigGeneration
{
    public long Version { get; init; }
    public string Sha256 { get; init; } = "";

    /// <summary>Wall clock, UTC, for display only.</summary>
    public DateTimeOffset When { get; init; }
    public string Who { get; init; } = "";
    public string Comment { get; init; } = "";

    /// <summary>commit, rollback (rollback N or a confirmation that did not come), adopted (the file changed outside the store), initial.</summary>
    public string Kind { get; init; } = "";

    /// <summary>Set once a `commit confirmed` generation was confirmed (by `confirm` or a later plain commit).</summary>
    public string? Confirmed { get; init; }
}

/// <summary>A `commit confirmed` waiting for its `confirm`: rolled back to <see cref="RollbackTo"/> at the deadline.</summary>
internal sealed record PendingConfirm
{
    public long Version { get; init; }
    public long RollbackTo { get; init; }
    public double Minutes { get; init; }

    /// <summary>The boot the deadline belongs to (<see cref="Appliance.Linux.KernelBootId"/>); another boot means the deadline has passed.</summary>
    public string BootId { get; init; } = "";

    /// <summary>The deadline on the monotonic clock (TimeProvider timestamps, in ms): it survives a daemon restart within a boot.</summary>
    public long DeadlineMs { get; init; }

    /// <summary>The deadline on the wall clock, for display only.</summary>
    public DateTimeOffset DeadlineWall { get; init; }
    public string Who { get; init; } = "";
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ConfigGeneration))]
[JsonSerializable(typeof(PendingConfirm))]
internal sealed partial class ConfigStoreJson : JsonSerializerContext;

/// <summary>How a commit ended; the closed set of outcomes its callers (console, appliancectl, config sync) act on.</summary>
internal enum CommitStatus
{
    /// <summary>Written, applied (what can be applied live) and recorded as a new generation.</summary>
    Committed,
    /// <summary>The text is the running generation's: nothing to do.</summary>
    Unchanged,
    /// <summary>The checker refused the text (bad input): nothing written.</summary>
    Invalid,
    /// <summary>Another commit came first (the base version is not the running one): nothing written.</summary>
    Conflict,
    /// <summary>Writing or applying failed; the old file and config stay.</summary>
    Failed,
}

/// <summary>The outcome of a commit, rollback or confirm.</summary>
internal sealed record CommitOutcome(CommitStatus Status, string Message, ConfigGeneration? Generation,
    ImmutableArray<ConfigError> Errors, ImmutableArray<string> Applied, ImmutableArray<string> RestartNeeded)
{
    public bool Ok => Status is CommitStatus.Committed or CommitStatus.Unchanged;

    public static CommitOutcome Fail(CommitStatus status, string message, ImmutableArray<ConfigError> errors = default) =>
        new(status, message, null, errors.IsDefault ? [] : errors, [], []);
}

/// <summary>
/// A commit as callers ask for it. <see cref="BaseVersion"/>: the generation the change was made
/// from (null: no check, the store's own rollbacks and a peer's replicated commit);
/// <see cref="ConfirmWithin"/>: rolled back unless confirmed by then; <see cref="Source"/>: the name
/// the checker's errors give the text.
/// </summary>
internal sealed record CommitRequest(string Text, string Who, string Comment, long? BaseVersion = null, TimeSpan? ConfirmWithin = null,
    string Kind = "commit", string Source = "candidate");

/// <summary>
/// The config's life: generations of <c>/etc/appliance/appliance.yaml</c> (the file the daemon runs),
/// each with a version, the sha256 of its bytes, who, when and a comment; the last
/// <see cref="HistoryMax"/> kept in STATE_DIR/config-history. <see cref="CommitAsync"/> is the one
/// way in: it checks the base version (a second editor who committed meanwhile gets a refusal),
/// validates the text whole, writes the file atomically (temp, fsync, rename, fsync of the
/// directory) with the old file's mode, applies it through <see cref="ConfigReloader.ApplyAsync"/>
/// (what can change live does; the rest is listed as needing a restart), restores the old file if
/// the apply is refused, and records the generation. A `commit confirmed` is rolled back to the
/// generation before it unless <see cref="ConfirmAsync"/> comes in time; the deadline is kept in the
/// state directory on the monotonic clock with the boot id, so a daemon restart keeps it and a start
/// after it (or after a reboot) rolls back before the config is read (<see cref="RecoverAtStart"/>).
/// A file changed outside the store (a hand edit and `reload`) is adopted as a generation of its own
/// when next seen. Config replication hooks in at <see cref="CommitAsync"/> (see README).
/// </summary>
internal sealed class ConfigStore : IDisposable
{
    /// <summary>Generations kept (files in the history directory); older ones are removed.</summary>
    public const int HistoryMax = 50;

    /// <summary>Longest `who` kept (user@tty, or the peer's name for a replicated commit).</summary>
    public const int MaxWhoChars = 64;

    /// <summary>Longest comment kept with a generation.</summary>
    public const int MaxCommentChars = 200;

    /// <summary>The longest `commit confirmed` window: a day.</summary>
    public static readonly TimeSpan MaxConfirmWithin = TimeSpan.FromDays(1);

    private static readonly UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly string _dir;
    private readonly string _configPath;
    private readonly string _node;
    private readonly Func<string, string, ConfigResult> _load;
    private readonly Func<string, ApplianceConfig, CancellationToken, Task<ReloadOutcome>> _apply;
    private readonly Func<ApplianceConfig, string?> _checkKey;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly string _bootId;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly List<ConfigGeneration> _generations = [];
    private PendingConfirm? _pending;
    private ITimer? _timer;

    /// <param name="stateDir">The daemon's state directory; the history is its config-history.</param>
    /// <param name="configPath">The file the daemon runs (`applianced --config`).</param>
    /// <param name="load">The checker: (source name, text) to a result, with the board profiles the daemon uses.</param>
    /// <param name="apply">The live apply (<see cref="ConfigReloader.ApplyAsync"/>).</param>
    /// <param name="checkKey">Why the config's key file cannot be used, or null (a commit must not leave a daemon that cannot restart).</param>
    public ConfigStore(string stateDir, string configPath, string node, Func<string, string, ConfigResult> load,
        Func<string, ApplianceConfig, CancellationToken, Task<ReloadOutcome>> apply, Func<ApplianceConfig, string?> checkKey,
        ILogger log, TimeProvider time, string bootId)
    {
        _dir = Path.Combine(stateDir, "config-history");
        _configPath = configPath;
        _node = node;
        _load = load;
        _apply = apply;
        _checkKey = checkKey;
        _log = log;
        _time = time;
        _bootId = bootId;
        Directory.CreateDirectory(_dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Load();
        SyncWithFile();
    }

    /// <summary>The running generation's version (0 before there is a file).</summary>
    public long Version
    {
        get { lock (_generations) return _generations.Count == 0 ? 0 : _generations[^1].Version; }
    }

    /// <summary>The running generation's sha256 (hex).</summary>
    public string Sha256
    {
        get { lock (_generations) return _generations.Count == 0 ? "" : _generations[^1].Sha256; }
    }

    /// <summary>The running generation's text (the file as it is).</summary>
    public string Text => ReadGeneration(Version) ?? "";

    public PendingConfirm? Pending
    {
        get { lock (_generations) return _pending; }
    }

    /// <summary>The kept generations, oldest first.</summary>
    public IReadOnlyList<ConfigGeneration> History
    {
        get { lock (_generations) return [.. _generations]; }
    }

    /// <summary>The text of a kept generation, or null.</summary>
    public string? ReadGeneration(long version)
    {
        try
        {
            string path = TextPath(version);
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Trace.ConfigHistoryProblem(_log, $"cannot read generation {version}: {e.Message}");
            return null;
        }
    }

    /// <summary>
    /// At daemon start, before the config is read: a `commit confirmed` whose deadline has passed
    /// (or that belongs to another boot) is rolled back in the file, so the daemon starts with the
    /// config before it. Returns what it did, or null when there was nothing to do.
    /// </summary>
    public static string? RecoverAtStart(string stateDir, string configPath, string bootId, TimeProvider time, ILogger log)
    {
        string dir = Path.Combine(stateDir, "config-history");
        string pendingPath = Path.Combine(dir, "pending.json");
        if (!File.Exists(pendingPath))
            return null;
        PendingConfirm? pending;
        try
        {
            pending = JsonSerializer.Deserialize(File.ReadAllBytes(pendingPath), ConfigStoreJson.Default.PendingConfirm);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            Trace.ConfigHistoryProblem(log, $"cannot read {pendingPath}: {e.Message}; the pending `commit confirmed` is dropped");
            TryDelete(pendingPath);
            return null;
        }
        if (pending is null || (pending.BootId == bootId && NowMs(time) < pending.DeadlineMs))
            return null; // still within its time: the running daemon's store arms the timer
        string textPath = Path.Combine(dir, Name(pending.RollbackTo) + ".yaml");
        try
        {
            byte[] bytes = File.ReadAllBytes(textPath);
            var mode = File.Exists(configPath) ? File.GetUnixFileMode(configPath) : Private;
            string why = pending.BootId == bootId
                ? $"generation {pending.Version} was not confirmed within {Minutes(pending.Minutes)} (the daemon was down at the deadline)"
                : $"generation {pending.Version} was not confirmed before the machine restarted";
            // What the store records when it next sees the file: this rollback, not an unexplained change.
            var note = new ConfigGeneration { Sha256 = Hash(bytes), Who = "commit confirmed (at start)", Comment = "rolled back: " + why, Kind = "rollback" };
            DurableFile.Replace(Path.Combine(dir, "recovered.json"), JsonSerializer.SerializeToUtf8Bytes(note, ConfigStoreJson.Default.ConfigGeneration), Private);
            DurableFile.Replace(configPath, bytes, mode);
            TryDelete(pendingPath);
            Trace.ConfigRolledBack(log, pending.Version, pending.RollbackTo, why);
            return $"rolled back to generation {pending.RollbackTo}: {why}";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Trace.ConfigRollbackFailed(log, pending.Version, pending.RollbackTo, e.Message);
            return null;
        }
    }

    /// <summary>Arms the rollback timer of a pending `commit confirmed` kept from before a restart.</summary>
    public void Start()
    {
        lock (_generations)
        {
            if (_pending is { } p)
                Arm(p);
        }
    }

    /// <summary>Records the file as a generation if it changed outside the store (before a show or a history).</summary>
    public async Task RefreshAsync(CancellationToken ct = default)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            SyncWithFile();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// The one way a config changes (console, appliancectl, config sync): see the class summary.
    /// Never throws for an operating failure; the outcome says what happened.
    /// </summary>
    public async Task<CommitOutcome> CommitAsync(CommitRequest request, CancellationToken ct = default)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return await CommitLockedAsync(request, ct).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<CommitOutcome> CommitLockedAsync(CommitRequest r, CancellationToken ct)
    {
        string who = Clean(r.Who, MaxWhoChars, "unknown");
        string comment = Clean(r.Comment, MaxCommentChars, "");
        if (r.ConfirmWithin is { } within && (within <= TimeSpan.Zero || within > MaxConfirmWithin))
            return Refuse(who, CommitStatus.Invalid, $"commit confirmed: the time must be above 0 and at most {MaxConfirmWithin.TotalMinutes} minutes");
        if (r.Text.Length > ConfigLimits.MaxConfigChars)
            return Refuse(who, CommitStatus.Invalid, $"the config has {r.Text.Length} characters; a config is at most {ConfigLimits.MaxConfigChars}");
        SyncWithFile();
        var current = Current();
        if (r.BaseVersion is { } baseVersion && current is not null && baseVersion != current.Version)
        {
            return Refuse(who, CommitStatus.Conflict,
                $"generation {current.Version} was committed by {current.Who} at {Show(current.When)}" +
                (current.Comment.Length > 0 ? $" ({current.Comment})" : "") +
                $" after generation {baseVersion}, which this change was made from; nothing was written. " +
                $"Start again from generation {current.Version} (in the console: `exit`, then `configure`).");
        }
        var loaded = _load(r.Source, r.Text);
        if (loaded.Config is not { } config)
            return Refuse(who, CommitStatus.Invalid, "the config is not valid; nothing was written:\n" + string.Join("\n", loaded.Errors.Select(e => e.ToString())), loaded.Errors);
        if (config.FindNode(_node) is null)
        {
            var error = loaded.ErrorAt("nodes", $"this node ({_node}) is not in it; nothing was written");
            return Refuse(who, CommitStatus.Invalid, error.ToString(), [error]);
        }
        if (_checkKey(config) is { } keyProblem)
        {
            var error = loaded.ErrorAt(ConfigPaths.KeyFile, keyProblem + "; nothing was written");
            return Refuse(who, CommitStatus.Invalid, error.ToString(), [error]);
        }
        byte[] bytes = Encoding.UTF8.GetBytes(r.Text);
        string sha = Hash(bytes);
        if (current is not null && sha == current.Sha256)
        {
            bool confirmsPending = _pending is not null && r.ConfirmWithin is null;
            if (confirmsPending)
                return Confirmed(who, "a commit without changes");
            return new CommitOutcome(CommitStatus.Unchanged, $"nothing to commit: the config is generation {current.Version} (sha256 {sha})", current, [], [], []);
        }

        // The file first (atomic): if we die after it, the next start adopts it as a generation.
        byte[]? old = ReadFileBytes();
        var mode = File.Exists(_configPath) ? File.GetUnixFileMode(_configPath) : Private;
        try
        {
            DurableFile.Replace(_configPath, bytes, mode & ~(UnixFileMode.GroupWrite | UnixFileMode.OtherWrite));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Refuse(who, CommitStatus.Failed, $"cannot write {_configPath}: {e.Message}; the old file stays");
        }
        var applied = await _apply($"{r.Kind} by {who}", config, ct).ConfigureAwait(false);
        if (!applied.Ok)
        {
            string restored = "";
            if (old is not null)
            {
                try
                {
                    DurableFile.Replace(_configPath, old, mode);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    restored = $" (and the old file could not be put back: {e.Message})";
                }
            }
            return Refuse(who, CommitStatus.Failed, applied.Message + "; the old file is back" + restored);
        }

        var generation = new ConfigGeneration
        {
            Version = (current?.Version ?? 0) + 1, Sha256 = sha, When = _time.GetUtcNow(), Who = who, Comment = comment, Kind = r.Kind,
        };
        string? recordProblem = Record(generation, bytes);
        var lines = new List<string>
        {
            $"committed generation {generation.Version} (sha256 {sha[..12]}...) to {_configPath}" + (comment.Length > 0 ? $": {comment}" : ""),
        };
        if (recordProblem is not null)
            lines.Add($"warning: the generation is written and applied but not kept in the history: {recordProblem}");
        lines.Add(Describe(applied));

        // commit confirmed: armed (the rollback target stays the last confirmed generation); a plain commit confirms.
        lock (_generations)
        {
            if (r.ConfirmWithin is { } w)
            {
                var p = new PendingConfirm
                {
                    Version = generation.Version, RollbackTo = _pending?.RollbackTo ?? current?.Version ?? 0, Minutes = w.TotalMinutes,
                    BootId = _bootId, DeadlineMs = NowMs(_time) + (long)w.TotalMilliseconds, DeadlineWall = _time.GetUtcNow() + w, Who = who,
                };
                if (p.RollbackTo == 0)
                {
                    lines.Add("warning: there is no generation before this one to roll back to; `commit confirmed` acts as a plain commit");
                }
                else
                {
                    _pending = p;
                    Persist(p);
                    Arm(p);
                    Trace.ConfigPendingArmed(_log, p.Version, p.RollbackTo, w.TotalSeconds);
                    lines.Add($"commit confirmed: rolled back to generation {p.RollbackTo} at {Show(p.DeadlineWall)} ({Minutes(p.Minutes)} from now) unless `confirm` follows");
                }
            }
            else if (_pending is { } p)
            {
                ClearPending();
                MarkConfirmed(p.Version, who);
                lines.Add($"this commit also confirms generation {p.Version} (its rollback is off)");
            }
        }
        Trace.ConfigCommitted(_log, generation.Version, sha, who, generation.Kind, comment);
        return new CommitOutcome(CommitStatus.Committed, string.Join("\n", lines), generation, [], applied.Applied, applied.RestartNeeded);
    }

    /// <summary>`confirm`: keeps the pending `commit confirmed` generation; refused when nothing waits.</summary>
    public async Task<CommitOutcome> ConfirmAsync(string who, CancellationToken ct = default)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            lock (_generations)
            {
                if (_pending is null)
                    return CommitOutcome.Fail(CommitStatus.Failed, "nothing to confirm: no `commit confirmed` is waiting");
            }
            return Confirmed(Clean(who, MaxWhoChars, "unknown"), "confirm");
        }
        finally
        {
            _gate.Release();
        }
    }

    private CommitOutcome Confirmed(string who, string how)
    {
        PendingConfirm p;
        lock (_generations)
        {
            p = _pending!;
            ClearPending();
            MarkConfirmed(p.Version, who);
        }
        Trace.ConfigConfirmed(_log, p.Version, who);
        return new CommitOutcome(CommitStatus.Committed, $"confirmed generation {p.Version} ({how} by {who}); it stays, the rollback to generation {p.RollbackTo} is off",
            Current(), [], [], []);
    }

    /// <summary>`rollback N`: the generation N before the running one, committed again as a new generation.</summary>
    public async Task<CommitOutcome> RollbackAsync(int back, string who, string comment, CancellationToken ct = default)
    {
        if (back < 1)
            return CommitOutcome.Fail(CommitStatus.Invalid, "rollback N: N is 1 or more (1: the generation before the running one)");
        long target;
        string? text;
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            SyncWithFile();
            long current = Version;
            target = current - back;
            text = target >= 1 ? ReadGeneration(target) : null;
            if (text is null)
            {
                long oldest = History.Count == 0 ? 0 : History[0].Version;
                return CommitOutcome.Fail(CommitStatus.Failed, $"rollback {back}: generation {target} is not kept (the running one is {current}, the oldest kept {oldest})");
            }
            return await CommitLockedAsync(new CommitRequest(text, who, comment.Length > 0 ? comment : $"rollback {back}: back to generation {target}",
                BaseVersion: current, Kind: "rollback", Source: $"generation {target}"), ct).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The deadline of a `commit confirmed` passed: the generation before it is committed again.</summary>
    private async Task RollBackPendingAsync(PendingConfirm expected)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            lock (_generations)
            {
                if (_pending is null || _pending.Version != expected.Version || _pending.DeadlineMs != expected.DeadlineMs)
                    return; // confirmed or replaced meanwhile
                ClearPending();
            }
            string why = $"generation {expected.Version} was not confirmed within {Minutes(expected.Minutes)}";
            string? text = ReadGeneration(expected.RollbackTo);
            if (text is null)
            {
                Trace.ConfigRollbackFailed(_log, expected.Version, expected.RollbackTo, "that generation is no longer kept");
                return;
            }
            var outcome = await CommitLockedAsync(new CommitRequest(text, "commit confirmed", $"rolled back: {why}", Kind: "rollback",
                Source: $"generation {expected.RollbackTo}"), CancellationToken.None).ConfigureAwait(false);
            if (outcome.Ok)
                Trace.ConfigRolledBack(_log, expected.Version, expected.RollbackTo, why);
            else
                Trace.ConfigRollbackFailed(_log, expected.Version, expected.RollbackTo, outcome.Message);
        }
        finally
        {
            _gate.Release();
        }
    }

    // ---- the history directory -----------------------------------------------------------------

    private static string Name(long version) => version.ToString("D6", CultureInfo.InvariantCulture);

    private string TextPath(long version) => Path.Combine(_dir, Name(version) + ".yaml");

    private string MetaPath(long version) => Path.Combine(_dir, Name(version) + ".json");

    private string PendingPath => Path.Combine(_dir, "pending.json");

    private ConfigGeneration? Current()
    {
        lock (_generations)
            return _generations.Count == 0 ? null : _generations[^1];
    }

    private void Load()
    {
        foreach (string meta in Directory.EnumerateFiles(_dir, "*.json"))
        {
            if (Path.GetFileName(meta) == "pending.json")
                continue;
            try
            {
                var g = JsonSerializer.Deserialize(File.ReadAllBytes(meta), ConfigStoreJson.Default.ConfigGeneration);
                if (g is not null && File.Exists(TextPath(g.Version)))
                    _generations.Add(g);
            }
            catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
            {
                Trace.ConfigHistoryProblem(_log, $"skipped {meta}: {e.Message}");
            }
        }
        _generations.Sort((a, b) => a.Version.CompareTo(b.Version));
        if (File.Exists(PendingPath))
        {
            try
            {
                var p = JsonSerializer.Deserialize(File.ReadAllBytes(PendingPath), ConfigStoreJson.Default.PendingConfirm);
                if (p is not null && _generations.Any(g => g.Version == p.Version) && _generations.Any(g => g.Version == p.RollbackTo))
                    _pending = p;
                else
                    TryDelete(PendingPath);
            }
            catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
            {
                Trace.ConfigHistoryProblem(_log, $"cannot read {PendingPath}: {e.Message}; the pending `commit confirmed` is dropped");
                TryDelete(PendingPath);
            }
        }
    }

    /// <summary>The file as it is on disk, if it differs from the running generation, becomes a generation of its own.</summary>
    private void SyncWithFile()
    {
        byte[]? bytes = ReadFileBytes();
        if (bytes is null)
            return;
        string sha = Hash(bytes);
        var current = Current();
        if (current is not null && current.Sha256 == sha)
            return;
        bool first = current is null;
        var g = new ConfigGeneration
        {
            Version = (current?.Version ?? 0) + 1, Sha256 = sha, When = _time.GetUtcNow(), Who = "file",
            Comment = first ? "the config the daemon started with" : "the file changed outside the console and appliancectl (a hand edit or a copy)",
            Kind = first ? "initial" : "adopted",
        };
        // A rollback at start (RecoverAtStart) put an older generation back: recorded as what it was.
        string recovered = Path.Combine(_dir, "recovered.json");
        if (File.Exists(recovered))
        {
            try
            {
                if (JsonSerializer.Deserialize(File.ReadAllBytes(recovered), ConfigStoreJson.Default.ConfigGeneration) is { } note && note.Sha256 == sha)
                    g = g with { Who = note.Who, Comment = note.Comment, Kind = note.Kind };
            }
            catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
            {
                Trace.ConfigHistoryProblem(_log, $"cannot read {recovered}: {e.Message}");
            }
            TryDelete(recovered);
        }
        if (Record(g, bytes) is { } problem)
            Trace.ConfigHistoryProblem(_log, problem);
        else
            Trace.ConfigAdopted(_log, g.Version, sha, g.Comment);
    }

    private byte[]? ReadFileBytes()
    {
        try
        {
            if (!File.Exists(_configPath))
                return null;
            using var f = File.OpenRead(_configPath);
            if (f.Length > ConfigFile.MaxBytes)
                return null;
            var bytes = new byte[f.Length];
            f.ReadExactly(bytes);
            return bytes;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Trace.ConfigHistoryProblem(_log, $"cannot read {_configPath}: {e.Message}");
            return null;
        }
    }

    /// <summary>Writes the generation's text and then its record (a generation exists once its record does), and prunes the oldest.</summary>
    private string? Record(ConfigGeneration g, byte[] bytes)
    {
        try
        {
            DurableFile.Replace(TextPath(g.Version), bytes, Private);
            DurableFile.Replace(MetaPath(g.Version), JsonSerializer.SerializeToUtf8Bytes(g, ConfigStoreJson.Default.ConfigGeneration), Private);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            lock (_generations)
                _generations.Add(g); // the version is used: the next one must not reuse it
            return $"cannot record generation {g.Version} in {_dir}: {e.Message}";
        }
        lock (_generations)
        {
            _generations.Add(g);
            long keep = _pending?.RollbackTo ?? long.MaxValue;
            while (_generations.Count > HistoryMax)
            {
                var oldest = _generations.FirstOrDefault(x => x.Version != keep && x.Version != g.Version);
                if (oldest is null)
                    break;
                _generations.Remove(oldest);
                TryDelete(MetaPath(oldest.Version));
                TryDelete(TextPath(oldest.Version));
            }
        }
        return null;
    }

    private void MarkConfirmed(long version, string who)
    {
        int i = _generations.FindIndex(x => x.Version == version);
        if (i < 0)
            return;
        var g = _generations[i] with { Confirmed = $"{Show(_time.GetUtcNow())} by {who}" };
        _generations[i] = g;
        try
        {
            DurableFile.Replace(MetaPath(version), JsonSerializer.SerializeToUtf8Bytes(g, ConfigStoreJson.Default.ConfigGeneration), Private);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Trace.ConfigHistoryProblem(_log, $"cannot record the confirmation of generation {version}: {e.Message}");
        }
    }

    private void Persist(PendingConfirm p)
    {
        try
        {
            DurableFile.Replace(PendingPath, JsonSerializer.SerializeToUtf8Bytes(p, ConfigStoreJson.Default.PendingConfirm), Private);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Trace.ConfigHistoryProblem(_log, $"cannot keep the pending `commit confirmed` in {PendingPath} ({e.Message}): a daemon restart before the deadline forgets it");
        }
    }

    private void ClearPending()
    {
        _pending = null;
        _timer?.Dispose();
        _timer = null;
        TryDelete(PendingPath);
    }

    private void Arm(PendingConfirm p)
    {
        _timer?.Dispose();
        var due = TimeSpan.FromMilliseconds(Math.Max(0, p.BootId == _bootId ? p.DeadlineMs - NowMs(_time) : 0));
        _timer = _time.CreateTimer(_ => _ = RollBackInBackground(p), null, due, Timeout.InfiniteTimeSpan);
    }

    private async Task RollBackInBackground(PendingConfirm p)
    {
        try
        {
            await RollBackPendingAsync(p).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Trace.BackgroundFailed(_log, "commit confirmed rollback", e.ToString());
        }
    }

    /// <summary>The live apply's report in a commit's words (the reload's own start with "reload: ").</summary>
    private static string Describe(ReloadOutcome applied)
    {
        string m = applied.Message;
        if (m.StartsWith("reload: the file is the running config", StringComparison.Ordinal))
            return "nothing to apply: the running config already means the same";
        return m.StartsWith("reload: ", StringComparison.Ordinal) ? "applied live: " + m["reload: ".Length..] : m;
    }

    private CommitOutcome Refuse(string who, CommitStatus status, string message, ImmutableArray<ConfigError> errors = default)
    {
        Trace.ConfigCommitRefused(_log, who, status.ToString().ToLowerInvariant(), message);
        return CommitOutcome.Fail(status, message, errors);
    }

    private static long NowMs(TimeProvider time) => (long)(time.GetTimestamp() * 1000.0 / time.TimestampFrequency);

    internal static string Hash(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    internal static string Show(DateTimeOffset when) => when.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    internal static string Minutes(double minutes) =>
        minutes < 1 ? string.Create(CultureInfo.InvariantCulture, $"{minutes * 60:0.#} s") : string.Create(CultureInfo.InvariantCulture, $"{minutes:0.##} min");

    /// <summary>Printable, one line, bounded: a `who` or a comment from a client.</summary>
    private static string Clean(string text, int max, string empty)
    {
        var sb = new StringBuilder();
        foreach (char c in text.Trim())
        {
            if (sb.Length >= max)
                break;
            sb.Append(char.IsControl(c) ? ' ' : c);
        }
        return sb.Length == 0 ? empty : sb.ToString();
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    public void Dispose()
    {
        lock (_generations)
        {
            _timer?.Dispose();
            _timer = null;
        }
        _gate.Dispose();
    }
}
