using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Appliance.Core.Config;

namespace Appliance.Core.Console;

/// <summary>What a command printed, how it ended (<see cref="ConsoleExit"/>), and whether the session is over.</summary>
internal sealed record ShellResult(string Output, int Exit, bool Ended = false)
{
    public static ShellResult Ok(string output = "") => new(output, ConsoleExit.Ok);

    public static ShellResult Bad(string message) => new("error: " + message + "\n", ConsoleExit.BadInput);

    public static ShellResult From(ConsoleReply reply) => new(Line(reply.Text), reply.Exit);

    public static string Line(string text) => text.Length == 0 || text.EndsWith('\n') ? text : text + "\n";
}

/// <summary>
/// The console's command language (pure): operational mode (<c>show ...</c>, <c>standby</c>,
/// <c>takeover</c>, <c>fence NODE</c>, <c>ping</c>, <c>configure</c>) and configuration mode
/// (<c>set</c>, <c>delete</c>, <c>show</c>, <c>compare</c>, <c>validate</c>, <c>commit [confirmed
/// MINUTES]</c>, <c>confirm</c>, <c>rollback N</c>, <c>show history</c>, <c>run</c>, <c>exit</c>).
/// A line goes to <see cref="Run"/>; Tab to <see cref="Complete"/>; '?' to <see cref="Help"/>. The
/// daemon and the machine are behind <see cref="IConsoleBackend"/>. One instance per session.
/// </summary>
internal sealed partial class ConsoleShell(IConsoleBackend backend)
{
    /// <summary>The longest <c>commit confirmed</c> window: a day; a change nobody confirms by then was not meant to stay.</summary>
    public const double MaxConfirmMinutes = 24 * 60;

    /// <summary>Longest comment kept with a generation (one line of <c>show history</c>).</summary>
    public const int MaxCommentChars = 200;

    /// <summary>Lines of <c>show log</c> when not given, and the most it takes.</summary>
    public const int DefaultLogLines = 40;
    public const int MaxLogLines = 1000;

    /// <summary>Echo requests of <c>ping</c> when not given, and the most.</summary>
    public const int DefaultPingCount = 3;
    public const int MaxPingCount = 20;

    private Candidate? _candidate;
    private bool _exitWarned;
    private Func<string, ShellResult>? _question;
    private string _questionPrompt = "";
    private ConfigSnapshot? _runningCache;

    public bool Configuring => _candidate is not null;

    public Candidate? Candidate => _candidate;

    /// <summary>The prompt: <c>alpha&gt; </c> in operational mode, <c>alpha# </c> in configuration mode, or a pending question.</summary>
    public string Prompt => _question is not null ? _questionPrompt : $"{backend.Node}{(Configuring ? "#" : ">")} ";

    /// <summary>A question is pending: the next line is its answer (no completion, no history).</summary>
    public bool Asking => _question is not null;

    private static readonly (string Word, string Help)[] OperationalCommands =
    [
        ("configure", "edit a candidate config, then commit it"),
        ("show", "show status, peer, resources, fence history, log, config, history"),
        ("standby", "release the resources to the peer and stay standby"),
        ("takeover", "take the resources (force: ask an active peer to release them first)"),
        ("fence", "fence a node now: cut its power (asks first)"),
        ("confirm", "keep the last `commit confirmed` (stops its rollback)"),
        ("ping", "send ICMP echo requests from this node"),
        ("help", "the commands"),
        ("exit", "leave the console"),
    ];

    private static readonly (string Word, string Help)[] ConfigurationCommands =
    [
        ("set", "set an option: set PATH VALUE"),
        ("delete", "delete an option, a section or a list item: delete PATH"),
        ("show", "show the candidate (or the part at PATH); show history"),
        ("compare", "the candidate's changes against the running config (a unified diff)"),
        ("validate", "check the candidate as a commit would"),
        ("commit", "check, write and apply the candidate: commit [confirmed MINUTES] [comment TEXT]"),
        ("confirm", "keep the last `commit confirmed` (stops its rollback)"),
        ("rollback", "load an older generation into the candidate: rollback N (0: drop the changes)"),
        ("run", "run an operational command: run show status"),
        ("help", "the commands"),
        ("exit", "leave configuration mode (warns about uncommitted changes)"),
    ];

    private static readonly (string Word, string Help)[] ShowTopics =
    [
        ("status", "this node, its peer, the links, resources and timers"),
        ("peer", "the peer and each heartbeat link"),
        ("resources", "the resources and their state"),
        ("fence", "fence history: every fencing operation"),
        ("log", "the daemon's latest log lines: show log [LINES]"),
        ("config", "the running config, or the part at PATH: show config [PATH]"),
        ("history", "the config generations: version, when, who, comment"),
    ];

