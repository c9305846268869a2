namespace Appliance.Core.Config;

/// <summary>"Did you mean 'keepalive'?" for a mistyped key.</summary>
internal static class Suggest
{
    /// <summary>Edits allowed between a typo and its suggestion; beyond this a guess is noise.</summary>
    public const int MaxDistance = 2;

    /// <summary>
    /// The closest of <paramref name="candidates"/> to <paramref name="typed"/>: within
    /// <see cref="MaxDistance"/> edits, or one a prefix of the other (<c>keep</c>,
    /// <c>keepalive_ms</c>); ties go to the first declared. Null when nothing is close.
    /// </summary>
    public static string? Closest(string typed, IEnumerable<string> candidates)
    {
        string? best = null;
        int bestScore = int.MaxValue;
        foreach (var c in candidates)
        {
            int d = Distance(typed, c, MaxDistance + 1);
            bool prefix = typed.Length >= 2 && (c.StartsWith(typed, StringComparison.Ordinal) || typed.StartsWith(c, StringComparison.Ordinal));
            if (d > MaxDistance && !prefix)
                continue;
            int score = Math.Min(d, MaxDistance + 1);
            if (score < bestScore)
            {
                best = c;
                bestScore = score;
            }
        }
        return best;
    }

    /// <summary>Levenshtein distance, or <paramref name="cap"/> when it is at least that (the typed key may be long garbage).</summary>
    public static int Distance(string a, string b, int cap)
    {
        if (Math.Abs(a.Length - b.Length) >= cap)
            return cap;
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) prev[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            int rowMin = cur[0];
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                cur[j] = Math.Min(Math.Min(prev[j] + 1, cur[j - 1] + 1), prev[j - 1] + cost);
                rowMin = Math.Min(rowMin, cur[j]);
            }
            if (rowMin >= cap)
                return cap;
            (prev, cur) = (cur, prev);
        }
        return Math.Min(prev[b.Length], cap);
    }
}
