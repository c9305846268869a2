using System.Text.Json;
using Appliance.Core.Config;
using Appliance.Core.Heartbeat;
using Appliance.Core.Membership;

namespace Appliance.Daemon;

/// <summary>
/// Writes `appliancectl status --json` (DESIGN.md section 6: node, role, peer{name,state,role,links},
/// resources, fencing, timers) plus heartbeat detail. Written by hand with Utf8JsonWriter: no
/// reflection, safe to trim.
/// </summary>
internal static class StatusJson
{
    public static byte[] Write(string node, string peerName, ApplianceConfig config, HeartbeatStatus hb,
        IReadOnlyList<(string Name, string Kind, Appliance.Core.Monitors.MonitorState State, string Last)> monitors,
        string unfit, TimeSpan uptime, NodeExecutor executor,
        IReadOnlyList<WatchedVip> watchedVips, IReadOnlyList<DuplicateVipAlarm> vipAlarms, IReadOnlyList<string> warnings,
        Action<Utf8JsonWriter>? writeConfig = null, Action<Utf8JsonWriter>? panel = null) =>
        Write(node, peerName, config, hb, monitors, unfit, uptime,
            [.. executor.Devices.Values.Select(d => (d.Name, d.Kind, NodeExecutor.Health(d)))], executor.History.Last, executor.HistoryError,
            watchedVips, vipAlarms, System.Globalization.CultureInfo.InvariantCulture, includeRuntime: true, warnings, writeConfig, panel);

