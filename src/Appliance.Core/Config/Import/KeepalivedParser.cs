using System.Text;

namespace Appliance.Core.Config.Import;

/// <summary>A word of a keepalived statement: its text (quotes removed), where it starts, and whether it was quoted.</summary>
internal readonly record struct KaWord(string Text, int Column, bool Quoted);

/// <summary>
/// One keepalived statement: a keyword, its arguments and, for a block, its children. The importer
/// marks each statement it maps or reports (<see cref="Handled"/>), so whatever it did neither with
/// is found and reported at the end: nothing is dropped silently.
/// </summary>
internal sealed class KaNode(string path, string file, int line, int column, string keyword, List<KaWord> args, string text)
{
    /// <summary>The file as read (errors name it).</summary>
    public string Path { get; } = path;

    /// <summary>The file as the report shows it (relative to the main file's directory).</summary>
    public string File { get; } = file;
    public int Line { get; } = line;
    public int Column { get; } = column;
    public string Keyword { get; } = keyword;
    public List<KaWord> Args { get; } = args;

    /// <summary>The statement as written (comments removed), for the report.</summary>
    public string Text { get; } = text;

    /// <summary>The block's statements; null when the statement has no block.</summary>
    public List<KaNode>? Block { get; set; }

    public bool Handled { get; set; }

    public SourceRef At => new(File, Line);

    public IEnumerable<KaNode> Children => Block ?? [];

    public KaNode? Child(string keyword) => Children.LastOrDefault(c => c.Keyword == keyword);

    public string? Arg(int i) => i < Args.Count ? Args[i].Text : null;

    public IEnumerable<KaNode> SelfAndDescendants() => new[] { this }.Concat(Children.SelectMany(c => c.SelfAndDescendants()));
}

/// <summary>
/// keepalived.conf's lexical rules (keepalived 2.2.7 lib/parser.c, keepalived-lvs.md section 1):
/// <c>#</c> and <c>!</c> start a comment outside double quotes; a <c>{</c> or <c>}</c> outside
/// quotes splits a line; words are separated by blanks, a <c>"..."</c> word keeps its blanks;
/// <c>include GLOB</c> reads files relative to the including file's directory (GLOB_BRACE);
/// <c>$NAME=value</c> defines a parameter and <c>$NAME</c>/<c>${NAME}</c> uses it; <c>@ID</c> lines
/// depend on keepalived's <c>-i</c> config id and are reported, not read; <c>~SEQ</c> lines are reported.
/// Builds the statement tree; unbalanced braces and unterminated quotes are errors with file:line:col.
/// </summary>
internal sealed class KeepalivedParser(IImportFiles files, Func<string, string> display, Action<SourceRef, string, string> skipped)
{
    /// <summary>Deepest include nesting; keepalived has no limit, a loop would recurse forever.</summary>
    public const int MaxIncludeDepth = 8;

    /// <summary>Most files one import reads (the main file and everything included).</summary>
    public const int MaxFiles = 64;

    /// <summary>Longest logical line (keepalived's MAXBUF is 1024).</summary>
    public const int MaxLineChars = 4096;

    /// <summary>Deepest block nesting; keepalived's deepest is four (virtual_server, real_server, checker, url).</summary>
    public const int MaxBlockDepth = 16;

    private readonly List<ConfigError> _errors = [];
    private readonly Dictionary<string, string> _definitions = new(StringComparer.Ordinal);
    private readonly List<Item> _items = [];
    private readonly List<string> _filesRead = [];

    private abstract record Item(string File, int Line, int Column);
    private sealed record Words(string Path, string File, int Line, int Column, List<KaWord> List) : Item(File, Line, Column);
    private sealed record Open(string File, int Line, int Column) : Item(File, Line, Column);
    private sealed record Close(string File, int Line, int Column) : Item(File, Line, Column);

    public IReadOnlyList<ConfigError> Errors => _errors;

    /// <summary>The files read, in order, as shown in the report.</summary>
    public IReadOnlyList<string> FilesRead => _filesRead;

    /// <summary>The top-level statements, or null when the text cannot be read as keepalived would (errors say where).</summary>
    public List<KaNode>? Parse(string path)
    {
        var main = files.Read(path);
        if (main.Text is null)
        {
            _errors.Add(new ConfigError(path, 1, 1, main.Error ?? "no such file"));
            return null;
        }
        ReadFile(main.Path, main.Text, depth: 0);
        if (_errors.Count > 0)
            return null;
        var root = Build();
        return _errors.Count > 0 ? null : root;
    }

