namespace Appliance.Core.Console;

/// <summary>A word that may come next, with a line of help.</summary>
internal readonly record struct Choice(string Word, string Help);

/// <summary>
/// What may come at a place in a command line: words to pick from, a free value described in words
/// (<c>VALUE</c>: what is expected), and whether the command may end there (Enter).
/// </summary>
internal sealed class Expectation
{
    public List<Choice> Choices { get; } = [];

    /// <summary>A value typed freely: its placeholder (<c>NAME</c>, <c>VALUE</c>) and what it must be.</summary>
    public List<Choice> Free { get; } = [];

    public bool CanEnd { get; set; }

    /// <summary>Why nothing can come here (an unknown word before the cursor), for '?'.</summary>
    public string? Problem { get; set; }

    public static Expectation End() => new() { CanEnd = true };

    public Expectation Add(string word, string help)
    {
        if (!Choices.Any(c => c.Word == word))
            Choices.Add(new Choice(word, help));
        return this;
    }
}

/// <summary>The result of Tab: the words that complete what was typed, and where the typed word starts.</summary>
internal sealed record CompletionResult(int ReplaceFrom, string Partial, IReadOnlyList<string> Matches)
{
    /// <summary>The longest text all matches start with.</summary>
    public string CommonPrefix
    {
        get
        {
            if (Matches.Count == 0)
                return Partial;
            string p = Matches[0];
            foreach (string m in Matches)
            {
                int i = 0;
                while (i < p.Length && i < m.Length && p[i] == m[i])
                    i++;
                p = p[..i];
            }
            return p;
        }
    }

    /// <summary>The matches laid out in columns for a screen <paramref name="width"/> wide.</summary>
    public string Columns(int width)
    {
        if (Matches.Count == 0)
            return "";
        int col = Math.Min(width - 1, Matches.Max(m => m.Length) + 2);
        int perLine = Math.Max(1, (width - 1) / col);
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < Matches.Count; i++)
        {
            bool last = i % perLine == perLine - 1 || i == Matches.Count - 1;
            sb.Append(last ? Matches[i] : Matches[i].PadRight(col));
            if (last)
                sb.Append('\n');
        }
        return sb.ToString();
    }
}
