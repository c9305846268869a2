using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Appliance.Ctl;

/// <summary>The human form of status: a compact table a person reads at a glance.</summary>
internal static class StatusText
{
    /// <summary>The pair's config: "config in sync: both run v7 (1a2b3c4d)", a transfer under way, the last outcome.</summary>
    public static string ConfigSync(JsonElement c)
    {
        var o = new StringBuilder();
        string state = c.GetProperty("state").GetString()!;
        o.Append(CultureInfo.InvariantCulture, $"  config {(state == "diverged" ? "DIVERGED" : state)}: {c.GetProperty("detail").GetString()}\n");
        foreach (string dir in new[] { "sending", "receiving" })
            if (c.TryGetProperty(dir, out var t) && t.ValueKind == JsonValueKind.Object)
                o.Append(CultureInfo.InvariantCulture,
                    $"    {dir} {t.GetProperty("kind").GetString()}: {t.GetProperty("done").GetInt32()}/{t.GetProperty("fragments").GetInt32()} fragments of {t.GetProperty("bytes").GetInt32()} bytes\n");
        if (c.TryGetProperty("last", out var last) && last.GetString() is { Length: > 0 } line)
            o.Append(CultureInfo.InvariantCulture, $"    last: {line.Replace("\n", "\n      ", StringComparison.Ordinal)}\n");
        return o.ToString();
    }

    public static string Render(JsonElement s)
    {
        var o = new StringBuilder();
        var peer = s.GetProperty("peer");
        var stall = s.GetProperty("stall");
        o.Append(CultureInfo.InvariantCulture,
            $"{s.GetProperty("node").GetString()}  {s.GetProperty("role").GetString()}   peer {peer.GetProperty("name").GetString()}: {peer.GetProperty("state").GetString()}");
        string peerRole = peer.GetProperty("role").GetString() ?? "unknown";
        if (peerRole != "unknown")
            o.Append(CultureInfo.InvariantCulture, $" ({peerRole})");
        o.Append(CultureInfo.InvariantCulture, $", heard {Age(peer.GetProperty("last_heard_ms"))}");
        o.Append(CultureInfo.InvariantCulture, $"   up {Duration(s.GetProperty("uptime_ms").GetInt64())}\n");
        if (s.TryGetProperty("role_reason", out var why) && why.GetString() is { Length: > 0 } reason)
            o.Append(CultureInfo.InvariantCulture, $"  why: {reason}{(s.TryGetProperty("standby_requested", out var sr) && sr.GetBoolean() ? " (standby requested by operator)" : "")}\n");
        if (s.TryGetProperty("unfit", out var unfit))
            o.Append(CultureInfo.InvariantCulture, $"  NOT FIT TO HOLD RESOURCES: {unfit.GetString()}\n");
        if (s.TryGetProperty("resource_failure", out var sf))
            o.Append(CultureInfo.InvariantCulture, $"  RESOURCE FAILED: {sf.GetString()} (`appliancectl takeover` clears it and retries)\n");
        if (s.TryGetProperty("warnings", out var warnings))
            foreach (var warning in warnings.EnumerateArray())
                o.Append(CultureInfo.InvariantCulture, $"  WARNING: {warning.GetString()}\n");

        o.Append(Links(peer));

        if (s.GetProperty("resources").GetArrayLength() > 0)
            o.Append(Resources(s));
        if (s.TryGetProperty("monitors", out var mons))
            foreach (var m in mons.EnumerateArray())
                o.Append(CultureInfo.InvariantCulture,
                    $"  monitor {m.GetProperty("name").GetString()} ({m.GetProperty("kind").GetString()}): {m.GetProperty("state").GetString()}, last: {m.GetProperty("last").GetString()}\n");
        if (s.TryGetProperty("duplicate_vip", out var dup))
        {
            foreach (var a in dup.GetProperty("alarms").EnumerateArray())
                o.Append(CultureInfo.InvariantCulture,
                    $"  {a.GetProperty("message").GetString()} (first {a.GetProperty("first_seen").GetString()}, last {a.GetProperty("last_seen").GetString()}, {a.GetProperty("count").GetInt64()} claims)\n");
            foreach (var v in dup.GetProperty("watched").EnumerateArray())
                if (!v.GetProperty("listening").GetBoolean())
                    o.Append(CultureInfo.InvariantCulture, $"  duplicate VIP watch on {v.GetProperty("interface").GetString()} NOT RUNNING: {v.GetProperty("detail").GetString()}\n");
        }
        if (s.TryGetProperty("config", out var cfg) && cfg.GetProperty("differs_from_file").GetBoolean())
        {
            var paths = cfg.GetProperty("restart_needed").EnumerateArray().Select(p => p.GetString()).ToList();
            o.Append(CultureInfo.InvariantCulture, $"  CONFIG: the running config differs from {cfg.GetProperty("file").GetString()} (last reload: {cfg.GetProperty("last_reload").GetString()})");
            o.Append(paths.Count == 0 ? "\n" : $"; restart applianced for: {string.Join(", ", paths)}\n");
        }
        if (s.TryGetProperty("config_sync", out var sync))
            o.Append(ConfigSync(sync));
        o.Append(Fencing(s.GetProperty("fencing")));
        var t = s.GetProperty("timers");
        o.Append(CultureInfo.InvariantCulture,
            $"  timers: keepalive {Ms(t, "keepalive_ms")} warntime {Ms(t, "warntime_ms")} deadtime {Ms(t, "deadtime_ms")} initdead {Ms(t, "initdead_ms")}");
        o.Append(CultureInfo.InvariantCulture, $"   fencing: {s.GetProperty("fencing").GetProperty("mode").GetString()}");
        long stalls = stall.GetProperty("count").GetInt64();
        o.Append(stalls == 0 ? "   stalls: 0\n"
            : string.Create(CultureInfo.InvariantCulture, $"   STALLS: {stalls} (last {Duration(stall.GetProperty("last_ms").GetInt64())})\n"));
        if (s.TryGetProperty("heartbeat", out var hb) && hb.TryGetProperty("rescue", out var rescue))
        {
            o.Append(CultureInfo.InvariantCulture, $"  heartbeat thread: CPU {hb.GetProperty("cpus").GetString()}");
            o.Append(rescue.GetProperty("watch_cpu").ValueKind == JsonValueKind.Number
                ? string.Create(CultureInfo.InvariantCulture, $", watched from CPU {rescue.GetProperty("watch_cpu").GetInt32()}: ran its loop {rescue.GetProperty("steps").GetInt64()} times, moved it {rescue.GetProperty("moves").GetInt64()} times\n")
                : $", not watched: {rescue.GetProperty("off").GetString()}\n");
        }
        return o.ToString();
    }