    /// <summary>The document itself, from plain values (golden tests call this with fixed ones).</summary>
    public static byte[] Write(string node, string peerName, ApplianceConfig config, HeartbeatStatus hb,
        IReadOnlyList<(string Name, string Kind, Appliance.Core.Monitors.MonitorState State, string Last)> monitors,
        string unfit, TimeSpan uptime, IReadOnlyList<(string Name, string Kind, string Health)> devices,
        Fencing.FenceHistoryEntry? lastFence, string historyError,
        IReadOnlyList<WatchedVip> watchedVips, IReadOnlyList<DuplicateVipAlarm> vipAlarms, IFormatProvider _, bool includeRuntime,
        IReadOnlyList<string>? warnings = null, Action<Utf8JsonWriter>? writeConfig = null, Action<Utf8JsonWriter>? panel = null)
    {
        var view = hb.Node;
        var resources = view?.ResourceList ?? [];
        string startFailure = view?.ResourceFailure ?? "";
        var fencing = view?.Fencing ?? new Appliance.Core.Node.FencingView(Appliance.Core.Node.FencingPhase.Idle, null, "", 0, null);
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("node", node);
            w.WriteString("cluster", config.Cluster.Name);
            w.WriteString("role", RoleName(hb.Role));
            w.WriteString("role_reason", hb.RoleReason);
            w.WriteBoolean("standby_requested", hb.StandbyRequested);
            if (startFailure.Length > 0)
                w.WriteString("resource_failure", startFailure);
            if (unfit.Length > 0)
                w.WriteString("unfit", unfit);
            w.WriteNumber("uptime_ms", (long)uptime.TotalMilliseconds);
            w.WriteString("boot", hb.SelfBoot.ToString());
            // Conditions an operator should act on that are no failure yet (the director's N-1 capacity).
            w.WriteStartArray("warnings");
            foreach (var warning in warnings ?? [])
                w.WriteStringValue(warning);
            w.WriteEndArray();

            w.WriteStartObject("peer");
            w.WriteString("name", peerName);
            // DESIGN.md section 6: a dead peer verified off reads "fenced".
            w.WriteString("state", view?.PeerFenced == true ? "fenced" : PeerStateName(hb.Peer));
            w.WriteString("role", hb.Peer is PeerState.Up or PeerState.Warn ? RoleName(hb.PeerSummary.Role) : "unknown");
            if (hb.PeerSilence is { } s)
                w.WriteNumber("last_heard_ms", (long)s.TotalMilliseconds);
            else
                w.WriteNull("last_heard_ms");
            w.WriteStartArray("links");
            foreach (var l in hb.Links)
            {
                w.WriteStartObject();
                w.WriteString("name", l.Name);
                w.WriteString("kind", HeartbeatThread.KindName(l.Kind));
                w.WriteString("state", l.State == LinkState.Up ? "up" : "down");
                w.WriteString("endpoint", l.Endpoint);
                w.WriteBoolean("open", l.Open);
                if (l.Silence is { } ls)
                    w.WriteNumber("last_heard_ms", (long)ls.TotalMilliseconds);
                else
                    w.WriteNull("last_heard_ms");
                // The link's own cadence (a serial link may send every n-th keepalive) and its fault flag:
                // a send the kernel refused or a lost device, a signal to look that changes no judgement.
                w.WriteNumber("keepalive_ms", (long)l.Timers.Keepalive.TotalMilliseconds);
                w.WriteNumber("deadtime_ms", (long)l.Timers.Deadtime.TotalMilliseconds);
                w.WriteBoolean("fault", l.Fault);
                w.WriteStartObject("counters");
                w.WriteNumber("tx_frames", l.Counters.TxFrames);
                w.WriteNumber("tx_dropped", l.Counters.TxDropped);
                w.WriteNumber("rx_frames", l.Counters.RxFrames);
                w.WriteNumber("rx_rejected", l.Counters.RxRejected);
                w.WriteNumber("rx_stale", l.Counters.RxStale);
                w.WriteNumber("rx_bad_framing", l.Counters.RxBadFraming);
                w.WriteNumber("rx_noise_bytes", l.Counters.RxNoiseBytes);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();

            w.WriteStartArray("resources");
            foreach (var r in resources)
            {
                w.WriteStartObject();
                w.WriteString("name", r.Name);
                w.WriteString("kind", r.Kind);
                w.WriteString("state", r.State.ToString().ToLowerInvariant());
                w.WriteString("detail", r.Detail);
                w.WriteEndObject();
            }
            w.WriteEndArray();

            w.WriteStartArray("monitors");
            foreach (var m in monitors)
            {
                w.WriteStartObject();
                w.WriteString("name", m.Name);
                w.WriteString("kind", m.Kind);
                w.WriteString("state", m.State == Appliance.Core.Monitors.MonitorState.Up ? "up" : "down");
                w.WriteString("last", m.Last);
                w.WriteEndObject();
            }
            w.WriteEndArray();

            w.WriteStartObject("fencing");
            w.WriteString("mode", config.Cluster.Fencing == FencingMode.Off ? "off" : "required");
            w.WriteString("state", Appliance.Core.Node.FencingView.PhaseName(fencing.Phase));
            if (fencing.Target is { } target)
                w.WriteString("target", target);
            w.WriteString("progress", fencing.Progress);
            w.WriteNumber("rounds_failed", fencing.RoundsFailed);
            if (historyError.Length > 0)
                w.WriteString("history_error", historyError);
            w.WriteStartArray("devices");
            foreach (var (name, kind, health) in devices)
            {
                w.WriteStartObject();
                w.WriteString("name", name);
                w.WriteString("kind", kind);
                w.WriteString("health", health);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (lastFence is { } last)
            {
                w.WritePropertyName("last");
                WriteFenceEntry(w, last);
            }
            else
                w.WriteNull("last");
            w.WriteEndObject();

            w.WriteStartObject("duplicate_vip");
            w.WriteStartArray("watched");
            foreach (var v in watchedVips)
            {
                w.WriteStartObject();
                w.WriteString("vip", v.Vip);
                w.WriteString("interface", v.Interface);
                w.WriteBoolean("listening", v.Listening);
                if (v.SelfMac is { } mac) w.WriteString("mac", mac); else w.WriteNull("mac");
                if (v.PeerMac is { } peerMac) w.WriteString("peer_mac", peerMac); else w.WriteNull("peer_mac");
                w.WriteBoolean("peer_mac_learned", v.PeerLearned);
                w.WriteString("detail", v.Detail);
                w.WriteNumber("probes_sent", v.ProbesSent);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("alarms");
            foreach (var a in vipAlarms)
            {
                w.WriteStartObject();
                w.WriteString("vip", a.Vip);
                w.WriteString("interface", a.Interface);
                w.WriteString("mac", a.Mac);
                w.WriteString("first_seen", Utc(a.FirstSeen));
                w.WriteString("last_seen", Utc(a.LastSeen));
                w.WriteNumber("count", a.Count);
                w.WriteString("message", a.Message);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();

            var t = config.Cluster.Timers;
            w.WriteStartObject("timers");
            w.WriteNumber("keepalive_ms", (long)t.Keepalive.TotalMilliseconds);
            w.WriteNumber("warntime_ms", (long)t.Warntime.TotalMilliseconds);
            w.WriteNumber("deadtime_ms", (long)t.Deadtime.TotalMilliseconds);
            w.WriteNumber("initdead_ms", (long)t.Initdead.TotalMilliseconds);
            w.WriteEndObject();

            w.WriteStartObject("stall");
            w.WriteNumber("count", hb.StallCount);
            w.WriteNumber("last_ms", (long)hb.LastStall.TotalMilliseconds);
            w.WriteEndObject();

            w.WriteStartObject("heartbeat");
            w.WriteNumber("seq", hb.SelfSeq.Value);
            w.WriteString("peer_boot", hb.PeerBoot.ToString());
            w.WriteNumber("worst_wake_delay_us", hb.WorstGapMicros);
            w.WriteNumber("worst_send_gap_us", (long)hb.WorstSendGap.TotalMicroseconds);
            w.WriteBoolean("realtime", hb.Realtime);
            w.WriteBoolean("memory_locked", hb.MemoryLocked);
            w.WriteString("cpus", hb.Cpus);
            // The watcher on another CPU (HeartbeatRescue): how often it ran the loop for a late heartbeat thread, or moved it.
            w.WriteStartObject("rescue");
            if (hb.Rescue.WatchCpu >= 0)
                w.WriteNumber("watch_cpu", hb.Rescue.WatchCpu);
            else
                w.WriteNull("watch_cpu");
            w.WriteNumber("steps", hb.Rescue.Steps);
            w.WriteNumber("moves", hb.Rescue.Rescues);
            w.WriteNumber("worst_late_us", (long)hb.Rescue.WorstLate.TotalMicroseconds);
            w.WriteNumber("refused", hb.Rescue.Failures);
            // Keepalives it sent for a heartbeat thread held inside its pass (KeepaliveCover): episodes and ticks.
            w.WriteNumber("covers", hb.Rescue.Covers);
            w.WriteNumber("cover_ticks", hb.Rescue.CoverTicks);
            if (hb.Rescue.Off is { } off)
                w.WriteString("off", off);
            w.WriteEndObject();
            w.WriteNumber("worker_gc_count", hb.GcCount);
            w.WriteNumber("worker_gc_pause_ms", (long)hb.GcPause.TotalMilliseconds);
            w.WriteEndObject();

            // The reload's view: does the running config differ from the file (ConfigReloader)?
            writeConfig?.Invoke(w);

            // The collector pauses every managed thread, the heartbeat's included: show what it costs.
            if (includeRuntime)
                WriteRuntime(w);

            // The front panel, when the config has one (PanelService).
            panel?.Invoke(w);

            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    private static void WriteRuntime(Utf8JsonWriter w)
    {
        {
            w.WriteStartObject("runtime");
            w.WriteNumber("gc_gen0", GC.CollectionCount(0));
            w.WriteNumber("gc_gen1", GC.CollectionCount(1));
            w.WriteNumber("gc_gen2", GC.CollectionCount(2));
            w.WriteNumber("gc_pause_total_ms", (long)GC.GetTotalPauseDuration().TotalMilliseconds);
            w.WriteNumber("heap_bytes", GC.GetTotalMemory(forceFullCollection: false));
            w.WriteEndObject();
        }
    }

    /// <summary>One history entry; <c>target</c> and <c>result</c> are the DESIGN.md section 6 fields.</summary>
    public static void WriteFenceEntry(Utf8JsonWriter w, Fencing.FenceHistoryEntry e)
    {
        w.WriteStartObject();
        w.WriteString("target", e.Target);
        w.WriteString("result", e.Verified ? "fenced" : e.Action == "on" ? "powered-on" : "failed");
        w.WriteString("device", e.Device);
        w.WriteString("action", e.Action);
        w.WriteString("outcome", e.Outcome);
        w.WriteBoolean("verified", e.Verified);
        w.WriteString("reason", e.Reason);
        w.WriteNumber("elapsed_ms", e.ElapsedMs);
        w.WriteString("at", Utc(e.At));
        w.WriteString("trigger", e.Trigger);
        w.WriteEndObject();
    }

    public static byte[] WriteFenceHistory(IReadOnlyList<Fencing.FenceHistoryEntry> entries)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteBoolean("ok", true);
            w.WriteStartArray("history");
            foreach (var e in entries)
                WriteFenceEntry(w, e);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    private static string Utc(DateTimeOffset t) =>
        t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);

    public static string RoleName(NodeRole role) => role.ToString().ToLowerInvariant();

    public static string PeerStateName(PeerState s) => s.ToString().ToLowerInvariant();
}
