using System.Text;
using Appliance.Core.Config;

namespace Appliance.Core.Console;

/// <summary>A word of a command line: its text (quotes removed), whether it was quoted, and where it stands in the line.</summary>
internal readonly record struct Word(string Text, bool Quoted, int Start, int End);

/// <summary>
/// The candidate config of one configuration session: a copy of the running generation it was taken
/// from (<see cref="Base"/>), edited by path with <see cref="Set"/> and <see cref="Delete"/>. Every edit
/// is made on a copy and kept only when it succeeds, so a refused edit changes nothing. Values are
/// checked by the option's own type as they are set; the rules between options (timers, names
/// that refer to each other) are the checker's at validate and commit.
/// </summary>
internal sealed class Candidate
{
    private TreeMap _tree;

    private Candidate(ConfigSnapshot running, TreeMap baseTree)
    {
        Base = running;
        BaseTree = baseTree;
        _tree = (TreeMap)baseTree.Clone();
        BaseText = YamlWriter.Write(baseTree).Text;
    }

    /// <summary>The generation this candidate was taken from.</summary>
    public ConfigSnapshot Base { get; private set; }

    public TreeMap BaseTree { get; private set; }

    /// <summary>The base as the console writes it: what <see cref="Text"/> is compared against.</summary>
    public string BaseText { get; private set; }

    public TreeMap Tree => _tree;

    /// <summary>The candidate as YAML, and where each path starts in it.</summary>
    public (string Text, PathMap Map) Render() => YamlWriter.Write(_tree);

    public string Text => Render().Text;

    /// <summary>The candidate differs from the generation it was taken from.</summary>
    public bool Changed => Text != BaseText;

    /// <summary>A candidate from <paramref name="running"/>; null when its text cannot be read (the errors in <paramref name="error"/>).</summary>
    public static Candidate? From(ConfigSnapshot running, out string error)
    {
        var tree = ConfigTree.Parse($"generation {running.Version}", running.Text, out var errors);
        error = string.Join("\n", errors.Select(e => e.ToString()));
        return tree is null ? null : new Candidate(running, tree);
    }

    /// <summary>After a commit: <paramref name="committed"/> is the new base, the candidate stays as it is.</summary>
    public void Rebase(ConfigSnapshot committed, TreeMap committedTree)
    {
        Base = committed;
        BaseTree = committedTree;
        BaseText = YamlWriter.Write(committedTree).Text;
    }

    /// <summary>Replaces the candidate with <paramref name="tree"/> (rollback N loads an older generation).</summary>
    public void Load(TreeMap tree) => _tree = (TreeMap)tree.Clone();

    /// <summary>
    /// <c>set PATH VALUE</c>: <paramref name="words"/> are the path and then the value; missing
    /// sections and list items are created. <paramref name="line"/> is the whole command line, for
    /// a value written in YAML flow style (<c>[a, b]</c>, <c>{alpha: 1}</c>). Returns null on
    /// success, else the message.
    /// </summary>
    public string? Set(IReadOnlyList<Word> words, string line)
    {
        if (words.Count == 0)
            return "set what? set PATH VALUE, like: set cluster timers deadtime 2s";
        var copy = (TreeMap)_tree.Clone();
        var tokens = words.Select(w => w.Text).ToList();
        var at = ConfigPath.Resolve(copy, tokens, create: true, out string error);
        if (at is null)
            return error;
        switch (at.End)
        {
            case PathEnd.List:
                return $"{at.Display}: name the {at.List!.ItemNoun} by its {at.List.KeyOption.Name}: set {at.Display} {at.List.KeyOption.Name.ToUpperInvariant()} ...";
            case PathEnd.Section or PathEnd.Item:
                break; // created (or already there)
            case PathEnd.Leaf:
                var leaf = at.Leaf!;
                var valueWords = words.Skip(at.ValueStart).ToList();
                if (valueWords.Count == 0)
                    return $"{at.Display}: expected a value: {leaf.Expected}";
                if (BuildValue(leaf, valueWords, line, at.Display, out error) is not { } value)
                    return error;
                var diag = new Diagnostics("console");
                if (!leaf.Check(ConfigTree.ToYaml(value), at.Display, diag))
                    return diag.Errors[0].Message;
                at.Parent!.Set(at.Key!, value);
                break;
        }
        _tree = copy;
        return null;
    }

