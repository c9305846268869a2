using Appliance.Core.Config;

namespace Appliance.Core.Console;

/// <summary>
/// A config document the console edits: maps, lists and scalars, without positions or comments.
/// Built from the YAML text of a generation, changed by <c>set</c> and <c>delete</c>, written back
/// by <see cref="YamlWriter"/>. The candidate is one of these; it is never shared between editors.
/// </summary>
internal abstract class TreeNode
{
    public abstract TreeNode Clone();

    /// <summary>What the node is, for messages: a map, a list, or the value.</summary>
    public abstract string Describe();
}

/// <summary>A scalar as written: its text, and whether it was plain (unquoted), which decides whether it can be a number, a boolean or null.</summary>
internal sealed class TreeScalar(string value, bool plain) : TreeNode
{
    public string Value { get; } = value;

    public bool Plain { get; } = plain;

    public override TreeNode Clone() => this; // immutable

    public override string Describe() => YScalar.Quote(Value);
}

internal sealed class TreeList : TreeNode
{
    public List<TreeNode> Items { get; } = [];

    public override TreeNode Clone()
    {
        var copy = new TreeList();
        foreach (var item in Items)
            copy.Items.Add(item.Clone());
        return copy;
    }

    public override string Describe() => "a list";
}

/// <summary>A map in file order. Keys are unique: a duplicate in the source keeps its first value (the checker reports duplicates in files; the running config has none).</summary>
internal sealed class TreeMap : TreeNode
{
    public List<KeyValuePair<string, TreeNode>> Entries { get; } = [];

    public TreeNode? Get(string key)
    {
        foreach (var (k, v) in Entries)
            if (k == key)
                return v;
        return null;
    }

    /// <summary>Replaces the value of <paramref name="key"/> in place, or appends the entry.</summary>
    public void Set(string key, TreeNode value)
    {
        for (int i = 0; i < Entries.Count; i++)
        {
            if (Entries[i].Key == key)
            {
                Entries[i] = new(key, value);
                return;
            }
        }
        Entries.Add(new(key, value));
    }

    public bool Remove(string key)
    {
        int i = Entries.FindIndex(e => e.Key == key);
        if (i < 0)
            return false;
        Entries.RemoveAt(i);
        return true;
    }

    public override TreeNode Clone()
    {
        var copy = new TreeMap();
        foreach (var (k, v) in Entries)
            copy.Entries.Add(new(k, v.Clone()));
        return copy;
    }

    public override string Describe() => "a map";
}

/// <summary>Builds a <see cref="TreeNode"/> from YAML text.</summary>
internal static class ConfigTree
{
    /// <summary>
    /// Most nodes in a tree. Aliases are expanded into copies, so a small file can describe a huge
    /// tree (an alias bomb); the schema's largest legal config (4096 real servers per service, 16384
    /// servers over all) is well under this.
    /// </summary>
    public const int MaxNodes = 200_000;

    /// <summary>
    /// Parses <paramref name="text"/> into a tree; an empty document is an empty map. Null with the
    /// errors (file:line:col, <paramref name="sourceName"/> as the file) when the YAML cannot be read,
    /// is not a map, or expands beyond <see cref="MaxNodes"/>.
    /// </summary>
    public static TreeMap? Parse(string sourceName, string text, out IReadOnlyList<ConfigError> errors)
    {
        var diag = new Diagnostics(sourceName);
        if (text.Length > ConfigLimits.MaxConfigChars)
        {
            diag.Add(SourcePosition.Start, "", $"the text has {text.Length} characters; a config is at most {ConfigLimits.MaxConfigChars}");
            errors = diag.Errors;
            return null;
        }
        var root = YamlTree.Parse(text, diag);
        if (diag.Count > 0)
        {
            errors = diag.Errors;
            return null;
        }
        errors = [];
        if (root is null || root is YScalar { IsNull: true })
            return new TreeMap();
        if (root is not YMapping)
        {
            diag.Add(root.Start, "", $"expected {ConfigSchema.Root.Expected}, got {root.Describe()}");
            errors = diag.Errors;
            return null;
        }
        int budget = MaxNodes;
        var tree = Convert(root, ref budget, diag);
        errors = diag.Errors;
        return diag.Count == 0 ? (TreeMap)tree! : null;
    }

    /// <summary>A YAML node (from <see cref="YamlTree"/>, or built by the console) as a tree node; null when the budget ran out (reported).</summary>
    internal static TreeNode? Convert(YNode node, ref int budget, Diagnostics diag)
    {
        if (--budget < 0)
        {
            if (budget == -1)
                diag.Add(node.Start, "", $"the document expands to more than {MaxNodes} nodes (aliases are copied); write it out plainly");
            return null;
        }
        switch (node)
        {
            case YScalar s:
                return new TreeScalar(s.Value, s.IsPlain);
            case YSequence seq:
            {
                var list = new TreeList();
                foreach (var item in seq.Items)
                {
                    if (Convert(item, ref budget, diag) is not { } converted)
                        return null;
                    list.Items.Add(converted);
                }
                return list;
            }
            case YMapping map:
            {
                var m = new TreeMap();
                foreach (var (k, v) in map.Entries)
                {
                    if (k is not YScalar key || key.IsNull)
                    {
                        diag.Add(k.Start, "", $"expected a key (a name), got {k.Describe()}");
                        return null;
                    }
                    if (Convert(v, ref budget, diag) is not { } value)
                        return null;
                    if (m.Get(key.Value) is null)
                        m.Entries.Add(new(key.Value, value));
                }
                return m;
            }
            default:
                throw new ArgumentException("unknown YAML node " + node.GetType().Name);
        }
    }

    /// <summary>The tree node as a YAML node, so an option's value type can check it.</summary>
    internal static YNode ToYaml(TreeNode node)
    {
        var at = SourcePosition.Start;
        switch (node)
        {
            case TreeScalar s:
                return new YScalar(at, s.Value, s.Plain);
            case TreeList l:
            {
                var seq = new YSequence(at);
                foreach (var item in l.Items)
                    seq.Items.Add(ToYaml(item));
                return seq;
            }
            case TreeMap m:
            {
                var map = new YMapping(at);
                foreach (var (k, v) in m.Entries)
                    map.Entries.Add(new(new YScalar(at, k, true), ToYaml(v)));
                return map;
            }
            default:
                throw new ArgumentException("unknown tree node " + node.GetType().Name);
        }
    }
}
