using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Appliance.Core.Config;

/// <summary>How to read, check and print one kind of option value.</summary>
internal abstract class ValueType<T>
{
    /// <summary>Completes "expected ...": <c>an integer from 0 to 255</c>.</summary>
    public abstract string Expected { get; }

    /// <summary>The type column of the reference; by default <see cref="Expected"/>.</summary>
    public virtual string Doc => Expected;

    /// <summary>
    /// Reads <paramref name="node"/> as the value of option <paramref name="name"/> at
    /// <paramref name="path"/>; on failure reports every problem and returns false.
    /// </summary>
    public abstract bool TryRead(YNode node, string name, string path, Diagnostics diag, [MaybeNullWhen(false)] out T value);

    /// <summary>The value as it would be written in the file.</summary>
    public abstract string Format(T value);

    /// <summary>How the value is written: one scalar unless a list or map type says otherwise.</summary>
    public virtual ValueShape Shape => ValueShape.Scalar;

    /// <summary>The values to offer when completing (a closed set); empty for open types.</summary>
    public virtual IEnumerable<string> Completions => [];
}

/// <summary>A value written as one scalar.</summary>
internal abstract class ScalarType<T> : ValueType<T>
{
    /// <summary>
    /// Integers and booleans must be plain: in YAML <c>"694"</c> is a string, and a config that
    /// means a number should not depend on the loader being lenient.
    /// </summary>
    protected virtual bool PlainOnly => false;

    public sealed override bool TryRead(YNode node, string name, string path, Diagnostics diag, [MaybeNullWhen(false)] out T value)
    {
        if (node is not YScalar s || s.IsNull || (PlainOnly && !s.IsPlain))
        {
            diag.Add(node.Start, path, $"expected {Expected}, got {node.Describe()}");
            value = default;
            return false;
        }
        if (TryParse(s, name, out value, out string error))
            return true;
        diag.Add(node.Start, path, error);
        return false;
    }

    protected abstract bool TryParse(YScalar s, string name, [MaybeNullWhen(false)] out T value, out string error);

    protected bool NotThis(YScalar s, out string error)
    {
        error = $"expected {Expected}, got {s.Describe()}";
        return false;
    }
}

/// <summary>A name: lowercase ASCII letters, digits and '-', bounded length.</summary>
internal sealed class NameType(bool letterFirst) : ScalarType<string>
{
    public override string Expected => letterFirst
        ? $"a name of 1 to {ConfigLimits.MaxNameLength} characters a-z, 0-9 or '-', starting with a letter"
        : $"a name of 1 to {ConfigLimits.MaxNameLength} characters a-z, 0-9 or '-'";

    public override string Doc => letterFirst
        ? $"name: `[a-z][a-z0-9-]{{0,{ConfigLimits.MaxNameLength - 1}}}`"
        : $"name: `[a-z0-9-]{{1,{ConfigLimits.MaxNameLength}}}`";

    public bool IsValid(string text)
    {
        if (text.Length is 0 or > ConfigLimits.MaxNameLength)
            return false;
        if (letterFirst && !char.IsAsciiLetterLower(text[0]))
            return false;
        foreach (char c in text)
            if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
                return false;
        return true;
    }

    protected override bool TryParse(YScalar s, string name, [MaybeNullWhen(false)] out string value, out string error)
    {
        value = s.Value;
        error = "";
        return IsValid(s.Value) || NotThis(s, out error);
    }

    public override string Format(string value) => value;
}

internal sealed class AbsolutePathType : ScalarType<string>
{
    public override string Expected => "an absolute path";

    protected override bool TryParse(YScalar s, string name, [MaybeNullWhen(false)] out string value, out string error)
    {
        value = s.Value;
        error = "";
        if (!s.Value.StartsWith('/') || s.Value.Contains('\0'))
            return NotThis(s, out error);
        if (s.Value.Length > ConfigLimits.MaxPathLength)
        {
            error = $"{name} is {s.Value.Length} characters long; a path is at most {ConfigLimits.MaxPathLength}";
            return false;
        }
        return true;
    }

    public override string Format(string value) => value;
}

internal sealed class BoolType : ScalarType<bool>
{
    protected override bool PlainOnly => true;
    public override string Expected => "true or false";
    public override IEnumerable<string> Completions => ["true", "false"];

