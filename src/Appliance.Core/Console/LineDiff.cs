using System.Globalization;
using System.Text;

namespace Appliance.Core.Console;

/// <summary>
/// A unified diff of two texts by lines (what <c>compare</c> prints): Myers' O((N+M)D) shortest
/// edit script, hunks with <see cref="Context"/> lines of context, as <c>diff -u</c> prints them.
/// </summary>
internal static class LineDiff
{
    /// <summary>Unchanged lines shown around each change, as diff -u.</summary>
    public const int Context = 3;

    /// <summary>
    /// Most edits searched for. Two configs of at most 1 MiB differ by a few lines in practice; a
    /// whole rewrite costs O((N+M)D) memory for the trace, so beyond this the diff is given as
    /// "everything removed, everything added", which is still correct.
    /// </summary>
    public const int MaxEdits = 4000;

    private enum Op { Keep, Delete, Insert }

    public static string Unified(string oldText, string newText, string oldLabel, string newLabel)
    {
        var a = Lines(oldText);
        var b = Lines(newText);
        var script = Script(a, b);
        if (script.All(s => s.Op == Op.Keep))
            return "";
        var o = new StringBuilder();
        o.Append("--- ").Append(oldLabel).Append('\n');
        o.Append("+++ ").Append(newLabel).Append('\n');
        // Group edits into hunks: an edit and its context; hunks closer than 2 x Context merge.
        int n = script.Count;
        int k = 0;
        while (k < n)
        {
            while (k < n && script[k].Op == Op.Keep)
                k++;
            if (k >= n)
                break;
            int start = Math.Max(0, k - Context);
            int end = k;
            while (true)
            {
                while (end < n && script[end].Op != Op.Keep)
                    end++;
                int keep = end;
                while (keep < n && script[keep].Op == Op.Keep)
                    keep++;
                if (keep < n && keep - end <= 2 * Context)
                {
                    end = keep;
                    continue;
                }
                end = Math.Min(n, end + Context);
                break;
            }
            int oldStart = script[start].A, newStart = script[start].B;
            int oldCount = 0, newCount = 0;
            for (int i = start; i < end; i++)
            {
                if (script[i].Op != Op.Insert) oldCount++;
                if (script[i].Op != Op.Delete) newCount++;
            }
            o.Append(CultureInfo.InvariantCulture, $"@@ -{Range(oldStart, oldCount)} +{Range(newStart, newCount)} @@\n");
            for (int i = start; i < end; i++)
            {
                var s = script[i];
                o.Append(s.Op switch { Op.Keep => ' ', Op.Delete => '-', _ => '+' })
                 .Append(s.Op == Op.Insert ? b[s.B] : a[s.A]).Append('\n');
            }
            k = end;
        }
        return o.ToString();
    }

    /// <summary>diff -u's range: the 1-based start and the count; an empty range starts at the line before.</summary>
    private static string Range(int start, int count) => count switch
    {
        0 => string.Create(CultureInfo.InvariantCulture, $"{start},0"),
        1 => string.Create(CultureInfo.InvariantCulture, $"{start + 1}"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{start + 1},{count}"),
    };

    private static string[] Lines(string text)
    {
        if (text.Length == 0)
            return [];
        var lines = text.Split('\n');
        return text.EndsWith('\n') ? lines[..^1] : lines;
    }

    /// <summary>One step of the edit script: the operation and the line indexes in a and b where it stands.</summary>
    private readonly record struct Step(Op Op, int A, int B);

    /// <summary>Myers' greedy forward search with a trace per D, then a walk back from the end.</summary>
    private static List<Step> Script(string[] a, string[] b)
    {
        int n = a.Length, m = b.Length;
        int max = Math.Min(n + m, MaxEdits);
        int offset = max + 1;
        var v = new int[2 * max + 3];
        var trace = new List<int[]>();
        int found = -1;
        for (int d = 0; d <= max && found < 0; d++)
        {
            trace.Add((int[])v.Clone());
            for (int k = -d; k <= d; k += 2)
            {
                int x = k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1]) ? v[offset + k + 1] : v[offset + k - 1] + 1;
                int y = x - k;
                while (x < n && y < m && a[x] == b[y])
                {
                    x++;
                    y++;
                }
                v[offset + k] = x;
                if (x >= n && y >= m)
                {
                    found = d;
                    break;
                }
            }
        }
        if (found < 0)
            return Wholesale(n, m);

        var steps = new List<Step>();
        int cx = n, cy = m;
        for (int d = found; d > 0; d--)
        {
            var vd = trace[d];
            int k = cx - cy;
            int prevK = k == -d || (k != d && vd[offset + k - 1] < vd[offset + k + 1]) ? k + 1 : k - 1;
            int prevX = vd[offset + prevK];
            int prevY = prevX - prevK;
            while (cx > prevX && cy > prevY)
            {
                cx--;
                cy--;
                steps.Add(new Step(Op.Keep, cx, cy));
            }
            if (cx == prevX)
                steps.Add(new Step(Op.Insert, cx, --cy));
            else
                steps.Add(new Step(Op.Delete, --cx, cy));
        }
        while (cx > 0 && cy > 0)
        {
            cx--;
            cy--;
            steps.Add(new Step(Op.Keep, cx, cy));
        }
        steps.Reverse();
        return steps;
    }

    private static List<Step> Wholesale(int n, int m)
    {
        var steps = new List<Step>(n + m);
        for (int i = 0; i < n; i++)
            steps.Add(new Step(Op.Delete, i, 0));
        for (int j = 0; j < m; j++)
            steps.Add(new Step(Op.Insert, n, j));
        return steps;
    }
}
