using Appliance.Core.Config;

namespace Appliance.Core.Console;

/// <summary>Where a console path ends: a section (a map), a list, an item of a list, or a leaf option.</summary>
internal enum PathEnd
{
    Section,
    List,
    Item,
    Leaf,
}

/// <summary>
/// A console path resolved against the option table and a tree: what it names, the node there (null
/// when it is not written), and where the value words start. Paths follow the YAML, list items
/// addressed by their name: <c>nodes alpha links serial0 baud</c>,
/// <c>director services web real_servers 10.0.0.11:8080 weight</c>.
/// </summary>
internal sealed record ResolvedPath(
    PathEnd End,
    IReadOnlyList<string> Tokens,
    MapSchema? Schema,
    ListOption? List,
    ILeafOption? Leaf,
    TreeMap? Parent,
    string? Key,
    TreeList? ListNode,
    TreeNode? Node,
    int ValueStart)
{
    /// <summary>The path as typed, for messages: <c>nodes alpha links serial0 baud</c>, or <c>(top level)</c>.</summary>
    public string Display => Tokens.Count == 0 ? "(top level)" : string.Join(' ', Tokens);
}

/// <summary>Resolves console paths (the schema walk shared by set, delete, show and completion).</summary>
internal static class ConfigPath
{
    /// <summary>
    /// Walks <paramref name="tokens"/> from the top of <paramref name="root"/>. With
    /// <paramref name="create"/>, missing sections and list items are added on the way (the caller
    /// works on a copy); without it a missing item is an error. A leaf ends the path: the words after
    /// it are its value (<see cref="ResolvedPath.ValueStart"/>). Null with <paramref name="error"/>
    /// naming the path typed so far and what was expected.
    /// </summary>
    public static ResolvedPath? Resolve(TreeMap root, IReadOnlyList<string> tokens, bool create, out string error)
    {
        error = "";
        MapSchema schema = ConfigSchema.Root;
        TreeMap? map = root;
        TreeMap? parent = null;
        string? key = null;
        ListOption? listOption = null;
        TreeList? listNode = null;
        var path = new List<string>();
        var end = PathEnd.Section;
        int i = 0;
        while (i < tokens.Count)
        {
            string t = tokens[i];
            var options = OptionsOf(schema, map);
            var option = options.FirstOrDefault(o => o.Name == t);
            if (option is null)
            {
                string? near = Suggest.Closest(t, options.Select(o => o.Name));
                error = $"{Where([.. path, t])}: unknown option '{t}'" + (near is null ? "" : $"; did you mean '{near}'?") +
                        $" ({Describe(schema)} has: {string.Join(", ", options.Select(o => o.Name))})";
                return null;
            }
            path.Add(t);
            i++;
            switch (option)
            {
                case SectionOption section:
                {
                    var child = map?.Get(t);
                    if (child is not null and not TreeMap)
                    {
                        error = $"{Where(path)}: expected a map, the config has {child.Describe()}";
                        return null;
                    }
                    if (child is null && create)
                    {
                        child = new TreeMap();
                        map!.Set(t, child);
                    }
                    (parent, key, listOption, listNode) = (map, t, null, null);
                    schema = section.Schema;
                    map = (TreeMap?)child;
                    end = PathEnd.Section;
                    break;
                }
                case ListOption list:
                {
                    var node = map?.Get(t);
                    if (node is not null and not TreeList)
                    {
                        error = $"{Where(path)}: expected a list, the config has {node.Describe()}";
                        return null;
                    }
                    var items = (TreeList?)node;
                    if (i == tokens.Count)
                        return new ResolvedPath(PathEnd.List, path, list.Item, list, null, map, t, items, items, i);
                    string name = tokens[i];
                    string keyName = list.KeyOption.Name;
                    var item = FindItem(items, keyName, name);
                    if (item is null)
                    {
                        if (!create)
                        {
                            var known = Names(items, keyName).ToList();
                            string? near = Suggest.Closest(name, known);
                            error = $"{Where([.. path, name])}: no {list.ItemNoun} '{name}'" +
                                    (near is not null ? $"; did you mean '{near}'?" : known.Count == 0 ? $" (there are no {list.ItemsNoun})" : $" ({list.ItemsNoun}: {string.Join(", ", known)})");
                            return null;
                        }
                        var check = new Diagnostics("console");
                        if (list.KeyOption is ILeafOption keyLeaf && !keyLeaf.Check(new YScalar(SourcePosition.Start, name, true), Where([.. path, name]), check))
                        {
                            error = check.Errors[0].Message;
                            return null;
                        }
                        if (items is null)
                        {
                            items = new TreeList();
                            map!.Set(t, items);
                        }
                        if (items.Items.Count >= list.Max)
                        {
                            error = $"{Where(path)}: there are already {items.Items.Count} {list.ItemsNoun}, the most allowed";
                            return null;
                        }
                        item = new TreeMap();
                        item.Set(keyName, new TreeScalar(name, plain: true));
                        items.Items.Add(item);
                    }
                    path.Add(name);
                    i++;
                    (parent, key, listOption, listNode) = (map, t, list, items);
                    schema = list.Item;
                    map = item;
                    end = PathEnd.Item;
                    break;
                }
                case ILeafOption leaf:
                    return new ResolvedPath(PathEnd.Leaf, path, schema, null, leaf, map, t, null, map?.Get(t), i);
            }
        }
        return new ResolvedPath(end, path, schema, listOption, null, parent, key, listNode, map, i);
    }

    /// <summary>The options a map may have now: the common ones and, for a variant map, those of its kind (all kinds while it has none).</summary>
    public static IReadOnlyList<OptionSpec> OptionsOf(MapSchema schema, TreeMap? map)
    {
        if (schema.Variant is not { } variant)
            return schema.Options;
        var kind = map?.Get(variant.Discriminator.Name) as TreeScalar;
        var selected = kind is null ? null : variant.Find(kind.Value);
        var extra = selected is not null ? selected.Options.AsEnumerable() : variant.Cases.SelectMany(c => c.Options);
        var all = new List<OptionSpec>(schema.Options);
        foreach (var o in extra)
            if (!all.Any(a => a.Name == o.Name))
                all.Add(o);
        return all;
    }

    /// <summary>The item of <paramref name="list"/> whose key option is <paramref name="name"/>.</summary>
    public static TreeMap? FindItem(TreeList? list, string keyName, string name)
    {
        if (list is null)
            return null;
        foreach (var item in list.Items)
            if (item is TreeMap m && m.Get(keyName) is TreeScalar s && s.Value == name)
                return m;
        return null;
    }

    /// <summary>The key values of a list's items, in order.</summary>
    public static IEnumerable<string> Names(TreeList? list, string keyName) =>
        list is null ? [] : list.Items.OfType<TreeMap>().Select(m => m.Get(keyName)).OfType<TreeScalar>().Select(s => s.Value);

    private static string Where(List<string> path) => path.Count == 0 ? "(top level)" : string.Join(' ', path);

    private static string Describe(MapSchema schema) => schema.Title;
}