    protected override bool TryParse(YScalar s, string name, out bool value, out string error)
    {
        error = "";
        switch (s.Value)
        {
            case "true" or "True" or "TRUE": value = true; return true;
            case "false" or "False" or "FALSE": value = false; return true;
            default: value = false; return NotThis(s, out error);
        }
    }

    public override string Format(bool value) => value ? "true" : "false";
}

/// <summary>Decimal integers, optionally signed; no hex or octal, no digit separators.</summary>
internal static class Integers
{
    /// <summary>Parses; <paramref name="tooBig"/> is set when the digits are right but do not fit.</summary>
    public static bool TryParse(string text, out long value, out bool tooBig)
    {
        value = 0;
        tooBig = false;
        int start = text.Length > 0 && text[0] is '+' or '-' ? 1 : 0;
        if (text.Length == start)
            return false;
        for (int i = start; i < text.Length; i++)
            if (!char.IsAsciiDigit(text[i]))
                return false;
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value))
            return true;
        tooBig = true;
        return false;
    }
}

internal sealed class IntRangeType(int min, int max) : ScalarType<int>
{
    public int Min { get; } = min;
    public int Max { get; } = max;
    protected override bool PlainOnly => true;
    public override string Expected => $"an integer from {Min} to {Max}";
    public override string Doc => $"integer, {Min} to {Max}";

    protected override bool TryParse(YScalar s, string name, out int value, out string error)
    {
        value = 0;
        error = "";
        if (!Integers.TryParse(s.Value, out long v, out bool tooBig) && !tooBig)
            return NotThis(s, out error);
        if (tooBig || v < Min || v > Max)
        {
            error = $"{name} ({s.Value}) must be from {Min} to {Max}";
            return false;
        }
        value = (int)v;
        return true;
    }

