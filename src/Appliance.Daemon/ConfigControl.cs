using System.Text.Json;
using Appliance.Core.Config;

namespace Appliance.Daemon;

/// <summary>
/// The config verbs of the control socket, over <see cref="ConfigStore"/>:
/// <c>config-show {version?}</c> (text, version, sha256), <c>config-commit {text, who, comment,
/// base_version?, confirm_minutes?, source?}</c>, <c>config-confirm {who}</c>, <c>config-rollback
/// {n, who, comment?}</c> and <c>config-history</c>. A commit's reply:
/// <c>{"ok", "status": committed|unchanged|invalid|conflict|failed, "message"|"refused", "version",
/// "sha256", "errors": [{file, line, column, message}], "applied": [...], "restart_needed": [...]}</c>.
/// </summary>
internal static class ConfigControl
{
    private static readonly JsonWriterOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static async Task<byte[]> HandleAsync(ConfigStore store, string cmd, JsonElement request)
    {
        switch (cmd)
        {
            case "config-show":
            {
                await store.RefreshAsync().ConfigureAwait(false);
                long version = request.TryGetProperty("version", out var v) && v.TryGetInt64(out long n) ? n : store.Version;
                string? text = store.ReadGeneration(version);
                var g = store.History.FirstOrDefault(x => x.Version == version);
                if (text is null || g is null)
                    return ControlServer.Refused($"generation {version} is not kept (kept: {Kept(store)})");
                return Write(w =>
                {
                    w.WriteBoolean("ok", true);
                    w.WriteNumber("version", g.Version);
                    w.WriteString("sha256", g.Sha256);
                    w.WriteBoolean("running", g.Version == store.Version);
                    w.WriteString("text", text);
                });
            }
            case "config-commit":
            {
                string text = String(request, "text");
                double? minutes = request.TryGetProperty("confirm_minutes", out var m) && m.ValueKind == JsonValueKind.Number ? m.GetDouble() : null;
                if (minutes is { } x && !(x > 0 && x <= ConfigStore.MaxConfirmWithin.TotalMinutes))
                    return Reply(CommitOutcome.Fail(CommitStatus.Invalid, $"confirm_minutes must be above 0 and at most {ConfigStore.MaxConfirmWithin.TotalMinutes}"));
                long? baseVersion = request.TryGetProperty("base_version", out var b) && b.TryGetInt64(out long bv) ? bv : null;
                string source = String(request, "source");
                var outcome = await store.CommitAsync(new CommitRequest(text, String(request, "who"), String(request, "comment"), baseVersion,
                    minutes is { } mm ? TimeSpan.FromMinutes(mm) : null, Source: source.Length > 0 ? source : "candidate")).ConfigureAwait(false);
                return Reply(outcome);
            }
            case "config-confirm":
                return Reply(await store.ConfirmAsync(String(request, "who")).ConfigureAwait(false));
            case "config-rollback":
            {
                int n = request.TryGetProperty("n", out var nn) && nn.TryGetInt32(out int k) ? k : 0;
                return Reply(await store.RollbackAsync(n, String(request, "who"), String(request, "comment")).ConfigureAwait(false));
            }
            case "config-history":
                await store.RefreshAsync().ConfigureAwait(false);
                return Write(w =>
                {
                    w.WriteBoolean("ok", true);
                    w.WriteNumber("version", store.Version);
                    if (store.Pending is { } p)
                    {
                        w.WriteStartObject("pending");
                        w.WriteNumber("version", p.Version);
                        w.WriteNumber("rollback_to", p.RollbackTo);
                        w.WriteString("deadline", ConfigStore.Show(p.DeadlineWall));
                        w.WriteString("who", p.Who);
                        w.WriteEndObject();
                    }
                    else
                    {
                        w.WriteNull("pending");
                    }
                    w.WriteStartArray("generations");
                    foreach (var g in store.History.Reverse())
                    {
                        w.WriteStartObject();
                        w.WriteNumber("version", g.Version);
                        w.WriteString("sha256", g.Sha256);
                        w.WriteString("when", ConfigStore.Show(g.When));
                        w.WriteString("who", g.Who);
                        w.WriteString("comment", g.Comment);
                        w.WriteString("kind", g.Kind);
                        if (g.Confirmed is { } c)
                            w.WriteString("confirmed", c);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                });
            default:
                return ControlServer.Error($"unknown config command '{cmd}'");
        }
    }

    private static string Kept(ConfigStore store)
    {
        var h = store.History;
        return h.Count == 0 ? "none" : $"{h[0].Version} to {h[^1].Version}";
    }

    private static string String(JsonElement request, string name) =>
        request.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";

    public static byte[] Reply(CommitOutcome o) => Write(w =>
    {
        w.WriteBoolean("ok", o.Ok);
        w.WriteString("status", o.Status.ToString().ToLowerInvariant());
        w.WriteString(o.Ok ? "message" : "refused", o.Message);
        if (o.Generation is { } g)
        {
            w.WriteNumber("version", g.Version);
            w.WriteString("sha256", g.Sha256);
        }
        w.WriteStartArray("errors");
        foreach (ConfigError e in o.Errors)
        {
            w.WriteStartObject();
            w.WriteString("file", e.File);
            w.WriteNumber("line", e.Line);
            w.WriteNumber("column", e.Column);
            w.WriteString("message", e.Message);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("applied");
        foreach (string a in o.Applied)
            w.WriteStringValue(a);
        w.WriteEndArray();
        w.WriteStartArray("restart_needed");
        foreach (string r in o.RestartNeeded)
            w.WriteStringValue(r);
        w.WriteEndArray();
    });

    /// <summary>The recent log lines: {"ok": true, "lines": [...]}.</summary>
    public static byte[] Lines(IEnumerable<string> lines) => Write(w =>
    {
        w.WriteBoolean("ok", true);
        w.WriteStartArray("lines");
        foreach (string l in lines)
            w.WriteStringValue(l);
        w.WriteEndArray();
    });

    private static byte[] Write(Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, Relaxed))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return stream.ToArray();
    }
}