    private static string Directory(string path)
    {
        int slash = path.LastIndexOf('/');
        return slash < 0 ? "." : slash == 0 ? "/" : path[..slash];
    }

    private void ReadFile(string path, string text, int depth)
    {
        string shown = display(path);
        _filesRead.Add(shown);
        int lineNo = 0;
        foreach (string physical in text.Replace("\r\n", "\n").Split('\n'))
        {
            lineNo++;
            if (physical.Length > MaxLineChars)
            {
                _errors.Add(new ConfigError(path, lineNo, 1, $"the line is longer than {MaxLineChars} characters"));
                continue;
            }
            string? line = Decomment(physical, path, lineNo, out int indent);
            if (string.IsNullOrEmpty(line))
                continue;
            var at = new SourceRef(shown, lineNo);
            if (line[0] == '@')
            {
                string id = line.Split([' ', '\t'], 2)[0];
                skipped(at, line, $"{id}: only read when keepalived runs with -i {id.TrimStart('@', '^')} (a config id); the importer reads no config id: import each node's variant by hand");
                continue;
            }
            if (line[0] == '~')
            {
                skipped(at, line, "~SEQ sequences are not expanded; write the statements out");
                continue;
            }
            if (line[0] == '$' && TryDefinition(line, at))
                continue;
            if (line.Contains('$') && _definitions.Count > 0)
                line = Substitute(line);
            var words = Tokenize(line, path, lineNo, indent + 1);
            if (words is null)
                continue;
            if (words.Count == 2 && words[0].Text == "include")
            {
                Include(path, words[1].Text, at, depth);
                continue;
            }
            SplitBraces(path, shown, lineNo, words);
        }
    }

    private void Include(string including, string pattern, SourceRef at, int depth)
    {
        if (depth + 1 > MaxIncludeDepth)
        {
            _errors.Add(new ConfigError(including, at.Line, 1, $"include {pattern}: includes nest deeper than {MaxIncludeDepth} (an include loop?)"));
            return;
        }
        string resolved = pattern.StartsWith('/') ? pattern : Directory(including) + "/" + pattern;
        var matches = ImportGlob.Expand(resolved, files);
        if (matches.Count == 0)
        {
            skipped(at, $"include {pattern}", $"no file matches {display(resolved)}; keepalived goes on without it too");
            return;
        }
        foreach (string file in matches)
        {
            if (_filesRead.Count >= MaxFiles)
            {
                _errors.Add(new ConfigError(including, at.Line, 1, $"include {pattern}: more than {MaxFiles} files in all"));
                return;
            }
            var f = files.Read(file);
            if (f.Text is null)
            {
                skipped(at, $"include {pattern}", $"{file}: {f.Error ?? "cannot be read"}");
                continue;
            }
            ReadFile(f.Path, f.Text, depth + 1);
        }
    }

