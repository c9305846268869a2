using System.Collections.Immutable;
using System.Globalization;
using System.Text;

namespace Appliance.Core.Config.Import;

/// <summary>Where a piece of the source is: a file (as shown in the report) and a 1-based line.</summary>
internal readonly record struct SourceRef(string File, int Line)
{
    public override string ToString() => Line > 0 ? $"{File}:{Line}" : File;
}

/// <summary>One node of the pair as the importer builds it.</summary>
internal sealed class NodeOut(string name)
{
    public string Name { get; set; } = name;
    public int Priority { get; set; } = 100;
    public List<YOutMap> Links { get; } = [];
    public List<string> Fence { get; } = [];
}

/// <summary>
/// The appliance.yaml an importer is building: the sections as YAML maps, the names handed out, and
/// the report. <see cref="Render"/> writes the header (source, the report) and the document.
/// </summary>
internal sealed class ImportDraft(string title, IEnumerable<string> sourceLines)
{
    /// <summary>The header's lines naming the source files.</summary>
    public List<string> SourceLines { get; } = [.. sourceLines];

    private readonly List<ImportNote> _notes = [];
    private readonly List<string> _fileOrder = [];

    public string ClusterName { get; set; } = "ha";
    public string KeyFile { get; set; } = ImportOptions.DefaultKeyFile;
    public string? KeyComment { get; set; }
    public bool AutoFailback { get; set; }
    public string? AutoFailbackComment { get; set; }
    public FencingMode Fencing { get; set; } = FencingMode.Required;
    public string? FencingComment { get; set; }
    public Timers Timers { get; set; } = Timers.Default;
    public string? TimersComment { get; set; }
    public NodeOut[] Nodes { get; } = [new("alpha"), new("beta")];
    public List<YOutMap> FenceDevices { get; } = [];
    public List<YOutMap> Resources { get; } = [];
    public List<YOutMap> Monitors { get; } = [];
    public YOutMap? Director { get; set; }

    public NameAllocator LinkNames { get; } = new("link");
    public NameAllocator ResourceNames { get; } = new("res");
    public NameAllocator MonitorNames { get; } = new("mon");
    public NameAllocator FenceNames { get; } = new("fence");

    public IReadOnlyList<ImportNote> Notes => _notes;

    /// <summary>Registers a source file so the report lists files in the order they were read.</summary>
    public void SawFile(string file)
    {
        if (!_fileOrder.Contains(file))
            _fileOrder.Add(file);
    }

    public void Note(ImportNoteKind kind, SourceRef at, string subject, string reason)
    {
        SawFile(at.File);
        var note = new ImportNote(kind, at.File, at.Line, subject, reason);
        if (!_notes.Contains(note))
            _notes.Add(note);
    }

    public void Skipped(SourceRef at, string subject, string reason) => Note(ImportNoteKind.Skipped, at, subject, reason);
    public void Changed(SourceRef at, string subject, string reason) => Note(ImportNoteKind.Changed, at, subject, reason);
    public void Assumed(SourceRef at, string subject, string reason) => Note(ImportNoteKind.Assumed, at, subject, reason);

    /// <summary>The report, by kind, then file in reading order, then line; stable within a line.</summary>
    public ImmutableArray<ImportNote> SortedNotes() =>
        [.. _notes.Select((n, i) => (n, i))
            .OrderBy(x => x.n.Kind).ThenBy(x => _fileOrder.IndexOf(x.n.File)).ThenBy(x => x.n.Line).ThenBy(x => x.i)
            .Select(x => x.n)];

    public string Render()
    {
        var header = new List<string> { title };
        header.AddRange(SourceLines);
        header.Add("Check it with: appliancectl config check FILE");
        var notes = SortedNotes();
        foreach (var (kind, heading) in new[]
                 {
                     (ImportNoteKind.Skipped, "Not imported (no equivalent, or not usable as written)"),
                     (ImportNoteKind.Changed, "Changed to fit (check these)"),
                     (ImportNoteKind.Assumed, "Assumed (not in the source; check these)"),
                 })
        {
            var some = notes.Where(n => n.Kind == kind).ToList();
            header.Add("");
            header.Add($"{heading}: {(some.Count == 0 ? "none" : some.Count.ToString(CultureInfo.InvariantCulture))}");
            foreach (var n in some)
                header.AddRange(Wrap("  ", n.ToString(), "      "));
        }
        header.Add("");
        return YamlOutWriter.Render(header, Document());
    }