    /// <summary>Fencing in a line or two: what is happening now, and the last operation.</summary>
    private static string Fencing(JsonElement f)
    {
        var o = new StringBuilder();
        string state = f.GetProperty("state").GetString()!;
        string progress = f.GetProperty("progress").GetString()!;
        if (state is not ("idle" or "done"))
            o.Append(CultureInfo.InvariantCulture, $"  FENCING {state.ToUpperInvariant()}: {progress}\n");
        foreach (var d in f.GetProperty("devices").EnumerateArray())
            o.Append(CultureInfo.InvariantCulture,
                $"  fence device {d.GetProperty("name").GetString()} ({d.GetProperty("kind").GetString()}){(d.GetProperty("health").GetString() is { Length: > 0 } h ? ": " + h : "")}\n");
        if (f.GetProperty("last") is { ValueKind: JsonValueKind.Object } last)
            o.Append(CultureInfo.InvariantCulture, $"  last fence: {HistoryLine(last)}\n");
        return o.ToString();
    }

    /// <summary>The peer in a line and its heartbeat links as a table (the console's `show peer`).</summary>
    public static string Peer(JsonElement s)
    {
        var peer = s.GetProperty("peer");
        var o = new StringBuilder();
        o.Append(CultureInfo.InvariantCulture,
            $"peer {peer.GetProperty("name").GetString()}: {peer.GetProperty("state").GetString()}");
        string peerRole = peer.GetProperty("role").GetString() ?? "unknown";
        if (peerRole != "unknown")
            o.Append(CultureInfo.InvariantCulture, $" ({peerRole})");
        o.Append(CultureInfo.InvariantCulture, $", heard {Age(peer.GetProperty("last_heard_ms"))}\n");
        o.Append(Links(peer));
        return o.ToString();
    }

