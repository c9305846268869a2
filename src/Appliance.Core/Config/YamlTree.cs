using System.Globalization;
using System.Text;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Appliance.Core.Config;

/// <summary>A YAML node with the position where it starts. Built by <see cref="YamlTree"/>.</summary>
internal abstract class YNode(SourcePosition start)
{
    public SourcePosition Start { get; } = start;

    /// <summary>What the node is, for "expected X, got Y" messages.</summary>
    public abstract string Describe();
}

internal sealed class YScalar(SourcePosition start, string value, bool isPlain) : YNode(start)
{
    private const int MaxShownChars = 40;

    public string Value { get; } = value;

    /// <summary>Written without quotes; only plain scalars can be numbers, booleans or null.</summary>
    public bool IsPlain { get; } = isPlain;

    /// <summary>YAML 1.2 core schema null: empty, <c>~</c> or <c>null</c>, unquoted.</summary>
    public bool IsNull => IsPlain && Value is "" or "~" or "null" or "Null" or "NULL";

    public override string Describe()
    {
        if (IsNull)
            return Value.Length == 0 ? "nothing" : "null";
        string shown = Quote(Value);
        return IsPlain ? shown : "the quoted string " + shown;
    }

    /// <summary>Quotes text for a message, escaping control characters and cutting it short.</summary>
    public static string Quote(string text)
    {
        var sb = new StringBuilder("'");
        foreach (char c in text.Length > MaxShownChars ? text[..MaxShownChars] : text)
        {
            if (c == '\n') sb.Append("\\n");
            else if (c == '\t') sb.Append("\\t");
            else if (char.IsControl(c)) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            else sb.Append(c);
        }
        if (text.Length > MaxShownChars)
            sb.Append("...");
        return sb.Append('\'').ToString();
    }
}

internal sealed class YSequence(SourcePosition start) : YNode(start)
{
    public List<YNode> Items { get; } = [];

    public override string Describe() => "a list";
}

internal sealed class YMapping(SourcePosition start) : YNode(start)
{
    /// <summary>Entries in file order, duplicates included; <see cref="MapReader"/> reports those.</summary>
    public List<KeyValuePair<YNode, YNode>> Entries { get; } = [];

    public override string Describe() => "a map";
}

/// <summary>
/// Builds a tree of <see cref="YNode"/> from YamlDotNet's parser events, keeping every node's
/// position. YamlDotNet's own representation model throws on duplicate keys and loses the chance to
/// report them with both positions, so we build our own. Iterative, so deep nesting cannot overflow
/// the stack; aliases share the anchored node, and the schema walk is bounded, so an alias bomb
/// costs nothing.
/// </summary>
internal static class YamlTree
{
    /// <summary>
    /// Parses <paramref name="text"/>. Returns the root of the first document, or null when the text
    /// has no document (no error) or could not be parsed (errors reported).
    /// </summary>
    public static YNode? Parse(string text, Diagnostics diag)
    {
        var parser = new Parser(new StringReader(text));
        var stack = new Stack<Frame>();
        var anchors = new Dictionary<string, YNode>(StringComparer.Ordinal);
        YNode? root = null;
        int documents = 0;
        var lastEnd = SourcePosition.Start;

        while (true)
        {
            ParsingEvent ev;
            try
            {
                if (!parser.MoveNext())
                    return root;
                ev = parser.Current!;
            }
            catch (YamlException ex)
            {
                diag.Add(ToPosition(ex.Start), "", "syntax error: " + FirstLower(ex.Message.TrimEnd('.')));
                return null;
            }
            catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or IndexOutOfRangeException)
            {
                // YamlDotNet 16 throws these on some malformed input (an unclosed flow sequence
                // followed by a block key, for one) instead of a YamlException with a position. The
                // best position we have is where the last good event ended.
                diag.Add(lastEnd, "", "syntax error: the YAML cannot be read past this point; look for an unclosed bracket, brace or quote");
                return null;
            }

            var start = ToPosition(ev.Start);
            lastEnd = ToPosition(ev.End);
            switch (ev)
            {
                case DocumentStart:
                    if (++documents > 1)
                    {
                        diag.Add(start, "", "expected a single YAML document, found a second one here");
                        return root;
                    }
                    break;

                case Scalar s:
                    var scalar = new YScalar(start, s.Value, s.Style is ScalarStyle.Plain or ScalarStyle.Any);
                    Attach(scalar);
                    Remember(s.Anchor, scalar);
                    break;

                case AnchorAlias alias:
                    if (anchors.TryGetValue(alias.Value.Value, out var target))
                    {
                        Attach(target);
                    }
                    else
                    {
                        diag.Add(start, "", $"alias '*{alias.Value.Value}' refers to no anchor defined before it");
                        return null;
                    }
                    break;

                case MappingStart ms:
                    if (!Open(new YMapping(start), ms.Anchor))
                        return null;
                    break;

                case SequenceStart ss:
                    if (!Open(new YSequence(start), ss.Anchor))
                        return null;
                    break;

                case MappingEnd or SequenceEnd:
                    var done = stack.Pop();
                    Remember(done.Anchor, done.Node);
                    break;
            }
        }

        bool Open(YNode node, AnchorName anchor)
        {
            if (stack.Count >= ConfigLimits.MaxNestingDepth)
            {
                diag.Add(node.Start, "", $"nesting is deeper than {ConfigLimits.MaxNestingDepth} levels");
                return false;
            }
            Attach(node);
            // Registered when the node is complete, so a node cannot contain an alias to itself.
            stack.Push(new Frame(node, anchor));
            return true;
        }

        void Remember(AnchorName anchor, YNode node)
        {
            if (!anchor.IsEmpty)
                anchors[anchor.Value] = node;
        }

        void Attach(YNode node)
        {
            if (stack.Count == 0)
            {
                root = node;
                return;
            }
            var top = stack.Peek();
            switch (top.Node)
            {
                case YSequence seq:
                    seq.Items.Add(node);
                    break;
                case YMapping map when top.PendingKey is null:
                    top.PendingKey = node;
                    break;
                case YMapping map:
                    map.Entries.Add(new(top.PendingKey, node));
                    top.PendingKey = null;
                    break;
            }
        }
    }

    private static SourcePosition ToPosition(Mark mark) =>
        new(Math.Max(1, (int)Math.Min(mark.Line, int.MaxValue)), Math.Max(1, (int)Math.Min(mark.Column, int.MaxValue)));

    private static string FirstLower(string s) =>
        s.Length > 1 && char.IsUpper(s[0]) && !char.IsUpper(s[1]) ? char.ToLowerInvariant(s[0]) + s[1..] : s;

    private sealed class Frame(YNode node, AnchorName anchor)
    {
        public YNode Node { get; } = node;
        public AnchorName Anchor { get; } = anchor;
        public YNode? PendingKey { get; set; }
    }
}
