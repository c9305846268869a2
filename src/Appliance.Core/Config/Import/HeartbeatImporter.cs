using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Appliance.Core.Config.Import;

/// <summary>
/// <c>appliancectl config import-heartbeat DIR</c>: heartbeat v1's <c>ha.cf</c>, <c>haresources</c>
/// and <c>authkeys</c> (heartbeat-v1-config.md) to appliance.yaml. Every directive and resource is
/// either mapped or listed in the report with its file:line and why; a config heartbeat itself
/// would refuse (an unknown directive, a bad time) is an error naming file:line:col.
/// </summary>
public static class HeartbeatImporter
{
    public const string HaCfName = "ha.cf";
    public const string HaResourcesName = "haresources";
    public const string AuthKeysName = "authkeys";

    /// <summary>heartbeat's defaults (<c>heartbeat -D</c>, config.c).</summary>
    internal static readonly TimeSpan DefaultKeepalive = TimeSpan.FromSeconds(1);
    internal static readonly TimeSpan DefaultDeadtime = TimeSpan.FromSeconds(30);
    internal const int DefaultUdpPort = 694;
    internal const int DefaultBaud = 19200;

    public static ImportResult Import(string directory, IImportFiles files, ImportOptions options)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(options);
        return new HeartbeatImport(directory, files, options).Run();
    }
}

internal sealed class HeartbeatImport(string directory, IImportFiles files, ImportOptions options)
{
    private readonly List<ConfigError> _errors = [];
    private ImportDraft _draft = null!;
    private string _haCf = HeartbeatImporter.HaCfName;
    private string _haRes = HeartbeatImporter.HaResourcesName;
    private string _authKeys = HeartbeatImporter.AuthKeysName;

    // ha.cf as read, in order.
    private readonly List<(string Name, HaCfLine Line)> _nodes = [];
    private readonly List<Medium> _media = [];
    private readonly List<(HaCfLine Line, string From, string Type, List<HbWord> Params)> _stonith = [];
    private readonly List<(HaCfLine Line, string? Group, List<HbWord> Targets)> _pings = [];
    private TimeSpan? _keepalive, _deadtime, _warntime, _initdead, _deadping;
    private HaCfLine? _keepaliveAt, _deadtimeAt, _warntimeAt, _initdeadAt;
    private (string Word, HaCfLine Line)? _autoFailback;
    private (bool On, HaCfLine Line)? _niceFailback;
    private HaCfLine? _ipfail;
    private HaCfLine? _crm;
    private (string Name, HaCfLine Line)? _clusterDirective;

    private sealed record Medium(HaCfLine Line, string Kind, HbWord Word, int Port, int Baud);

    private SourceRef At(HaCfLine l) => new(_haCf, l.Line);

    /// <summary>An error names the file by its path (the report uses the short name).</summary>
    private void Error(string file, int line, int column, string message) =>
        _errors.Add(new ConfigError(file.StartsWith('/') ? file : Path.Combine(directory, file), line, column, message));

    public ImportResult Run()
    {
        var haCf = ReadSource(HeartbeatImporter.HaCfName);
        if (haCf.IsMissing || haCf.Text is null)
        {
            string why = haCf.Error ?? $"no {HeartbeatImporter.HaCfName} (nor {HeartbeatImporter.HaCfName}.gz) in {directory}";
            return Failed(new ConfigError(haCf.IsMissing ? Path.Combine(directory, HeartbeatImporter.HaCfName) : haCf.Path, 1, 1, why));
        }
        _haCf = Path.GetFileName(haCf.Path);
        var haRes = ReadSource(HeartbeatImporter.HaResourcesName);
        var authKeys = ReadSource(HeartbeatImporter.AuthKeysName);
        if (!haRes.IsMissing)
            _haRes = Path.GetFileName(haRes.Path);
        if (!authKeys.IsMissing)
            _authKeys = Path.GetFileName(authKeys.Path);
        foreach (var f in new[] { haRes, authKeys })
            if (f.Error is not null)
                _errors.Add(new ConfigError(f.Path, 1, 1, f.Error));

        var sources = new List<string> { $"  {directory}: {string.Join(", ", new[] { haCf, haRes, authKeys }.Where(f => f.Text is not null).Select(f => Path.GetFileName(f.Path)))}" };
        _draft = new ImportDraft("appliance.yaml imported from a heartbeat v1 configuration (appliancectl config import-heartbeat):", sources);
        _draft.SawFile(_haCf);
        _draft.SawFile(_haRes);
        _draft.SawFile(_authKeys);

        foreach (var line in HeartbeatFiles.ParseHaCf(haCf.Text))
            Directive(line);
        if (_errors.Count > 0)
            return Failed();

        BuildNodes();
        if (_errors.Count > 0)
            return Failed();
        BuildTimers();
        BuildLinks();
        BuildFencing();
        BuildMonitors();
        if (haRes.Text is not null && _crm is null)
            BuildResources(haRes.Text);
        else if (haRes.Text is not null)
            _draft.Skipped(new SourceRef(_haRes, 0), "the whole file", $"{_crm!.Directive.Text} {_crm.Rest} in {_haCf}:{_crm.Line}: heartbeat ignored haresources and left resources to Pacemaker's CIB, which is not read");
        else
            _draft.Assumed(new SourceRef(_haRes, 0), "no haresources", "the pair holds no resources; add them under resources:");
        BuildFailback();
        BuildKey(authKeys);
        BuildClusterName();

        if (_errors.Count > 0)
            return Failed();
        if (_draft.Nodes.Any(n => n.Links.Count == 0))
        {
            var why = _draft.Notes.Where(n => n.File == _haCf && n.Kind == ImportNoteKind.Skipped && _media.Any(m => m.Line.Line == n.Line)).ToList();
            var first = _media.FirstOrDefault()?.Line;
            return Failed(new ConfigError(Path.Combine(directory, _haCf), first?.Line ?? 1, first?.Directive.Column ?? 1,
                "no heartbeat link could be imported" + (why.Count == 0 ? "" : ": " + string.Join("; ", why.Select(n => $"{n.Place}: {n.Reason}")))));
        }
        return new ImportResult(_draft.Render(), _draft.SortedNotes(), []);
    }

    private ImportResult Failed(params ConfigError[] more)
    {
        _errors.AddRange(more);
        return new ImportResult(null, _draft?.SortedNotes() ?? [], [.. _errors.OrderBy(e => e.File, StringComparer.Ordinal).ThenBy(e => e.Line).ThenBy(e => e.Column)]);
    }

    /// <summary>DIR/NAME, or DIR/NAME.gz as Debian ships the samples.</summary>
    private ImportFile ReadSource(string name)
    {
        var plain = files.Read(Path.Combine(directory, name));
        if (!plain.IsMissing)
            return plain;
        var gz = files.Read(Path.Combine(directory, name + ".gz"));
        return gz.IsMissing ? plain : gz;
    }

    // ---- ha.cf ----------------------------------------------------------------------------------

    private int _udpPort = HeartbeatImporter.DefaultUdpPort;
    private int _baud = HeartbeatImporter.DefaultBaud;

