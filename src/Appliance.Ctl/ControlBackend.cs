using System.Globalization;
using System.Net.NetworkInformation;
using System.Text;
using System.Text.Json;
using Appliance.Core.Config;
using Appliance.Core.Console;
using Appliance.Linux;

namespace Appliance.Ctl;

/// <summary>
/// The console's backend: the daemon's control socket (status, standby, takeover, fence, the config
/// verbs, log), the config checker with this machine's board profiles, and ICMP echo from here.
/// </summary>
internal sealed class ControlBackend(string control, string node, string who) : IConsoleBackend
{
    /// <summary>How long a fence may take: levels x attempts x timeouts, and the fence delay (as `appliancectl fence`).</summary>
    private static readonly TimeSpan FenceWait = TimeSpan.FromMinutes(10);

    /// <summary>How long a commit may take: validating, writing, one nft transaction (as `appliancectl reload`).</summary>
    private static readonly TimeSpan CommitWait = TimeSpan.FromSeconds(60);

    private static readonly JsonWriterOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public string Node => node;

    /// <summary>Who commits: the login (and the sudo caller) at the terminal, as `show history` shows it.</summary>
    public string Who => who;

    /// <summary>Connects to the daemon for the node's name; null with the reason when it does not answer.</summary>
    public static ControlBackend? Connect(string control, out string error)
    {
        error = "";
        if (!TryJson(control, Request("status"), out var status, out error, TimeSpan.FromSeconds(10)))
            return null;
        using (status)
        {
            if (!status.RootElement.TryGetProperty("node", out var n))
            {
                error = "the daemon's status has no node";
                return null;
            }
            return new ControlBackend(control, n.GetString() ?? "?", WhoAmI());
        }
    }

    /// <summary><c>user@tty</c> (<c>alice@ttyS0</c>; <c>root (sudo alice)@pts/2</c>).</summary>
    public static string WhoAmI()
    {
        string user = Environment.UserName;
        if (Environment.GetEnvironmentVariable("SUDO_USER") is { Length: > 0 } sudo && sudo != user)
            user += $" (sudo {sudo})";
        string tty = "";
        try
        {
            if (new FileInfo("/proc/self/fd/0").LinkTarget is { } target && target.StartsWith("/dev/", StringComparison.Ordinal))
                tty = "@" + target["/dev/".Length..];
        }
        catch (IOException)
        {
        }
        return user + tty;
    }

    public ConsoleReply Show(ShowTopic topic, int lines)
    {
        switch (topic)
        {
            case ShowTopic.Status or ShowTopic.Peer or ShowTopic.Resources:
                return WithJson(Request("status"), s => topic switch
                {
                    ShowTopic.Status => StatusText.Render(s),
                    ShowTopic.Peer => StatusText.Peer(s),
                    _ => s.GetProperty("resources").GetArrayLength() == 0 ? "no resources configured\n" : StatusText.Resources(s),
                });
            case ShowTopic.FenceHistory:
                return WithJson(Request("fence-history"), s =>
                {
                    var h = s.GetProperty("history");
                    return h.GetArrayLength() == 0 ? "no fencing recorded\n"
                        : string.Concat(h.EnumerateArray().Select(e => StatusText.HistoryLine(e) + "\n"));
                });
            case ShowTopic.Log:
                return WithJson(Request("log", w => w.WriteNumber("lines", lines)),
                    s => string.Concat(s.GetProperty("lines").EnumerateArray().Select(l => l.GetString() + "\n")));
            default:
                return WithJson(Request("config-history"), History);
        }
    }