    /// <summary>Runs one command line (or answers the pending question).</summary>
    public ShellResult Run(string line)
    {
        if (_question is { } answer)
        {
            _question = null;
            return answer(line.Trim());
        }
        var words = CommandLine.Split(line, out bool open, out _);
        if (open)
            return ShellResult.Bad("a quote is not closed");
        if (words.Count == 0)
            return ShellResult.Ok();
        bool exitAgain = _exitWarned && words[0].Text is "exit" or "quit";
        _exitWarned = false;
        _runningCache = null;
        if (Configuring)
            return RunConfiguration(words, line, exitAgain);
        return RunOperational(words);
    }

    /// <summary>^D or the end of piped input: the session ends; a candidate's changes are dropped.</summary>
    public ShellResult EndOfInput()
    {
        string note = _candidate is { Changed: true } ? "the candidate's uncommitted changes are discarded\n" : "";
        _candidate = null;
        _question = null;
        return new ShellResult(note, ConsoleExit.Ok, Ended: true);
    }

    // ---- operational mode ------------------------------------------------------------------

    private ShellResult RunOperational(List<Word> words)
    {
        var w = words.Select(x => x.Text).ToList();
        switch (w[0])
        {
            case "configure" when w.Count == 1:
                return Configure();
            case "show" when w.Count >= 2:
                return Show(w.Skip(1).ToList());
            case "show":
                return ShellResult.Bad("show what? " + string.Join(", ", ShowTopics.Select(t => t.Word)));
            case "standby" when w.Count == 1:
                return ShellResult.From(backend.Standby());
            case "takeover" when w.Count == 1 || (w.Count == 2 && w[1] == "force"):
                return ShellResult.From(backend.Takeover(w.Count == 2));
            case "fence" when w.Count == 2:
                return AskFence(w[1]);
            case "confirm" when w.Count == 1:
                return ShellResult.From(backend.Confirm());
            case "ping":
                return Ping(w);
            case "help" when w.Count == 1:
                return ShellResult.Ok(HelpList(OperationalCommands));
            case "exit" or "quit" when w.Count == 1:
                return new ShellResult("", ConsoleExit.Ok, Ended: true);
            case "configure" or "standby" or "takeover" or "fence" or "confirm" or "help" or "exit" or "quit":
                return ShellResult.Bad($"usage: {Usage(w[0])}");
            case "set" or "delete" or "commit" or "compare" or "rollback" or "validate":
                return ShellResult.Bad($"'{w[0]}' is a configuration command: type `configure` first");
            default:
                return Unknown(w[0], OperationalCommands);
        }
    }

    private static string Usage(string command) => command switch
    {
        "configure" => "configure",
        "standby" => "standby",
        "takeover" => "takeover [force]",
        "fence" => "fence NODE",
        "confirm" => "confirm",
        "ping" => $"ping HOST [count N] (N 1 to {MaxPingCount})",
        "set" => "set PATH VALUE",
        "delete" => "delete PATH",
        "commit" => $"commit [confirmed MINUTES] [comment TEXT] (MINUTES above 0, at most {MaxConfirmMinutes})",
        "rollback" => "rollback N (0: drop the candidate's changes; N: the generation N before the running one)",
        "run" => "run COMMAND (an operational command)",
        "validate" or "compare" => command,
        _ => command,
    };

    private static ShellResult Unknown(string word, (string Word, string Help)[] commands)
    {
        string? near = Suggest.Closest(word, commands.Select(c => c.Word));
        return ShellResult.Bad($"unknown command '{Clip(word)}'" + (near is null ? "" : $"; did you mean '{near}'?") + " (`help` lists the commands)");
    }

    private static string Clip(string s) => s.Length > 40 ? s[..40] + "..." : s;