    private YOutMap Document()
    {
        var timers = new YOutMap()
            .Add("keepalive", Timers.Keepalive).Add("warntime", Timers.Warntime)
            .Add("deadtime", Timers.Deadtime).Add("initdead", Timers.Initdead)
            .WithComment(TimersComment);
        var cluster = new YOutMap()
            .Add("name", ClusterName)
            .Add("key_file", KeyFile, KeyComment)
            .Add("auto_failback", new YOutScalar(AutoFailback ? "true" : "false") { Comment = AutoFailbackComment })
            .Add("fencing", new YOutScalar(Fencing == FencingMode.Required ? "required" : "off") { Comment = FencingComment })
            .Add("timers", timers);
        var nodes = new YOutList();
        foreach (var node in Nodes)
        {
            var links = new YOutList();
            links.Items.AddRange(node.Links);
            var map = new YOutMap().Add("name", node.Name).Add("priority", node.Priority).Add("links", links);
            if (node.Fence.Count > 0)
                map.Add("fence", new YOutList(node.Fence));
            nodes.Items.Add(map);
        }
        var doc = new YOutMap().Add("cluster", cluster).Add("nodes", nodes);
        if (FenceDevices.Count > 0)
            doc.Add("fence_devices", List(FenceDevices));
        if (Resources.Count > 0)
            doc.Add("resources", List(Resources));
        if (Monitors.Count > 0)
            doc.Add("monitors", List(Monitors));
        if (Director is not null)
            doc.Add("director", Director);
        return doc;
    }

    private static YOutList List(IEnumerable<YOut> items)
    {
        var list = new YOutList();
        list.Items.AddRange(items);
        return list;
    }

    /// <summary>Report lines wrapped at about 100 columns, continuation lines indented.</summary>
    private const int WrapColumns = 100;

    private static IEnumerable<string> Wrap(string prefix, string text, string continuation)
    {
        var line = new StringBuilder(prefix);
        int start = prefix.Length;
        foreach (string word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length > start && line.Length + 1 + word.Length > WrapColumns)
            {
                yield return line.ToString();
                line.Clear().Append(continuation);
                start = continuation.Length;
            }
            if (line.Length > start)
                line.Append(' ');
            line.Append(word);
        }
        yield return line.ToString();
    }
}

/// <summary>
/// Hands out config names (<c>[a-z][a-z0-9-]{0,31}</c>) made from the source's names, unique within
/// one list: <c>VI_1</c> → <c>vi-1</c>, a second <c>vip</c> → <c>vip-2</c>.
/// </summary>
internal sealed class NameAllocator(string fallback)
{
    private readonly HashSet<string> _taken = new(StringComparer.Ordinal);

    public static string Sanitize(string raw, string fallback)
    {
        var sb = new StringBuilder();
        foreach (char c in raw.ToLowerInvariant())
        {
            char d = char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) ? c : '-';
            if (d == '-' && (sb.Length == 0 || sb[^1] == '-'))
                continue;
            sb.Append(d);
        }
        string name = sb.ToString().Trim('-');
        if (name.Length == 0 || !char.IsAsciiLetterLower(name[0]))
            name = name.Length == 0 ? fallback : fallback + "-" + name;
        return name.Length > ConfigLimits.MaxNameLength ? name[..ConfigLimits.MaxNameLength].TrimEnd('-') : name;
    }

    public string Take(string raw)
    {
        string name = Sanitize(raw, fallback);
        if (_taken.Add(name))
            return name;
        for (int i = 2; ; i++)
        {
            string suffix = "-" + i.ToString(CultureInfo.InvariantCulture);
            string candidate = (name.Length + suffix.Length > ConfigLimits.MaxNameLength ? name[..(ConfigLimits.MaxNameLength - suffix.Length)] : name) + suffix;
            if (_taken.Add(candidate))
                return candidate;
        }
    }

    public bool IsTaken(string name) => _taken.Contains(name);
}