    /// <summary>`show history`: one line per generation, newest first, and the pending confirmation.</summary>
    internal static string History(JsonElement s)
    {
        var o = new StringBuilder();
        if (s.GetProperty("pending") is { ValueKind: JsonValueKind.Object } p)
            o.Append(CultureInfo.InvariantCulture,
                $"PENDING: generation {p.GetProperty("version").GetInt64()} is rolled back to generation {p.GetProperty("rollback_to").GetInt64()} at {p.GetProperty("deadline").GetString()} unless `confirm` follows\n");
        o.Append("  GEN   WHEN                  WHO                   COMMENT\n");
        long running = s.GetProperty("version").GetInt64();
        foreach (var g in s.GetProperty("generations").EnumerateArray())
        {
            long v = g.GetProperty("version").GetInt64();
            string comment = g.GetProperty("comment").GetString() ?? "";
            string kind = g.GetProperty("kind").GetString() ?? "";
            if (kind is not ("commit" or ""))
                comment = $"[{kind}] {comment}";
            if (g.TryGetProperty("confirmed", out var c))
                comment += $" (confirmed {c.GetString()})";
            o.Append(CultureInfo.InvariantCulture,
                $"{(v == running ? "*" : " ")} {v,-5} {g.GetProperty("when").GetString(),-21} {Clip(g.GetProperty("who").GetString() ?? "", 21),-21} {comment}\n");
        }
        o.Append("(* the running generation; `rollback N` in configuration mode loads the generation N before it)\n");
        return o.ToString();
    }

    private static string Clip(string s, int n) => s.Length > n ? s[..(n - 1)] + "~" : s;

    public ConsoleReply Standby() => Action(Request("standby"));

    public ConsoleReply Takeover(bool force) => Action(Request("takeover", w => { if (force) w.WriteBoolean("force", true); }));

    public ConsoleReply Fence(string target) => Action(Request("fence", w => w.WriteString("target", target)), FenceWait);

    public ConsoleReply Ping(string host, int count)
    {
        var o = new StringBuilder();
        int received = 0;
        using var ping = new Ping();
        for (int i = 0; i < count; i++)
        {
            long t0 = Environment.TickCount64;
            try
            {
                var reply = ping.Send(host, 1000);
                if (reply.Status == IPStatus.Success)
                {
                    received++;
                    o.Append(CultureInfo.InvariantCulture, $"reply from {reply.Address}: seq {i + 1}, time {reply.RoundtripTime} ms\n");
                }
                else
                {
                    o.Append(CultureInfo.InvariantCulture, $"no reply from {host}: seq {i + 1}, {reply.Status}\n");
                }
            }
            catch (PingException e)
            {
                return ConsoleReply.Refused(o + $"ping {host}: {e.InnerException?.Message ?? e.Message}");
            }
            long left = 1000 - (Environment.TickCount64 - t0);
            if (i + 1 < count && left > 0)
                Thread.Sleep((int)left);
        }
        o.Append(CultureInfo.InvariantCulture, $"{count} sent, {received} received");
        return received > 0 ? ConsoleReply.Ok(o.ToString()) : ConsoleReply.Refused(o.ToString());
    }

    public ConfigSnapshot? Generation(long? version, out string error)
    {
        if (!TryJson(control, Request("config-show", w => { if (version is { } v) w.WriteNumber("version", v); }), out var doc, out error))
            return null;
        using (doc)
        {
            var r = doc.RootElement;
            if (!r.TryGetProperty("ok", out var ok) || !ok.GetBoolean())
            {
                error = Why(r);
                return null;
            }
            return new ConfigSnapshot(r.GetProperty("text").GetString()!, r.GetProperty("version").GetInt64(), r.GetProperty("sha256").GetString()!);
        }
    }

    public CommitReply Commit(string text, long baseVersion, string comment, double? confirmMinutes)
    {
        var request = Request("config-commit", w =>
        {
            w.WriteString("text", text);
            w.WriteString("who", who);
            w.WriteString("comment", comment);
            w.WriteString("source", ConsoleShell.CandidateFile);
            w.WriteNumber("base_version", baseVersion);
            if (confirmMinutes is { } m)
                w.WriteNumber("confirm_minutes", m);
        });
        if (!TryJson(control, request, out var doc, out string error, CommitWait))
            return new CommitReply(ConsoleReply.Refused(error), null);
        using (doc)
            return CommitReplyOf(doc.RootElement);
    }

