using System.Text;

namespace Appliance.Core.Console;

/// <summary>
/// Splits a command line into words: blanks separate them; "double quotes" (with \" and \\) and
/// 'single quotes' (a quote doubled inside) keep blanks and are removed. Used for running a line and
/// for completing the one being typed.
/// </summary>
internal static class CommandLine
{
    /// <summary>The longest command line the console takes; a config value longer than this belongs in a file (`appliancectl config commit`).</summary>
    public const int MaxLineChars = 1024;

    /// <summary>
    /// The words of <paramref name="line"/>. <paramref name="open"/> is set when the line ends inside
    /// a quote (the last word is then the text so far); <paramref name="trailingBlank"/> when it ends
    /// with a blank (completion then starts a new word).
    /// </summary>
    public static List<Word> Split(string line, out bool open, out bool trailingBlank)
    {
        var words = new List<Word>();
        open = false;
        int i = 0;
        while (true)
        {
            while (i < line.Length && line[i] is ' ' or '\t')
                i++;
            if (i >= line.Length)
                break;
            int start = i;
            var sb = new StringBuilder();
            bool quoted = false;
            while (i < line.Length && line[i] is not (' ' or '\t'))
            {
                char c = line[i];
                if (c == '"')
                {
                    quoted = true;
                    i++;
                    while (i < line.Length && line[i] != '"')
                    {
                        if (line[i] == '\\' && i + 1 < line.Length && line[i + 1] is '"' or '\\')
                            i++;
                        sb.Append(line[i++]);
                    }
                    if (i >= line.Length)
                    {
                        open = true;
                        break;
                    }
                    i++; // closing quote
                }
                else if (c == '\'')
                {
                    quoted = true;
                    i++;
                    while (true)
                    {
                        if (i >= line.Length)
                        {
                            open = true;
                            break;
                        }
                        if (line[i] == '\'')
                        {
                            if (i + 1 < line.Length && line[i + 1] == '\'')
                            {
                                sb.Append('\'');
                                i += 2;
                                continue;
                            }
                            i++;
                            break;
                        }
                        sb.Append(line[i++]);
                    }
                }
                else
                {
                    sb.Append(c);
                    i++;
                }
                if (open)
                    break;
            }
            words.Add(new Word(sb.ToString(), quoted, start, i));
            if (open)
                break;
        }
        trailingBlank = !open && line.Length > 0 && line[^1] is ' ' or '\t';
        return words;
    }

    /// <summary>A word as it must be typed to read back as <paramref name="text"/> (quoted when it has blanks or quotes).</summary>
    public static string QuoteIfNeeded(string text)
    {
        if (text.Length > 0 && !text.Any(c => c is ' ' or '\t' or '"' or '\''))
            return text;
        return "\"" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
    }
}
