using System.Collections.Immutable;
using System.Net;

namespace Appliance.Core.Config.Import;

// Importers from heartbeat v1 (ha.cf, haresources, authkeys) and keepalived (keepalived.conf) to
// appliance.yaml (issue 12 part 3). Pure: the caller reads the files through IImportFiles.

/// <summary>What happened to one thing of the source that did not map one to one.</summary>
public enum ImportNoteKind
{
    /// <summary>Not imported: the appliance has no equivalent, or the source's value cannot be used.</summary>
    Skipped,
    /// <summary>Imported, but changed to fit (a bound, a different mechanism); check it.</summary>
    Changed,
    /// <summary>Not in the source; the importer chose it (a name, an address assignment); check it.</summary>
    Assumed,
}

/// <summary>
/// One line of the import report: where in the source (<paramref name="File"/>:<paramref name="Line"/>,
/// 0 for the file as a whole), what (<paramref name="Subject"/>, the source's words) and why.
/// </summary>
public sealed record ImportNote(ImportNoteKind Kind, string File, int Line, string Subject, string Reason)
{
    public string Place => Line > 0 ? $"{File}:{Line}" : File;

    public override string ToString() => $"{Place}: {Subject}: {Reason}";
}

/// <summary>
/// The outcome of an import: the YAML text (header comment, the report as comments, the config) and
/// the report, or no text and the errors that stopped it (each naming file, line and column).
/// </summary>
public sealed record ImportResult(string? Yaml, ImmutableArray<ImportNote> Notes, ImmutableArray<ConfigError> Errors)
{
    public bool Ok => Yaml is not null;
}

/// <summary>
/// A node's address given on the command line (<c>--address NODE[:IFACE]=IP</c>) for a link whose
/// addresses the source does not say: heartbeat's bcast and mcast name interfaces only, keepalived's
/// multicast VRRP names neither node's address. Null <paramref name="Interface"/>: any interface.
/// </summary>
public sealed record AddressHint(string Node, string? Interface, IPAddress Address)
{
    /// <summary>Parses <c>NODE=IP</c> or <c>NODE:IFACE=IP</c>; null and a reason when it is not that.</summary>
    public static AddressHint? Parse(string text, out string error)
    {
        error = "";
        int eq = text.IndexOf('=');
        if (eq <= 0 || !IPAddress.TryParse(text[(eq + 1)..], out var address) || text[(eq + 1)..].Contains('%'))
        {
            error = $"'{text}' is not NODE=IP or NODE:IFACE=IP";
            return null;
        }
        string left = text[..eq];
        int colon = left.IndexOf(':');
        string node = colon < 0 ? left : left[..colon];
        string? iface = colon < 0 ? null : left[(colon + 1)..];
        if (node.Length == 0 || iface is { Length: 0 })
        {
            error = $"'{text}' is not NODE=IP or NODE:IFACE=IP";
            return null;
        }
        return new AddressHint(node, iface, address);
    }
}

/// <summary>What the source does not say and the operator may: names, addresses, the key file.</summary>
public sealed record ImportOptions
{
    /// <summary>Where the output's <c>cluster.key_file</c> points.</summary>
    public const string DefaultKeyFile = "/etc/appliance/authkey";

    /// <summary><c>cluster.name</c>; null: derived from the source (heartbeat: the node names; keepalived: the first VRID).</summary>
    public string? ClusterName { get; init; }

    /// <summary>
    /// The node the source files belong to (<c>--node</c>). heartbeat: one of its <c>node</c> names,
    /// needed when a per-node <c>ucast</c> line names only the peer. keepalived: this node's name
    /// (default <c>alpha</c>).
    /// </summary>
    public string? LocalNode { get; init; }

    /// <summary>keepalived: the other node's name (<c>--peer</c>, default <c>beta</c>, or <c>alpha</c> when this node is beta).</summary>
    public string? PeerNode { get; init; }

    public string KeyFile { get; init; } = DefaultKeyFile;

    /// <summary>The caller writes a new random key to <see cref="KeyFile"/> (<c>--write-key</c>); the output says so.</summary>
    public bool KeyWritten { get; init; }

    public ImmutableArray<AddressHint> Addresses { get; init; } = [];

    /// <summary>keepalived: a serial heartbeat link on this device on both nodes (<c>--serial</c>); keepalived has none.</summary>
    public string? SerialDevice { get; init; }
}
