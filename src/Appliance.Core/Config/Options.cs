using System.Collections.Immutable;

namespace Appliance.Core.Config;

// The vocabulary of the option table (ConfigSchema.cs). Each option is declared once, with its name,
// type, default, bounds and help; MapReader parses and validates from it, and ConfigReference
// renders the markdown reference from it. (The idea of pacemaker's lib/common/options.c.)

internal enum Presence
{
    /// <summary>Must be written; its absence is an error reported at the enclosing map.</summary>
    Required,
    /// <summary>May be left out; then it takes its declared default.</summary>
    Defaulted,
    /// <summary>May be left out; then it has no value (for example a udp link's peer or group).</summary>
    Optional,
}

/// <summary>One key of a map in the config file.</summary>
internal abstract class OptionSpec(string name, Presence presence, string help)
{
    public string Name { get; } = name;
    public Presence Presence { get; } = presence;

    /// <summary>One or two sentences for the reference; what it is and why you would change it.</summary>
    public string Help { get; } = help;

    /// <summary>What a value must look like, completing "expected ...".</summary>
    public abstract string Expected { get; }

    /// <summary>The type column of the reference.</summary>
    public abstract string TypeDoc { get; }

    /// <summary>The default column of the reference, as markdown.</summary>
    public abstract string DefaultDoc { get; }

    protected const string RequiredDoc = "*required*";
}

/// <summary>How a leaf option's value is written: one scalar, a list of scalars, or a map of scalars (the console builds it from words).</summary>
internal enum ValueShape
{
    Scalar,
    List,
    Map,
}

/// <summary>A leaf option seen without its value type: what the console needs to complete, build and check a value.</summary>
internal interface ILeafOption
{
    string Name { get; }
    Presence Presence { get; }
    string Help { get; }
    string Expected { get; }

    /// <summary>How the value is written (the console turns words into that shape).</summary>
    ValueShape Shape { get; }

    /// <summary>The values a person can pick from (enum words, true/false, baud rates); empty for open types.</summary>
    IEnumerable<string> Choices { get; }

    /// <summary>The default as written in the file, for <see cref="Presence.Defaulted"/> options; else null.</summary>
    string? DefaultText { get; }

    /// <summary>Reads <paramref name="node"/> as this option's value, reporting problems at <paramref name="path"/>; the value is dropped.</summary>
    bool Check(YNode node, string path, Diagnostics diag);
}

/// <summary>A leaf option: its value is read by a <see cref="ValueType{T}"/>.</summary>
internal sealed class ScalarOption<T> : OptionSpec, ILeafOption
{
    internal ScalarOption(string name, Presence presence, ValueType<T> type, T? defaultValue, string help)
        : base(name, presence, help)
    {
        Type = type;
        Default = defaultValue;
    }

    public ValueType<T> Type { get; }

    /// <summary>The value when left out; meaningful only for <see cref="Presence.Defaulted"/>.</summary>
    public T? Default { get; }

    public override string Expected => Type.Expected;
    public override string TypeDoc => Type.Doc;

    public ValueShape Shape => Type.Shape;

    public IEnumerable<string> Choices => Type.Completions;

    public string? DefaultText => Presence == Presence.Defaulted ? Type.Format(Default!) : null;

    public bool Check(YNode node, string path, Diagnostics diag) => Type.TryRead(node, Name, path, diag, out _);

    public override string DefaultDoc => Presence switch
    {
        Presence.Required => RequiredDoc,
        Presence.Defaulted => $"`{Type.Format(Default!)}`",
        _ => "none",
    };
}

internal static class Option
{
    public static ScalarOption<T> Required<T>(string name, ValueType<T> type, string help) =>
        new(name, Presence.Required, type, default, help);

    public static ScalarOption<T> Defaulted<T>(string name, ValueType<T> type, T defaultValue, string help) =>
        new(name, Presence.Defaulted, type, defaultValue, help);

    public static ScalarOption<T> Optional<T>(string name, ValueType<T> type, string help) =>
        new(name, Presence.Optional, type, default, help);
}

/// <summary>A key whose value is a map of further options (<c>cluster</c>, <c>cluster.timers</c>).</summary>
internal sealed class SectionOption(string name, Presence presence, MapSchema schema, string help)
    : OptionSpec(name, presence, help)
{
    public MapSchema Schema { get; } = schema;
    public override string Expected => "a map";
    public override string TypeDoc => "map";
    public override string DefaultDoc => Presence switch
    {
        Presence.Required => RequiredDoc,
        Presence.Defaulted => "all defaults",
        _ => "none",
    };
}

