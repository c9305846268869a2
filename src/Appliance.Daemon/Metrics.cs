using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>
/// The Prometheus text exposition (format 0.0.4) of this node, made from the same documents as
/// `status --json` and `services --json`, so the two never disagree. Names follow Prometheus
/// conventions: counters end in _total, durations are seconds, states are 0/1 gauges with a label.
/// </summary>
internal static class MetricsText
{
    public static string Render(JsonElement status, JsonElement? services)
    {
        var o = new StringBuilder();
        string node = status.GetProperty("node").GetString()!;
        var peer = status.GetProperty("peer");
        string peerName = peer.GetProperty("name").GetString()!;
        string Labels(params (string Key, string Value)[] extra) =>
            "{" + string.Join(",", new[] { ("node", node) }.Concat(extra).Select(l => $"{l.Item1}=\"{Escape(l.Item2)}\"")) + "}";

        Help(o, "appliance_role", "gauge", "1 for the node's current role (starting, standby, fencing, takeover, active, releasing, failed).");
        foreach (var role in new[] { "starting", "standby", "fencing", "takeover", "active", "releasing", "failed" })
            Line(o, "appliance_role", Labels(("role", role)), status.GetProperty("role").GetString() == role ? 1 : 0);
        Help(o, "appliance_peer_state", "gauge", "1 for the peer's current state as this node judges it.");
        foreach (var state in new[] { "up", "warn", "dead", "fenced", "stopped", "unknown" })
            Line(o, "appliance_peer_state", Labels(("peer", peerName), ("state", state)), peer.GetProperty("state").GetString() == state ? 1 : 0);
        Help(o, "appliance_link_up", "gauge", "1 while the heartbeat link carries the peer's signs of life.");
        Help(o, "appliance_link_frames_total", "counter", "Heartbeat frames per link and direction (tx: sent, rx: received).");
        Help(o, "appliance_link_rejected_total", "counter", "Frames dropped per link and reason (rejected: wrong key or malformed; stale: replayed or old; bad_framing).");
        foreach (var l in peer.GetProperty("links").EnumerateArray())
        {
            var link = (("link", l.GetProperty("name").GetString()!));
            Line(o, "appliance_link_up", Labels(link), l.GetProperty("state").GetString() == "up" ? 1 : 0);
            var c = l.GetProperty("counters");
            Line(o, "appliance_link_frames_total", Labels(link, ("direction", "tx")), c.GetProperty("tx_frames").GetInt64());
            Line(o, "appliance_link_frames_total", Labels(link, ("direction", "rx")), c.GetProperty("rx_frames").GetInt64());
            Line(o, "appliance_link_rejected_total", Labels(link, ("reason", "rejected")), c.GetProperty("rx_rejected").GetInt64());
            Line(o, "appliance_link_rejected_total", Labels(link, ("reason", "stale")), c.GetProperty("rx_stale").GetInt64());
            Line(o, "appliance_link_rejected_total", Labels(link, ("reason", "bad_framing")), c.GetProperty("rx_bad_framing").GetInt64());
        }
        Help(o, "appliance_stalls_total", "counter", "Times the stall guard found this node not scheduled for longer than deadtime.");
        Line(o, "appliance_stalls_total", Labels(), status.GetProperty("stall").GetProperty("count").GetInt64());
        Help(o, "appliance_heartbeat_watcher_steps_total", "counter", "Passes of the heartbeat loop its watcher ran on another CPU while the heartbeat thread was late (its CPU stopped).");
        Line(o, "appliance_heartbeat_watcher_steps_total", Labels(), status.GetProperty("heartbeat").GetProperty("rescue").GetProperty("steps").GetInt64());
        Help(o, "appliance_heartbeat_moves_total", "counter", "Times the heartbeat thread's watcher moved it off a CPU where it was late (a CPU the host stopped).");
        Line(o, "appliance_heartbeat_moves_total", Labels(), status.GetProperty("heartbeat").GetProperty("rescue").GetProperty("moves").GetInt64());
        Help(o, "appliance_heartbeat_cover_ticks_total", "counter", "Keepalives the heartbeat thread's watcher sent for it while it was held inside its pass (a CPU the host stopped mid-pass).");
        Line(o, "appliance_heartbeat_cover_ticks_total", Labels(), status.GetProperty("heartbeat").GetProperty("rescue").GetProperty("cover_ticks").GetInt64());
        Help(o, "appliance_heartbeat_worst_send_gap_seconds", "gauge", "Longest interval between two keepalives since the last reset.");
        Line(o, "appliance_heartbeat_worst_send_gap_seconds", Labels(), status.GetProperty("heartbeat").GetProperty("worst_send_gap_us").GetInt64() / 1e6);
        Help(o, "appliance_resource_started", "gauge", "1 while the resource is started on this node.");
        Help(o, "appliance_resource_failed", "gauge", "1 while the resource's last action or monitor failed.");
        foreach (var r in status.GetProperty("resources").EnumerateArray())
        {
            var res = (("resource", r.GetProperty("name").GetString()!));
            Line(o, "appliance_resource_started", Labels(res), r.GetProperty("state").GetString() == "started" ? 1 : 0);
            Line(o, "appliance_resource_failed", Labels(res), r.GetProperty("state").GetString() == "failed" ? 1 : 0);
        }
        var fencing = status.GetProperty("fencing");
        Help(o, "appliance_fencing_rounds_failed", "gauge", "Failed fencing rounds of the operation under way (0 when none failed).");
        Line(o, "appliance_fencing_rounds_failed", Labels(("target", peerName)), fencing.GetProperty("rounds_failed").GetInt64());
        Help(o, "appliance_fencing_in_progress", "gauge", "1 while a fencing operation delays, runs, retries or waits for an operator.");
        Line(o, "appliance_fencing_in_progress", Labels(("target", peerName)),
            fencing.GetProperty("state").GetString() is "delaying" or "fencing" or "retrying" or "waiting-operator" ? 1 : 0);
        Help(o, "appliance_duplicate_vip_alarms", "gauge", "Duplicate-VIP alarms open (another MAC claims a VIP: a split brain made visible).");
        Line(o, "appliance_duplicate_vip_alarms", Labels(), status.GetProperty("duplicate_vip").GetProperty("alarms").GetArrayLength());

        if (services is { } s)
        {
            Help(o, "appliance_director_generation", "gauge", "Ruleset transactions applied on this node since the daemon started (0: not loaded).");
            Line(o, "appliance_director_generation", Labels(), s.GetProperty("generation").GetInt64());
            Help(o, "appliance_director_server_up", "gauge", "1 while the real server takes new clients (state up and weight above 0).");
            Help(o, "appliance_director_server_weight", "gauge", "The real server's current weight.");
            Help(o, "appliance_director_server_packets_total", "counter", "Packets of the real server's balanced connections, both ways.");
            Help(o, "appliance_director_server_bytes_total", "counter", "Bytes of the real server's balanced connections, both ways.");
            Help(o, "appliance_director_server_active_connections", "gauge", "Open conntrack entries balanced to the real server (TCP in TIME_WAIT or CLOSE left out), at the last sample.");
            Help(o, "appliance_director_server_connections_total", "counter", "New connections balanced to the real server since the table was loaded.");
            Help(o, "appliance_director_capacity_peak_connections", "gauge", "Peak of the service's total active connections over the capacity window.");
            Help(o, "appliance_director_capacity_without_busiest_connections", "gauge", "Connections the service's real servers can carry without the one of largest capacity (absent: a server has no capacity).");
            Help(o, "appliance_director_capacity_warning", "gauge", "1 while the peak exceeds what the real servers minus the busiest can carry (not N-1 redundant).");
            foreach (var svc in s.GetProperty("services").EnumerateArray())
            {
                string name = svc.GetProperty("name").GetString()!;
                if (svc.TryGetProperty("capacity", out var cap))
                {
                    var sl = Labels(("service", name));
                    Line(o, "appliance_director_capacity_peak_connections", sl, cap.GetProperty("peak").GetInt64());
                    if (cap.GetProperty("without_busiest").ValueKind == JsonValueKind.Number)
                        Line(o, "appliance_director_capacity_without_busiest_connections", sl, cap.GetProperty("without_busiest").GetInt64());
                    Line(o, "appliance_director_capacity_warning", sl, cap.GetProperty("warning").ValueKind == JsonValueKind.String ? 1 : 0);
                }
                foreach (var rs in svc.GetProperty("servers").EnumerateArray())
                {
                    var l = Labels(("service", name), ("server", rs.GetProperty("address").GetString()!));
                    long weight = rs.GetProperty("weight").GetInt64();
                    Line(o, "appliance_director_server_up", l, rs.GetProperty("state").GetString() == "up" && weight > 0 ? 1 : 0);
                    Line(o, "appliance_director_server_weight", l, weight);
                    Line(o, "appliance_director_server_packets_total", l, rs.GetProperty("packets").GetInt64());
                    Line(o, "appliance_director_server_bytes_total", l, rs.GetProperty("bytes").GetInt64());
                    if (rs.TryGetProperty("connections", out var conn))
                    {
                        if (conn.GetProperty("active").ValueKind == JsonValueKind.Number)
                            Line(o, "appliance_director_server_active_connections", l, conn.GetProperty("active").GetInt64());
                        Line(o, "appliance_director_server_connections_total", l, conn.GetProperty("new").GetInt64());
                    }
                }
            }
        }
        return o.ToString();
    }