    /// <summary>
    /// <c>delete PATH</c>: removes an option, a section, a list or a list item; for a list value
    /// (<c>nodes alpha fence pdu</c>) or a map value (<c>outlets beta</c>) the words after the path
    /// remove those entries only. Returns null on success, else the message.
    /// </summary>
    public string? Delete(IReadOnlyList<Word> words)
    {
        if (words.Count == 0)
            return "delete what? delete PATH, like: delete monitors upstream";
        var copy = (TreeMap)_tree.Clone();
        var at = ConfigPath.Resolve(copy, words.Select(w => w.Text).ToList(), create: false, out string error);
        if (at is null)
            return error;
        var extra = words.Skip(at.ValueStart).Select(w => w.Text).ToList();
        if (at.Node is null)
            return $"{at.Display}: not set in the candidate" + (at.Leaf?.DefaultText is { } d ? $" (its default is {d})" : "");
        switch (at.End)
        {
            case PathEnd.Leaf when extra.Count > 0:
                if (at.Node is TreeList list && at.Leaf!.Shape == ValueShape.List)
                {
                    foreach (string e in extra)
                    {
                        int i = list.Items.FindIndex(x => x is TreeScalar s && s.Value == e);
                        if (i < 0)
                            return $"{at.Display}: '{e}' is not in the list ({string.Join(", ", list.Items.OfType<TreeScalar>().Select(s => s.Value))})";
                        list.Items.RemoveAt(i);
                    }
                }
                else if (at.Node is TreeMap map && at.Leaf!.Shape == ValueShape.Map)
                {
                    foreach (string e in extra)
                        if (!map.Remove(e))
                            return $"{at.Display}: '{e}' is not in it ({string.Join(", ", map.Entries.Select(x => x.Key))})";
                }
                else
                {
                    return $"delete takes a path; '{string.Join(' ', extra)}' follows the option {at.Display}";
                }
                break;
            case PathEnd.Leaf or PathEnd.Section or PathEnd.List:
                if (at.Parent is null)
                    return "delete needs a path below the top level";
                at.Parent.Remove(at.Key!);
                break;
            case PathEnd.Item:
                at.ListNode!.Items.Remove(at.Node);
                if (at.ListNode.Items.Count == 0)
                    at.Parent!.Remove(at.Key!);
                break;
        }
        _tree = copy;
        return null;
    }

    /// <summary>
    /// The value of <paramref name="leaf"/> from the words after its path: one word for a scalar
    /// (quote a value with spaces), the words as items for a list, name-value pairs for a map, or a
    /// YAML flow value when the first word starts with <c>[</c> or <c>{</c>.
    /// </summary>
    private static TreeNode? BuildValue(ILeafOption leaf, List<Word> words, string line, string display, out string error)
    {
        error = "";
        if (!words[0].Quoted && words[0].Text.Length > 0 && words[0].Text[0] is '[' or '{')
        {
            string flow = line[words[0].Start..words[^1].End];
            var diag = new Diagnostics("value");
            var node = YamlTree.Parse(flow, diag);
            if (diag.Count > 0 || node is null)
            {
                error = $"{display}: cannot read the value {YScalar.Quote(flow)}: {(diag.Count > 0 ? StripPosition(diag.Errors[0].Message) : "empty")}";
                return null;
            }
            int budget = 10_000;
            var value = ConfigTree.Convert(node, ref budget, diag);
            if (value is null)
                error = $"{display}: the value is too large";
            return value;
        }
        switch (leaf.Shape)
        {
            case ValueShape.Scalar:
                if (words.Count > 1)
                {
                    error = $"{display}: expected one value ({leaf.Expected}), got {words.Count} words; put quotes around a value with spaces";
                    return null;
                }
                return new TreeScalar(words[0].Text, plain: !words[0].Quoted);
            case ValueShape.List:
            {
                var list = new TreeList();
                foreach (var w in words)
                    list.Items.Add(new TreeScalar(w.Text, plain: !w.Quoted));
                return list;
            }
            default:
            {
                if (words.Count % 2 != 0)
                {
                    error = $"{display}: expected NAME VALUE pairs ({leaf.Expected}), got {words.Count} words";
                    return null;
                }
                var map = new TreeMap();
                for (int i = 0; i < words.Count; i += 2)
                {
                    if (map.Get(words[i].Text) is not null)
                    {
                        error = $"{display}: '{words[i].Text}' is given twice";
                        return null;
                    }
                    map.Entries.Add(new(words[i].Text, new TreeScalar(words[i + 1].Text, plain: !words[i + 1].Quoted)));
                }
                return map;
            }
        }
    }

    private static string StripPosition(string message) => message.StartsWith(": ", StringComparison.Ordinal) ? message[2..] : message;

    /// <summary>
    /// <c>show [PATH]</c> of <paramref name="tree"/>: the YAML under the path, a leaf as
    /// <c>name: value</c> (or its default), a list item with its other options.
    /// </summary>
    public static string? Show(TreeMap tree, IReadOnlyList<string> tokens, out string error)
    {
        var at = ConfigPath.Resolve(tree, tokens, create: false, out error);
        if (at is null)
            return null;
        if (at.End == PathEnd.Leaf && at.ValueStart < tokens.Count)
        {
            error = $"{at.Display} is an option; '{string.Join(' ', tokens.Skip(at.ValueStart))}' after it is not a path";
            return null;
        }
        var sb = new StringBuilder();
        switch (at.End)
        {
            case PathEnd.Leaf when at.Node is null:
                sb.Append(at.Key).Append(": ").Append(at.Leaf!.DefaultText is { } d ? $"(not set; default {d})" : "(not set)").Append('\n');
                break;
            case PathEnd.Leaf or PathEnd.List:
            {
                if (at.Node is null)
                {
                    sb.Append(at.Key).Append(": (not set)\n");
                    break;
                }
                var wrapper = new TreeMap();
                wrapper.Entries.Add(new(at.Key!, at.Node));
                sb.Append(YamlWriter.Write(wrapper).Text);
                break;
            }
            default:
                if (at.Node is not TreeMap m)
                {
                    sb.Append(at.Display).Append(": (not set; all defaults)\n");
                    break;
                }
                sb.Append(YamlWriter.Write(m).Text);
                if (m.Entries.Count == 0)
                    sb.Append("{}\n");
                break;
        }
        return sb.ToString();
    }
}