/// <summary>A key whose value is a list of maps (<c>nodes</c>, <c>links</c>), with bounds on its length.</summary>
internal sealed class ListOption(string name, Presence presence, MapSchema item, int min, int max,
    string itemNoun, string itemsNoun, string help) : OptionSpec(name, presence, help)
{
    public MapSchema Item { get; } = item;
    public int Min { get; } = min;
    public int Max { get; } = max;
    public string ItemNoun { get; } = itemNoun;
    public string ItemsNoun { get; } = itemsNoun;

    /// <summary>
    /// The option that names an item of the list, by which the console addresses it
    /// (<c>nodes alpha</c>, <c>real_servers 10.0.0.11:8080</c>): <c>name</c> where the items have one,
    /// else their first option (a real server's <c>address</c>).
    /// </summary>
    public OptionSpec KeyOption => Item.Options.FirstOrDefault(o => o.Name == "name") ?? Item.Options[0];

    public string CountText => Min == Max ? $"exactly {Min} {ItemsNoun}" : $"{Min} to {Max} {ItemsNoun}";
    public override string Expected => "a list of " + CountText;
    public override string TypeDoc => $"list of {ItemsNoun} ({(Min == Max ? $"exactly {Min}" : $"{Min} to {Max}")})";
    public override string DefaultDoc => Presence == Presence.Required ? RequiredDoc : "empty";
}

/// <summary>
/// A map whose allowed keys depend on one of its values (a link's <c>kind</c>): common options, and
/// per case more options. A key of another case is an unknown key for this one.
/// </summary>
internal sealed record VariantSpec(OptionSpec Discriminator, ImmutableArray<VariantCase> Cases)
{
    public VariantCase? Find(string value) => Cases.FirstOrDefault(c => c.Value == value);
}

internal sealed record VariantCase(string Value, string Noun, ImmutableArray<OptionSpec> Options);

/// <summary>
/// A cross-option rule, declared with its text so the reference lists it: <see cref="Template"/>
/// names options in braces (<c>{deadtime} must be more than 2 x {keepalive}</c>); the reference
/// prints the names, an error prints the names with their values.
/// </summary>
internal sealed record RuleDoc(string Template)
{
    public string Render(Func<string, string> option)
    {
        var sb = new System.Text.StringBuilder();
        int i = 0;
        while (i < Template.Length)
        {
            int open = Template.IndexOf('{', i);
            if (open < 0) { sb.Append(Template, i, Template.Length - i); break; }
            int close = Template.IndexOf('}', open);
            sb.Append(Template, i, open - i).Append(option(Template[(open + 1)..close]));
            i = close + 1;
        }
        return sb.ToString();
    }

    public override string ToString() => Render(name => name);
}

/// <summary>The keys a map may have, and the rules between them.</summary>
internal sealed class MapSchema
{
    public MapSchema(string title, string help, IEnumerable<OptionSpec> options, VariantSpec? variant = null,
        IEnumerable<RuleDoc>? rules = null, string expected = "a map")
    {
        Title = title;
        Help = help;
        Options = [.. options];
        Variant = variant;
        Rules = rules is null ? [] : [.. rules];
        Expected = expected;
        // A programming error in the table, caught by the first load in any test.
        var common = new HashSet<string>(StringComparer.Ordinal);
        foreach (var o in Options)
            if (!common.Add(o.Name))
                throw new ArgumentException($"option '{o.Name}' declared twice in {title}");
        foreach (var c in variant?.Cases ?? [])
        {
            var names = new HashSet<string>(common, StringComparer.Ordinal);
            foreach (var o in c.Options)
                if (!names.Add(o.Name))
                    throw new ArgumentException($"option '{o.Name}' declared twice in {title} for {c.Value}");
        }
        if (variant is not null && !Options.Contains(variant.Discriminator))
            throw new ArgumentException($"the discriminator of {title} must be one of its common options");
    }

    /// <summary>Where the map sits, for the reference: <c>cluster.timers</c>, <c>nodes[].links[]</c>.</summary>
    public string Title { get; }
    public string Help { get; }

    /// <summary>Options every map of this schema may have.</summary>
    public ImmutableArray<OptionSpec> Options { get; }
    public VariantSpec? Variant { get; }
    public ImmutableArray<RuleDoc> Rules { get; }

    /// <summary>Completes "expected ..." when the value is not a map.</summary>
    public string Expected { get; }

    public IEnumerable<OptionSpec> AllOptions =>
        Variant is null ? Options : Options.Concat(Variant.Cases.SelectMany(c => c.Options));
}