    /// <summary>The heartbeat links with their counters, one row each.</summary>
    public static string Links(JsonElement peer)
    {
        var o = new StringBuilder();
        var rows = new List<string[]> { new[] { "LINK", "KIND", "STATE", "HEARD", "EVERY/DEAD", "TX", "RX", "REJECTED", "STALE", "BAD-FRAMING", "NOISE-BYTES", "ENDPOINT" } };
        foreach (var l in peer.GetProperty("links").EnumerateArray())
        {
            var c = l.GetProperty("counters");
            string state = l.GetProperty("state").GetString()!;
            if (!l.GetProperty("open").GetBoolean())
                state += " (closed)";
            else if (l.TryGetProperty("fault", out var fault) && fault.GetBoolean())
                state += " (fault)";
            string cadence = l.TryGetProperty("keepalive_ms", out var k) && l.TryGetProperty("deadtime_ms", out var d)
                ? $"{k.GetInt64()}ms/{d.GetInt64()}ms" : "-";
            rows.Add(new[]
            {
                l.GetProperty("name").GetString()!, l.GetProperty("kind").GetString()!, state,
                Age(l.GetProperty("last_heard_ms")), cadence,
                Num(c, "tx_frames") + (c.GetProperty("tx_dropped").GetInt64() > 0 ? $" (-{Num(c, "tx_dropped")})" : ""),
                Num(c, "rx_frames"), Num(c, "rx_rejected"), Num(c, "rx_stale"), Num(c, "rx_bad_framing"), Num(c, "rx_noise_bytes"),
                l.GetProperty("endpoint").GetString()!,
            });
        }
        int[] width = new int[rows[0].Length];
        foreach (var r in rows)
            for (int i = 0; i < r.Length; i++)
                width[i] = Math.Max(width[i], r[i].Length);
        foreach (var r in rows)
        {
            o.Append("  ");
            for (int i = 0; i < r.Length; i++)
                o.Append(i == r.Length - 1 ? r[i] : r[i].PadRight(width[i] + 2));
            o.Append('\n');
        }

        return o.ToString();
    }

    /// <summary>One fence history entry as a line (also `appliancectl fence history`).</summary>
    public static string HistoryLine(JsonElement e) =>
        $"{e.GetProperty("at").GetString()}  {e.GetProperty("target").GetString()} {e.GetProperty("action").GetString()} " +
        $"via {e.GetProperty("device").GetString()}: {e.GetProperty("result").GetString()} ({e.GetProperty("outcome").GetString()}, " +
        $"{Duration(e.GetProperty("elapsed_ms").GetInt64())}, {e.GetProperty("trigger").GetString()}) {e.GetProperty("reason").GetString()}";

    /// <summary>The resources table (also `appliancectl resources`).</summary>
    public static string Resources(JsonElement s)
    {
        var o = new StringBuilder();
        var rows = new List<string[]> { new[] { "RESOURCE", "KIND", "STATE", "DETAIL" } };
        foreach (var r in s.GetProperty("resources").EnumerateArray())
            rows.Add(new[] { r.GetProperty("name").GetString()!, r.GetProperty("kind").GetString()!, r.GetProperty("state").GetString()!, r.GetProperty("detail").GetString()! });
        if (rows.Count == 1)
            return "  no resources configured\n";
        int[] width = new int[4];
        foreach (var r in rows)
            for (int i = 0; i < 4; i++)
                width[i] = Math.Max(width[i], r[i].Length);
        foreach (var r in rows)
            o.Append("  ").Append(r[0].PadRight(width[0] + 2)).Append(r[1].PadRight(width[1] + 2)).Append(r[2].PadRight(width[2] + 2)).Append(r[3]).Append('\n');
        return o.ToString();
    }

