using System.Globalization;
using System.Text;

namespace Appliance.Core.Config.Import;

/// <summary>
/// A YAML document being written by an importer: maps, lists and scalars in block style, each with
/// an optional trailing comment. Small on purpose: the importers write one known shape, and every
/// string goes through <see cref="Scalar(string)"/>, which quotes whatever YAML would read as
/// something else.
/// </summary>
internal abstract class YOut
{
    /// <summary>A trailing comment (one line), like where the value came from.</summary>
    public string? Comment { get; set; }

    public static YOutScalar Scalar(string text) => new(Quote(text));

    public static YOutScalar Number(long value) => new(value.ToString(CultureInfo.InvariantCulture));

    public static YOutScalar Bool(bool value) => new(value ? "true" : "false");

    public static YOutScalar Duration(TimeSpan value) => new(Config.Duration.Format(value));

    /// <summary>
    /// <paramref name="text"/> as a YAML scalar: plain when YAML reads it back as the same string,
    /// else double-quoted with escapes.
    /// </summary>
    public static string Quote(string text)
    {
        if (IsPlainSafe(text))
            return text;
        var sb = new StringBuilder("\"");
        foreach (char c in text)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                case '\r': sb.Append("\\r"); break;
                default:
                    if (char.IsControl(c))
                        sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else
                        sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
    {
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", ".inf", "-.inf", ".nan",
    };

    private static bool IsPlainSafe(string text)
    {
        if (text.Length == 0 || text.Trim() != text || Reserved.Contains(text))
            return false;
        if ("-?:,[]{}#&*!|>'\"%@`".Contains(text[0]))
            return false;
        if (text.Contains(": ") || text.Contains(" #") || text.EndsWith(':') || text.Any(char.IsControl))
            return false;
        // A number would come back as a number: quote anything that starts like one and is all numeric characters.
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _) || text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return false;
        return true;
    }
}

internal sealed class YOutScalar(string rendered) : YOut
{
    /// <summary>The scalar as written in the file (already quoted if it had to be).</summary>
    public string Rendered { get; } = rendered;
}

internal sealed class YOutMap : YOut
{
    public List<KeyValuePair<string, YOut>> Entries { get; } = [];

    public YOutMap Add(string key, YOut value)
    {
        Entries.Add(new(key, value));
        return this;
    }

    public YOutMap Add(string key, string value, string? comment = null) =>
        Add(key, new YOutScalar(Quote(value)) { Comment = comment });

    public YOutMap Add(string key, long value) => Add(key, Number(value));

    public YOutMap Add(string key, bool value) => Add(key, Bool(value));

    public YOutMap Add(string key, TimeSpan value) => Add(key, Duration(value));

    public YOutMap WithComment(string? comment)
    {
        Comment = comment;
        return this;
    }
}

internal sealed class YOutList : YOut
{
    public List<YOut> Items { get; } = [];

    public YOutList() { }

    public YOutList(IEnumerable<string> items) => Items.AddRange(items.Select(Scalar));
}

/// <summary>Renders a <see cref="YOutMap"/> document in block style, two spaces per level.</summary>
internal static class YamlOutWriter
{
    private const int Indent = 2;

    public static string Render(IEnumerable<string> headerComments, YOutMap root)
    {
        var sb = new StringBuilder();
        foreach (string line in headerComments)
            sb.Append(line.Length == 0 ? "#" : "# " + line).Append('\n');
        WriteMapEntries(sb, root, 0, firstPrefix: null);
        return sb.ToString();
    }

    private static string Trailing(string? comment) => comment is null ? "" : "  # " + comment;

    /// <summary>
    /// A map's entries at <paramref name="indent"/>; with <paramref name="firstPrefix"/> the first
    /// entry goes on the current line after it (a list item's "- ").
    /// </summary>
    private static void WriteMapEntries(StringBuilder sb, YOutMap map, int indent, string? firstPrefix)
    {
        bool first = true;
        foreach (var (key, value) in map.Entries)
        {
            // A list item's own comment rides on its first line.
            string? itemComment = first && firstPrefix is not null ? map.Comment : null;
            string comment = Trailing(Join(itemComment, value.Comment));
            sb.Append(first && firstPrefix is not null ? firstPrefix : new string(' ', indent)).Append(key).Append(':');
            switch (value)
            {
                case YOutScalar s:
                    sb.Append(' ').Append(s.Rendered).Append(comment).Append('\n');
                    break;
                case YOutMap m when m.Entries.Count == 0:
                    sb.Append(" {}").Append(comment).Append('\n');
                    break;
                case YOutMap m:
                    sb.Append(comment).Append('\n');
                    WriteMapEntries(sb, m, indent + Indent, null);
                    break;
                case YOutList l when l.Items.Count == 0:
                    sb.Append(" []").Append(comment).Append('\n');
                    break;
                case YOutList l:
                    sb.Append(comment).Append('\n');
                    WriteList(sb, l, indent + Indent);
                    break;
            }
            first = false;
        }
    }

    private static string? Join(string? a, string? b) => a is null ? b : b is null ? a : a + "; " + b;

    private static void WriteList(StringBuilder sb, YOutList list, int indent)
    {
        foreach (var item in list.Items)
        {
            switch (item)
            {
                case YOutScalar s:
                    sb.Append(' ', indent).Append("- ").Append(s.Rendered).Append(Trailing(s.Comment)).Append('\n');
                    break;
                case YOutMap m when m.Entries.Count == 0:
                    sb.Append(' ', indent).Append("- {}").Append(Trailing(m.Comment)).Append('\n');
                    break;
                case YOutMap m:
                    WriteMapEntries(sb, m, indent + Indent, new string(' ', indent) + "- ");
                    break;
                case YOutList l:
                    sb.Append(' ', indent).Append('-').Append(Trailing(l.Comment)).Append('\n');
                    WriteList(sb, l, indent + Indent);
                    break;
            }
        }
    }
}