    /// <summary>What the directives with no equivalent were for, so the report says why they are left out.</summary>
    private static readonly Dictionary<string, string> NoEquivalent = new(StringComparer.Ordinal)
    {
        ["logfile"] = "applianced logs one line per event to stderr (the journal under systemd)",
        ["debugfile"] = "applianced logs one line per event to stderr (the journal under systemd)",
        ["logfacility"] = "applianced logs one line per event to stderr (the journal under systemd)",
        ["use_logd"] = "applianced logs one line per event to stderr (the journal under systemd)",
        ["debug"] = "applianced logs one line per event to stderr (the journal under systemd)",
        ["syslogmsgfmt"] = "applianced logs one line per event to stderr (the journal under systemd)",
        ["log_badpack"] = "rejected frames are counted per link in appliancectl status",
        ["conn_logd_time"] = "there is no logging daemon",
        ["realtime"] = "the heartbeat always runs in its own worker process at SCHED_FIFO",
        ["rtprio"] = "the heartbeat always runs in its own worker process at SCHED_FIFO",
        ["coredumps"] = "core dumps follow the system's (systemd-coredump) settings",
        ["hbgenmethod"] = "each start of the daemon draws a random boot id; there is no generation file",
        ["uuidfrom"] = "nodes are named in the config; there are no node uuids",
        ["msgfmt"] = "the appliance's frames have one fixed binary format",
        ["compression"] = "frames are 88 bytes; nothing is compressed",
        ["compression_threshold"] = "frames are 88 bytes; nothing is compressed",
        ["traditional_compression"] = "frames are 88 bytes; nothing is compressed",
        ["memreserve"] = "the heartbeat worker preallocates what it needs",
        ["max_rexmit_delay"] = "keepalives are not retransmitted; every keepalive is a fresh frame",
        ["hopfudge"] = "frames are not forwarded between links",
        ["env"] = "resources get their environment from their own definition (OCF params, command lines)",
        ["apiauth"] = "there is no client API; appliancectl talks to the control socket (root only)",
        ["record_config_changes"] = "Pacemaker option",
        ["record_pengine_inputs"] = "Pacemaker option",
        ["enable_config_writes"] = "Pacemaker option",
        ["watchdog"] = "applianced feeds the systemd watchdog (WatchdogSec), and on boards /dev/watchdog; nothing to set here",
        ["hbaping"] = "there is no Fibre Channel HBA probe; use an exec monitor",
    };

    private static readonly string[] Known =
    [
        "keepalive", "deadtime", "warntime", "initdead", "deadping", "udpport", "baud", "serial", "bcast", "udp", "mcast", "mcast6",
        "ucast", "ucast6", "node", "auto_failback", "nice_failback", "stonith", "stonith_host", "ping", "ping6", "ping_group",
        "respawn", "crm", "pacemaker", "autojoin", "cluster", .. NoEquivalent.Keys,
    ];

