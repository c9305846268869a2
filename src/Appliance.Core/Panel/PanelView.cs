using System.Collections.Immutable;
using System.Text.Json;

namespace Appliance.Core.Panel;

/// <summary>A heartbeat link as the panel shows it.</summary>
public sealed record PanelLink(string Name, bool Up);

/// <summary>A resource as the panel shows it: <c>started|stopped|starting|stopping|failed</c>.</summary>
public sealed record PanelResource(string Name, string Kind, string State);

/// <summary>The last fencing: target and result as status says it (<c>fenced|failed|powered-on</c>).</summary>
public sealed record PanelFence(string Target, string Result);

/// <summary>
/// A condition that needs a person, by a stable <paramref name="Key"/> (so the same condition is
/// one alarm however often it is seen) and a short text for the LCD.
/// </summary>
public sealed record AlarmCondition(string Key, string Text);

/// <summary>
/// What the panel shows of the node: read from the same documents as <c>appliancectl status
/// --json</c> and <c>services --json</c> (<see cref="FromStatus"/>), so the panel and the CLI
/// never disagree. Pure data.
/// </summary>
public sealed record PanelView(string Node, string Role, string RoleReason, string PeerName, string PeerState, string PeerRole)
{
    public ImmutableArray<PanelLink> Links { get; init; } = [];
    public ImmutableArray<PanelResource> Resources { get; init; } = [];
    public ImmutableArray<string> Vips { get; init; } = [];
    public PanelFence? LastFence { get; init; }

    /// <summary>The fencing state machine's phase (idle, delaying, fencing, retrying, ...).</summary>
    public string FencingState { get; init; } = "idle";

    /// <summary>The pair's config: <c>in sync|peer newer|local newer|diverged|unknown</c> (status's config_sync.state).</summary>
    public string ConfigSync { get; init; } = "unknown";

    /// <summary>This node's config version and hash prefix, like <c>v7 1a2b3c4d</c>.</summary>
    public string ConfigVersion { get; init; } = "";

    /// <summary>How many times the daemon found it had not been scheduled for longer than deadtime.</summary>
    public long Stalls { get; init; }

    /// <summary>Open conditions: fence failed, duplicate VIP, failed resource, real server down, warnings.</summary>
    public ImmutableArray<AlarmCondition> Conditions { get; init; } = [];

    /// <summary>
    /// Value equality, the lists item by item (a record compares ImmutableArrays by reference): a
    /// status that changes nothing the panel shows compares equal, so the panel is not woken for it.
    /// </summary>
    public bool Equals(PanelView? other) =>
        other is not null
        && (ReferenceEquals(this, other)
            || Node == other.Node && Role == other.Role && RoleReason == other.RoleReason && PeerName == other.PeerName
               && PeerState == other.PeerState && PeerRole == other.PeerRole && Equals(LastFence, other.LastFence)
               && FencingState == other.FencingState && Stalls == other.Stalls
               && Links.SequenceEqual(other.Links) && Resources.SequenceEqual(other.Resources) && Vips.SequenceEqual(other.Vips)
               && Conditions.SequenceEqual(other.Conditions));

    public override int GetHashCode() => HashCode.Combine(Node, Role, RoleReason, PeerState, FencingState, Stalls, Links.Length, Conditions.Length);

    /// <summary>The view before the first status arrives.</summary>
    public static PanelView Unknown(string node) => new(node, "starting", "", "peer", "unknown", "unknown");

    /// <summary>
    /// Reads <c>status --json</c> (and <c>services --json</c> when there is a director). Unknown or
    /// missing fields read as "unknown" rather than throwing: the panel shows what it can.
    /// </summary>
    public static PanelView FromStatus(JsonElement status, JsonElement? services = null)
    {
        string Str(JsonElement e, string name, string fallback = "") =>
            e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : fallback;
        JsonElement Obj(JsonElement e, string name) =>
            e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? v : default;
        IEnumerable<JsonElement> Arr(JsonElement e, string name) =>
            e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array ? v.EnumerateArray() : [];

        var peer = Obj(status, "peer");
        var links = Arr(peer, "links").Select(l => new PanelLink(Str(l, "name"), Str(l, "state") == "up")).ToImmutableArray();
        var resources = Arr(status, "resources").Select(r => new PanelResource(Str(r, "name"), Str(r, "kind"), Str(r, "state"))).ToImmutableArray();
        var fencing = Obj(status, "fencing");
        var last = Obj(fencing, "last");
        PanelFence? lastFence = last.ValueKind == JsonValueKind.Object ? new PanelFence(Str(last, "target"), Str(last, "result")) : null;
        var dup = Obj(status, "duplicate_vip");
        var vips = Arr(dup, "watched").Select(w => Str(w, "vip")).Where(v => v.Length > 0).Distinct().ToImmutableArray();
        var stall = Obj(status, "stall");
        long stalls = stall.ValueKind == JsonValueKind.Object && stall.TryGetProperty("count", out var c) && c.TryGetInt64(out long n) ? n : 0;

        var sync = Obj(status, "config_sync");
        string syncState = Str(sync, "state", "unknown");
        var local = Obj(sync, "local");
        string version = local.ValueKind == JsonValueKind.Object && local.TryGetProperty("version", out var ver) && ver.TryGetInt64(out long vn)
            ? $"v{vn} {Str(local, "sha256").PadRight(8)[..8]}" : "";

        var conditions = ImmutableArray.CreateBuilder<AlarmCondition>();
        // Both nodes changed the config since they last agreed: a person chooses (config push or pull).
        if (syncState == "diverged")
            conditions.Add(new AlarmCondition("config-diverged", "config diverged"));
        if (lastFence is { Result: "failed" })
            conditions.Add(new AlarmCondition("fence-failed:" + lastFence.Target, "fence failed " + lastFence.Target));
        foreach (var a in Arr(dup, "alarms"))
            conditions.Add(new AlarmCondition("dup-vip:" + Str(a, "vip"), "dup VIP " + Str(a, "vip")));
        foreach (var r in resources.Where(r => r.State == "failed"))
            conditions.Add(new AlarmCondition("resource:" + r.Name, "failed " + r.Name));
        if (Str(status, "unfit") is { Length: > 0 } unfit)
            conditions.Add(new AlarmCondition("unfit", "unfit: " + unfit));
        foreach (var svc in services is { } s ? Arr(s, "services") : [])
            foreach (var server in Arr(svc, "servers"))
                if (Str(server, "state") == "down" && !(server.TryGetProperty("sorry", out var sorry) && sorry.ValueKind == JsonValueKind.True))
                    conditions.Add(new AlarmCondition($"rs-down:{Str(svc, "name")}:{Str(server, "address")}", "down " + Str(server, "address")));
        foreach (var w in Arr(status, "warnings"))
            if (w.ValueKind == JsonValueKind.String)
                conditions.Add(new AlarmCondition("warning:" + w.GetString(), w.GetString()!));

        return new PanelView(Str(status, "node", "?"), Str(status, "role", "unknown"), Str(status, "role_reason"),
            Str(peer, "name", "peer"), Str(peer, "state", "unknown"), Str(peer, "role", "unknown"))
        {
            Links = links, Resources = resources, Vips = vips, LastFence = lastFence, FencingState = Str(fencing, "state", "idle"),
            Stalls = stalls, Conditions = conditions.ToImmutable(), ConfigSync = syncState, ConfigVersion = version,
        };
    }
}