internal static class ImportText
{
    /// <summary>A word for /bin/sh: as it is when it has no special characters, else single-quoted.</summary>
    public static string ShellQuote(string word) =>
        word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || "_./:=@%+,-".Contains(c))
            ? word
            : "'" + word.Replace("'", "'\\''") + "'";

    public static string ShellLine(IEnumerable<string> words) => string.Join(' ', words.Select(ShellQuote));

    public static string Ms(TimeSpan t) => Duration.Format(t);
}

/// <summary>
/// Fits a source's timers into the appliance's bounds and rules (<see cref="ConfigSchema.TimerRules"/>),
/// saying what changed.
/// </summary>
internal static class TimerFit
{
    private static readonly TimeSpan Ms1 = TimeSpan.FromMilliseconds(1);

    /// <param name="slowest">
    /// The slowest link's shortest cadence with why (a serial link's baud rate), or null: the source's
    /// keepalive was that link's too (heartbeat sends every frame on every medium), so a faster one
    /// is raised to it rather than left for the link to run at a multiple of, whose scaled deadtime
    /// could pass the longest allowed.
    /// </param>
    public static Timers Fit(Timers wanted, Action<string, string> changed, (TimeSpan Floor, string Why)? slowest = null)
    {
        // At most a third of the longest deadtime, so that a deadtime of 3 keepalives still fits.
        var maxKeepalive = ConfigLimits.MaxDeadtime / 3;
        var minKeepalive = ConfigLimits.MinKeepalive;
        string carries = "";
        if (slowest is { } s && s.Floor > minKeepalive)
        {
            minKeepalive = TimeSpan.FromMilliseconds(Math.Ceiling(s.Floor.TotalMilliseconds));
            carries = $" ({s.Why})";
        }
        var keepalive = Clamp(wanted.Keepalive, minKeepalive, maxKeepalive);
        if (keepalive != wanted.Keepalive)
            changed("keepalive", $"{Duration.Format(wanted.Keepalive)} is outside {Duration.Format(minKeepalive)}..{Duration.Format(maxKeepalive)}{carries}; {Duration.Format(keepalive)} here");

        var deadtime = wanted.Deadtime;
        var deadMin = 2 * keepalive + Ms1;
        var deadMax = Min(ConfigLimits.MaxDeadtime, ConfigLimits.AckWindowKeepalives * keepalive);
        if (deadtime < deadMin)
            deadtime = 3 * keepalive;
        if (deadtime > deadMax)
            deadtime = deadMax;
        if (deadtime != wanted.Deadtime)
            changed("deadtime", $"{Duration.Format(wanted.Deadtime)} does not fit (more than 2 x keepalive {Duration.Format(keepalive)}, at most {Duration.Format(deadMax)}); {Duration.Format(deadtime)} here");

        var warntime = wanted.Warntime;
        if (warntime <= keepalive || warntime >= deadtime)
        {
            warntime = TimeSpan.FromMilliseconds(Math.Round((keepalive + deadtime).TotalMilliseconds / 2));
            changed("warntime", $"{Duration.Format(wanted.Warntime)} must lie between keepalive ({Duration.Format(keepalive)}) and deadtime ({Duration.Format(deadtime)}); {Duration.Format(warntime)} here");
        }

        var initdead = Clamp(wanted.Initdead, deadtime, ConfigLimits.MaxInitdead);
        if (initdead != wanted.Initdead)
            changed("initdead", $"{Duration.Format(wanted.Initdead)} must lie between deadtime ({Duration.Format(deadtime)}) and {Duration.Format(ConfigLimits.MaxInitdead)}; {Duration.Format(initdead)} here");
        return new Timers(keepalive, warntime, deadtime, initdead);
    }

    private static TimeSpan Clamp(TimeSpan v, TimeSpan lo, TimeSpan hi) => v < lo ? lo : v > hi ? hi : v;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