    /// <summary>`appliancectl services`: one block per service, a row per real server.</summary>
    public static string Services(JsonElement s)
    {
        var o = new StringBuilder();
        o.Append(CultureInfo.InvariantCulture, $"director: generation {s.GetProperty("generation").GetInt64()}{(s.GetProperty("loaded").GetBoolean() ? "" : ", table NOT loaded")}\n");
        if (s.TryGetProperty("error", out var error))
            o.Append(CultureInfo.InvariantCulture, $"  ERROR: {error.GetString()}\n");
        if (s.TryGetProperty("connections_error", out var connectionsError))
            o.Append(CultureInfo.InvariantCulture, $"  active connections not counted: {connectionsError.GetString()}\n");
        foreach (var svc in s.GetProperty("services").EnumerateArray())
        {
            o.Append(CultureInfo.InvariantCulture, $"service {svc.GetProperty("name").GetString()}  {svc.GetProperty("listen").GetString()}  " +
                $"{svc.GetProperty("scheduler").GetString()}, {svc.GetProperty("forwarding").GetString()}" +
                $"{(svc.GetProperty("sorry_active").GetBoolean() ? "  SORRY SERVER ACTIVE" : "")}{(svc.GetProperty("quorum").GetBoolean() ? "" : "  NO QUORUM")}\n");
            if (svc.TryGetProperty("capacity", out var cap))
                o.Append(Capacity(cap));
            var rows = new List<string[]> { new[] { "SERVER", "STATE", "WEIGHT", "ACTIVE", "NEW", "PACKETS", "BYTES", "CHECK" } };
            foreach (var r in svc.GetProperty("servers").EnumerateArray())
            {
                var conn = r.TryGetProperty("connections", out var c) ? c : default;
                string active = conn.ValueKind == JsonValueKind.Object && conn.GetProperty("active").ValueKind == JsonValueKind.Number ? Num(conn, "active") : "-";
                string fresh = conn.ValueKind == JsonValueKind.Object ? Num(conn, "new") : "-";
                rows.Add(new[] { r.GetProperty("address").GetString()! + (r.GetProperty("sorry").GetBoolean() ? " (sorry)" : ""),
                    r.GetProperty("state").GetString()!, Num(r, "weight"), active, fresh, Num(r, "packets"), Num(r, "bytes"),
                    r.GetProperty("check").GetProperty("result").GetString()! });
            }
            int columns = rows[0].Length;
            int[] width = new int[columns];
            foreach (var r in rows)
                for (int i = 0; i < columns; i++)
                    width[i] = Math.Max(width[i], r[i].Length);
            foreach (var r in rows)
            {
                o.Append("  ");
                for (int i = 0; i < columns - 1; i++)
                    o.Append(r[i].PadRight(width[i] + 2));
                o.Append(r[columns - 1]).Append('\n');
            }
        }
        return o.ToString();
    }

    /// <summary>A service's capacity line: the peak, what N-1 carries, and the warning or why there is no check.</summary>
    private static string Capacity(JsonElement cap)
    {
        long windowS = cap.GetProperty("window_s").GetInt64();
        string n1 = cap.GetProperty("without_busiest").ValueKind == JsonValueKind.Number ? Num(cap, "without_busiest") : "unknown";
        string window = windowS % 3600 == 0 ? $"{windowS / 3600}h" : Duration(windowS * 1000);
        string line = $"  capacity: peak {Num(cap, "peak")} active in the last {window}, {n1} without the busiest real server";
        if (cap.GetProperty("warning").ValueKind == JsonValueKind.String)
            line += "  NOT N-1 REDUNDANT";
        else if (cap.TryGetProperty("note", out var note))
            line += $" ({note.GetString()})";
        return line + "\n";
    }

    private static string Num(JsonElement c, string name) => c.GetProperty(name).GetInt64().ToString(CultureInfo.InvariantCulture);

    private static string Ms(JsonElement t, string name) => Duration(t.GetProperty(name).GetInt64());

    private static string Age(JsonElement ms) => ms.ValueKind == JsonValueKind.Null ? "never" : Duration(ms.GetInt64()) + " ago";

    internal static string Duration(long ms) => ms switch
    {
        < 1000 => $"{ms}ms",
        < 60_000 => (ms % 1000 == 0 ? $"{ms / 1000}s" : string.Create(CultureInfo.InvariantCulture, $"{ms / 1000.0:0.0}s")),
        < 3_600_000 => $"{ms / 60_000}m{ms / 1000 % 60:00}s",
        _ => $"{ms / 3_600_000}h{ms / 60_000 % 60:00}m",
    };
}
