using System.Globalization;
using System.Text;
using Appliance.Core.Config;

namespace Appliance.Core.Console;

/// <summary>
/// Writes a <see cref="TreeNode"/> as block-style YAML, two spaces a level, lists of scalars in flow
/// style (<c>fence: [relay-alpha, pdu]</c>), and remembers which console path each written node
/// starts at, so a checker error at line:col can be told as the path a person typed. Comments of the
/// original file are not kept (README, "The serial console").
/// </summary>
internal sealed class YamlWriter
{
    private const int IndentStep = 2;

    private readonly StringBuilder _out = new();
    private readonly List<List<(int Column, string Path)>> _lines = [[]];

    /// <summary>The YAML text of <paramref name="root"/> and where each path starts in it.</summary>
    public static (string Text, PathMap Map) Write(TreeMap root, IReadOnlyList<string>? under = null)
    {
        var w = new YamlWriter();
        string prefix = under is null ? "" : string.Join(' ', under);
        if (root.Entries.Count > 0)
            w.MapEntries(root, 0, prefix);
        return (w._out.ToString(), new PathMap(w._lines));
    }

    /// <summary>One scalar as it would be written in block context (for messages and single values).</summary>
    public static string Scalar(TreeScalar s) => Format(s, flow: false);

    /// <summary>A node on one line in flow style (<c>[a, b]</c>, <c>{alpha: 1}</c>), for help and messages.</summary>
    public static string Flow(TreeNode node) => node switch
    {
        TreeScalar s => Format(s, flow: true),
        TreeList l => "[" + string.Join(", ", l.Items.Select(Flow)) + "]",
        TreeMap m => "{" + string.Join(", ", m.Entries.Select(e => FormatKey(e.Key) + ": " + Flow(e.Value))) + "}",
        _ => "",
    };

    private int Column => _out.Length - LineStart() + 1;

    private int LineStart()
    {
        int i = _out.Length;
        while (i > 0 && _out[i - 1] != '\n')
            i--;
        return i;
    }

    private void Mark(string path) => _lines[^1].Add((Column, path));

    private void NewLine()
    {
        _out.Append('\n');
        _lines.Add([]);
    }

    private static string Join(string path, string token) => path.Length == 0 ? token : path + " " + token;

    private void MapEntries(TreeMap map, int indent, string path, bool firstOnCurrentLine = false)
    {
        bool first = true;
        foreach (var (key, value) in map.Entries)
        {
            if (!(first && firstOnCurrentLine))
                _out.Append(' ', indent);
            first = false;
            string keyPath = Join(path, key);
            Mark(keyPath);
            _out.Append(FormatKey(key)).Append(':');
            Value(value, indent, keyPath, key);
        }
    }

    /// <summary>The value after "key:": on the same line when it is a scalar, a flow list or empty; else on the next lines, one level in.</summary>
    private void Value(TreeNode value, int indent, string path, string key)
    {
        switch (value)
        {
            case TreeScalar s:
                _out.Append(' ');
                Mark(path);
                _out.Append(Format(s, flow: false));
                NewLine();
                break;
            case TreeMap { Entries.Count: 0 }:
                _out.Append(" {}");
                NewLine();
                break;
            case TreeList { Items.Count: 0 }:
                _out.Append(" []");
                NewLine();
                break;
            case TreeList l when l.Items.All(i => i is TreeScalar):
                _out.Append(" [");
                for (int i = 0; i < l.Items.Count; i++)
                {
                    if (i > 0)
                        _out.Append(", ");
                    Mark(path);
                    _out.Append(Format((TreeScalar)l.Items[i], flow: true));
                }
                _out.Append(']');
                NewLine();
                break;
            case TreeMap m:
                NewLine();
                MapEntries(m, indent + IndentStep, path);
                break;
            case TreeList l:
                NewLine();
                Items(l, indent + IndentStep, path, key);
                break;
        }
    }

    /// <summary>Block list items; an item map is addressed by its name (or first) value, as the console addresses it.</summary>
    private void Items(TreeList list, int indent, string path, string key)
    {
        for (int i = 0; i < list.Items.Count; i++)
        {
            var item = list.Items[i];
            _out.Append(' ', indent);
            string itemPath = Join(path, ItemToken(item, i));
            Mark(itemPath);
            _out.Append("- ");
            switch (item)
            {
                case TreeMap { Entries.Count: > 0 } m:
                    MapEntries(m, indent + IndentStep, itemPath, firstOnCurrentLine: true);
                    break;
                case TreeMap:
                    _out.Append("{}");
                    NewLine();
                    break;
                case TreeScalar s:
                    _out.Append(Format(s, flow: false));
                    NewLine();
                    break;
                case TreeList { Items.Count: 0 }:
                    _out.Append("[]");
                    NewLine();
                    break;
                case TreeList l:
                    // Not in the schema; written so that it reads back the same.
                    NewLine();
                    Items(l, indent + IndentStep, itemPath, key);
                    break;
            }
        }
    }

