using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Appliance.Ctl;

/// <summary>
/// appliancectl: talks to applianced over its control socket. Exit codes (DESIGN.md section 6):
/// 0 success, 1 refused or failed action (including: daemon not reachable), 2 bad usage or bad input.
/// </summary>
internal static class Program
{
    private const string DefaultControl = "/run/appliance/control.sock";

    private const string Usage =
        "usage: appliancectl [--control PATH] COMMAND\n" +
        "commands:\n" +
        "  status [--json]       this node, its peer, the heartbeat links and timers\n" +
        "  reload                re-read the config file: apply the director's difference live, list what\n" +
        "                        needs a restart (exit 1: refused, the file is bad; nothing changed)\n" +
        "  standby               release the resources to the peer (planned switchover) and stay standby\n" +
        "  takeover [--force]    take the resources (--force: ask an active peer to release them first)\n" +
        "  resources             the resources and their state\n" +
        "  fence NODE            fence the peer now (power it off and verify); never this node\n" +
        "  fence on NODE         power a fenced peer on again (an `off` fence stays off until then)\n" +
        "  fence confirm NODE    manual fencing: you have cut NODE's power by hand\n" +
        "  fence history [--json]  every fencing operation: target, device, outcome, reason, time\n" +
        "  services [--json]     the director's services and real servers: state, weight, counters\n" +
        "  drain SERVICE SERVER  no new clients for SERVER (ip:port); established ones stay\n" +
        "  undrain SERVICE SERVER  take new clients again\n" +
        "  weight SERVICE SERVER N  set SERVER's weight (0..256; 0 drains)\n" +
        "  config check FILE     validate a configuration file (no daemon needed)\n" +
        "  config push [--force] send this node's config to the peer, which checks and applies it; --force\n" +
        "                        also when it changes the cluster's name, key file or node list\n" +
        "  config pull [--force] fetch the peer's config and apply it here (--force: as for push)\n" +
        "  config reference      print every configuration option (markdown)\n" +
        "  config import-heartbeat DIR [options]   heartbeat v1's ha.cf, haresources, authkeys -> appliance.yaml\n" +
        "  config import-keepalived FILE [options] keepalived.conf -> appliance.yaml (options: config import-heartbeat --help)\n" +
        "  config show [--version N]  the running config (or a kept generation) with its version and sha256\n" +
        "  config commit FILE [--comment TEXT] [--confirm MINUTES] [--base N]\n" +
        "                        make FILE the next generation: validated, written, applied live where it\n" +
        "                        can be (exit 2: invalid; 1: refused); --confirm: rolled back unless\n" +
        "                        `config confirm` follows in time; --base: refused unless N is running\n" +
        "  config confirm        keep the generation of a `--confirm` commit (stops its rollback)\n" +
        "  config rollback N [--comment TEXT]  commit the generation N before the running one again\n" +
        "  config history [--json]  the generations kept: version, when, who, comment\n" +
        "  console               the console shell (appliance-console): operational and configuration mode\n" +
        "exit codes: 0 ok, 1 refused/failed/daemon unreachable, 2 bad usage or input\n";

