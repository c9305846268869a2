using System.Text.Json;
using Appliance.Core.Fencing;

namespace Appliance.Daemon.Fencing;

/// <summary>One fencing operation as the history keeps it. <see cref="At"/> is wall time, for people.</summary>
internal sealed record FenceHistoryEntry(
    DateTimeOffset At, string Target, string Device, string Action, string Outcome, bool Verified, string Reason, long ElapsedMs, string Trigger);

/// <summary>
/// The fence history (target, device, action, outcome, reason, time), kept across restarts as JSON
/// lines in the state directory and bounded to <see cref="FencingLimits.HistoryMax"/> entries. A line
/// that cannot be read (a torn write at power loss) is skipped, not fatal.
/// </summary>
internal sealed class FenceHistory
{
    private readonly string _path;
    private readonly object _gate = new();
    private readonly List<FenceHistoryEntry> _entries = [];

    public FenceHistory(string stateDir)
    {
        _path = System.IO.Path.Combine(stateDir, "fence-history.jsonl");
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
            }
        }
        if (_entries.Count > FencingLimits.HistoryMax)
            _entries.RemoveRange(0, _entries.Count - FencingLimits.HistoryMax);
    }

    public string Path => _path;

    public IReadOnlyList<FenceHistoryEntry> Entries
    {
        get { lock (_gate) return [.. _entries]; }
    }

    public FenceHistoryEntry? Last
    {
        get { lock (_gate) return _entries.Count == 0 ? null : _entries[^1]; }
    }

    public void Add(FenceHistoryEntry entry)
    {
        lock (_gate)
        {
            _entries.Add(entry);
            if (_entries.Count > FencingLimits.HistoryMax)
            {
                // Rewrite the file bounded; rename is atomic, so a power cut leaves the old or the new one.
                _entries.RemoveRange(0, _entries.Count - FencingLimits.HistoryMax);
                string tmp = _path + ".tmp";
                File.WriteAllLines(tmp, _entries.Select(e => JsonSerializer.Serialize(e, HistoryJson.Default.FenceHistoryEntry)));
                File.Move(tmp, _path, overwrite: true);
                return;
            }
            using var f = new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read);
            f.Write(JsonSerializer.SerializeToUtf8Bytes(entry, HistoryJson.Default.FenceHistoryEntry));
            f.WriteByte((byte)'\n');
            f.Flush(flushToDisk: true);
        }
    }
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower)]
[System.Text.Json.Serialization.JsonSerializable(typeof(FenceHistoryEntry))]
internal sealed partial class HistoryJson : System.Text.Json.Serialization.JsonSerializerContext;
