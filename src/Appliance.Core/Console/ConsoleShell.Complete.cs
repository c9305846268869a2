using System.Text;
using Appliance.Core.Config;

namespace Appliance.Core.Console;

// Completion (Tab) and help ('?'): what may come at the cursor, from the command table, the option
// table (ConfigSchema: option names, help, enum values) and the candidate (names of list items,
// fence devices, vip resources, nodes).
internal sealed partial class ConsoleShell
{
    /// <summary>Width help lines are cut to (a dumb 80-column terminal, one column spare).</summary>
    public const int HelpWidth = 79;

    /// <summary>Tab: the words that complete the word before the cursor.</summary>
    public CompletionResult Complete(string beforeCursor)
    {
        if (Asking)
            return new CompletionResult(beforeCursor.Length, "", []);
        var (done, partial, from) = Split(beforeCursor, out bool open);
        if (open)
            return new CompletionResult(beforeCursor.Length, "", []);
        var exp = Expect(done);
        var matches = exp.Choices.Select(c => c.Word).Where(w => w.StartsWith(partial, StringComparison.Ordinal)).ToList();
        return new CompletionResult(from, partial, matches);
    }

    /// <summary>'?': what may come at the cursor, one line each with its help.</summary>
    public string Help(string beforeCursor)
    {
        if (Asking)
            return "answer the question, then Enter\n";
        var (done, partial, _) = Split(beforeCursor, out bool open);
        if (open)
            return "a quoted value: close the quote\n";
        var exp = Expect(done);
        if (exp.Problem is not null)
            return "error: " + exp.Problem + "\n";
        var choices = exp.Choices.Where(c => c.Word.StartsWith(partial, StringComparison.Ordinal)).ToList();
        var free = partial.Length == 0 || choices.Count == 0 ? exp.Free : [];
        if (choices.Count == 0 && free.Count == 0 && !exp.CanEnd)
            return partial.Length > 0 ? $"nothing here starts with '{partial}'\n" : "nothing more may follow\n";
        var sb = new StringBuilder(FormatChoices(choices, free));
        if (exp.CanEnd && partial.Length == 0)
            sb.Append("  <Enter>\n");
        return sb.ToString();
    }

    private static (List<string> Done, string Partial, int From) Split(string beforeCursor, out bool open)
    {
        var words = CommandLine.Split(beforeCursor, out open, out bool trailing);
        if (words.Count == 0 || trailing)
            return (words.Select(w => w.Text).ToList(), "", beforeCursor.Length);
        return (words.Take(words.Count - 1).Select(w => w.Text).ToList(), words[^1].Text, words[^1].Start);
    }