    /// <summary>A commit's reply: exit 0 when committed or unchanged, 2 when the checker refused the text, 1 otherwise.</summary>
    internal static CommitReply CommitReplyOf(JsonElement r)
    {
        bool ok = r.TryGetProperty("ok", out var okElement) && okElement.ValueKind == JsonValueKind.True;
        string status = r.TryGetProperty("status", out var s) ? s.GetString() ?? "" : "";
        long? version = r.TryGetProperty("version", out var v) ? v.GetInt64() : null;
        if (ok)
            return new CommitReply(ConsoleReply.Ok(r.GetProperty("message").GetString() ?? ""), status == "committed" ? version : null);
        int exit = status == "invalid" ? ConsoleExit.BadInput : ConsoleExit.Refused;
        return new CommitReply(new ConsoleReply(exit, "refused: " + Why(r)), null);
    }

    public ConsoleReply Confirm() => CommitReplyOf(Request("config-confirm", w => w.WriteString("who", who))).Reply;

    private CommitReply CommitReplyOf(string request)
    {
        if (!TryJson(control, request, out var doc, out string error, CommitWait))
            return new CommitReply(ConsoleReply.Refused(error), null);
        using (doc)
            return CommitReplyOf(doc.RootElement);
    }

    /// <summary>The checker as `appliancectl config check` runs it: the text with this machine's board profiles, and the key file it names.</summary>
    public IReadOnlyList<ConfigError> Check(string text)
    {
        var result = ConfigLoader.Load(ConsoleShell.CandidateFile, text, BoardFiles.Catalog());
        if (result.Config is not { } config)
            return result.Errors;
        return KeyFile.Load(config.Cluster.KeyFile) is { Error: { } e } ? [result.ErrorAt(ConfigPaths.KeyFile, e)] : [];
    }

    // ---- the socket -----------------------------------------------------------------------------

    internal static string Request(string cmd, Action<Utf8JsonWriter>? fields = null)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, Relaxed))
        {
            w.WriteStartObject();
            w.WriteString("cmd", cmd);
            fields?.Invoke(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private ConsoleReply WithJson(string request, Func<JsonElement, string> render)
    {
        if (!TryJson(control, request, out var doc, out string error))
            return ConsoleReply.Refused(error);
        using (doc)
        {
            var r = doc.RootElement;
            if (r.TryGetProperty("error", out _) || (r.TryGetProperty("ok", out var ok) && ok.ValueKind == JsonValueKind.False))
                return ConsoleReply.Refused(Why(r));
            return ConsoleReply.Ok(render(r));
        }
    }

    private ConsoleReply Action(string request, TimeSpan? wait = null)
    {
        if (!TryJson(control, request, out var doc, out string error, wait))
            return ConsoleReply.Refused(error);
        using (doc)
        {
            var r = doc.RootElement;
            return r.TryGetProperty("ok", out var ok) && ok.GetBoolean()
                ? ConsoleReply.Ok(r.GetProperty("message").GetString() ?? "")
                : ConsoleReply.Refused(r.TryGetProperty("refused", out _) ? "refused: " + Why(r) : Why(r));
        }
    }

    private static string Why(JsonElement r) =>
        r.TryGetProperty("refused", out var f) ? f.GetString() ?? "" : r.TryGetProperty("error", out var e) ? e.GetString() ?? "" : r.GetRawText();

    private static bool TryJson(string control, string request, out JsonDocument doc, out string error, TimeSpan? wait = null)
    {
        doc = null!;
        var errors = new StringWriter();
        if (!Program.TryRequest(control, request, out string response, wait, errors))
        {
            error = errors.ToString().Trim().Replace("appliancectl: ", "", StringComparison.Ordinal);
            return false;
        }
        try
        {
            doc = JsonDocument.Parse(response);
            error = "";
            return true;
        }
        catch (JsonException e)
        {
            error = $"the daemon's answer is not JSON: {e.Message}";
            return false;
        }
    }
}