    public override string Format(int value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>An integer from a fixed set (baud rates).</summary>
internal sealed class IntChoiceType(ImmutableArray<int> choices) : ScalarType<int>
{
    public ImmutableArray<int> Choices { get; } = choices;
    protected override bool PlainOnly => true;
    private string List => string.Join(", ", Choices.Select(c => c.ToString(CultureInfo.InvariantCulture)));
    public override IEnumerable<string> Completions => Choices.Select(c => c.ToString(CultureInfo.InvariantCulture));
    public override string Expected => "one of " + List;
    public override string Doc => "integer, one of " + List;

    protected override bool TryParse(YScalar s, string name, out int value, out string error)
    {
        value = 0;
        error = "";
        if (!Integers.TryParse(s.Value, out long v, out bool tooBig) && !tooBig)
            return NotThis(s, out error);
        if (tooBig || !Choices.Contains((int)Math.Clamp(v, int.MinValue, int.MaxValue)))
        {
            error = $"{name} ({s.Value}) must be one of {List}";
            return false;
        }
        value = (int)v;
        return true;
    }

    public override string Format(int value) => value.ToString(CultureInfo.InvariantCulture);
}

internal sealed class DurationType(TimeSpan min, TimeSpan max) : ScalarType<TimeSpan>
{
    public TimeSpan Min { get; } = min;
    public TimeSpan Max { get; } = max;
    public override string Expected => Duration.Expected;
    public override string Doc => $"duration, {Duration.Format(Min)} to {Duration.Format(Max)}";

    protected override bool TryParse(YScalar s, string name, out TimeSpan value, out string error)
    {
        if (!Duration.TryParse(s.Value, out value, out error))
            return false;
        if (value < Min)
            error = $"{name} ({Duration.Format(value)}) must be at least {Duration.Format(Min)}";
        else if (value > Max)
            error = $"{name} ({Duration.Format(value)}) must be at most {Duration.Format(Max)}";
        return error.Length == 0;
    }

    public override string Format(TimeSpan value) => Duration.Format(value);
}

/// <summary>One of a few words, each mapped to a value.</summary>
internal sealed class EnumType<T>(params (string Word, T Value)[] choices) : ScalarType<T>
{
    public ImmutableArray<(string Word, T Value)> Choices { get; } = [.. choices];

    public override string Expected => Choices.Length switch
    {
        1 => Choices[0].Word,
        _ => string.Join(", ", Choices[..^1].Select(c => c.Word)) + " or " + Choices[^1].Word,
    };

    public override string Doc => string.Join(" | ", Choices.Select(c => $"`{c.Word}`"));
    public override IEnumerable<string> Completions => Choices.Select(c => c.Word);

    protected override bool TryParse(YScalar s, string name, [MaybeNullWhen(false)] out T value, out string error)
    {
        foreach (var (word, v) in Choices)
        {
            if (word == s.Value)
            {
                value = v;
                error = "";
                return true;
            }
        }
        value = default;
        return NotThis(s, out error);
    }

    public override string Format(T value) => Choices.First(c => EqualityComparer<T>.Default.Equals(c.Value, value)).Word;
}

internal enum AddressRole
{
    /// <summary>An address of one host: not multicast, not the unspecified or broadcast address.</summary>
    Unicast,
    /// <summary>A multicast group: 224.0.0.0/4 or ff00::/8.</summary>
    Multicast,
}

internal sealed class IpAddressType(AddressRole role) : ScalarType<IPAddress>
{
    public AddressRole Role { get; } = role;

    public override string Expected => Role == AddressRole.Multicast ? "a multicast IP address" : "an IP address";
    public override string Doc => Role == AddressRole.Multicast ? "IPv4 or IPv6 multicast address" : "IPv4 or IPv6 address";

    protected override bool TryParse(YScalar s, string name, [MaybeNullWhen(false)] out IPAddress value, out string error)
    {
        error = "";
        if (!TryParseStrict(s.Value, out value))
            return NotThis(s, out error);
        bool multicast = IsMulticast(value);
        if (Role == AddressRole.Multicast && !multicast)
            error = $"{name} ({value}) must be a multicast address (224.0.0.0/4 or ff00::/8)";
        else if (Role == AddressRole.Unicast && (multicast || value.Equals(IPAddress.Any) || value.Equals(IPAddress.IPv6Any) || value.Equals(IPAddress.Broadcast)))
            error = $"{name} ({value}) must be the address of one host, not a multicast, broadcast or unspecified address";
        return error.Length == 0;
    }

    public static bool IsMulticast(IPAddress a) =>
        a.AddressFamily == AddressFamily.InterNetwork ? (a.GetAddressBytes()[0] & 0xF0) == 0xE0 : a.IsIPv6Multicast;

    /// <summary>
    /// IPv4 only as a dotted quad of decimal octets without leading zeros (IPAddress.Parse takes
    /// <c>10.1</c> and <c>010.0.0.1</c>, which mean something else to other tools); IPv6 as .NET parses it.
    /// </summary>
    public static bool TryParseStrict(string text, [MaybeNullWhen(false)] out IPAddress address)
    {
        address = null;
        if (text.Contains(':'))
            return IPAddress.TryParse(text, out address) && address.AddressFamily == AddressFamily.InterNetworkV6;
        var parts = text.Split('.');
        if (parts.Length != 4)
            return false;
        foreach (var p in parts)
            if (p.Length is 0 or > 3 || !p.All(char.IsAsciiDigit) || (p.Length > 1 && p[0] == '0') || int.Parse(p, CultureInfo.InvariantCulture) > 255)
                return false;
        return IPAddress.TryParse(text, out address);
    }

    public override string Format(IPAddress value) => value.ToString();
}

/// <summary>A list of names, unique, bounded in length (a node's fence devices).</summary>
internal sealed class NameListType(NameType item, int max, string itemsNoun) : ValueType<ImmutableArray<string>>
{
    public override string Expected => $"a list of {itemsNoun}";
    public override string Doc => $"list of {itemsNoun}, at most {max}";
    public override ValueShape Shape => ValueShape.List;

    public override bool TryRead(YNode node, string name, string path, Diagnostics diag, out ImmutableArray<string> value)
    {
        value = [];
        if (node is not YSequence seq)
        {
            diag.Add(node.Start, path, $"expected {Expected}, got {node.Describe()}");
            return false;
        }
        bool ok = true;
        if (seq.Items.Count > max)
        {
            diag.Add(seq.Start, path, $"expected at most {max} {itemsNoun}, got {seq.Items.Count}");
            ok = false;
        }
        var builder = ImmutableArray.CreateBuilder<string>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < Math.Min(seq.Items.Count, max); i++)
        {
            string itemPath = $"{path}[{i}]";
            if (!item.TryRead(seq.Items[i], name, itemPath, diag, out var v))
            {
                ok = false;
                continue;
            }
            if (seen.TryGetValue(v, out int first))
            {
                diag.Add(seq.Items[i].Start, itemPath, $"'{v}' is already listed at {path}[{first}]");
                ok = false;
                continue;
            }
            seen[v] = i;
            builder.Add(v);
        }
        value = builder.ToImmutable();
        return ok;
    }

    public override string Format(ImmutableArray<string> value) => "[" + string.Join(", ", value) + "]";
}

/// <summary>An IP address with a prefix length: <c>203.0.113.10/24</c>, <c>2001:db8::10/64</c>.</summary>
internal sealed class IpPrefixType : ScalarType<IpPrefix>
{
    public override string Expected => "an address with a prefix length, like 203.0.113.10/24";
    public override string Doc => "address/prefix, IPv4 or IPv6";