    private static void Help(StringBuilder o, string name, string type, string help) =>
        o.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n");

    private static void Line(StringBuilder o, string name, string labels, double value) =>
        o.Append(name).Append(labels).Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');

    private static string Escape(string v) => v.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");
}

/// <summary>
/// A minimal HTTP/1.1 server for `GET /metrics` (no library: one path, plain text, connection closed
/// after each answer). Requests are bounded in size and time; a slow client cannot hold others up.
/// </summary>
internal sealed class MetricsServer : IAsyncDisposable
{
    /// <summary>Longest request head read; a scraper sends a few hundred bytes.</summary>
    public const int RequestBytesMax = 8192;

    /// <summary>How long a client may take to send its request.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    private readonly TcpListener _listener;
    private readonly Func<Task<string>> _render;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private Task _accept = Task.CompletedTask;

    public MetricsServer(IPEndPoint listen, Func<Task<string>> render, ILogger log)
    {
        _render = render;
        _log = log;
        _listener = new TcpListener(listen);
        _listener.Start();
    }

    public IPEndPoint LocalEndpoint => (IPEndPoint)_listener.LocalEndpoint;

    public void Start() => _accept = AcceptLoop(_stop.Token);

    private async Task AcceptLoop(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(ct).ConfigureAwait(false);
            }
            catch (Exception) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }
            _ = Serve(client, ct);
        }
    }

    private async Task Serve(TcpClient client, CancellationToken ct)
    {
        try
        {
            using (client)
            {
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
                deadline.CancelAfter(RequestTimeout);
                var stream = client.GetStream();
                var buffer = new byte[RequestBytesMax];
                int length = 0;
                while (length < buffer.Length && buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8) < 0)
                {
                    int n = await stream.ReadAsync(buffer.AsMemory(length), deadline.Token).ConfigureAwait(false);
                    if (n == 0)
                        return;
                    length += n;
                }
                string head = Encoding.ASCII.GetString(buffer, 0, length);
                string[] requestLine = head.Split("\r\n")[0].Split(' ');
                (int code, string reason, string body) = requestLine switch
                {
                    ["GET", "/metrics" or "/metrics/", ..] => (200, "OK", await _render().ConfigureAwait(false)),
                    ["GET", ..] => (404, "Not Found", "only /metrics is served here\n"),
                    _ => (405, "Method Not Allowed", "GET /metrics\n"),
                };
                byte[] payload = Encoding.UTF8.GetBytes(body);
                string response = $"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n" +
                                  $"Content-Length: {payload.Length}\r\nConnection: close\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(response), deadline.Token).ConfigureAwait(false);
                await stream.WriteAsync(payload, deadline.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // the scraper went away or was too slow
        }
        catch (Exception e)
        {
            Trace.BackgroundFailed(_log, "metrics request", e.ToString());
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accept.ConfigureAwait(false);
    }
}