    public static int Main(string[] args)
    {
        string control = Environment.GetEnvironmentVariable("APPLIANCE_CONTROL") ?? DefaultControl;
        int i = 0;
        while (i < args.Length && args[i].StartsWith("--", StringComparison.Ordinal))
        {
            if (args[i] == "--control" && i + 1 < args.Length)
            {
                control = args[i + 1];
                i += 2;
            }
            else if (args[i] is "--help")
            {
                Console.Out.Write(Usage);
                return 0;
            }
            else
                return BadUsage($"unknown option '{args[i]}'");
        }
        var rest = args[i..];
        if (rest.Length == 0)
            return BadUsage("no command");
        switch (rest[0])
        {
            case "status":
                bool json = rest.Length == 2 && rest[1] == "--json";
                if (rest.Length > 1 && !json)
                    return BadUsage($"status takes only --json, not '{string.Join(' ', rest[1..])}'");
                return Status(control, json);
            case "reload" when rest.Length == 1:
                return Action(control, "{\"cmd\":\"reload\"}", ReloadWait);
            case "reload":
                return BadUsage("usage: appliancectl reload");
            case "standby" when rest.Length == 1:
                return Action(control, "{\"cmd\":\"standby\"}");
            case "takeover" when rest.Length == 1 || (rest.Length == 2 && rest[1] == "--force"):
                return Action(control, rest.Length == 2 ? "{\"cmd\":\"takeover\",\"force\":true}" : "{\"cmd\":\"takeover\"}");
            case "resources" when rest.Length == 1:
                return Resources(control);
            case "standby" or "takeover" or "resources":
                return BadUsage($"usage: appliancectl {rest[0]}{(rest[0] == "takeover" ? " [--force]" : "")}");
            case "fence" when rest.Length == 2 && rest[1] != "history":
                return Action(control, Request("fence", rest[1]), FenceWait);
            case "fence" when rest.Length == 3 && rest[1] is "on" or "confirm":
                return Action(control, Request("fence-" + rest[1], rest[2]), FenceWait);
            case "fence" when rest[1..] is ["history"] or ["history", "--json"]:
                return FenceHistory(control, rest.Length == 3);
            case "fence":
                return BadUsage("usage: appliancectl fence NODE | fence on NODE | fence confirm NODE | fence history [--json]");
            case "services" when rest.Length == 1 || rest[1..] is ["--json"]:
                return Services(control, rest.Length == 2);
            case "drain" or "undrain" when rest.Length == 3:
                return Action(control, DirectorRequest(rest[0], rest[1], rest[2], null));
            case "weight" when rest.Length == 4 && int.TryParse(rest[3], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int weight):
                return Action(control, DirectorRequest("weight", rest[1], rest[2], weight));
            case "services" or "drain" or "undrain" or "weight":
                return BadUsage("usage: appliancectl services [--json] | drain SERVICE SERVER | undrain SERVICE SERVER | weight SERVICE SERVER N");
            case "fence-agent" when rest.Length >= 2:
                // The fence_appliance_gpio / fence_appliance_pdu wrappers (board/fence/) land here.
                return FenceAgentCommand.RunOnConsole(rest[1], rest[2..],
                    gpio: s => new Appliance.Linux.Fencing.GpioRelayFenceDevice(FenceAgents.GpioName, s.Chip, s.Line, s.ActiveLow),
                    pdu: s => new Appliance.Linux.Fencing.SerialPduFenceDevice(FenceAgents.PduName, s.SerialPort, s.Outlets));
            case "config" when rest.Length == 3 && rest[1] == "check":
                return ConfigCheck.Run(rest[2], Console.Out, Console.Error);
            case "config" when rest.Length == 2 && rest[1] == "reference":
                Console.Out.Write(Appliance.Core.Config.ConfigReference.Markdown());
                return 0;
            case "config" when rest.Length >= 2 && rest[1] is "import-heartbeat" or "import-keepalived":
                if (rest[2..] is ["--help"])
                {
                    Console.Out.Write(ConfigImport.Usage);
                    return 0;
                }
                return ConfigImport.Run(rest[1], rest[2..], Console.Out, Console.Error);
            case "config" when rest.Length >= 2 && rest[1] is "show" or "commit" or "confirm" or "rollback" or "history":
                return ConfigCommand(control, rest[1..]);
            case "config" when rest[1..] is ["push"] or ["push", "--force"] or ["pull"] or ["pull", "--force"]:
                return Action(control, ConfigSyncRequest("config-" + rest[1], rest.Length == 3), SyncWait);
            case "config":
                return BadUsage("usage: appliancectl config check FILE | config reference | config import-heartbeat DIR | config import-keepalived FILE | config show [--version N] | config commit FILE [--comment TEXT] [--confirm MINUTES] [--base N] | config confirm | config rollback N [--comment TEXT] | config history [--json] | config push [--force] | config pull [--force]");
            case "console" when rest.Length == 1:
                return ConsoleHost.Run(control);
            case "console":
                return BadUsage("usage: appliancectl console");
            default:
                return BadUsage($"unknown command '{rest[0]}'");
        }
    }

