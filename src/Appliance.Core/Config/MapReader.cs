using System.Collections.Immutable;

namespace Appliance.Core.Config;

/// <summary>
/// A read option value: <see cref="Ok"/> when valid or defaulted (an error was reported otherwise),
/// <see cref="Present"/> when written in the file. <see cref="Position"/> is where it was written,
/// or the enclosing map when it was not, so later cross-option errors have a place to point at.
/// </summary>
internal readonly record struct Field<T>(bool Ok, bool Present, T? Value, SourcePosition Position, string Path);

/// <summary>An item of a list of maps; <see cref="Reader"/> is null when the item is not a map.</summary>
internal readonly record struct ListItem(int Index, string Path, SourcePosition Position, MapReader? Reader);

/// <summary>A read list of maps; <see cref="CountOk"/> when its length is within bounds.</summary>
internal sealed record ListRead(bool Present, bool CountOk, SourcePosition Position, string Path, ImmutableArray<ListItem> Items);

/// <summary>
/// Reads one YAML map against its <see cref="MapSchema"/>: reports keys that are not names,
/// duplicate keys, unknown keys (with a suggestion) and missing required keys as soon as it is
/// opened, then hands out each option's value, read and checked by the option's type.
/// </summary>
internal sealed class MapReader
{
    private readonly Diagnostics _diag;
    private readonly Dictionary<string, KeyValuePair<YScalar, YNode>> _entries = new(StringComparer.Ordinal);
    private readonly List<OptionSpec> _active = []; // declaration order, for messages
    private readonly Dictionary<OptionSpec, object> _read = [];

    private MapReader(YMapping? map, SourcePosition position, MapSchema schema, string path, Diagnostics diag)
    {
        Schema = schema;
        Path = path;
        Position = position;
        _diag = diag;
        if (map is not null)
            CollectKeys(map);
        SelectCase();
        CheckKeys();
    }

    public MapSchema Schema { get; }
    public string Path { get; }
    public SourcePosition Position { get; }

    /// <summary>The selected case of a variant schema; null when there is none or the discriminator is bad.</summary>
    public VariantCase? Case { get; private set; }

    /// <summary>Opens <paramref name="node"/> as a map of <paramref name="schema"/>, or reports it is not one.</summary>
    public static MapReader? Open(YNode node, MapSchema schema, string path, Diagnostics diag)
    {
        if (node is YMapping map)
            return new MapReader(map, map.Start, schema, path, diag);
        diag.Add(node.Start, path, $"expected {schema.Expected}, got {node.Describe()}");
        return null;
    }

    /// <summary>A map with no keys at <paramref name="position"/>: an optional section left out.</summary>
    public static MapReader Empty(SourcePosition position, MapSchema schema, string path, Diagnostics diag) =>
        new(null, position, schema, path, diag);

    public bool Has(OptionSpec option) => _entries.ContainsKey(option.Name);

    public string PathOf(OptionSpec option) => Path.Length == 0 ? option.Name : $"{Path}.{option.Name}";

    public Field<T> Get<T>(ScalarOption<T> option)
    {
        Check(option);
        if (_read.TryGetValue(option, out var cached))
            return (Field<T>)cached;
        var field = Read(option);
        _read[option] = field;
        return field;
    }

    private Field<T> Read<T>(ScalarOption<T> option)
    {
        string path = PathOf(option);
        if (!_entries.TryGetValue(option.Name, out var entry))
        {
            return option.Presence switch
            {
                Presence.Required => new Field<T>(false, false, default, Position, path), // reported by CheckKeys
                Presence.Defaulted => new Field<T>(true, false, option.Default, Position, path),
                _ => new Field<T>(true, false, default, Position, path),
            };
        }
        var node = entry.Value;
        if (!option.Type.TryRead(node, option.Name, path, _diag, out var value))
            return new Field<T>(false, true, default, node.Start, path);
        _diag.RecordPosition(path, node.Start);
        return new Field<T>(true, true, value, node.Start, path);
    }

    /// <summary>
    /// The reader for a section; for an optional section left out, an empty reader (all defaults)
    /// placed at this map. Null when the section is required and missing, or not a map (reported).
    /// </summary>
    public MapReader? Section(SectionOption option)
    {
        Check(option);
        string path = PathOf(option);
        if (_entries.TryGetValue(option.Name, out var entry))
        {
            _diag.RecordPosition(path, entry.Value.Start);
            return Open(entry.Value, option.Schema, path, _diag);
        }
        return option.Presence == Presence.Required ? null : Empty(Position, option.Schema, path, _diag);
    }

