using System.Text;

namespace Appliance.Core.Config.Import;

/// <summary>A file as the importer reads it: its text, or why there is none.</summary>
public sealed record ImportFile(string Path, string? Text, string? Error)
{
    public static ImportFile Missing(string path) => new(path, null, null);

    /// <summary>The file does not exist (no error to report beyond that).</summary>
    public bool IsMissing => Text is null && Error is null;
}

/// <summary>
/// The port through which an importer reads its sources (Core opens no files). The edge
/// (Appliance.Linux <c>ImportSourceFiles</c>) implements it on the real file system.
/// </summary>
public interface IImportFiles
{
    /// <summary>The whole text of <paramref name="path"/>; <see cref="ImportFile.IsMissing"/> when there is no such file.</summary>
    ImportFile Read(string path);

    /// <summary>The names of the regular files and directories in <paramref name="directory"/>; null when it is not a readable directory.</summary>
    IReadOnlyList<string>? List(string directory);

    /// <summary>Whether <paramref name="path"/> is a directory.</summary>
    bool IsDirectory(string path);
}

/// <summary>
/// glob(3) as keepalived's <c>include</c> uses it (GLOB_BRACE, GLOB_MARK: directories left out):
/// <c>*</c>, <c>?</c>, <c>[...]</c> within one path segment, <c>{a,b}</c> alternatives, sorted.
/// Pure over <see cref="IImportFiles.List"/>.
/// </summary>
public static class ImportGlob
{
    /// <summary>Most paths one pattern may expand to; keepalived configs include a handful.</summary>
    public const int MaxMatches = 256;

    /// <summary>Most alternatives brace expansion may produce.</summary>
    private const int MaxBraceExpansions = 64;

    public static IReadOnlyList<string> Expand(string pattern, IImportFiles files)
    {
        var results = new SortedSet<string>(StringComparer.Ordinal);
        foreach (string alternative in ExpandBraces(pattern))
        {
            foreach (string path in Match(alternative, files))
            {
                results.Add(path);
                if (results.Count >= MaxMatches)
                    return [.. results];
            }
        }
        return [.. results];
    }

    private static bool HasWildcard(string segment) => segment.IndexOfAny(['*', '?', '[']) >= 0;

    private static IEnumerable<string> Match(string pattern, IImportFiles files)
    {
        if (!pattern.Split('/').Any(HasWildcard))
        {
            // Without wildcards glob(3) still returns only what exists.
            int slash = pattern.LastIndexOf('/');
            string dir = slash < 0 ? "." : slash == 0 ? "/" : pattern[..slash];
            if (files.List(dir)?.Contains(pattern[(slash + 1)..]) == true && !files.IsDirectory(pattern))
                yield return pattern;
            yield break;
        }
        bool absolute = pattern.StartsWith('/');
        var segments = pattern.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var current = new List<string> { absolute ? "/" : "." };
        for (int i = 0; i < segments.Length; i++)
        {
            bool last = i == segments.Length - 1;
            var next = new List<string>();
            foreach (string dir in current)
            {
                if (!HasWildcard(segments[i]))
                {
                    next.Add(Join(dir, segments[i]));
                    continue;
                }
                var names = files.List(dir);
                if (names is null)
                    continue;
                foreach (string name in names.Order(StringComparer.Ordinal))
                {
                    // glob(3) leaves out hidden names unless the pattern starts with a dot.
                    if (name.StartsWith('.') && !segments[i].StartsWith('.'))
                        continue;
                    if (WildcardMatch(segments[i], name))
                        next.Add(Join(dir, name));
                }
            }
            current = next;
            if (current.Count == 0)
                yield break;
            if (!last)
                current = current.Where(files.IsDirectory).ToList();
        }
        foreach (string path in current)
            if (!files.IsDirectory(path))
                yield return absolute || !path.StartsWith("./", StringComparison.Ordinal) ? path : path[2..];
    }

    private static string Join(string dir, string name) => dir == "/" ? "/" + name : dir + "/" + name;

    /// <summary>fnmatch(3) for one segment: <c>*</c>, <c>?</c>, <c>[abc]</c>, <c>[a-z]</c>, <c>[!x]</c>, <c>\x</c>.</summary>
    public static bool WildcardMatch(string pattern, string name) => MatchAt(pattern, 0, name, 0);

    private static bool MatchAt(string p, int pi, string s, int si)
    {
        while (pi < p.Length)
        {
            char c = p[pi];
            if (c == '*')
            {
                while (pi < p.Length && p[pi] == '*')
                    pi++;
                if (pi == p.Length)
                    return true;
                for (int k = si; k <= s.Length; k++)
                    if (MatchAt(p, pi, s, k))
                        return true;
                return false;
            }
            if (si >= s.Length)
                return false;
            if (c == '?')
            {
                pi++;
                si++;
                continue;
            }
            if (c == '[')
            {
                int end = p.IndexOf(']', pi + 2);
                if (end > 0)
                {
                    bool negate = p[pi + 1] is '!' or '^';
                    int from = negate ? pi + 2 : pi + 1;
                    bool hit = false;
                    for (int k = from; k < end; k++)
                    {
                        if (k + 2 < end && p[k + 1] == '-')
                        {
                            hit |= s[si] >= p[k] && s[si] <= p[k + 2];
                            k += 2;
                        }
                        else
                            hit |= s[si] == p[k];
                    }
                    if (hit == negate)
                        return false;
                    pi = end + 1;
                    si++;
                    continue;
                }
            }
            if (c == '\\' && pi + 1 < p.Length)
                c = p[++pi];
            if (c != s[si])
                return false;
            pi++;
            si++;
        }
        return si == s.Length;
    }

    /// <summary>Brace expansion: <c>a{b,c}d</c> → <c>abd</c>, <c>acd</c>; nested braces work; unbalanced ones are literal.</summary>
    public static IReadOnlyList<string> ExpandBraces(string pattern)
    {
        var done = new List<string>();
        var todo = new Queue<string>([pattern]);
        while (todo.TryDequeue(out var text))
        {
            int open = -1, depth = 0, close = -1;
            var commas = new List<int>();
            for (int i = 0; i < text.Length; i++)
            {
                if (text[i] == '\\')
                {
                    i++;
                    continue;
                }
                if (text[i] == '{')
                {
                    if (depth++ == 0)
                        open = i;
                }
                else if (text[i] == '}' && depth > 0)
                {
                    if (--depth == 0)
                    {
                        close = i;
                        break;
                    }
                }
                else if (text[i] == ',' && depth == 1)
                    commas.Add(i);
            }
            if (close < 0 || commas.Count == 0)
            {
                done.Add(text);
                continue;
            }
            string head = text[..open], tail = text[(close + 1)..];
            int start = open + 1;
            foreach (int comma in commas.Append(close))
            {
                todo.Enqueue(new StringBuilder(head).Append(text, start, comma - start).Append(tail).ToString());
                start = comma + 1;
            }
            if (todo.Count + done.Count > MaxBraceExpansions)
                return [pattern];
        }
        return done;
    }
}