    private bool TryDefinition(string line, SourceRef at)
    {
        int eq = line.IndexOf('=');
        if (eq < 2)
            return false;
        string name = line[1..eq].Trim();
        if (name.Length == 0 || !(char.IsAsciiLetter(name[0]) || name[0] == '_') || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
            return false;
        string value = line[(eq + 1)..].Trim();
        if (value.EndsWith('\\'))
        {
            skipped(at, line, "multi-line parameter definitions are not expanded; write the lines out");
            return true;
        }
        _definitions[name] = value;
        return true;
    }

    private string Substitute(string line)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < line.Length; i++)
        {
            if (line[i] == '$' && i + 1 < line.Length)
            {
                bool braces = line[i + 1] == '{';
                int start = i + (braces ? 2 : 1), end = start;
                while (end < line.Length && (char.IsAsciiLetterOrDigit(line[end]) || line[end] == '_'))
                    end++;
                if (end > start && _definitions.TryGetValue(line[start..end], out string? value) && (!braces || (end < line.Length && line[end] == '}')))
                {
                    sb.Append(value);
                    i = braces ? end : end - 1;
                    continue;
                }
            }
            sb.Append(line[i]);
        }
        return sb.ToString();
    }

    /// <summary>
    /// keepalived's decomment(): a <c>#</c> or <c>!</c> outside double quotes ends the line, a
    /// backslash escapes one; leading and trailing blanks go. <paramref name="indent"/>: how many
    /// characters were removed at the start, so columns stay those of the file.
    /// </summary>
    private string? Decomment(string line, string file, int lineNo, out int indent)
    {
        int start = 0;
        while (start < line.Length && line[start] is ' ' or '\t')
            start++;
        indent = start;
        var sb = new StringBuilder();
        bool quote = false;
        for (int i = start; i < line.Length; i++)
        {
            char c = line[i];
            if (c == '"')
                quote = !quote;
            else if (c == '\\' && i + 1 < line.Length && !quote && line[i + 1] is '#' or '!')
            {
                sb.Append(line[++i]);
                continue;
            }
            else if (!quote && c is '#' or '!')
                break;
            sb.Append(c);
        }
        if (quote)
        {
            _errors.Add(new ConfigError(file, lineNo, line.IndexOf('"', start) + 1, "unterminated quote: a \" has no closing \""));
            return null;
        }
        return sb.ToString().TrimEnd(' ', '\t');
    }

    /// <summary>Blank-separated words; a word in double quotes keeps its blanks (and loses the quotes).</summary>
    private List<KaWord>? Tokenize(string line, string file, int lineNo, int firstColumn)
    {
        var words = new List<KaWord>();
        int i = 0;
        while (i < line.Length)
        {
            while (i < line.Length && char.IsWhiteSpace(line[i]))
                i++;
            if (i >= line.Length)
                break;
            int start = i;
            if (line[i] == '"')
            {
                int close = line.IndexOf('"', i + 1);
                if (close < 0)
                {
                    _errors.Add(new ConfigError(file, lineNo, firstColumn + i, "unterminated quote: a \" has no closing \""));
                    return null;
                }
                words.Add(new KaWord(line[(i + 1)..close], firstColumn + start, Quoted: true));
                i = close + 1;
                continue;
            }
            while (i < line.Length && !char.IsWhiteSpace(line[i]) && line[i] != '"')
                i++;
            words.Add(new KaWord(line[start..i], firstColumn + start, Quoted: false));
        }
        return words;
    }

    /// <summary>Splits a line's words at unquoted <c>{</c> and <c>}</c> (keepalived's read_line puts each on a line of its own).</summary>
    private void SplitBraces(string path, string file, int lineNo, List<KaWord> words)
    {
        var current = new List<KaWord>();
        void Flush()
        {
            if (current.Count > 0)
                _items.Add(new Words(path, file, lineNo, current[0].Column, current));
            current = [];
        }
        foreach (var w in words)
        {
            if (w.Quoted || (!w.Text.Contains('{') && !w.Text.Contains('}')))
            {
                current.Add(w);
                continue;
            }
            int from = 0;
            for (int k = 0; k < w.Text.Length; k++)
            {
                if (w.Text[k] is not ('{' or '}'))
                    continue;
                if (k > from)
                    current.Add(new KaWord(w.Text[from..k], w.Column + from, false));
                Flush();
                _items.Add(w.Text[k] == '{' ? new Open(path, lineNo, w.Column + k) : new Close(path, lineNo, w.Column + k));
                from = k + 1;
            }
            if (from < w.Text.Length)
                current.Add(new KaWord(w.Text[from..], w.Column + from, false));
        }
        Flush();
    }

    private List<KaNode> Build()
    {
        var root = new List<KaNode>();
        var stack = new Stack<(KaNode Owner, List<KaNode> List, Open At)>();
        var list = root;
        KaNode? last = null;
        foreach (var item in _items)
        {
            switch (item)
            {
                case Words w:
                    last = new KaNode(w.Path, w.File, w.Line, w.Column, w.List[0].Text, w.List.Skip(1).ToList(), string.Join(' ', w.List.Select(x => x.Quoted ? $"\"{x.Text}\"" : x.Text)));
                    list.Add(last);
                    break;
                case Open o:
                    if (last is null || last.Block is not null)
                    {
                        _errors.Add(new ConfigError(o.File, o.Line, o.Column, "unexpected '{': no keyword before it opens a block"));
                        return root;
                    }
                    if (stack.Count >= MaxBlockDepth)
                    {
                        _errors.Add(new ConfigError(o.File, o.Line, o.Column, $"blocks nest deeper than {MaxBlockDepth}"));
                        return root;
                    }
                    last.Block = [];
                    stack.Push((last, list, o));
                    list = last.Block;
                    last = null;
                    break;
                case Close c:
                    if (stack.Count == 0)
                    {
                        _errors.Add(new ConfigError(c.File, c.Line, c.Column, "unexpected '}': no block is open here"));
                        return root;
                    }
                    var (owner, parent, _) = stack.Pop();
                    list = parent;
                    // The closed block's statement may not take another '{'.
                    last = owner;
                    break;
            }
        }
        if (stack.Count > 0)
        {
            var (owner, _, at) = stack.Peek();
            _errors.Add(new ConfigError(at.File, at.Line, at.Column,
                $"unterminated block: the '{{' of '{owner.Text}' is never closed (the file ends first)"));
        }
        return root;
    }
}