    public override string Format(IpPrefix value) => value.ToString();

    protected override bool TryParse(YScalar s, string name, [MaybeNullWhen(false)] out IpPrefix value, out string error)
    {
        value = default;
        error = "";
        int slash = s.Value.IndexOf('/');
        if (slash < 0 || !IpAddressType.TryParseStrict(s.Value[..slash], out var address) ||
            !int.TryParse(s.Value[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int length))
            return NotThis(s, out error);
        int max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (length < 1 || length > max)
            error = $"{name} ({s.Value}): the prefix length must be 1 to {max}";
        else if (IpAddressType.IsMulticast(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
            error = $"{name} ({s.Value}) must be the address of one host";
        value = new IpPrefix(address, length);
        return error.Length == 0;
    }
}

/// <summary>A Linux network interface name (IFNAMSIZ 16 including the terminating zero).</summary>
internal sealed class InterfaceNameType : ScalarType<string>
{
    public const int MaxLength = 15;

    public override string Expected => $"an interface name of 1 to {MaxLength} characters (letters, digits, '-', '_', '.')";
    public override string Doc => "interface name, like `eth0`";

    public override string Format(string value) => value;

    protected override bool TryParse(YScalar s, string name, [MaybeNullWhen(false)] out string value, out string error)
    {
        value = s.Value;
        error = "";
        if (value.Length is 0 or > MaxLength || value is "." or ".." ||
            !value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            return NotThis(s, out error);
        return true;
    }
}

/// <summary>An IP address and port: <c>127.0.0.1:7000</c>, <c>[2001:db8::1]:80</c>.</summary>
internal sealed class EndpointType : ScalarType<IPEndPoint>
{
    public override string Expected => "an address and port, like 127.0.0.1:8080";
    public override string Doc => "address:port";

    public override string Format(IPEndPoint value) => value.ToString();

    protected override bool TryParse(YScalar s, string name, [MaybeNullWhen(false)] out IPEndPoint value, out string error)
    {
        error = "";
        value = null;
        string text = s.Value;
        int colon = text.LastIndexOf(':');
        if (colon <= 0)
            return NotThis(s, out error);
        string host = text[..colon].Trim('[', ']');
        if (!IpAddressType.TryParseStrict(host, out var address) ||
            !int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
            return NotThis(s, out error);
        value = new IPEndPoint(address, port);
        return true;
    }
}

/// <summary>An http:// URL (the monitor speaks plain HTTP/1.1 to a local or upstream service).</summary>
internal sealed class HttpUrlType : ScalarType<string>
{
    public override string Expected => "an http:// URL, like http://127.0.0.1:8080/health";
    public override string Doc => "http:// URL";

    public override string Format(string value) => value;

    protected override bool TryParse(YScalar s, string name, [MaybeNullWhen(false)] out string value, out string error)
    {
        value = s.Value;
        error = "";
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme != "http")
            return NotThis(s, out error);
        return true;
    }
}

/// <summary>A non-empty shell command line.</summary>
internal sealed class CommandType : ScalarType<string>
{
    public override string Expected => "a command line (run with /bin/sh -c)";
    public override string Doc => "command line";

    public override string Format(string value) => value;

    protected override bool TryParse(YScalar s, string name, [MaybeNullWhen(false)] out string value, out string error)
    {
        value = s.Value;
        error = "";
        if (string.IsNullOrWhiteSpace(value) || value.Length > 4096)
            return NotThis(s, out error);
        return true;
    }
}

/// <summary>A list of unicast IP addresses (ping targets).</summary>
internal sealed class IpListType(int max) : ValueType<ImmutableArray<IPAddress>>
{
    private static readonly IpAddressType Item = new(AddressRole.Unicast);

    public override string Expected => "a list of IP addresses";
    public override string Doc => $"list of IP addresses, 1 to {max}";
    public override ValueShape Shape => ValueShape.List;

    public override string Format(ImmutableArray<IPAddress> value) => "[" + string.Join(", ", value) + "]";

    public override bool TryRead(YNode node, string name, string path, Diagnostics diag, out ImmutableArray<IPAddress> value)
    {
        value = [];
        if (node is not YSequence seq || seq.Items.Count == 0)
        {
            diag.Add(node.Start, path, $"expected {Expected}, got {node.Describe()}");
            return false;
        }
        if (seq.Items.Count > max)
        {
            diag.Add(seq.Start, path, $"expected at most {max} addresses, got {seq.Items.Count}");
            return false;
        }
        var builder = ImmutableArray.CreateBuilder<IPAddress>();
        bool ok = true;
        for (int i = 0; i < seq.Items.Count; i++)
        {
            if (Item.TryRead(seq.Items[i], name, $"{path}[{i}]", diag, out var a))
                builder.Add(a);
            else
                ok = false;
        }
        value = builder.ToImmutable();
        return ok;
    }
}

/// <summary>An OCF agent as provider:type, like <c>heartbeat:IPaddr2</c>.</summary>
internal sealed class OcfAgentType : ScalarType<string>
{
    public override string Expected => "an OCF agent as provider:type, like heartbeat:Dummy";
    public override string Doc => "`provider:type`";

    public override string Format(string value) => value;

    protected override bool TryParse(YScalar s, string name, [MaybeNullWhen(false)] out string value, out string error)
    {
        value = s.Value;
        error = "";
        var parts = value.Split(':');
        if (parts.Length != 2 || parts.Any(p => p.Length is 0 or > 64 || !p.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')) ||
            parts.Any(p => p.StartsWith('.')))
            return NotThis(s, out error);
        return true;
    }
}

/// <summary>Agent parameters as a list of <c>name=value</c> (OCF_RESKEY_name=value).</summary>
/// <param name="check">
/// What the consumer of the parameters refuses, as the reason or null; the edge calls the same
/// function when it builds the device, so a config that passes here cannot fail there.
/// </param>
internal sealed class ParamListType(int max, Func<string, string, string?>? check = null) : ValueType<ImmutableArray<KeyValuePair<string, string>>>
{
    public override string Expected => "a list of name=value parameters";
    public override string Doc => $"list of `name=value`, at most {max}";
    public override ValueShape Shape => ValueShape.List;

    public override string Format(ImmutableArray<KeyValuePair<string, string>> value) =>
        "[" + string.Join(", ", value.Select(kv => $"{kv.Key}={kv.Value}")) + "]";

    public override bool TryRead(YNode node, string name, string path, Diagnostics diag, out ImmutableArray<KeyValuePair<string, string>> value)
    {
        value = [];
        if (node is not YSequence seq)
        {
            diag.Add(node.Start, path, $"expected {Expected}, got {node.Describe()}");
            return false;
        }
        if (seq.Items.Count > max)
        {
            diag.Add(seq.Start, path, $"expected at most {max} parameters, got {seq.Items.Count}");
            return false;
        }
        var builder = ImmutableArray.CreateBuilder<KeyValuePair<string, string>>();
        bool ok = true;
        for (int i = 0; i < seq.Items.Count; i++)
        {
            string itemPath = $"{path}[{i}]";
            if (seq.Items[i] is not YScalar { IsNull: false } sc)
            {
                diag.Add(seq.Items[i].Start, itemPath, $"expected name=value, got {seq.Items[i].Describe()}");
                ok = false;
                continue;
            }
            int eq = sc.Value.IndexOf('=');
            string key = eq > 0 ? sc.Value[..eq] : "";
            if (key.Length == 0 || !(char.IsAsciiLetter(key[0]) || key[0] == '_') || !key.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
            {
                diag.Add(sc.Start, itemPath, $"expected name=value with a name of letters, digits and '_', got '{sc.Value}'");
                ok = false;
                continue;
            }
            string itemValue = sc.Value[(eq + 1)..];
            if (check?.Invoke(key, itemValue) is { } problem)
            {
                diag.Add(sc.Start, itemPath, problem);
                ok = false;
                continue;
            }
            builder.Add(new(key, itemValue));
        }
        value = builder.ToImmutable();
        return ok;
    }
}

/// <summary>
/// A GPIO chip: a character device path (<c>/dev/gpiochip0</c>), a bare chip name (<c>gpiochip0</c>),
/// or <c>sim:/directory</c>, the simulated chip the lab and developer machines use.
/// </summary>
internal sealed class GpioChipType : ScalarType<string>
{
    public override string Expected => "a GPIO chip: /dev/gpiochipN, gpiochipN or sim:/directory";
    public override string Doc => "`/dev/gpiochipN`, `gpiochipN` or `sim:/dir`";

    public override string Format(string value) => value;

    protected override bool TryParse(YScalar s, string name, [MaybeNullWhen(false)] out string value, out string error)
    {
        value = s.Value;
        error = "";
        bool bare = value.StartsWith("gpiochip", StringComparison.Ordinal) && value.Length > 8 && value[8..].All(char.IsAsciiDigit);
        string path = value.StartsWith("sim:", StringComparison.Ordinal) ? value[4..] : value;
        bool ok = bare || (path.StartsWith('/') && path.Length > 1 && path.Length <= ConfigLimits.MaxPathLength && !path.Contains('\0'));
        return ok || NotThis(s, out error);
    }
}

/// <summary>A GPIO line: its offset on the chip (<c>17</c>) or its board name (<c>RELAY_BETA</c>).</summary>
internal sealed class GpioLineType : ScalarType<string>
{
    /// <summary>GPIO_MAX_NAME_SIZE (linux/gpio.h) is 32 bytes including the terminating NUL.</summary>
    private const int MaxLineNameLength = 31;

    public override string Expected => $"a line offset (0 or more) or a line name of 1 to {MaxLineNameLength} printable characters";
    public override string Doc => "offset or line name";

    public override string Format(string value) => value;

    protected override bool TryParse(YScalar s, string name, [MaybeNullWhen(false)] out string value, out string error)
    {
        value = s.Value;
        error = "";
        if (value.Length is 0 or > MaxLineNameLength || !value.All(c => c > ' ' && c < 0x7f))
            return NotThis(s, out error);
        if (value.All(char.IsAsciiDigit) && !int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            return NotThis(s, out error);
        return true;
    }
}

/// <summary>A fence agent: an absolute path, or a bare <c>fence_*</c> name looked up in /usr/sbin.</summary>
internal sealed class FenceAgentPathType : ScalarType<string>
{
    public override string Expected => "a fence agent: an absolute path or a name like fence_ipmilan";
    public override string Doc => "`/path` or `fence_name`";

    public override string Format(string value) => value;

    protected override bool TryParse(YScalar s, string name, [MaybeNullWhen(false)] out string value, out string error)
    {
        value = s.Value;
        error = "";
        bool bare = value.StartsWith("fence_", StringComparison.Ordinal) && value.Length is > 6 and <= 64 &&
                    value.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-');
        bool path = value.StartsWith('/') && value.Length <= ConfigLimits.MaxPathLength && !value.Contains('\0');
        if (!bare && !path)
            return NotThis(s, out error);
        if (bare)
            value = "/usr/sbin/" + value;
        return true;
    }
}

/// <summary>A plug (port) name as a fence agent takes it: printable, no spaces, bounded.</summary>
internal sealed class PlugType : ScalarType<string>
{
    public override string Expected => "a plug name of 1 to 64 printable characters without spaces";

    public override string Format(string value) => value;

    protected override bool TryParse(YScalar s, string name, [MaybeNullWhen(false)] out string value, out string error)
    {
        value = s.Value;
        error = "";
        return (value.Length is > 0 and <= 64 && value.All(c => c > ' ' && c < 0x7f)) || NotThis(s, out error);
    }
}

/// <summary>A map from node names to values (PDU outlets, agent plugs): <c>{alpha: 1, beta: 2}</c>.</summary>
internal sealed class NodeMapType<T>(ScalarType<T> valueType, string valuesNoun) : ValueType<ImmutableArray<KeyValuePair<string, T>>>
{
    public override string Expected => $"a map of node names to {valuesNoun}, like {{alpha: 1, beta: 2}}";
    public override string Doc => $"map: node name → {valueType.Doc}";
    public override ValueShape Shape => ValueShape.Map;

    public override string Format(ImmutableArray<KeyValuePair<string, T>> value) =>
        "{" + string.Join(", ", value.Select(kv => $"{kv.Key}: {valueType.Format(kv.Value)}")) + "}";

    public override bool TryRead(YNode node, string name, string path, Diagnostics diag, out ImmutableArray<KeyValuePair<string, T>> value)
    {
        value = [];
        if (node is not YMapping map)
        {
            diag.Add(node.Start, path, $"expected {Expected}, got {node.Describe()}");
            return false;
        }
        var builder = ImmutableArray.CreateBuilder<KeyValuePair<string, T>>();
        bool ok = true;
        foreach (var (k, v) in map.Entries)
        {
            if (!ConfigSchema.NameType.TryRead(k, name, path, diag, out var node2))
            {
                ok = false;
                continue;
            }
            if (builder.Any(kv => kv.Key == node2))
            {
                diag.Add(k.Start, $"{path}.{node2}", $"node '{node2}' is listed twice");
                ok = false;
                continue;
            }
            if (valueType.TryRead(v, node2, $"{path}.{node2}", diag, out var item))
                builder.Add(new(node2, item));
            else
                ok = false;
        }
        value = builder.ToImmutable();
        return ok;
    }
}

/// <summary>
/// An address and port of a director's server (real or sorry): <c>10.0.0.11:8080</c>,
/// <c>[fd00::11]:8080</c>. IPv6 must be bracketed: <c>fd00::11:8080</c> is itself an IPv6 address.
/// </summary>
internal sealed class ServerEndpointType : ScalarType<IPEndPoint>
{
    public override string Expected => "an address and port, like 10.0.0.11:8080 or [fd00::11]:8080";
    public override string Doc => "`ip:port` or `[ipv6]:port`";

    public override string Format(IPEndPoint value) => value.ToString();

    protected override bool TryParse(YScalar s, string name, [MaybeNullWhen(false)] out IPEndPoint value, out string error)
    {
        value = null;
        error = "";
        if (!AddressAndPort.TryParse(s.Value, out var address, out int port))
            return NotThis(s, out error);
        if (IpAddressType.IsMulticast(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast))
        {
            error = $"{name} ({s.Value}) must be the address of one host";
            return false;
        }
        value = new IPEndPoint(address, port);
        return true;
    }
}

/// <summary>A virtual service's listen address: <c>203.0.113.10:80/tcp</c>, <c>[2001:db8::10]:53/udp</c>.</summary>
internal sealed class ListenType : ScalarType<ServiceListen>
{
    public override string Expected => "address:port/protocol, like 203.0.113.10:80/tcp or [2001:db8::10]:53/udp";
    public override string Doc => "`ip:port/tcp\\|udp` or `[ipv6]:port/tcp\\|udp`";

    public override string Format(ServiceListen value) => value.ToString();

    protected override bool TryParse(YScalar s, string name, out ServiceListen value, out string error)
    {
        value = default;
        error = "";
        int slash = s.Value.LastIndexOf('/');
        if (slash < 0 || !AddressAndPort.TryParse(s.Value[..slash], out var address, out int port))
            return NotThis(s, out error);
        L4Protocol protocol;
        switch (s.Value[(slash + 1)..])
        {
            case "tcp": protocol = L4Protocol.Tcp; break;
            case "udp": protocol = L4Protocol.Udp; break;
            default:
                error = $"{name} ({s.Value}): the protocol must be tcp or udp";
                return false;
        }
        value = new ServiceListen(address, port, protocol);
        return true;
    }
}

/// <summary><c>a.b.c.d:port</c> or <c>[ipv6]:port</c>, port 1 to 65535, addresses as <see cref="IpAddressType.TryParseStrict"/> reads them.</summary>
internal static class AddressAndPort
{
    public static bool TryParse(string text, [MaybeNullWhen(false)] out IPAddress address, out int port)
    {
        address = null;
        port = 0;
        int colon = text.LastIndexOf(':');
        if (colon <= 0)
            return false;
        string host = text[..colon];
        if (host.StartsWith('['))
        {
            if (!host.EndsWith(']') || !IpAddressType.TryParseStrict(host[1..^1], out address) || address.AddressFamily != AddressFamily.InterNetworkV6)
                return false;
        }
        else if (host.Contains(':') || !IpAddressType.TryParseStrict(host, out address))
        {
            return false;
        }
        return int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535;
    }
}

/// <summary>An absolute URL path for an HTTP check: printable ASCII, no spaces, starting with '/'.</summary>
internal sealed class UrlPathType : ScalarType<string>
{
    private const int MaxLength = 1024;
    public override string Expected => "a URL path starting with /, like /health";
    public override string Doc => "URL path";
    public override string Format(string value) => value;

    protected override bool TryParse(YScalar s, string name, [MaybeNullWhen(false)] out string value, out string error)
    {
        value = s.Value;
        error = "";
        return (value.StartsWith('/') && value.Length <= MaxLength && value.All(c => c > ' ' && c < 0x7f)) || NotThis(s, out error);
    }
}

/// <summary>An HTTP status code (<c>200</c>) or an inclusive range of them (<c>200-299</c>).</summary>
internal sealed class StatusRangeType : ScalarType<HttpStatusRange>
{
    private const int MinCode = 100, MaxCode = 599;
    protected override bool PlainOnly => true;
    public override string Expected => $"an HTTP status code ({MinCode} to {MaxCode}) or a range like 200-299";
    public override string Doc => "status code or range, like `200` or `200-299`";
    public override string Format(HttpStatusRange value) => value.ToString();

    protected override bool TryParse(YScalar s, string name, out HttpStatusRange value, out string error)
    {
        value = default;
        error = "";
        string[] parts = s.Value.Split('-');
        if (parts.Length is < 1 or > 2 || !parts.All(p => p.Length == 3 && p.All(char.IsAsciiDigit)))
            return NotThis(s, out error);
        int low = int.Parse(parts[0], CultureInfo.InvariantCulture), high = int.Parse(parts[^1], CultureInfo.InvariantCulture);
        if (low < MinCode || high > MaxCode || low > high)
        {
            error = $"{name} ({s.Value}) must be codes from {MinCode} to {MaxCode}, the lower first";
            return false;
        }
        value = new HttpStatusRange(low, high);
        return true;
    }
}

/// <summary>A text an HTTP check's answer body must contain: printable, bounded (it is searched within the first 64 KiB).</summary>
internal sealed class BodyMatchType : ScalarType<string>
{
    private const int MaxLength = 256;
    public override string Expected => $"a text of 1 to {MaxLength} printable characters";
    public override string Doc => "text";
    public override string Format(string value) => value;

    protected override bool TryParse(YScalar s, string name, [MaybeNullWhen(false)] out string value, out string error)
    {
        value = s.Value;
        error = "";
        return (value.Length is > 0 and <= MaxLength && !value.Any(char.IsControl)) || NotThis(s, out error);
    }
}

/// <summary>An HTTP Host header value: a host name or address, optionally with a port.</summary>
internal sealed class HostHeaderType : ScalarType<string>
{
    private const int MaxLength = 255;
    public override string Expected => "a host name, like www.example.com";
    public override string Doc => "host name";
    public override string Format(string value) => value;

    protected override bool TryParse(YScalar s, string name, [MaybeNullWhen(false)] out string value, out string error)
    {
        value = s.Value;
        error = "";
        return (value.Length is > 0 and <= MaxLength && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or ':' or '[' or ']')) || NotThis(s, out error);
    }
}