    private ShellResult Show(List<string> w)
    {
        switch (w[0])
        {
            case "status" when w.Count == 1:
                return ShellResult.From(backend.Show(ShowTopic.Status, 0));
            case "peer" when w.Count == 1:
                return ShellResult.From(backend.Show(ShowTopic.Peer, 0));
            case "resources" when w.Count == 1:
                return ShellResult.From(backend.Show(ShowTopic.Resources, 0));
            case "fence" when w.Count == 2 && w[1] == "history":
                return ShellResult.From(backend.Show(ShowTopic.FenceHistory, 0));
            case "history" when w.Count == 1:
                return ShellResult.From(backend.Show(ShowTopic.History, 0));
            case "log" when w.Count == 1:
                return ShellResult.From(backend.Show(ShowTopic.Log, DefaultLogLines));
            case "log" when w.Count == 2:
                if (!int.TryParse(w[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1 || n > MaxLogLines)
                    return ShellResult.Bad($"show log LINES: LINES is 1 to {MaxLogLines}, got '{Clip(w[1])}'");
                return ShellResult.From(backend.Show(ShowTopic.Log, n));
            case "config":
            {
                var running = backend.Generation(null, out string error);
                if (running is null)
                    return new ShellResult(ShellResult.Line("error: " + error), ConsoleExit.Refused);
                if (w.Count == 1)
                    return ShellResult.Ok(ShellResult.Line($"# generation {running.Version}, sha256 {running.Sha256}\n" + running.Text));
                var tree = ConfigTree.Parse("running", running.Text, out var errors);
                if (tree is null)
                    return new ShellResult(ShellResult.Line("error: " + string.Join("\n", errors)), ConsoleExit.Refused);
                string? text = Candidate.Show(tree, w.Skip(1).ToList(), out error);
                return text is null ? ShellResult.Bad(error) : ShellResult.Ok(text);
            }
            default:
            {
                string? near = Suggest.Closest(w[0], ShowTopics.Select(t => t.Word));
                return ShellResult.Bad($"show {Clip(string.Join(' ', w))}: " + (ShowTopics.Any(t => t.Word == w[0])
                    ? "takes no more words here" + (w[0] is "fence" ? " (show fence history)" : w[0] is "log" ? " (show log [LINES])" : "")
                    : $"unknown; " + (near is null ? "" : $"did you mean '{near}'? ") + "one of " + string.Join(", ", ShowTopics.Select(t => t.Word))));
            }
        }
    }

    private ShellResult AskFence(string node)
    {
        var nodes = NodeNames();
        if (nodes.Count > 0 && !nodes.Contains(node))
            return ShellResult.Bad($"fence: unknown node '{Clip(node)}' (nodes: {string.Join(", ", nodes)})");
        _questionPrompt = $"fence {node}: cut {node}'s power now? type 'yes' to fence it: ";
        _question = answer => answer == "yes"
            ? ShellResult.From(backend.Fence(node))
            : new ShellResult($"not fenced: the answer was not 'yes'\n", ConsoleExit.Refused);
        return ShellResult.Ok();
    }

    private ShellResult Ping(List<string> w)
    {
        int count = DefaultPingCount;
        if (w.Count is not (2 or 4) || (w.Count == 4 && (w[2] != "count" ||
            !int.TryParse(w[3], NumberStyles.None, CultureInfo.InvariantCulture, out count) || count < 1 || count > MaxPingCount)))
            return ShellResult.Bad("usage: " + Usage("ping"));
        string host = w[1];
        if (host.Length > 253 || host.StartsWith('-') || !host.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or ':' or '%' or '_'))
            return ShellResult.Bad($"ping: '{Clip(host)}' is not an address or a host name");
        return ShellResult.From(backend.Ping(host, count));
    }

    private ShellResult Configure()
    {
        var running = backend.Generation(null, out string error);
        if (running is null)
            return new ShellResult(ShellResult.Line("error: cannot read the running config: " + error), ConsoleExit.Refused);
        var candidate = Candidate.From(running, out error);
        if (candidate is null)
            return new ShellResult(ShellResult.Line("error: the running config cannot be edited here: " + error), ConsoleExit.Refused);
        _candidate = candidate;
        return ShellResult.Ok($"configuration mode: the candidate is generation {running.Version} (sha256 {Short(running.Sha256)}); " +
            "`commit` applies it, `exit` leaves, `?` helps\n");
    }

    private static string Short(string sha) => sha.Length > 12 ? sha[..12] : sha;

    // ---- configuration mode ----------------------------------------------------------------

    private ShellResult RunConfiguration(List<Word> words, string line, bool exitAgain)
    {
        var c = _candidate!;
        var w = words.Select(x => x.Text).ToList();
        switch (w[0])
        {
            case "set":
            {
                string? error = c.Set(words.Skip(1).ToList(), line);
                return error is null ? ShellResult.Ok() : ShellResult.Bad(error);
            }
            case "delete":
            {
                string? error = c.Delete(words.Skip(1).ToList());
                return error is null ? ShellResult.Ok() : ShellResult.Bad(error);
            }
            case "show" when w.Count == 2 && w[1] == "history":
                return ShellResult.From(backend.Show(ShowTopic.History, 0));
            case "show":
            {
                string? text = Candidate.Show(c.Tree, w.Skip(1).ToList(), out string error);
                return text is null ? ShellResult.Bad(error) : ShellResult.Ok(text);
            }
            case "compare" when w.Count == 1:
            {
                string diff = LineDiff.Unified(c.BaseText, c.Text, $"running (generation {c.Base.Version})", "candidate");
                return ShellResult.Ok(diff.Length == 0 ? $"no changes: the candidate is generation {c.Base.Version}\n" : diff);
            }
            case "validate" when w.Count == 1:
            {
                var errors = Check(c);
                return errors.Length == 0 ? ShellResult.Ok("the candidate is valid\n") : new ShellResult(errors, ConsoleExit.BadInput);
            }
            case "commit":
                return Commit(c, words);
            case "confirm" when w.Count == 1:
                return ShellResult.From(backend.Confirm());
            case "rollback" when w.Count == 2:
                return Rollback(c, w[1]);
            case "run" when w.Count >= 2:
            {
                // An operational command from configuration mode; its own `configure` and `exit` make no sense here.
                if (w[1] is "configure" or "exit" or "quit")
                    return ShellResult.Bad($"run {w[1]}: not from configuration mode");
                var saved = _candidate;
                _candidate = null;
                try
                {
                    return RunOperational(words.Skip(1).ToList());
                }
                finally
                {
                    _candidate ??= saved;
                }
            }
            case "help" when w.Count == 1:
                return ShellResult.Ok(HelpList(ConfigurationCommands));
            case "exit" or "quit" when w.Count == 1:
                if (c.Changed && !exitAgain)
                {
                    _exitWarned = true;
                    return new ShellResult("warning: the candidate has uncommitted changes (`compare` shows them); " +
                        "`exit` again discards them, `commit` applies them\n", ConsoleExit.Refused);
                }
                _candidate = null;
                return ShellResult.Ok(c.Changed ? "left configuration mode; the uncommitted changes are discarded\n" : "");
            case "compare" or "validate" or "confirm" or "rollback" or "run" or "help" or "exit" or "quit":
                return ShellResult.Bad("usage: " + Usage(w[0]));
            case "configure":
                return ShellResult.Bad("already in configuration mode");
            case "standby" or "takeover" or "fence" or "ping":
                return ShellResult.Bad($"'{w[0]}' is an operational command: `run {w[0]} ...`, or `exit` first");
            default:
                return Unknown(w[0], ConfigurationCommands);
        }
    }

    private ShellResult Commit(Candidate c, List<Word> words)
    {
        double? minutes = null;
        string comment = "";
        for (int i = 1; i < words.Count; i++)
        {
            string word = words[i].Text;
            if (word == "confirmed" && minutes is null && i + 1 < words.Count)
            {
                if (!double.TryParse(words[i + 1].Text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double m) ||
                    !(m > 0) || m > MaxConfirmMinutes)
                    return ShellResult.Bad($"commit confirmed MINUTES: MINUTES is more than 0 and at most {MaxConfirmMinutes} (fractions allowed: 0.5 is 30 s), got '{Clip(words[i + 1].Text)}'");
                minutes = m;
                i++;
            }
            else if (word == "comment" && comment.Length == 0 && i + 1 < words.Count)
            {
                comment = string.Join(' ', words.Skip(i + 1).Select(x => x.Text));
                if (comment.Length > MaxCommentChars || comment.Any(char.IsControl))
                    return ShellResult.Bad($"commit comment: at most {MaxCommentChars} printable characters");
                break;
            }
            else
            {
                return ShellResult.Bad("usage: " + Usage("commit"));
            }
        }
        if (!c.Changed)
            return ShellResult.Ok($"nothing to commit: the candidate is generation {c.Base.Version}" +
                (minutes is null ? "" : " (a pending `commit confirmed` is kept with `confirm`)") + "\n");
        string errors = Check(c);
        if (errors.Length > 0)
            return new ShellResult(errors + "commit refused: the candidate is not valid; nothing was written\n", ConsoleExit.BadInput);
        string text = c.Text;
        var reply = backend.Commit(text, c.Base.Version, comment, minutes);
        if (reply.Reply.Success && reply.Version is { } version)
        {
            var committed = backend.Generation(version, out _) ?? new ConfigSnapshot(text, version, "");
            if (ConfigTree.Parse("committed", committed.Text, out _) is { } tree)
                c.Rebase(committed, tree);
        }
        return ShellResult.From(reply.Reply);
    }

    private ShellResult Rollback(Candidate c, string n)
    {
        if (!int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out int back) || back < 0)
            return ShellResult.Bad("usage: " + Usage("rollback"));
        if (back == 0)
        {
            c.Load(c.BaseTree);
            return ShellResult.Ok($"the candidate is generation {c.Base.Version} again (changes dropped)\n");
        }
        long version = c.Base.Version - back;
        if (version < 1)
            return new ShellResult($"error: there is no generation {back} before generation {c.Base.Version}\n", ConsoleExit.Refused);
        var old = backend.Generation(version, out string error);
        if (old is null)
            return new ShellResult(ShellResult.Line("error: " + error), ConsoleExit.Refused);
        var tree = ConfigTree.Parse($"generation {version}", old.Text, out var errors);
        if (tree is null)
            return new ShellResult(ShellResult.Line("error: " + string.Join("\n", errors)), ConsoleExit.Refused);
        c.Load(tree);
        return ShellResult.Ok($"loaded generation {version} into the candidate; `compare` shows what a commit would change, `commit` applies it\n");
    }