    /// <summary>
    /// The items of a list of maps. Reports a wrong length; reads at most <see cref="ListOption.Max"/>
    /// items, so the work done is bounded whatever the file holds.
    /// </summary>
    public ListRead List(ListOption option)
    {
        Check(option);
        string path = PathOf(option);
        if (!_entries.TryGetValue(option.Name, out var entry))
            return new ListRead(false, option.Presence != Presence.Required && option.Min == 0, Position, path, []);
        if (entry.Value is not YSequence seq)
        {
            _diag.Add(entry.Value.Start, path, $"expected {option.Expected}, got {entry.Value.Describe()}");
            return new ListRead(true, false, entry.Value.Start, path, []);
        }
        _diag.RecordPosition(path, seq.Start);
        bool countOk = seq.Items.Count >= option.Min && seq.Items.Count <= option.Max;
        if (!countOk)
            _diag.Add(seq.Start, path, $"expected {option.CountText}, got {seq.Items.Count}");
        var items = ImmutableArray.CreateBuilder<ListItem>();
        for (int i = 0; i < Math.Min(seq.Items.Count, option.Max); i++)
        {
            var node = seq.Items[i];
            string itemPath = $"{path}[{i}]";
            MapReader? reader = node is YMapping map
                ? new MapReader(map, map.Start, option.Item, itemPath, _diag)
                : null;
            if (reader is null)
                _diag.Add(node.Start, itemPath, $"expected {option.Item.Expected} for a {option.ItemNoun}, got {node.Describe()}");
            items.Add(new ListItem(i, itemPath, node.Start, reader));
        }
        return new ListRead(true, countOk, seq.Start, path, items.ToImmutable());
    }

    private void Check(OptionSpec option)
    {
        if (!_active.Contains(option))
            throw new InvalidOperationException($"option '{option.Name}' is not an option of {Schema.Title}{(Case is null ? "" : " for " + Case.Value)} here");
    }

    private void CollectKeys(YMapping map)
    {
        foreach (var (keyNode, value) in map.Entries)
        {
            if (keyNode is not YScalar key || key.IsNull)
            {
                _diag.Add(keyNode.Start, Path, $"expected a key name, got {keyNode.Describe()}");
                continue;
            }
            if (_entries.TryGetValue(key.Value, out var first))
            {
                _diag.Add(key.Start, Join(key.Value),
                    $"duplicate key '{key.Value}'; it is first set at line {first.Key.Start.Line}, column {first.Key.Start.Column}");
                continue;
            }
            _entries.Add(key.Value, new(key, value));
        }
    }

    private void SelectCase()
    {
        foreach (var o in Schema.Options)
            _active.Add(o);
        var variant = Schema.Variant;
        if (variant is null)
            return;
        if (_entries.TryGetValue(variant.Discriminator.Name, out var d) && d.Value is YScalar s)
            Case = variant.Find(s.Value);
        if (Case is not null)
            foreach (var o in Case.Options)
                _active.Add(o);
    }

    private void CheckKeys()
    {
        var variant = Schema.Variant;
        // With a bad or missing discriminator we cannot tell which keys belong; accept any key of
        // any case rather than bury the one real error under a heap of unknown keys.
        bool caseUnknown = variant is not null && Case is null;
        var valid = _active.Select(o => o.Name).ToList();
        foreach (var (name, (key, _)) in _entries)
        {
            if (valid.Contains(name))
                continue;
            if (caseUnknown && variant!.Cases.Any(c => c.Options.Any(o => o.Name == name)))
                continue;
            string what = Case is null ? $"unknown key '{name}'" : $"unknown key '{name}' for {Case.Noun}";
            string? guess = Suggest.Closest(name, valid);
            _diag.Add(key.Start, Join(name), guess is not null
                ? $"{what}; did you mean '{guess}'?"
                : $"{what}; valid keys are {string.Join(", ", valid)}");
        }
        foreach (var o in _active)
        {
            if (o.Presence == Presence.Required && !_entries.ContainsKey(o.Name))
                _diag.Add(Position, PathOf(o), $"required key is missing; expected {o.Expected}");
        }
    }

    private string Join(string key) => Path.Length == 0 ? key : $"{Path}.{key}";
}