    /// <summary>How the console names a list item: its name (or first scalar value) when it has one, else its index.</summary>
    internal static string ItemToken(TreeNode item, int index) => item switch
    {
        TreeMap m when m.Get("name") is TreeScalar n && n.Value.Length > 0 => n.Value,
        TreeMap { Entries.Count: > 0 } m when m.Entries[0].Value is TreeScalar f && f.Value.Length > 0 => f.Value,
        _ => "#" + index.ToString(CultureInfo.InvariantCulture),
    };

    private static string FormatKey(string key) => Format(new TreeScalar(key, plain: true), flow: false);

    private static string Format(TreeScalar s, bool flow)
    {
        if (s.Plain && CanBePlain(s.Value, flow))
            return s.Value;
        if (!s.Plain && s.Value.Length > 0 && CanBePlain(s.Value, flow) && !LooksTyped(s.Value))
            return s.Value; // a string that reads back as the same string: no quotes needed
        return Quote(s.Value);
    }

    /// <summary>Plain text that YAML would read as something other than a string (null, a boolean, a number).</summary>
    private static bool LooksTyped(string v) =>
        v is "~" or "null" or "Null" or "NULL" or "true" or "True" or "TRUE" or "false" or "False" or "FALSE"
        || v.StartsWith(".inf", StringComparison.OrdinalIgnoreCase) || v.StartsWith("-.inf", StringComparison.OrdinalIgnoreCase)
        || v.Equals(".nan", StringComparison.OrdinalIgnoreCase)
        || double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out _)
        || (v.StartsWith("0x", StringComparison.Ordinal) || v.StartsWith("0o", StringComparison.Ordinal));

    /// <summary>Text that reads back unchanged as a plain scalar (conservative: when in doubt, quote).</summary>
    internal static bool CanBePlain(string v, bool flow)
    {
        if (v.Length == 0 || v[0] == ' ' || v[^1] == ' ' || v[^1] == ':')
            return false;
        if ("-?:,[]{}#&*!|>'\"%@`".Contains(v[0], StringComparison.Ordinal))
        {
            // A negative number is fine; any other leading indicator is quoted.
            if (!(v[0] == '-' && v.Length > 1 && char.IsAsciiDigit(v[1])))
                return false;
        }
        if (v.Contains(": ", StringComparison.Ordinal) || v.Contains(" #", StringComparison.Ordinal))
            return false;
        foreach (char c in v)
        {
            if (char.IsControl(c) || c == '\uFEFF' || char.IsSurrogate(c))
                return false;
            if (flow && c is ',' or '[' or ']' or '{' or '}')
                return false;
        }
        return true;
    }

    /// <summary>Single quotes when the text is printable (a quote doubled), else double quotes with escapes.</summary>
    internal static string Quote(string v)
    {
        if (!v.Any(c => char.IsControl(c) || char.IsSurrogate(c) || c == '\uFEFF'))
            return "'" + v.Replace("'", "''", StringComparison.Ordinal) + "'";
        var sb = new StringBuilder("\"");
        for (int i = 0; i < v.Length; i++)
        {
            char c = v[i];
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                case '\r': sb.Append("\\r"); break;
                default:
                    if (char.IsHighSurrogate(c) && i + 1 < v.Length && char.IsLowSurrogate(v[i + 1]))
                    {
                        sb.Append(c).Append(v[++i]);
                    }
                    else if (char.IsControl(c) || char.IsSurrogate(c) || c == '\uFEFF')
                    {
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(c);
                    }
                    break;
            }
        }
        return sb.Append('"').ToString();
    }
}

/// <summary>Which console path each line and column of a written document starts; turns a checker's line:col into a path.</summary>
internal sealed class PathMap(List<List<(int Column, string Path)>> lines)
{
    /// <summary>The path written at <paramref name="line"/>:<paramref name="column"/> (the last one starting at or before it), or null.</summary>
    public string? At(int line, int column)
    {
        if (line < 1 || line > lines.Count)
            return null;
        string? found = null;
        foreach (var (c, p) in lines[line - 1])
        {
            if (c <= column)
                found = p;
        }
        return found ?? (lines[line - 1].Count > 0 ? lines[line - 1][0].Path : null);
    }
}