    private static int BadUsage(string message)
    {
        Console.Error.Write($"appliancectl: {message}\n{Usage}");
        return 2;
    }

    private static int Status(string control, bool json)
    {
        if (!TryRequest(control, "{\"cmd\":\"status\"}", out string response))
            return 1;
        if (json)
        {
            Console.Out.WriteLine(response);
            return 0;
        }
        using var doc = JsonDocument.Parse(response);
        if (doc.RootElement.TryGetProperty("error", out var err))
        {
            Console.Error.WriteLine($"appliancectl: {err.GetString()}");
            return 1;
        }
        Console.Out.Write(StatusText.Render(doc.RootElement));
        return 0;
    }

    /// <summary>How long a reload may take: reading, validating, one nft transaction (5000 servers: tens of ms).</summary>
    private static readonly TimeSpan ReloadWait = TimeSpan.FromSeconds(60);

    /// <summary>How long a fence request may take: levels x attempts x timeouts, and the fence_delay.</summary>
    private static readonly TimeSpan FenceWait = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How long a push or pull may take: 256 KiB over a serial link alone (about 40 s at 115200 baud),
    /// the peer's check and apply (its director reload; the sync waits 90 s for its report), and slack.
    /// </summary>
    private static readonly TimeSpan SyncWait = TimeSpan.FromMinutes(4);

    private static string ConfigSyncRequest(string cmd, bool force) =>
        force ? $"{{\"cmd\":\"{cmd}\",\"force\":true}}" : $"{{\"cmd\":\"{cmd}\"}}";

    /// <summary>{"cmd":CMD,"target":TARGET}, escaped by the writer (no reflection: the image is trimmed).</summary>
    private static string Request(string cmd, string target)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("cmd", cmd);
            w.WriteString("target", target);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>{"cmd":CMD,"service":S,"server":R[,"weight":N]}, escaped by the writer.</summary>
    private static string DirectorRequest(string cmd, string service, string server, int? weight)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("cmd", cmd);
            w.WriteString("service", service);
            w.WriteString("server", server);
            if (weight is { } n)
                w.WriteNumber("weight", n);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>`services [--json]`: the director's services and real servers, as JSON or a table.</summary>
    private static int Services(string control, bool json)
    {
        if (!TryRequest(control, "{\"cmd\":\"services\"}", out string response))
            return 1;
        using var doc = JsonDocument.Parse(response);
        var root = doc.RootElement;
        if (root.TryGetProperty("error", out var err) || (root.TryGetProperty("ok", out var ok) && ok.ValueKind == JsonValueKind.False))
        {
            Console.Error.WriteLine($"appliancectl: {(err.ValueKind == JsonValueKind.String ? err.GetString() : root.GetProperty("refused").GetString())}");
            return 1;
        }
        if (json)
        {
            Console.Out.WriteLine(response);
            return 0;
        }
        Console.Out.Write(StatusText.Services(root));
        return 0;
    }

    private static int FenceHistory(string control, bool json)
    {
        if (!TryRequest(control, "{\"cmd\":\"fence-history\"}", out string response))
            return 1;
        if (json)
        {
            Console.Out.WriteLine(response);
            return 0;
        }
        using var doc = JsonDocument.Parse(response);
        var history = doc.RootElement.GetProperty("history");
        if (history.GetArrayLength() == 0)
            Console.Out.WriteLine("no fencing recorded");
        foreach (var e in history.EnumerateArray())
            Console.Out.WriteLine(StatusText.HistoryLine(e));
        return 0;
    }