    internal static string FormatChoices(IEnumerable<Choice> choices, IEnumerable<Choice> free)
    {
        var all = choices.Concat(free).ToList();
        if (all.Count == 0)
            return "";
        int col = Math.Min(24, all.Max(c => c.Word.Length) + 2);
        var sb = new StringBuilder();
        foreach (var c in all)
        {
            string head = "  " + c.Word.PadRight(col);
            if (head.Length > col + 2)
                head += " ";
            string line = head + c.Help;
            sb.Append(line.Length > HelpWidth ? line[..(HelpWidth - 3)] + "..." : line).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>What may follow the words <paramref name="done"/> in the current mode.</summary>
    internal Expectation Expect(IReadOnlyList<string> done)
    {
        var commands = Configuring ? ConfigurationCommands : OperationalCommands;
        if (done.Count == 0)
        {
            var e = new Expectation();
            foreach (var (word, help) in commands)
                e.Add(word, help);
            return e;
        }
        var rest = done.Skip(1).ToList();
        return (Configuring, done[0]) switch
        {
            (true, "set") => ExpectPath(rest, PathUse.Set),
            (true, "delete") => ExpectPath(rest, PathUse.Delete),
            (true, "show") => rest.Count == 0 ? ExpectPath(rest, PathUse.Show).Add("history", "the config generations: version, when, who, comment")
                : rest is ["history"] ? Expectation.End() : ExpectPath(rest, PathUse.Show),
            (true, "commit") => ExpectCommit(rest),
            (true, "rollback") => rest.Count == 0 ? FreeValue("N", "generations back from the running one (0: drop the candidate's changes)") : Expectation.End(),
            (true, "run") => ExpectOperational(rest),
            (true, "compare" or "validate" or "confirm" or "help" or "exit" or "quit") => rest.Count == 0 ? Expectation.End() : new Expectation(),
            (true, _) => new Expectation { Problem = $"unknown command '{done[0]}'" },
            _ => ExpectOperational(done),
        };
    }

    private Expectation ExpectOperational(IReadOnlyList<string> done)
    {
        if (done.Count == 0)
        {
            var e = new Expectation();
            foreach (var (word, help) in OperationalCommands.Where(c => c.Word is not ("configure" or "exit" or "help") || !Configuring))
                e.Add(word, help);
            return e;
        }
        var rest = done.Skip(1).ToList();
        switch (done[0])
        {
            case "show":
                if (rest.Count == 0)
                {
                    var e = new Expectation();
                    foreach (var (word, help) in ShowTopics)
                        e.Add(word, help);
                    return e;
                }
                return rest[0] switch
                {
                    "fence" when rest.Count == 1 => new Expectation().Add("history", "every fencing operation: target, device, outcome, reason, time"),
                    "log" when rest.Count == 1 => FreeValue("LINES", $"how many of the latest lines (default {DefaultLogLines}, at most {MaxLogLines})", canEnd: true),
                    "config" => RunningTree() is { } tree ? ExpectPathIn(tree, rest.Skip(1).ToList(), PathUse.Show) : Expectation.End(),
                    "status" or "peer" or "resources" or "history" when rest.Count == 1 => Expectation.End(),
                    "fence" when rest is [_, "history"] => Expectation.End(),
                    "log" when rest.Count == 2 => Expectation.End(),
                    _ => new Expectation(),
                };
            case "takeover":
                return rest.Count == 0 ? new Expectation { CanEnd = true }.Add("force", "ask an active peer to release the resources first (a planned switchover)") : Expectation.End();
            case "fence":
                if (rest.Count > 0)
                    return new Expectation();
                var fence = new Expectation();
                foreach (string n in NodeNames())
                    fence.Add(n, n == backend.Node ? "this node (refused: a node never fences itself)" : "cut its power now (asks first)");
                return fence;
            case "ping":
                return rest.Count switch
                {
                    0 => FreeValue("HOST", "an IP address or host name"),
                    1 => new Expectation { CanEnd = true }.Add("count", $"how many echo requests (default {DefaultPingCount})"),
                    2 when rest[1] == "count" => FreeValue("N", $"1 to {MaxPingCount}"),
                    _ => Expectation.End(),
                };
            case "configure" or "standby" or "confirm" or "help" or "exit" or "quit":
                return rest.Count == 0 ? Expectation.End() : new Expectation();
            default:
                return new Expectation { Problem = $"unknown command '{done[0]}'" };
        }
    }

    private static Expectation FreeValue(string placeholder, string help, bool canEnd = false)
    {
        var e = new Expectation { CanEnd = canEnd };
        e.Free.Add(new Choice(placeholder, help));
        return e;
    }

    private Expectation ExpectCommit(List<string> rest)
    {
        // commit [confirmed MINUTES] [comment TEXT...]
        int i = 0;
        bool confirmed = false;
        while (i < rest.Count)
        {
            if (rest[i] == "confirmed" && !confirmed)
            {
                if (i + 1 == rest.Count)
                    return FreeValue("MINUTES", $"rolled back unless `confirm` follows within this time (above 0, at most {MaxConfirmMinutes}; 0.5 is 30 s)");
                confirmed = true;
                i += 2;
            }
            else if (rest[i] == "comment")
            {
                return FreeValue("TEXT", $"a comment kept with the generation (at most {MaxCommentChars} characters)", canEnd: i + 1 < rest.Count);
            }
            else
            {
                return new Expectation();
            }
        }
        var e = new Expectation { CanEnd = true };
        if (!confirmed)
            e.Add("confirmed", "roll back automatically unless `confirm` follows within MINUTES");
        e.Add("comment", "a comment kept with the generation (who and when are kept anyway)");
        return e;
    }

    private enum PathUse { Set, Delete, Show }

    private Expectation ExpectPath(IReadOnlyList<string> words, PathUse use) => ExpectPathIn(_candidate!.Tree, words, use);

    /// <summary>What may follow a partial path: option names, list item names, or the option's value.</summary>
    private Expectation ExpectPathIn(TreeMap tree, IReadOnlyList<string> words, PathUse use)
    {
        var copy = (TreeMap)tree.Clone();
        var at = ConfigPath.Resolve(copy, words, create: use == PathUse.Set, out string error);
        if (at is null)
            return new Expectation { Problem = error };
        var e = new Expectation();
        switch (at.End)
        {
            case PathEnd.Section or PathEnd.Item:
            {
                var map = at.Node as TreeMap;
                e.CanEnd = use != PathUse.Set || at.End == PathEnd.Item || words.Count > 0;
                if (use == PathUse.Delete && words.Count == 0)
                    e.CanEnd = false;
                foreach (var option in ConfigPath.OptionsOf(at.Schema!, map))
                {
                    bool present = map?.Get(option.Name) is not null;
                    if (use != PathUse.Set && !present)
                        continue;
                    e.Add(option.Name, OptionHelp(option, map?.Get(option.Name)));
                }
                return e;
            }
            case PathEnd.List:
            {
                var list = at.List!;
                string keyName = list.KeyOption.Name;
                foreach (var item in at.ListNode?.Items.OfType<TreeMap>() ?? [])
                    if (item.Get(keyName) is TreeScalar name)
                        e.Add(name.Value, Summary(item, keyName));
                if (use == PathUse.Set)
                    e.Free.Add(new Choice(keyName.ToUpperInvariant(), $"a new {list.ItemNoun}: {list.KeyOption.Expected}"));
                e.CanEnd = use != PathUse.Set;
                return e;
            }
            default:
            {
                var leaf = at.Leaf!;
                int given = words.Count - at.ValueStart;
                if (use == PathUse.Show)
                    return given == 0 ? Expectation.End() : new Expectation();
                if (use == PathUse.Delete)
                {
                    e.CanEnd = true;
                    if (at.Node is TreeList l && leaf.Shape == ValueShape.List)
                        foreach (var s in l.Items.OfType<TreeScalar>())
                            e.Add(s.Value, "remove this entry only");
                    else if (at.Node is TreeMap m && leaf.Shape == ValueShape.Map && given == 0)
                        foreach (var (k, _) in m.Entries)
                            e.Add(k, "remove this entry only");
                    return e;
                }
                // set: the value.
                var value = words.Skip(at.ValueStart).ToList();
                if (leaf.Shape == ValueShape.Scalar && given > 0)
                    return Expectation.End();
                bool keyPosition = leaf.Shape == ValueShape.Map && given % 2 == 0;
                if (leaf.Shape != ValueShape.Scalar && given > 0 && (leaf.Shape == ValueShape.List || keyPosition))
                    e.CanEnd = true;
                foreach (string choice in leaf.Choices)
                    e.Add(choice, choice == leaf.DefaultText ? "(the default)" : "");
                foreach (var (word, help) in References(leaf, keyPosition))
                    if (!value.Contains(word))
                        e.Add(word, help);
                string now = at.Node switch
                {
                    TreeScalar s => "; now " + YamlWriter.Scalar(s),
                    null => leaf.DefaultText is { } d ? "; default " + d : "",
                    _ => "; now " + YamlWriter.Flow(at.Node),
                };
                if (leaf.Shape == ValueShape.Map)
                    e.Free.Add(keyPosition ? new Choice("NODE", "a node name, then its value") : new Choice("VALUE", leaf.Expected));
                else
                    e.Free.Add(new Choice(leaf.Shape == ValueShape.List ? "VALUE..." : "VALUE", leaf.Expected + now));
                return e;
            }
        }
    }

    /// <summary>Values a leaf names from elsewhere in the candidate: fence devices, vip resources, nodes.</summary>
    private IEnumerable<(string Word, string Help)> References(ILeafOption leaf, bool keyPosition)
    {
        var tree = _candidate?.Tree;
        if (tree is null)
            yield break;
        if (ReferenceEquals(leaf, ConfigSchema.Fence))
        {
            foreach (var d in (tree.Get("fence_devices") as TreeList)?.Items.OfType<TreeMap>() ?? [])
                if (d.Get("name") is TreeScalar n)
                    yield return (n.Value, d.Get("kind") is TreeScalar k ? "a " + k.Value + " fence device" : "a fence device");
        }
        else if (ReferenceEquals(leaf, ConfigSchema.InsideVips))
        {
            foreach (var r in (tree.Get("resources") as TreeList)?.Items.OfType<TreeMap>() ?? [])
                if (r.Get("name") is TreeScalar n && r.Get("kind") is TreeScalar { Value: "vip" })
                    yield return (n.Value, r.Get("address") is TreeScalar a ? "vip " + a.Value : "a vip resource");
        }
        else if (leaf.Shape == ValueShape.Map && keyPosition)
        {
            foreach (string n in ConfigPath.Names(tree.Get("nodes") as TreeList, "name"))
                yield return (n, "a node");
        }
    }

    /// <summary>An option's help, with its value now (or its default) when it is a leaf.</summary>
    private static string OptionHelp(OptionSpec option, TreeNode? node)
    {
        string help = option.Help.Replace("`", "", StringComparison.Ordinal);
        if (option is ILeafOption leaf)
        {
            string value = node switch
            {
                TreeScalar s => YamlWriter.Scalar(s),
                TreeList or TreeMap => YamlWriter.Flow(node),
                _ => leaf.DefaultText is { } d ? "default " + d : option.Presence == Presence.Required ? "required" : "",
            };
            if (value.Length > 0)
                return $"[{value}] {help}";
        }
        return help;
    }

    /// <summary>A list item in a few words: its kind and first distinguishing value.</summary>
    private static string Summary(TreeMap item, string keyName)
    {
        var parts = item.Entries.Where(e => e.Key != keyName && e.Value is TreeScalar).Take(3)
            .Select(e => $"{e.Key} {((TreeScalar)e.Value).Value}");
        return string.Join(", ", parts);
    }
}
