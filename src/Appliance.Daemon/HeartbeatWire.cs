using System.Text.Json;
using Appliance.Core.Config;
using Appliance.Core.Heartbeat;
using Appliance.Core.Membership;
using Appliance.Core.Ports;
using Appliance.Core.Values;

namespace Appliance.Daemon;

/// <summary>
/// The line-JSON messages between applianced and its heartbeat worker process (one JSON object per
/// line on the worker's stdin and stdout). Parent to worker: {"id":n,"cmd":"status"},
/// {"id":n,"cmd":"reset-cadence"}, {"id":n,"cmd":"request","request":r}, {"cmd":"health","healthy":b},
/// {"cmd":"leave"}, {"cmd":"resource-done",...}, {"cmd":"fence-done",...}, {"id":n,"cmd":"fence"|"fence-on","target":t},
/// config sync: {"cmd":"sync-send","data":base64 payload}, {"cmd":"config-word","word":w}, {"id":n,"cmd":"sync-status"}.
/// Worker to parent: {"id":n,"status":{...}}, {"id":n,"ok":true}, {"id":n,"sync":{...}} (<see cref="WriteSyncStatus"/>),
/// the node's commands {"command":{...}} (<see cref="NodeWire"/>), and received sync payloads {"sync":{"link":i,"data":base64}}.
/// Times are microseconds.
/// </summary>
internal static class HeartbeatWire
{
    public static void WriteStatus(Utf8JsonWriter w, HeartbeatStatus s)
    {
        w.WriteStartObject();
        w.WriteNumber("peer", (int)s.Peer);
        w.WriteNumber("peer_role", (int)s.PeerSummary.Role);
        w.WriteNumber("peer_health", (int)s.PeerSummary.Health);
        w.WriteNumber("peer_config_version", s.PeerSummary.ConfigVersion);
        w.WriteNumber("peer_held", s.PeerSummary.ResourcesHeld);
        w.WriteNumber("peer_starting", s.PeerSummary.ResourcesStarting);
        w.WriteNumber("peer_links_heard", s.PeerSummary.LinksHeard);
        WriteOptionalUs(w, "peer_silence_us", s.PeerSilence);
        w.WriteStartArray("links");
        foreach (var l in s.Links)
        {
            w.WriteStartObject();
            w.WriteString("name", l.Name);
            w.WriteNumber("kind", (int)l.Kind);
            w.WriteString("endpoint", l.Endpoint);
            w.WriteNumber("state", (int)l.State);
            w.WriteBoolean("open", l.Open);
            WriteOptionalUs(w, "silence_us", l.Silence);
            w.WriteNumber("every", l.Timers.EveryTicks);
            w.WriteNumber("keepalive_us", Us(l.Timers.Keepalive));
            w.WriteNumber("warntime_us", Us(l.Timers.Warntime));
            w.WriteNumber("deadtime_us", Us(l.Timers.Deadtime));
            w.WriteNumber("frame_time_us", Us(l.Timers.FrameTime));
            w.WriteNumber("ack_freshness_us", Us(l.Timers.AckFreshness));
            w.WriteBoolean("fault", l.Fault);
            var c = l.Counters;
            w.WriteStartArray("counters");
            foreach (long v in new[] { c.TxFrames, c.TxDropped, c.RxFrames, c.RxRejected, c.RxStale, c.RxBadFraming, c.RxNoiseBytes })
                w.WriteNumberValue(v);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNumber("stall_count", s.StallCount);
        w.WriteNumber("last_stall_us", Us(s.LastStall));
        w.WriteNumber("self_boot", s.SelfBoot.Value);
        w.WriteNumber("self_seq", s.SelfSeq.Value);
        w.WriteNumber("peer_boot", s.PeerBoot.Value);
        w.WriteNumber("worst_wake_delay_us", s.WorstGapMicros);
        w.WriteNumber("worst_send_gap_us", Us(s.WorstSendGap));
        w.WriteBoolean("realtime", s.Realtime);
        w.WriteBoolean("memory_locked", s.MemoryLocked);
        w.WriteString("cpus", s.Cpus);
        w.WriteStartObject("rescue");
        w.WriteNumber("watch_cpu", s.Rescue.WatchCpu);
        w.WriteNumber("steps", s.Rescue.Steps);
        w.WriteNumber("moves", s.Rescue.Rescues);
        w.WriteNumber("worst_late_us", Us(s.Rescue.WorstLate));
        w.WriteNumber("refused", s.Rescue.Failures);
        w.WriteNumber("covers", s.Rescue.Covers);
        w.WriteNumber("cover_ticks", s.Rescue.CoverTicks);
        if (s.Rescue.Off is { } off)
            w.WriteString("off", off);
        w.WriteEndObject();
        w.WriteNumber("gc_count", s.GcCount);
        w.WriteNumber("gc_pause_us", Us(s.GcPause));
        w.WriteNumber("role", (int)s.Role);
        w.WriteString("role_reason", s.RoleReason);
        w.WriteBoolean("standby_requested", s.StandbyRequested);
        if (s.Node is { } node)
        {
            w.WritePropertyName("node");
            NodeWire.WriteView(w, node);
        }
        w.WriteEndObject();
    }

    public static HeartbeatStatus ReadStatus(JsonElement e)
    {
        var links = e.GetProperty("links").EnumerateArray().Select(l =>
        {
            var c = l.GetProperty("counters").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            return new LinkStatus(l.GetProperty("name").GetString()!, (LinkKind)l.GetProperty("kind").GetInt32(),
                l.GetProperty("endpoint").GetString()!, (LinkState)l.GetProperty("state").GetInt32(), l.GetProperty("open").GetBoolean(),
                ReadOptionalUs(l, "silence_us"), new LinkCountersSnapshot(c[0], c[1], c[2], c[3], c[4], c[5], c[6]))
            {
                Timers = new LinkTimers(l.GetProperty("every").GetInt32(), FromUs(l.GetProperty("keepalive_us").GetInt64()),
                    FromUs(l.GetProperty("warntime_us").GetInt64()), FromUs(l.GetProperty("deadtime_us").GetInt64()),
                    FromUs(l.GetProperty("frame_time_us").GetInt64()), FromUs(l.GetProperty("ack_freshness_us").GetInt64())),
                Fault = l.GetProperty("fault").GetBoolean(),
            };
        }).ToArray();
        return new HeartbeatStatus(
            (PeerState)e.GetProperty("peer").GetInt32(),
            new StateSummary((NodeRole)e.GetProperty("peer_role").GetInt32(), (HealthFlags)e.GetProperty("peer_health").GetInt32(),
                e.GetProperty("peer_config_version").GetUInt32(), e.GetProperty("peer_held").GetUInt32(),
                e.GetProperty("peer_starting").GetUInt32(), e.GetProperty("peer_links_heard").GetByte()),
            ReadOptionalUs(e, "peer_silence_us"),
            links,
            e.GetProperty("stall_count").GetInt32(),
            FromUs(e.GetProperty("last_stall_us").GetInt64()),
            new BootId(e.GetProperty("self_boot").GetUInt64()),
            new Sequence(e.GetProperty("self_seq").GetUInt64()),
            new BootId(e.GetProperty("peer_boot").GetUInt64()),
            e.GetProperty("worst_wake_delay_us").GetInt64(),
            FromUs(e.GetProperty("worst_send_gap_us").GetInt64()),
            e.GetProperty("realtime").GetBoolean(),
            e.GetProperty("gc_count").GetInt32(),
            FromUs(e.GetProperty("gc_pause_us").GetInt64()),
            (NodeRole)e.GetProperty("role").GetInt32(),
            e.GetProperty("role_reason").GetString()!,
            e.GetProperty("standby_requested").GetBoolean(),
            e.TryGetProperty("node", out var node) ? NodeWire.ReadView(node) : null)
        {
            MemoryLocked = e.GetProperty("memory_locked").GetBoolean(),
            Cpus = e.GetProperty("cpus").GetString()!,
            Rescue = ReadRescue(e.GetProperty("rescue")),
        };
    }

    private static RescueStatus ReadRescue(JsonElement r)
    {
        return new RescueStatus(r.GetProperty("watch_cpu").GetInt32(), r.GetProperty("steps").GetInt64(), r.GetProperty("moves").GetInt64(),
            FromUs(r.GetProperty("worst_late_us").GetInt64()), r.GetProperty("refused").GetInt64(),
            r.TryGetProperty("off", out var off) ? off.GetString() : null)
        {
            Covers = r.GetProperty("covers").GetInt64(),
            CoverTicks = r.GetProperty("cover_ticks").GetInt64(),
        };
    }

    /// <summary>The worker's sync counters: {"links":[{"name","tx_messages","tx_bytes","rx_messages","rx_rejected"}],"dropped","ring_overflow","queued"}.</summary>
    public static void WriteSyncStatus(Utf8JsonWriter w, IReadOnlyList<SyncLinkCounters> links, long dropped, long overflow, int queued)
    {
        w.WriteStartObject();
        w.WriteStartArray("links");
        foreach (var l in links)
        {
            w.WriteStartObject();
            w.WriteString("name", l.Name);
            w.WriteNumber("tx_messages", l.TxMessages);
            w.WriteNumber("tx_bytes", l.TxBytes);
            w.WriteNumber("rx_messages", l.RxMessages);
            w.WriteNumber("rx_rejected", l.RxRejected);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNumber("dropped", dropped);
        w.WriteNumber("ring_overflow", overflow);
        w.WriteNumber("queued", queued);
        w.WriteEndObject();
    }

    public static (IReadOnlyList<SyncLinkCounters> Links, long Dropped, long RingOverflow, int Queued) ReadSyncStatus(JsonElement e) =>
        ([.. e.GetProperty("links").EnumerateArray().Select(l => new SyncLinkCounters(l.GetProperty("name").GetString()!,
            l.GetProperty("tx_messages").GetInt64(), l.GetProperty("tx_bytes").GetInt64(), l.GetProperty("rx_messages").GetInt64(),
            l.GetProperty("rx_rejected").GetInt64()))],
         e.GetProperty("dropped").GetInt64(), e.GetProperty("ring_overflow").GetInt64(), e.GetProperty("queued").GetInt32());

    private static long Us(TimeSpan t) => (long)t.TotalMicroseconds;

    private static TimeSpan FromUs(long us) => TimeSpan.FromMicroseconds(us);

    private static void WriteOptionalUs(Utf8JsonWriter w, string name, TimeSpan? t)
    {
        if (t is { } v)
            w.WriteNumber(name, Us(v));
        else
            w.WriteNull(name);
    }

    private static TimeSpan? ReadOptionalUs(JsonElement e, string name) =>
        e.GetProperty(name).ValueKind == JsonValueKind.Null ? null : FromUs(e.GetProperty(name).GetInt64());
}