    /// <summary>An action: prints the daemon's message; exit 1 when it refused or failed.</summary>
    private static int Action(string control, string request, TimeSpan? wait = null)
    {
        if (!TryRequest(control, request, out string response, wait))
            return 1;
        using var doc = JsonDocument.Parse(response);
        var root = doc.RootElement;
        if (root.TryGetProperty("ok", out var ok) && ok.GetBoolean())
        {
            Console.Out.WriteLine(root.GetProperty("message").GetString());
            return 0;
        }
        string why = root.TryGetProperty("refused", out var r) ? "refused: " + r.GetString()
            : root.TryGetProperty("error", out var e) ? e.GetString()! : response;
        Console.Error.WriteLine($"appliancectl: {why}");
        return 1;
    }

    private static int Resources(string control)
    {
        if (!TryRequest(control, "{\"cmd\":\"status\"}", out string response))
            return 1;
        using var doc = JsonDocument.Parse(response);
        if (doc.RootElement.TryGetProperty("error", out var err))
        {
            Console.Error.WriteLine($"appliancectl: {err.GetString()}");
            return 1;
        }
        Console.Out.Write(StatusText.Resources(doc.RootElement));
        return 0;
    }

    /// <summary>`config show|commit|confirm|rollback|history`: the daemon's config generations (ConfigStore).</summary>
    private static int ConfigCommand(string control, string[] args)
    {
        string who = ControlBackend.WhoAmI();
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        var words = new List<string>();
        for (int i = 1; i < args.Length; i++)
        {
            if (args[i] is "--comment" or "--confirm" or "--base" or "--version" && i + 1 < args.Length)
                options[args[i]] = args[++i];
            else if (args[i] == "--json")
                options["--json"] = "";
            else
                words.Add(args[i]);
        }
        string Usage() => args[0] switch
        {
            "show" => "config show [--version N]",
            "commit" => "config commit FILE [--comment TEXT] [--confirm MINUTES] [--base N]",
            "rollback" => "config rollback N [--comment TEXT]",
            "history" => "config history [--json]",
            _ => "config confirm",
        };
        bool allowed = args[0] switch
        {
            "show" => words.Count == 0 && options.Keys.All(k => k == "--version"),
            "commit" => words.Count == 1 && options.Keys.All(k => k is "--comment" or "--confirm" or "--base"),
            "rollback" => words.Count == 1 && options.Keys.All(k => k == "--comment"),
            "history" => words.Count == 0 && options.Keys.All(k => k == "--json"),
            _ => words.Count == 0 && options.Count == 0,
        };
        if (!allowed)
            return BadUsage("usage: appliancectl " + Usage());
        switch (args[0])
        {
            case "show":
            {
                long? version = null;
                if (options.TryGetValue("--version", out string? v))
                {
                    if (!long.TryParse(v, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long n))
                        return BadUsage("config show --version N: N is a generation number");
                    version = n;
                }
                if (!TryRequest(control, ControlBackend.Request("config-show", w => { if (version is { } x) w.WriteNumber("version", x); }), out string response))
                    return 1;
                using var doc = JsonDocument.Parse(response);
                var r = doc.RootElement;
                if (!(r.TryGetProperty("ok", out var ok) && ok.GetBoolean()))
                    return Refused(r);
                Console.Out.Write($"# generation {r.GetProperty("version").GetInt64()}, sha256 {r.GetProperty("sha256").GetString()}\n{r.GetProperty("text").GetString()}");
                return 0;
            }
            case "commit":
            {
                string path = words[0];
                double? minutes = null;
                long? baseVersion = null;
                if (options.TryGetValue("--confirm", out string? m))
                {
                    if (!double.TryParse(m, System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out double x) || !(x > 0))
                        return BadUsage("config commit --confirm MINUTES: MINUTES is a number above 0 (0.5 is 30 s)");
                    minutes = x;
                }
                if (options.TryGetValue("--base", out string? b))
                {
                    if (!long.TryParse(b, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long x))
                        return BadUsage("config commit --base N: N is a generation number");
                    baseVersion = x;
                }
                var file = Appliance.Linux.ConfigFile.Read(path);
                foreach (string warning in file.Warnings)
                    Console.Error.WriteLine($"warning: {warning}");
                if (file.Text is not { } text)
                {
                    Console.Error.WriteLine(file.Error);
                    return 2;
                }
                string request = ControlBackend.Request("config-commit", w =>
                {
                    w.WriteString("text", text);
                    w.WriteString("who", who);
                    w.WriteString("comment", options.GetValueOrDefault("--comment", ""));
                    w.WriteString("source", path);
                    if (baseVersion is { } bv)
                        w.WriteNumber("base_version", bv);
                    if (minutes is { } mm)
                        w.WriteNumber("confirm_minutes", mm);
                });
                return CommitLike(control, request);
            }
            case "confirm":
                return CommitLike(control, ControlBackend.Request("config-confirm", w => w.WriteString("who", who)));
            case "rollback":
            {
                if (!int.TryParse(words[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) || n < 1)
                    return BadUsage("config rollback N: N is 1 or more (1: the generation before the running one)");
                return CommitLike(control, ControlBackend.Request("config-rollback", w =>
                {
                    w.WriteNumber("n", n);
                    w.WriteString("who", who);
                    w.WriteString("comment", options.GetValueOrDefault("--comment", ""));
                }));
            }
            default:
            {
                if (!TryRequest(control, ControlBackend.Request("config-history"), out string response))
                    return 1;
                if (options.ContainsKey("--json"))
                {
                    Console.Out.WriteLine(response);
                    return 0;
                }
                using var doc = JsonDocument.Parse(response);
                if (!(doc.RootElement.TryGetProperty("ok", out var ok) && ok.GetBoolean()))
                    return Refused(doc.RootElement);
                Console.Out.Write(ControlBackend.History(doc.RootElement));
                return 0;
            }
        }
    }

    /// <summary>A commit, confirm or rollback: the daemon's message; exit 0 done, 2 the config is invalid, 1 refused.</summary>
    private static int CommitLike(string control, string request)
    {
        if (!TryRequest(control, request, out string response, ReloadWait))
            return 1;
        using var doc = JsonDocument.Parse(response);
        var reply = ControlBackend.CommitReplyOf(doc.RootElement).Reply;
        (reply.Success ? Console.Out : Console.Error).WriteLine(reply.Success ? reply.Text : "appliancectl: " + reply.Text);
        return reply.Exit;
    }

    private static int Refused(JsonElement r)
    {
        string why = r.TryGetProperty("refused", out var f) ? f.GetString()! : r.TryGetProperty("error", out var e) ? e.GetString()! : r.GetRawText();
        Console.Error.WriteLine($"appliancectl: {why}");
        return 1;
    }

    /// <summary>One request, one response line. Prints why on failure (to <paramref name="errors"/>, default stderr).</summary>
    internal static bool TryRequest(string control, string request, out string response, TimeSpan? wait = null, TextWriter? errors = null)
    {
        response = "";
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.ReceiveTimeout = (int)(wait ?? TimeSpan.FromSeconds(10)).TotalMilliseconds;
            socket.SendTimeout = 10_000;
            socket.Connect(new UnixDomainSocketEndPoint(control));
            socket.Send(Encoding.UTF8.GetBytes(request + "\n"));
            using var buffer = new MemoryStream();
            var chunk = new byte[16384];
            int n;
            while ((n = socket.Receive(chunk)) > 0)
                buffer.Write(chunk, 0, n);
            response = Encoding.UTF8.GetString(buffer.ToArray()).TrimEnd('\n');
            return true;
        }
        catch (SocketException e)
        {
            string why = e.SocketErrorCode switch
            {
                SocketError.AddressNotAvailable or SocketError.ConnectionRefused => "is applianced running?",
                _ => e.Message,
            };
            if (!File.Exists(control))
                why = "no such socket; is applianced running?";
            (errors ?? Console.Error).WriteLine($"appliancectl: cannot reach applianced at {control}: {why}");
            return false;
        }
    }
}