    /// <summary>The checker's errors about the candidate, each told as the path a person types ("" when valid).</summary>
    private string Check(Candidate c)
    {
        var (text, map) = c.Render();
        var errors = backend.Check(text);
        var sb = new StringBuilder();
        foreach (var e in errors)
            sb.Append("error: ").Append(Describe(e, c.Tree, map)).Append('\n');
        return sb.ToString();
    }

    /// <summary>
    /// An error of the checker about the written candidate, told as a console path: the checker's own
    /// path (<c>nodes[0].links[1].baud</c>) with list indexes turned into item names
    /// (<c>nodes alpha links lan1 baud</c>), or, for an error without one, the path written at its line:col.
    /// </summary>
    internal static string Describe(ConfigError e, TreeMap tree, PathMap map)
    {
        if (e.File != CandidateFile)
            return e.ToString(); // a board profile's own error
        var m = LoaderPath().Match(e.Message);
        if (m.Success && Translate(e.Message[..(m.Length - 2)], tree) is { } path)
            return $"{path}: {e.Message[m.Length..]}";
        return $"{map.At(e.Line, e.Column) ?? "(top level)"}: {e.Message}";
    }

    /// <summary><c>nodes[0].links[1].baud</c> as <c>nodes alpha links lan1 baud</c>; null when the tree has no such place.</summary>
    private static string? Translate(string loaderPath, TreeMap tree)
    {
        var tokens = new List<string>();
        TreeNode? node = tree;
        foreach (var segment in LoaderSegment().Matches(loaderPath).Cast<Match>())
        {
            string key = segment.Groups[1].Value;
            tokens.Add(key);
            node = (node as TreeMap)?.Get(key);
            foreach (Capture index in segment.Groups[2].Captures)
            {
                if (node is not TreeList list || !int.TryParse(index.Value, NumberStyles.None, CultureInfo.InvariantCulture, out int i) || i >= list.Items.Count)
                    return null;
                node = list.Items[i];
                if (node is TreeMap item)
                    tokens.Add(YamlWriter.ItemToken(item, i));
            }
        }
        return tokens.Count == 0 ? null : string.Join(' ', tokens);
    }

    [GeneratedRegex(@"([a-z_][a-z0-9_-]*)(?:\[([0-9]+)\])*")]
    private static partial Regex LoaderSegment();

    /// <summary>The name the candidate goes by in the checker's errors.</summary>
    public const string CandidateFile = "candidate";

    [GeneratedRegex(@"^[a-z_][a-z0-9_-]*(\[[^\]]*\])*(\.[a-z_][a-z0-9_-]*(\[[^\]]*\])*)*: ")]
    private static partial Regex LoaderPath();

    private List<string> NodeNames()
    {
        var tree = _candidate?.Tree ?? RunningTree();
        return tree is null ? [] : ConfigPath.Names(tree.Get("nodes") as TreeList, "name").ToList();
    }

    private TreeMap? RunningTree()
    {
        _runningCache ??= backend.Generation(null, out _);
        return _runningCache is null ? null : ConfigTree.Parse("running", _runningCache.Text, out _);
    }

    private static string HelpList(IEnumerable<(string Word, string Help)> commands) =>
        FormatChoices(commands.Select(c => new Choice(c.Word, c.Help)), []) + "Tab completes; '?' lists what may come next; ^C drops the line.\n";
}