    private void Directive(HaCfLine l)
    {
        string d = l.Directive.Text;
        var args = l.Args;
        switch (d)
        {
            case "keepalive" or "deadtime" or "warntime" or "initdead" or "deadping":
                if (!OneArg(l, out var word))
                    return;
                // A time may be written "2 s"-less as "1500ms" or "1500 ms": join the words back.
                string text = string.Join(' ', args.Select(a => a.Text));
                var t = HeartbeatFiles.ParseTime(text, out string err);
                if (t is null)
                {
                    Error(_haCf, l.Line, word.Column, $"{d}: {err}");
                    return;
                }
                switch (d)
                {
                    case "keepalive": (_keepalive, _keepaliveAt) = (t, l); break;
                    case "deadtime": (_deadtime, _deadtimeAt) = (t, l); break;
                    case "warntime": (_warntime, _warntimeAt) = (t, l); break;
                    case "initdead": (_initdead, _initdeadAt) = (t, l); break;
                    default: _deadping = t; break;
                }
                return;
            case "udpport":
                if (!OneArg(l, out var p))
                    return;
                if (!int.TryParse(p.Text, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
                {
                    Error(_haCf, l.Line, p.Column, $"udpport: '{p.Text}' is not a port (1 to 65535)");
                    return;
                }
                _udpPort = port;
                return;
            case "baud":
                if (!OneArg(l, out var b))
                    return;
                int[] bauds = [9600, 19200, 38400, 57600, 115200, 230400, 460800];
                if (!int.TryParse(b.Text, NumberStyles.None, CultureInfo.InvariantCulture, out int baud) || !bauds.Contains(baud))
                {
                    Error(_haCf, l.Line, b.Column, $"baud: '{b.Text}' is not one of heartbeat's speeds ({string.Join(", ", bauds)})");
                    return;
                }
                _baud = baud;
                return;
            case "serial" or "bcast" or "udp":
                if (args.Count == 0)
                {
                    Error(_haCf, l.Line, l.Directive.Column, $"{d}: names no {(d == "serial" ? "device" : "interface")}");
                    return;
                }
                if (d == "udp")
                    _draft.Changed(At(l), $"udp {l.Rest}", "heartbeat's old name for bcast; read as bcast");
                foreach (var a in args)
                    _media.Add(new Medium(l, d == "udp" ? "bcast" : d, a, _udpPort, _baud));
                return;
            case "mcast" or "mcast6" or "ucast" or "ucast6":
                int want = d.StartsWith("mcast", StringComparison.Ordinal) ? 5 : 2;
                if (args.Count != want)
                {
                    Error(_haCf, l.Line, l.Directive.Column,
                        $"{d}: expected {(want == 5 ? "<if> <group> <port> <ttl> <loop>" : "<if> <peer-ip>")}, got '{l.Rest}'");
                    return;
                }
                _media.Add(new Medium(l, d, args[0], _udpPort, _baud));
                return;
            case "node":
                foreach (var a in args)
                    _nodes.Add((a.Text.ToLowerInvariant(), l));
                return;
            case "auto_failback":
                if (OneArg(l, out var af))
                {
                    if (af.Text.ToLowerInvariant() != "legacy" && HeartbeatFiles.ParseBool(af.Text) is null)
                        Error(_haCf, l.Line, af.Column, $"auto_failback: '{af.Text}' is not on, off or legacy");
                    else
                        _autoFailback = (af.Text.ToLowerInvariant(), l);
                }
                return;
            case "nice_failback":
                if (OneArg(l, out var nf))
                {
                    if (HeartbeatFiles.ParseBool(nf.Text) is not { } on)
                        Error(_haCf, l.Line, nf.Column, $"nice_failback: '{nf.Text}' is not on or off");
                    else
                        _niceFailback = (on, l);
                }
                return;
            case "stonith":
                _draft.Skipped(At(l), $"stonith {l.Rest}",
                    "its parameters live in another file, which is not read; write the device under fence_devices (stonith_host lines are imported)");
                return;
            case "stonith_host":
                if (args.Count < 2)
                {
                    Error(_haCf, l.Line, l.Directive.Column, $"stonith_host: expected <from-host> <type> <params...>, got '{l.Rest}'");
                    return;
                }
                _stonith.Add((l, args[0].Text.ToLowerInvariant(), args[1].Text, args.Skip(2).ToList()));
                return;
            case "ping" or "ping6":
                _pings.Add((l, null, args.ToList()));
                return;
            case "ping_group":
                if (args.Count < 2)
                {
                    Error(_haCf, l.Line, l.Directive.Column, $"ping_group: expected <name> <ip> ..., got '{l.Rest}'");
                    return;
                }
                _pings.Add((l, args[0].Text, args.Skip(1).ToList()));
                return;
            case "respawn":
                if (args.Count >= 2 && args[1].Text.EndsWith("/ipfail", StringComparison.Ordinal))
                    _ipfail = l;
                else
                    _draft.Skipped(At(l), $"respawn {l.Rest}",
                        "the daemon starts no helpers; run it as a systemd service, or as an exec resource on the active node");
                return;
            case "crm" or "pacemaker":
                if (args.Count >= 1 && (args[0].Text.ToLowerInvariant() == "respawn" || HeartbeatFiles.ParseBool(args[0].Text) == true))
                    _crm = l;
                else
                    _draft.Skipped(At(l), $"{d} {l.Rest}", "Pacemaker is off: haresources is used, as here");
                return;
            case "autojoin":
                if (args.Count == 1 && args[0].Text == "none")
                    _draft.Skipped(At(l), $"autojoin {l.Rest}", "the pair is the two node lines; none is what that means");
                else
                    _draft.Skipped(At(l), $"autojoin {l.Rest}", "nodes cannot join: the pair is exactly the two node lines");
                return;
            case "cluster":
                if (OneArg(l, out var cn))
                    _clusterDirective = (cn.Text, l);
                return;
            default:
                if (NoEquivalent.TryGetValue(d, out string? why))
                {
                    _draft.Skipped(At(l), $"{d} {l.Rest}".TrimEnd(), why);
                    return;
                }
                string? near = Suggest.Closest(d, Known);
                Error(_haCf, l.Line, l.Directive.Column,
                    $"unknown directive '{d}'{(near is null ? "" : $"; did you mean '{near}'?")} (heartbeat refuses it too: \"Illegal directive\")");
                return;
        }
    }

    private bool OneArg(HaCfLine l, out HbWord word)
    {
        word = default;
        bool time = l.Directive.Text is "keepalive" or "deadtime" or "warntime" or "initdead" or "deadping";
        // A time may be "1500 ms": two words; anything else takes exactly one.
        if (l.Args.Count == 1 || (time && l.Args.Count == 2))
        {
            word = l.Args[0];
            return true;
        }
        Error(_haCf, l.Line, l.Directive.Column, $"{l.Directive.Text}: expected one value, got {(l.Args.Count == 0 ? "none" : $"'{l.Rest}'")}");
        return false;
    }

    // ---- nodes ----------------------------------------------------------------------------------

    /// <summary>heartbeat's node name (lower-cased) → the name in the output.</summary>
    private readonly Dictionary<string, string> _nodeNames = new(StringComparer.Ordinal);

    private void BuildNodes()
    {
        var distinct = _nodes.DistinctBy(n => n.Name).ToList();
        if (distinct.Count != ConfigLimits.NodeCount)
        {
            var at = distinct.Count > ConfigLimits.NodeCount ? distinct[ConfigLimits.NodeCount].Line : distinct.LastOrDefault().Line;
            Error(_haCf, at?.Line ?? 1, at?.Directive.Column ?? 1, distinct.Count == 0
                ? "ha.cf names no node (node NAME lines); heartbeat refuses that too"
                : $"the appliance is a pair: ha.cf names {distinct.Count} node{(distinct.Count == 1 ? "" : "s")} ({string.Join(", ", distinct.Select(n => n.Name))}), it needs exactly 2");
            return;
        }
        var names = new NameAllocator("node");
        for (int i = 0; i < distinct.Count; i++)
        {
            var (name, line) = distinct[i];
            string mapped = names.Take(name);
            _nodeNames[name] = mapped;
            _draft.Nodes[i].Name = mapped;
            if (mapped != name)
                _draft.Changed(At(line), $"node {name}", $"named {mapped} here (names are [a-z][a-z0-9-], at most 32); start applianced with --node {mapped}");
        }
        foreach (var dup in _nodes.GroupBy(n => n.Name).Where(g => g.Count() > 1))
            _draft.Skipped(At(dup.Skip(1).First().Line), $"node {dup.Key}", "listed twice; once is enough");
        if (options.LocalNode is { } local && Node(local) is null)
            Error(_haCf, distinct[0].Line.Line, distinct[0].Line.Directive.Column,
                $"--node {local} is not a node of ha.cf ({string.Join(", ", distinct.Select(n => n.Name))})");
    }

    /// <summary>The output node for a heartbeat node name or an output name; null if neither.</summary>
    private NodeOut? Node(string name)
    {
        string lower = name.ToLowerInvariant();
        if (_nodeNames.TryGetValue(lower, out string? mapped))
            return _draft.Nodes.First(n => n.Name == mapped);
        return _draft.Nodes.FirstOrDefault(n => n.Name == lower);
    }

    private NodeOut Other(NodeOut node) => _draft.Nodes[0] == node ? _draft.Nodes[1] : _draft.Nodes[0];

    private NodeOut? LocalNode => options.LocalNode is { } l ? Node(l) : null;

    // ---- timers -------------------------------------------------------------------------------

    private void BuildTimers()
    {
        var keepalive = _keepalive ?? HeartbeatImporter.DefaultKeepalive;
        var deadtime = _deadtime ?? HeartbeatImporter.DefaultDeadtime;
        var warntime = _warntime ?? TimeSpan.FromMilliseconds(Math.Round(deadtime.TotalMilliseconds / 2));
        // config.c: initdead defaults to deadtime when that is over 10 s, 12 s under 6 s, else twice deadtime.
        var initdead = _initdead ?? (deadtime > TimeSpan.FromSeconds(10) ? deadtime
            : deadtime < TimeSpan.FromSeconds(6) ? TimeSpan.FromSeconds(12) : 2 * deadtime);
        var first = new SourceRef(_haCf, 0);
        if (_keepalive is null)
            _draft.Assumed(first, "keepalive", $"not set: heartbeat's default {ImportText.Ms(keepalive)}");
        if (_deadtime is null)
            _draft.Assumed(first, "deadtime", $"not set: heartbeat's default {ImportText.Ms(deadtime)}");
        if (_warntime is null)
            _draft.Assumed(first, "warntime", $"not set: heartbeat's default, half of deadtime, {ImportText.Ms(warntime)}");
        if (_initdead is null)
            _draft.Assumed(first, "initdead", $"not set: heartbeat's default for this deadtime, {ImportText.Ms(initdead)}");
        var at = new Dictionary<string, HaCfLine?> { ["keepalive"] = _keepaliveAt, ["deadtime"] = _deadtimeAt, ["warntime"] = _warntimeAt, ["initdead"] = _initdeadAt };
        _draft.Timers = TimerFit.Fit(new Timers(keepalive, warntime, deadtime, initdead),
            (name, why) => _draft.Changed(at[name] is { } l ? At(l) : first, name, why), SlowestSerial());
        if (_draft.Timers.Deadtime > TimeSpan.FromSeconds(5))
            _draft.TimersComment = "heartbeat's timers; the appliance's defaults (200ms/600ms/1s/10s) detect a dead peer in a second";
    }

    /// <summary>The shortest cadence the slowest serial medium carries (Heartbeat.LinkCadence), or null without one.</summary>
    private (TimeSpan, string)? SlowestSerial()
    {
        var serial = _media.Where(m => m.Kind == "serial").ToList();
        if (serial.Count == 0)
            return null;
        int baud = serial.Min(m => m.Baud);
        return (Heartbeat.LinkCadence.SerialFloor(baud), $"the fastest a serial link at {baud} baud carries");
    }

    // ---- links --------------------------------------------------------------------------------

    private IPAddress? Hint(NodeOut node, string iface) =>
        (options.Addresses.FirstOrDefault(h => Node(h.Node) == node && h.Interface == iface)
         ?? options.Addresses.FirstOrDefault(h => Node(h.Node) == node && h.Interface is null))?.Address;

    private void BuildLinks()
    {
        foreach (var h in options.Addresses)
            if (Node(h.Node) is null)
                _draft.Skipped(new SourceRef(_haCf, 0), $"--address {h.Node}{(h.Interface is null ? "" : ":" + h.Interface)}={h.Address}",
                    $"{h.Node} is not a node of ha.cf ({string.Join(", ", _draft.Nodes.Select(n => n.Name))})");
        foreach (var m in _media)
        {
            switch (m.Kind)
            {
                case "serial":
                    string name = _draft.LinkNames.Take("serial-" + m.Word.Text[(m.Word.Text.LastIndexOf('/') + 1)..]);
                    if (!m.Word.Text.StartsWith('/'))
                    {
                        _draft.Skipped(At(m.Line), $"serial {m.Word.Text}", "not an absolute device path");
                        continue;
                    }
                    foreach (var node in _draft.Nodes)
                        node.Links.Add(new YOutMap().Add("name", name).Add("kind", "serial").Add("device", m.Word.Text).Add("baud", m.Baud)
                            .WithComment($"{_haCf}:{m.Line.Line}"));
                    if (m.Baud == HeartbeatImporter.DefaultBaud && !_media.Any(x => x.Kind == "serial" && x.Baud != HeartbeatImporter.DefaultBaud))
                        _draft.Assumed(At(m.Line), $"serial {m.Word.Text}", $"no baud line: heartbeat's default {HeartbeatImporter.DefaultBaud}");
                    break;
                case "bcast":
                    UnicastFromHints(m, $"bcast {m.Word.Text}", "broadcast becomes unicast between the two addresses");
                    break;
                case "mcast" or "mcast6":
                    Multicast(m);
                    break;
            }
        }
        foreach (var group in _media.Where(m => m.Kind is "ucast" or "ucast6").GroupBy(m => (m.Kind, m.Word.Text)))
            Ucast(group.Key.Kind, group.Key.Text, group.ToList());
    }

    private void UnicastFromHints(Medium m, string subject, string how)
    {
        string iface = m.Word.Text;
        var (a, b) = (_draft.Nodes[0], _draft.Nodes[1]);
        var (ia, ib) = (Hint(a, iface), Hint(b, iface));
        if (ia is null || ib is null || ia.AddressFamily != ib.AddressFamily || ia.Equals(ib))
        {
            _draft.Skipped(At(m.Line), subject,
                $"a link needs each node's address on {iface}, which ha.cf does not say; give --address {a.Name}:{iface}=IP --address {b.Name}:{iface}=IP");
            return;
        }
        AddUdpLink(m.Kind + "-" + iface, m.Line, (a, ia, ib), (b, ib, ia), m.Port, null);
        _draft.Changed(At(m.Line), subject, $"{how} ({a.Name} {ia}, {b.Name} {ib}, from --address)");
    }

    private void AddUdpLink(string rawName, HaCfLine line, (NodeOut Node, IPAddress Local, IPAddress Peer) x, (NodeOut Node, IPAddress Local, IPAddress Peer) y,
        int port, IPAddress? group)
    {
        string name = _draft.LinkNames.Take(rawName);
        foreach (var (node, local, peer) in new[] { x, y })
        {
            var map = new YOutMap().Add("name", name).Add("kind", "udp").Add("local", local.ToString());
            if (group is null)
                map.Add("peer", peer.ToString());
            else
                map.Add("group", group.ToString());
            map.Add("port", port).WithComment($"{_haCf}:{line.Line}");
            node.Links.Add(map);
        }
    }

    private void Multicast(Medium m)
    {
        var a = m.Line.Args;
        string subject = $"{m.Kind} {m.Line.Rest}";
        bool v6 = m.Kind == "mcast6";
        if (!IPAddress.TryParse(a[1].Text, out var group) || (group.AddressFamily == AddressFamily.InterNetworkV6) != v6 ||
            !(v6 ? group.IsIPv6Multicast : (group.GetAddressBytes()[0] & 0xf0) == 0xe0))
        {
            Error(_haCf, m.Line.Line, a[1].Column, $"{m.Kind}: '{a[1].Text}' is not an {(v6 ? "IPv6" : "IPv4")} multicast group");
            return;
        }
        if (!int.TryParse(a[2].Text, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            Error(_haCf, m.Line.Line, a[2].Column, $"{m.Kind}: '{a[2].Text}' is not a port (1 to 65535)");
            return;
        }
        string iface = m.Word.Text;
        var (na, nb) = (_draft.Nodes[0], _draft.Nodes[1]);
        var (ia, ib) = (Hint(na, iface), Hint(nb, iface));
        if (ia is null || ib is null || ia.AddressFamily != group.AddressFamily || ib.AddressFamily != group.AddressFamily)
        {
            _draft.Skipped(At(m.Line), subject,
                $"a multicast link needs each node's {(v6 ? "IPv6" : "IPv4")} address on {iface} (frames are sent from it), which ha.cf does not say; give --address {na.Name}:{iface}=IP --address {nb.Name}:{iface}=IP");
            return;
        }
        AddUdpLink(m.Kind + "-" + iface, m.Line, (na, ia, ib), (nb, ib, ia), port, group);
        if (a[3].Text != "1" || a[4].Text != "0")
            _draft.Changed(At(m.Line), subject, $"ttl {a[3].Text} and loop {a[4].Text} are not set here (the kernel's defaults: ttl 1, no loop)");
    }

    private void Ucast(string kind, string iface, List<Medium> lines)
    {
        var peers = new List<(IPAddress Ip, Medium M)>();
        foreach (var m in lines)
        {
            var w = m.Line.Args[1];
            bool v6 = kind == "ucast6";
            if (!IPAddress.TryParse(w.Text, out var ip) || (ip.AddressFamily == AddressFamily.InterNetworkV6) != v6 || w.Text.Contains('%'))
            {
                Error(_haCf, m.Line.Line, w.Column, $"{kind}: '{w.Text}' is not an {(v6 ? "IPv6" : "IPv4")} address");
                continue;
            }
            if (peers.Any(p => p.Ip.Equals(ip)))
                _draft.Skipped(At(m.Line), $"{kind} {m.Line.Rest}", "the same peer address is listed already");
            else
                peers.Add((ip, m));
        }
        if (peers.Count == 0)
            return;
        foreach (var extra in peers.Skip(2))
            _draft.Skipped(At(extra.M.Line), $"{kind} {extra.M.Line.Rest}", "a pair has two addresses per link; this is a third");
        var (a, b) = (_draft.Nodes[0], _draft.Nodes[1]);
        var first = peers[0].M;
        string subject = peers.Count == 1 ? $"{kind} {first.Line.Rest}" : $"{kind} {iface} {peers[0].Ip} and {peers[1].Ip}";
        var ha = Hint(a, iface);
        var hb = Hint(b, iface);
        IPAddress? ipA = null, ipB = null;
        if (peers.Count >= 2)
        {
            var (p0, p1) = (peers[0].Ip, peers[1].Ip);
            if (ha is not null && (ha.Equals(p0) || ha.Equals(p1)))
                (ipA, ipB) = (ha, ha.Equals(p0) ? p1 : p0);
            else if (hb is not null && (hb.Equals(p0) || hb.Equals(p1)))
                (ipB, ipA) = (hb, hb.Equals(p0) ? p1 : p0);
            else
            {
                (ipA, ipB) = (p0, p1);
                _draft.Assumed(At(first.Line), subject,
                    $"one ha.cf for both nodes lists each node's address, but not whose is whose: {a.Name} {p0}, {b.Name} {p1} here (node line order); if it is the other way round give --address {a.Name}:{iface}={p1}");
            }
        }
        else
        {
            var ip = peers[0].Ip;
            // A per-node ha.cf names only the peer: the other node of the one it belongs to.
            NodeOut? owner = LocalNode ?? (ha is not null && !ha.Equals(ip) ? a : hb is not null && !hb.Equals(ip) ? b : null);
            if (owner is null)
            {
                _draft.Skipped(At(first.Line), subject,
                    $"a per-node ha.cf names only the peer's address; say whose file this is and its own address: --node NAME --address NAME:{iface}=IP");
                return;
            }
            var peerNode = Other(owner);
            var own = Hint(owner, iface);
            if (own is null || own.AddressFamily != ip.AddressFamily || own.Equals(ip))
            {
                _draft.Skipped(At(first.Line), subject,
                    $"this ha.cf (node {owner.Name}) names only {peerNode.Name}'s address {ip}; give {owner.Name}'s own: --address {owner.Name}:{iface}=IP");
                return;
            }
            (ipA, ipB) = owner == a ? (own, ip) : (ip, own);
            _draft.Assumed(At(first.Line), subject, $"{peerNode.Name} is {ip}; {owner.Name}'s own address {own} is from --address");
        }
        AddUdpLink("ucast-" + iface, first.Line, (a, ipA!, ipB!), (b, ipB!, ipA!), lines.Last().Port, null);
    }

    // ---- fencing ------------------------------------------------------------------------------

    private void BuildFencing()
    {
        foreach (var (line, from, type, parms) in _stonith)
        {
            string subject = $"stonith_host {line.Rest}";
            if (from != "*" && Node(from) is null)
            {
                _draft.Skipped(At(line), subject, $"{from} is not a node of ha.cf; heartbeat on neither node would use it");
                continue;
            }
            switch (type)
            {
                case "rps10":
                    Rps10(line, subject, from, parms);
                    break;
                case "meatware":
                    Meatware(line, subject, parms);
                    break;
                case "null" or "ssh" or "external/ssh" or "suicide":
                    _draft.Skipped(At(line), subject, $"{type} is a test device that proves no power cut; the appliance fences only through devices that can");
                    break;
                default:
                    // Its parameters are often a login and password: not repeated in the report.
                    _draft.Skipped(At(line), $"stonith_host {line.Args[0].Text} {type} (parameters not shown)",
                        $"no mapping for the cluster-glue type {type}; write it as a fence-agent device (its fence_* agent) under fence_devices");
                    break;
            }
        }
        bool any = _draft.Nodes.Any(n => n.Fence.Count > 0);
        _draft.Fencing = any ? FencingMode.Required : FencingMode.Off;
        if (!any)
        {
            _draft.FencingComment = "heartbeat took over without fencing; add a fence device and set required";
            _draft.Changed(new SourceRef(_haCf, 0), "no usable stonith device",
                "fencing: off, as heartbeat ran: a dead-looking peer is taken over from without cutting its power, so a partition can leave both active");
        }
        else
        {
            foreach (var n in _draft.Nodes.Where(n => n.Fence.Count == 0))
                _draft.Assumed(new SourceRef(_haCf, 0), $"node {n.Name}",
                    $"no stonith device can fence it: with fencing: required, {Other(n).Name} never takes over from it; add a device to its fence list");
        }
    }

    private void Rps10(HaCfLine line, string subject, string from, List<HbWord> parms)
    {
        if (parms.Count < 3 || parms.Count % 2 != 1 || !parms[0].Text.StartsWith('/'))
        {
            _draft.Skipped(At(line), subject, "rps10 takes <serial device> <node> <outlet> [<node> <outlet>]...; not that here");
            return;
        }
        var outlets = new YOutMap();
        var targets = new List<NodeOut>();
        for (int i = 1; i + 1 < parms.Count; i += 2)
        {
            string who = parms[i].Text, outlet = parms[i + 1].Text;
            var node = Node(who);
            if (node is null)
            {
                _draft.Skipped(At(line), $"{subject}: {who} {outlet}", $"{who} is not a node of ha.cf");
                continue;
            }
            if (outlet.Length != 1 || !char.IsAsciiDigit(outlet[0]))
            {
                _draft.Skipped(At(line), $"{subject}: {who} {outlet}", "only outlets 0-9 map; '*' (every outlet) would cut both nodes");
                continue;
            }
            if (from != "*" && Node(from) == node)
            {
                _draft.Skipped(At(line), $"{subject}: {who} {outlet}", $"a device on {from} cannot fence {from} itself: its peer fences it");
                continue;
            }
            outlets.Add(node.Name, long.Parse(outlet, CultureInfo.InvariantCulture));
            targets.Add(node);
        }
        if (targets.Count == 0)
            return;
        string name = _draft.FenceNames.Take(from == "*" ? "pdu" : "pdu-" + Node(from)!.Name);
        _draft.FenceDevices.Add(new YOutMap().Add("name", name).Add("kind", "serial-pdu").Add("protocol", "rps10")
            .Add("device", parms[0].Text).Add("outlets", outlets).WithComment($"{_haCf}:{line.Line}"));
        foreach (var t in targets)
            if (!t.Fence.Contains(name))
                t.Fence.Add(name);
        if (from != "*")
            _draft.Assumed(At(line), subject, $"{parms[0].Text} is {from}'s port: only {from} fences through {name}");
    }

    private void Meatware(HaCfLine line, string subject, List<HbWord> parms)
    {
        var targets = parms.Select(p => Node(p.Text)).Where(n => n is not null).Select(n => n!).Distinct().ToList();
        foreach (var p in parms.Where(p => Node(p.Text) is null))
            _draft.Skipped(At(line), $"{subject}: {p.Text}", $"{p.Text} is not a node of ha.cf");
        if (targets.Count == 0)
            return;
        string name = _draft.FenceNames.Take("manual");
        _draft.FenceDevices.Add(new YOutMap().Add("name", name).Add("kind", "manual").WithComment($"{_haCf}:{line.Line}"));
        foreach (var t in targets)
            if (!t.Fence.Contains(name))
                t.Fence.Add(name);
        _draft.Changed(At(line), subject, "meatware: confirm with appliancectl fence confirm NODE (meatclient -c NODE before)");
    }

    // ---- monitors (ping nodes with ipfail) ----------------------------------------------------

    private void BuildMonitors()
    {
        if (_pings.Count == 0)
        {
            if (_ipfail is { } ip)
                _draft.Skipped(At(ip), $"respawn {ip.Rest}", "ipfail without ping nodes does nothing");
            return;
        }
        if (_ipfail is null)
        {
            foreach (var (line, _, _) in _pings)
                _draft.Skipped(At(line), $"{line.Directive.Text} {line.Rest}",
                    "without ipfail heartbeat only showed ping nodes' state; a ping monitor here would make a node unfit. Add one under monitors if that is wanted");
            return;
        }
        var interval = TimeSpan.FromSeconds(1);
        var deadping = _deadping ?? _draft.Timers.Deadtime;
        int fall = (int)Math.Clamp(Math.Ceiling(deadping / interval), 1, 100);
        foreach (var (line, group, targets) in _pings)
        {
            var ips = new List<string>();
            foreach (var t in targets)
            {
                if (IPAddress.TryParse(t.Text, out var ip) && !t.Text.Contains('%'))
                    ips.Add(ip.ToString());
                else
                    Error(_haCf, line.Line, t.Column, $"{line.Directive.Text}: '{t.Text}' is not an IP address");
            }
            if (ips.Count == 0)
                continue;
            foreach (var extra in ips.Skip(ConfigLimits.MaxPingTargets))
                _draft.Skipped(At(line), $"{line.Directive.Text} {extra}", $"a ping monitor takes at most {ConfigLimits.MaxPingTargets} targets");
            // ping: each address is its own pseudo-node; ping_group: one, up while any answers.
            var sets = group is null ? ips.Select(i => new List<string> { i }).ToList() : [ips.Take(ConfigLimits.MaxPingTargets).ToList()];
            foreach (var set in sets)
            {
                if (_draft.Monitors.Count >= ConfigLimits.MaxMonitors)
                {
                    _draft.Skipped(At(line), $"{line.Directive.Text} {string.Join(' ', set)}", $"at most {ConfigLimits.MaxMonitors} monitors");
                    continue;
                }
                string name = _draft.MonitorNames.Take(group is null ? "ping-" + set[0] : "ping-" + group);
                _draft.Monitors.Add(new YOutMap().Add("name", name).Add("kind", "ping").Add("targets", new YOutList(set))
                    .Add("interval", interval).Add("fall", fall).WithComment($"{_haCf}:{line.Line}"));
            }
        }
        _draft.Changed(At(_ipfail), $"respawn {_ipfail.Rest}",
            $"ipfail moved resources to the node that saw more ping nodes; here each ping node is a monitor, and a node whose monitor fails ({fall} x 1s, deadping {ImportText.Ms(deadping)}) hands over to a healthy peer");
    }

    // ---- haresources --------------------------------------------------------------------------

    /// <summary>A resource.d wrapper around an OCF agent: positional arguments → OCF_RESKEY names (the wrappers in /etc/ha.d/resource.d).</summary>
    private sealed record Wrapper(string Type, string[] Params, int MinArgs, bool JoinAll = false);

    private static readonly Dictionary<string, Wrapper> Wrappers = new(StringComparer.Ordinal)
    {
        ["Filesystem"] = new("Filesystem", ["device", "directory", "fstype", "options"], 2),
        ["MailTo"] = new("MailTo", ["email", "subject"], 1),
        ["apache"] = new("apache", ["configfile"], 0),
        ["Delay"] = new("Delay", ["startdelay", "stopdelay"], 0),
        ["IPsrcaddr"] = new("IPsrcaddr", ["ipaddress"], 1),
        ["LVM"] = new("LVM", ["volgrpname"], 1),
        ["portblock"] = new("portblock", ["protocol", "portno", "action"], 3),
        ["Xinetd"] = new("Xinetd", ["service"], 1),
        ["Raid1"] = new("Raid1", ["raidconf", "raiddev"], 2),
        ["db2"] = new("db2", ["instance"], 1),
        ["LinuxSCSI"] = new("LinuxSCSI", ["scsi"], 1),
        ["ICP"] = new("ICP", ["driveid", "device"], 2),
        ["ServeRAID"] = new("ServeRAID", ["serveraid", "mergegroup"], 2),
        ["WinPopup"] = new("WinPopup", ["hostfile"], 0),
        ["AudibleAlarm"] = new("AudibleAlarm", ["nodelist"], 0, JoinAll: true),
    };

    private readonly HashSet<string> _vipAddresses = new(StringComparer.Ordinal);

    private void BuildResources(string text)
    {
        var groups = HeartbeatFiles.ParseHaResources(text);
        if (groups.Count == 0)
        {
            _draft.Assumed(new SourceRef(_haRes, 0), "no resource groups", "the pair holds no resources; add them under resources:");
            return;
        }
        NodeOut? home = null;
        foreach (var g in groups)
        {
            var node = Node(g.Node.Text);
            if (node is null)
            {
                Error(_haRes, g.Line, g.Node.Column,
                    $"'{g.Node.Text}' is not a node of {_haCf} ({string.Join(", ", _nodes.Select(n => n.Name).Distinct())}); heartbeat would never start this group");
                continue;
            }
            if (home is null)
                home = node;
            else if (node != home)
                _draft.Changed(new SourceRef(_haRes, g.Line), $"group {g.Node.Text} {string.Join(' ', g.Resources.Select(r => r.Text))}",
                    $"its home is {node.Name}, the first group's {home.Name}: the appliance runs every resource on the one active node, so this group now moves with the others");
            if (g.Resources.Count == 0)
                _draft.Skipped(new SourceRef(_haRes, g.Line), $"group {g.Node.Text}", "names no resources");
            foreach (var r in g.Resources)
                Resource(g, r);
        }
        if (home is not null)
        {
            home.Priority = 200;
            Other(home).Priority = 100;
        }
    }

    private static bool LooksLikeIp(string word)
    {
        // haresources: a bare [0-9]*.[0-9]*.[0-9]*.[0-9]* word means IPaddr::word.
        string head = word.Split('/')[0];
        var parts = head.Split('.');
        return parts.Length == 4 && parts.All(p => p.All(char.IsAsciiDigit));
    }

    private void Resource(HaResourceGroup g, HbWord word)
    {
        var at = new SourceRef(_haRes, g.Line);
        string spec = LooksLikeIp(word.Text) ? "IPaddr::" + word.Text : word.Text;
        var parts = spec.Split("::");
        string script = parts[0];
        var args = parts.Skip(1).ToArray();
        if (_draft.Resources.Count >= ConfigLimits.MaxResources)
        {
            _draft.Skipped(at, word.Text, $"the appliance holds at most {ConfigLimits.MaxResources} resources");
            return;
        }
        if (script.Length == 0 || script.Contains('/'))
        {
            Error(_haRes, g.Line, word.Column, $"'{word.Text}' is not a resource (script or script::arg::...)");
            return;
        }
        switch (script)
        {
            case "IPaddr" or "IPaddr2" or "IPv6addr":
                IpResource(at, word, script, args);
                return;
            case "SendArp":
                if (args.Length != 1 || args[0].Split('/') is not [var ip, var nic])
                {
                    _draft.Skipped(at, word.Text, "SendArp takes ip/interface; heartbeat would fail to start it");
                    return;
                }
                AddOcf(at, word.Text, "SendArp", [("ip", ip), ("nic", nic)]);
                _draft.Changed(at, word.Text, "kept as the OCF agent heartbeat:SendArp; a vip resource announces its address itself (garp_repeat)");
                return;
            case "ldirectord":
                _draft.Skipped(at, word.Text,
                    "the appliance's director replaces ldirectord: ldirectord.cf is not read; write its virtual services under director.services (appliancectl config import-keepalived reads the LVS part of a keepalived.conf)");
                return;
            case "OCF":
                _draft.Skipped(at, word.Text, "the OCF wrapper reads its parameters from a file in /etc/ha.d/conf, which is not read; write it as an ocf resource");
                return;
        }
        if (Wrappers.TryGetValue(script, out var w))
        {
            if (args.Length < w.MinArgs || (!w.JoinAll && args.Length > w.Params.Length))
            {
                _draft.Skipped(at, word.Text, $"{script} takes {w.MinArgs} to {w.Params.Length} arguments ({string.Join(", ", w.Params)}); heartbeat would fail to start it");
                return;
            }
            var ps = w.JoinAll
                ? (args.Length == 0 ? [] : new List<(string, string)> { (w.Params[0], string.Join(' ', args)) })
                : args.Select((a, i) => (w.Params[i], a)).ToList();
            AddOcf(at, word.Text, w.Type, ps);
            return;
        }
        ScriptResource(at, word, script, args);
    }

    private void AddOcf(SourceRef at, string source, string type, List<(string Name, string Value)> ps)
    {
        var map = new YOutMap().Add("name", _draft.ResourceNames.Take(type)).Add("kind", "ocf").Add("agent", "heartbeat:" + type);
        if (ps.Count > 0)
            map.Add("params", new YOutList(ps.Select(p => $"{p.Name}={p.Value}")));
        _draft.Resources.Add(map.WithComment($"{at}: {source}"));
    }

    private void IpResource(SourceRef at, HbWord word, string script, string[] args)
    {
        if (args.Length != 1)
        {
            _draft.Skipped(at, word.Text, $"{script} takes one argument, ip[/bits[/interface[/broadcast]]]; heartbeat would fail to start it");
            return;
        }
        var fields = args[0].Split('/');
        bool v6 = script == "IPv6addr";
        if (!IPAddress.TryParse(fields[0], out var ip) || (ip.AddressFamily == AddressFamily.InterNetworkV6) != v6 || fields[0].Contains('%'))
        {
            Error(_haRes, at.Line, word.Column, $"{script}: '{fields[0]}' is not an {(v6 ? "IPv6" : "IPv4")} address");
            return;
        }
        int? bits = null;
        string? nic = null, label = null, broadcast = null;
        if (fields.Length > 1)
        {
            if (!int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out int b) || b < 1 || b > (v6 ? 128 : 32))
            {
                Error(_haRes, at.Line, word.Column, $"{script}: '{fields[1]}' is not a prefix length (1 to {(v6 ? 128 : 32)})");
                return;
            }
            bits = b;
        }
        if (fields.Length > 2)
        {
            // A third field starting with a digit is the broadcast address, without an interface.
            if (!v6 && char.IsAsciiDigit(fields[2].FirstOrDefault()))
                broadcast = fields[2];
            else
            {
                nic = fields[2];
                int colon = nic.IndexOf(':');
                if (colon > 0)
                    (nic, label) = (nic[..colon], nic[(colon + 1)..]);
                if (fields.Length > 3)
                    broadcast = fields[3];
            }
        }
        if (!_vipAddresses.Add(ip.ToString()))
        {
            _draft.Skipped(at, word.Text, $"{ip} is held already by an earlier resource");
            return;
        }
        bool nicOk = nic is { Length: > 0 and <= 15 } && nic.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
        if (bits is { } prefix && nicOk)
        {
            _draft.Resources.Add(new YOutMap().Add("name", _draft.ResourceNames.Take("vip")).Add("kind", "vip")
                .Add("address", $"{ip}/{prefix}").Add("interface", nic!).WithComment($"{at}: {word.Text}"));
            if (label is not null)
                _draft.Changed(at, word.Text, $"the label {nic}:{label} is not set (an ifconfig-era alias name; ip addr shows the address either way)");
            if (broadcast is not null)
                _draft.Changed(at, word.Text, $"broadcast {broadcast} is not set: the kernel takes the subnet's highest address");
            return;
        }
        var ps = new List<(string, string)> { (v6 ? "ipv6addr" : "ip", ip.ToString()) };
        if (bits is not null)
            ps.Add(("cidr_netmask", bits.Value.ToString(CultureInfo.InvariantCulture)));
        if (nic is not null)
            ps.Add(("nic", label is null ? nic : $"{nic}:{label}"));
        if (broadcast is not null)
            ps.Add(("broadcast", broadcast));
        AddOcf(at, word.Text, script, ps);
        _draft.Changed(at, word.Text,
            $"no {(bits is null ? "netmask" : "interface")}: kept as the OCF agent heartbeat:{script}, which takes it from the route as heartbeat did; a vip resource (announcements, duplicate-address watch, usable by the director) needs both: write {script}::{ip}/BITS/IFACE");
    }

    private void ScriptResource(SourceRef at, HbWord word, string script, string[] args)
    {
        // heartbeat looks in /etc/ha.d/resource.d, then /etc/init.d.
        var listed = files.List(Path.Combine(directory, "resource.d"));
        bool inResourceD = listed?.Contains(script) == true;
        string path = inResourceD ? "/etc/ha.d/resource.d/" + script : "/etc/init.d/" + script;
        string name = _draft.ResourceNames.Take(script);
        if (args.Length == 0)
        {
            var map = new YOutMap().Add("name", name).Add("kind", "lsb").Add("script", path);
            if (inResourceD)
            {
                map.Add("monitor_interval", TimeSpan.Zero);
                _draft.Changed(at, word.Text,
                    $"lsb {path}, not monitored (monitor_interval: 0ms): heartbeat read its status output, the appliance reads LSB exit codes (0 running, 3 stopped); check the script, then monitor it");
            }
            else
            {
                _draft.Changed(at, word.Text,
                    $"lsb {path}; heartbeat v1 never monitored resources, here its status runs every 10s (LSB exit codes: 0 running, 3 stopped) and a failure restarts it");
            }
            if (!inResourceD)
                _draft.Assumed(at, word.Text, $"no such script in the directory's resource.d, so heartbeat's next place, {path}");
            _draft.Resources.Add(map.WithComment($"{at}: {word.Text}"));
            return;
        }
        string Line(string action) => ImportText.ShellLine([path, .. args, action]);
        _draft.Resources.Add(new YOutMap().Add("name", name).Add("kind", "exec").Add("start", Line("start")).Add("stop", Line("stop"))
            .WithComment($"{at}: {word.Text}"));
        _draft.Changed(at, word.Text,
            $"a script with arguments runs as an exec resource ({path} ... start|stop); not monitored (heartbeat read its status output, not an exit code): add a monitor command if it has one");
        if (!inResourceD)
            _draft.Assumed(at, word.Text, $"no such script in the directory's resource.d, so heartbeat's next place, {path}");
    }

    // ---- the rest -----------------------------------------------------------------------------

    private void BuildFailback()
    {
        if (_autoFailback is { } af)
        {
            if (af.Word == "legacy")
            {
                _draft.AutoFailback = true;
                _draft.Changed(At(af.Line), "auto_failback legacy", "heartbeat's old behaviour fails back like on: true here");
            }
            else
                _draft.AutoFailback = HeartbeatFiles.ParseBool(af.Word)!.Value;
            if (_niceFailback is { } nf1)
                _draft.Skipped(At(nf1.Line), $"nice_failback {nf1.Line.Rest}", "auto_failback decides; nice_failback is its old form");
        }
        else if (_niceFailback is { } nf)
        {
            _draft.AutoFailback = !nf.On;
            _draft.Changed(At(nf.Line), $"nice_failback {nf.Line.Rest}", $"the old form of auto_failback {(nf.On ? "off" : "on")}");
        }
        else
        {
            _draft.AutoFailback = true;
            _draft.Assumed(new SourceRef(_haCf, 0), "auto_failback",
                "not set: heartbeat's default legacy fails back, so true here; the appliance's own default is false (a failback is a second outage)");
        }
        if (_draft.AutoFailback)
            _draft.AutoFailbackComment = "as heartbeat; false avoids the second outage of a failback";
    }

    private void BuildKey(ImportFile authKeys)
    {
        _draft.KeyFile = options.KeyFile;
        _draft.KeyComment = options.KeyWritten ? "a new random key (--write-key)" : "not created: see the report";
        if (options.KeyWritten)
            _draft.Changed(new SourceRef(_authKeys, 0), "cluster.key_file", $"a new random 32-byte key was written to {options.KeyFile}; copy it to both nodes");
        else
            _draft.Assumed(new SourceRef(_authKeys, 0), "cluster.key_file",
                $"heartbeat's keys are not reused: create a new key with appliancectl config import-heartbeat --write-key {options.KeyFile} (or head -c 32 /dev/urandom > {options.KeyFile}; chmod 600), the same file on both nodes");
        if (authKeys.Text is null)
            return;
        var lines = HeartbeatFiles.ParseAuthKeys(authKeys.Text);
        string? send = null;
        var entries = new Dictionary<string, (int Line, string Method)>();
        int errorsBefore = _errors.Count;
        foreach (var (line, words) in lines)
        {
            if (words[0].Text == "auth")
            {
                if (words.Count != 2)
                    Error(_authKeys, line, words[0].Column, "auth: expected one method id, like 'auth 1'");
                else
                    send = words[1].Text;
                continue;
            }
            if (!int.TryParse(words[0].Text, NumberStyles.None, CultureInfo.InvariantCulture, out int id) || id > 15)
            {
                Error(_authKeys, line, words[0].Column, $"'{words[0].Text}' is neither 'auth' nor a method id (0 to 15)");
                continue;
            }
            if (words.Count < 2)
            {
                Error(_authKeys, line, words[0].Column, $"method {id}: expected crc, md5 KEY or sha1 KEY");
                continue;
            }
            string method = words[1].Text.ToLowerInvariant();
            bool keyed = method is "md5" or "sha1";
            if (method is not ("crc" or "md5" or "sha1") || (keyed && words.Count != 3) || (!keyed && words.Count != 2))
            {
                Error(_authKeys, line, words[1].Column, $"method {id}: expected crc (no key), md5 KEY or sha1 KEY; heartbeat refuses this too");
                continue;
            }
            entries[words[0].Text] = (line, method);
        }
        if (_errors.Count > errorsBefore)
        {
            // A malformed line is the error to fix first; what refers to it would only echo it.
        }
        else if (send is null && entries.Count > 0)
            Error(_authKeys, entries.Values.Min(e => e.Line), 1, "no 'auth N' line: heartbeat does not know which method signs");
        else if (send is not null && !entries.ContainsKey(send))
            Error(_authKeys, lines.First(l => l.Words[0].Text == "auth").Line, 1, $"auth {send}: no method {send} is listed");
        foreach (var (id, (line, method)) in entries.OrderBy(e => e.Value.Line))
        {
            // Never echo the secret itself.
            string subject = method == "crc" ? $"{id} crc" : $"{id} {method} (key not shown)";
            string why = method == "crc"
                ? "crc authenticated nothing; frames here carry an HMAC-SHA256 with the cluster key (cluster.key_file)"
                : $"not reused: a {method} text secret is no HMAC-SHA256 key of 32 random bytes (cluster.key_file)";
            _draft.Skipped(new SourceRef(_authKeys, line), subject, why);
        }
    }

    private void BuildClusterName()
    {
        string raw;
        if (options.ClusterName is { } given)
            raw = given;
        else if (_clusterDirective is { } cd)
        {
            raw = cd.Name;
            if (NameAllocator.Sanitize(raw, "ha") != raw)
                _draft.Changed(At(cd.Line), $"cluster {cd.Name}", $"named {NameAllocator.Sanitize(raw, "ha")} here");
        }
        else
        {
            raw = string.Join('-', _draft.Nodes.Select(n => n.Name));
            _draft.Assumed(new SourceRef(_haCf, 0), "cluster name", $"heartbeat v1 has none: {NameAllocator.Sanitize(raw, "ha")} from the node names (--cluster NAME to choose)");
        }
        _draft.ClusterName = NameAllocator.Sanitize(raw, "ha");
    }
}
