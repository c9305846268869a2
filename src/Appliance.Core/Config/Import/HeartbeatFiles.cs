using System.Globalization;

namespace Appliance.Core.Config.Import;

/// <summary>A word of a heartbeat config line with its 1-based column.</summary>
internal readonly record struct HbWord(string Text, int Column);

/// <summary>One ha.cf directive line: the directive and its arguments, as heartbeat 3.0.6 splits them.</summary>
internal sealed record HaCfLine(int Line, HbWord Directive, IReadOnlyList<HbWord> Args, string Rest);

/// <summary>One haresources group: the home node and its resources, from one logical line.</summary>
internal sealed record HaResourceGroup(int Line, HbWord Node, IReadOnlyList<HbWord> Resources);

/// <summary>
/// The lexical rules of heartbeat v1's files (heartbeat-v1-config.md sections 1, 3 and 4): ha.cf is
/// line by line, <c>#</c> anywhere starts a comment, arguments split on spaces, tabs and commas
/// except for the whole-line directives; haresources joins backslash-continued lines.
/// </summary>
internal static class HeartbeatFiles
{
    /// <summary>The directives whose rest of line is one value (config.c): split on blanks only, never commas.</summary>
    private static readonly HashSet<string> WholeLine = new(StringComparer.Ordinal)
    {
        "mcast", "mcast6", "ucast", "ucast6", "ping_group", "stonith", "stonith_host", "apiauth", "respawn",
    };

    /// <summary>Longest logical line we accept (heartbeat's own buffer is 1024 characters per line).</summary>
    public const int MaxLineChars = 4096;

    public static List<HaCfLine> ParseHaCf(string text)
    {
        var lines = new List<HaCfLine>();
        int lineNo = 0;
        foreach (string raw in SplitLines(text))
        {
            lineNo++;
            string line = StripComment(raw);
            var words = Words(line, splitCommas: false);
            if (words.Count == 0)
                continue;
            var directive = words[0];
            string rest = line[(directive.Column - 1 + directive.Text.Length)..].Trim();
            var args = WholeLine.Contains(directive.Text) ? words.Skip(1).ToList() : Words(line, splitCommas: true).Skip(1).ToList();
            lines.Add(new HaCfLine(lineNo, directive, args, rest));
        }
        return lines;
    }

    public static List<HaResourceGroup> ParseHaResources(string text)
    {
        var groups = new List<HaResourceGroup>();
        var physical = SplitLines(text).ToList();
        for (int i = 0; i < physical.Count; i++)
        {
            int first = i + 1;
            var words = new List<HbWord>();
            // Columns stay those of the physical line each word is on; only the first line's are exact
            // for continued lines, which is enough to point at the place.
            while (true)
            {
                string line = StripComment(physical[i]);
                bool continued = line.TrimEnd().EndsWith('\\');
                if (continued)
                    line = line.TrimEnd()[..^1];
                words.AddRange(Words(line, splitCommas: false));
                if (!continued || i + 1 >= physical.Count)
                    break;
                i++;
            }
            if (words.Count > 0)
                groups.Add(new HaResourceGroup(first, words[0], words.Skip(1).ToList()));
        }
        return groups;
    }

    /// <summary>authkeys: (line, words) of each non-comment line.</summary>
    public static List<(int Line, List<HbWord> Words)> ParseAuthKeys(string text)
    {
        var result = new List<(int, List<HbWord>)>();
        int lineNo = 0;
        foreach (string raw in SplitLines(text))
        {
            lineNo++;
            if (raw.TrimStart().StartsWith('#'))
                continue;
            var words = Words(raw, splitCommas: false);
            if (words.Count > 0)
                result.Add((lineNo, words));
        }
        return result;
    }

    private static IEnumerable<string> SplitLines(string text) =>
        text.Replace("\r\n", "\n").Split('\n').Select(l => l.TrimEnd('\r'));

    private static string StripComment(string line)
    {
        int hash = line.IndexOf('#');
        return hash < 0 ? line : line[..hash];
    }

    private static List<HbWord> Words(string line, bool splitCommas)
    {
        var words = new List<HbWord>();
        int i = 0;
        while (i < line.Length)
        {
            while (i < line.Length && IsSeparator(line[i], splitCommas))
                i++;
            int start = i;
            while (i < line.Length && !IsSeparator(line[i], splitCommas))
                i++;
            if (i > start)
                words.Add(new HbWord(line[start..i], start + 1));
        }
        return words;
    }

    private static bool IsSeparator(char c, bool splitCommas) => c is ' ' or '\t' || (splitCommas && c == ',');

    /// <summary>
    /// A heartbeat time (cl_get_msec): a decimal number, optional blanks, an optional unit: none =
    /// seconds, <c>ms...</c> = milliseconds, <c>us</c>/<c>usec</c> = microseconds. Rounded to the
    /// millisecond. Null and a reason when it is not one.
    /// </summary>
    public static TimeSpan? ParseTime(string text, out string error)
    {
        error = "";
        int i = 0;
        while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
            i++;
        string number = text[..i];
        string unit = text[i..].Trim();
        if (number.Length == 0 || number.Count(c => c == '.') > 1 ||
            !decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal value))
        {
            error = $"'{text}' is not a heartbeat time (a number and an optional unit: none for seconds, ms, us)";
            return null;
        }
        decimal ms;
        if (unit.Length == 0)
            ms = value * 1000m;
        else if (unit.StartsWith("ms", StringComparison.Ordinal))
            ms = value;
        else if (unit is "us" or "usec")
            ms = value / 1000m;
        else
        {
            error = $"'{text}': heartbeat knows no unit '{unit}' (none for seconds, ms, us); it refuses this line too";
            return null;
        }
        if (ms > (decimal)TimeSpan.FromDays(1).TotalMilliseconds)
        {
            error = $"'{text}' is far too long a time";
            return null;
        }
        return TimeSpan.FromMilliseconds((long)Math.Round(ms, MidpointRounding.AwayFromZero));
    }

    /// <summary>cluster-glue's cl_str_to_boolean: true on yes y 1 / false off no n 0, any case.</summary>
    public static bool? ParseBool(string text) => text.ToLowerInvariant() switch
    {
        "true" or "on" or "yes" or "y" or "1" => true,
        "false" or "off" or "no" or "n" or "0" => false,
        _ => null,
    };
}
