using System.Text.Json;
using Appliance.Core.Fencing;
using Appliance.Linux;

namespace Appliance.Daemon.Fencing;

/// <summary>One fencing operation as the history keeps it. <see cref="At"/> is wall time, for people.</summary>
internal sealed record FenceHistoryEntry(
    DateTimeOffset At, string Target, string Device, string Action, string Outcome, bool Verified, string Reason, long ElapsedMs, string Trigger);

/// <summary>
/// The fence history (target, device, action, outcome, reason, time), kept across restarts as JSON
/// lines in the state directory and bounded to <see cref="FencingLimits.HistoryMax"/> entries.
/// </summary>
/// <remarks>
/// <para>Each <see cref="Add"/> rewrites the whole (bounded, small) file durably: temporary file,
/// fsync, rename, fsync of the directory (<see cref="DurableFile"/>), so after a power cut the file is
/// the old history or the new one, whole. Appending instead could leave a torn last line that the
/// next append glued to a good entry, losing both.</para>
/// <para>A line that cannot be read (a torn write of an older version, a bad disk block) is skipped
/// when loading, never fatal, and gone at the next write.</para>
/// <para>Fencing must go on when its record cannot be kept (read-only or full disk, a state directory
/// that is not a directory): <see cref="Add"/> never throws; it returns why it could not write and
/// keeps the entry in memory (status still shows it; the next successful write includes it).</para>
/// </remarks>
internal sealed class FenceHistory
{
    private readonly string _path;
    private readonly object _gate = new();
    private readonly List<FenceHistoryEntry> _entries = [];
    private string? _lastError;

    public FenceHistory(string stateDir)
    {
        _path = System.IO.Path.Combine(stateDir, "fence-history.jsonl");
        try
        {
            if (!File.Exists(_path))
                return;
            foreach (var line in File.ReadLines(_path))
            {
                try
                {
                    if (JsonSerializer.Deserialize(line, HistoryJson.Default.FenceHistoryEntry) is { } e)
                        _entries.Add(e);
                }
                catch (JsonException)
                {
                    // a torn or damaged line: skipped, and dropped at the next write
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _lastError = $"cannot read {_path}: {e.Message}";
        }
        if (_entries.Count > FencingLimits.HistoryMax)
            _entries.RemoveRange(0, _entries.Count - FencingLimits.HistoryMax);
    }

    public string Path => _path;

    /// <summary>Why the last read or write of the file failed; null once a write has succeeded (for status).</summary>
    public string? LastError
    {
        get { lock (_gate) return _lastError; }
    }

    public IReadOnlyList<FenceHistoryEntry> Entries
    {
        get { lock (_gate) return [.. _entries]; }
    }

    public FenceHistoryEntry? Last
    {
        get { lock (_gate) return _entries.Count == 0 ? null : _entries[^1]; }
    }

    /// <summary>
    /// Records <paramref name="entry"/> and writes the history durably. Never throws: returns null when
    /// the file was written, else why not (also in <see cref="LastError"/>); the entry is kept in memory.
    /// </summary>
    public string? Add(FenceHistoryEntry entry)
    {
        Record(entry);
        return Persist();
    }

    /// <summary>Keeps <paramref name="entry"/> in memory at once (status and `fence history` see it); <see cref="Persist"/> writes it.</summary>
    public void Record(FenceHistoryEntry entry)
    {
        lock (_gate)
        {
            _entries.Add(entry);
            if (_entries.Count > FencingLimits.HistoryMax)
                _entries.RemoveRange(0, _entries.Count - FencingLimits.HistoryMax);
        }
    }

    /// <summary>
    /// Writes the history durably (temp file, fsync, rename, fsync of the directory), outside the lock
    /// that <see cref="Record"/> and the readers take, so a slow disk holds up no one but the writer.
    /// One writer at a time. Never throws: null when written, else why not (also in <see cref="LastError"/>).
    /// </summary>
    public string? Persist()
    {
        var text = new MemoryStream();
        lock (_gate)
        {
            foreach (var e in _entries)
            {
                JsonSerializer.Serialize(text, e, HistoryJson.Default.FenceHistoryEntry);
                text.WriteByte((byte)'\n');
            }
        }
        string? error = null;
        try
        {
            DurableFile.Replace(_path, text.GetBuffer().AsSpan(0, (int)text.Length));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or System.Security.SecurityException)
        {
            error = $"cannot write {_path}: {e.Message}";
        }
        lock (_gate)
            _lastError = error;
        return error;
    }
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower)]
[System.Text.Json.Serialization.JsonSerializable(typeof(FenceHistoryEntry))]
internal sealed partial class HistoryJson : System.Text.Json.Serialization.JsonSerializerContext;
