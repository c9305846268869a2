using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Appliance.Core.Config.Import;

/// <summary>
/// <c>appliancectl config import-keepalived FILE</c>: a keepalived.conf (and what it includes) to
/// appliance.yaml (keepalived-lvs.md). vrrp_instances give the VIPs, priorities, timers, unicast
/// peers and monitors (track_script); virtual_servers with their real servers and checkers give the
/// director. keepalived.conf describes one node: the other node's name and, for multicast VRRP, both
/// nodes' addresses come from the options. Every statement is mapped or listed in the report.
/// </summary>
/// <remarks>
/// Several vrrp_instances: the appliance has one active node holding every resource, so every
/// instance's addresses become VIPs of the one pair, the first instance giving priority, timers and
/// preemption; instances keepalived could run on the other node (another state or priority) are
/// reported as now moving with the first.
/// </remarks>
public static class KeepalivedImporter
{
    public static ImportResult Import(string path, IImportFiles files, ImportOptions options)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(options);
        return new KeepalivedImport(path, files, options).Run();
    }
}

internal sealed class KeepalivedImport(string path, IImportFiles files, ImportOptions options)
{
    private readonly List<ConfigError> _errors = [];
    private readonly ImportDraft _draft = new("appliance.yaml imported from a keepalived configuration (appliancectl config import-keepalived):", [$"  {path}"]);
    private List<KaNode> _root = [];
    private NodeOut _local = null!, _peer = null!;

    /// <summary>The VIP resources made so far: name, address, prefix length, interface.</summary>
    private readonly List<(string Name, IPAddress Address, int Length, string Interface)> _vips = [];

    /// <summary>keepalived's defaults (keepalived.conf(5), keepalived-lvs.md).</summary>
    private static readonly TimeSpan DefaultAdvert = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan DefaultDelayLoop = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan BarePersistence = TimeSpan.FromSeconds(360);
    private const int DefaultPriority = 100;

    private string _dir = ".";

    private string Display(string p)
    {
        if (p == path)
            return Path.GetFileName(p);
        return p.StartsWith(_dir + "/", StringComparison.Ordinal) ? p[(_dir.Length + 1)..] : p;
    }

    private void Error(KaNode n, int argIndex, string message)
    {
        int column = argIndex >= 0 && argIndex < n.Args.Count ? n.Args[argIndex].Column : n.Column;
        _errors.Add(new ConfigError(n.Path, n.Line, column, $"{n.Keyword}: {message}"));
    }

    private void Skip(KaNode n, string reason, string? subject = null)
    {
        foreach (var d in n.SelfAndDescendants())
            d.Handled = true;
        _draft.Skipped(n.At, subject ?? n.Text, reason);
    }

    private static void Use(KaNode n) => n.Handled = true;

    private static void UseAll(KaNode n)
    {
        foreach (var d in n.SelfAndDescendants())
            d.Handled = true;
    }

    public ImportResult Run()
    {
        int slash = path.LastIndexOf('/');
        _dir = slash <= 0 ? (slash == 0 ? "" : ".") : path[..slash];
        var parser = new KeepalivedParser(files, Display, (at, subject, why) => _draft.Skipped(at, subject, why));
        var root = parser.Parse(path);
        if (root is null)
            return new ImportResult(null, _draft.SortedNotes(), [.. parser.Errors]);
        _root = root;
        foreach (string f in parser.FilesRead)
            _draft.SawFile(f);
        // The header names every file read.
        _draft.SourceLines.AddRange(parser.FilesRead.Skip(1).Select(f => $"  {f} (included)"));

        Nodes();
        Globals();
        var instances = _root.Where(n => n.Keyword == "vrrp_instance").ToList();
        Instances(instances);
        Links(instances);
        Services();
        Leftovers();
        Key();

        if (_errors.Count > 0)
            return new ImportResult(null, _draft.SortedNotes(), [.. _errors.OrderBy(e => e.File, StringComparer.Ordinal).ThenBy(e => e.Line).ThenBy(e => e.Column)]);
        if (_local.Links.Count == 0)
        {
            string iface = instances.Select(i => i.Child("interface")?.Arg(0)).FirstOrDefault(x => x is not null) ?? "IFACE";
            return new ImportResult(null, _draft.SortedNotes(),
            [
                new ConfigError(path, 1, 1,
                    "no heartbeat link: keepalived.conf gives no unicast peer, so say where the pair heartbeats: " +
                    $"--address {_local.Name}:{iface}=IP --address {_peer.Name}:{iface}=IP (each node's address), and/or --serial DEVICE (a null-modem cable)"),
            ]);
        }
        return new ImportResult(_draft.Render(), _draft.SortedNotes(), []);
    }

    // ---- nodes, cluster -----------------------------------------------------------------------

    private void Nodes()
    {
        string local = options.LocalNode ?? "alpha";
        string peer = options.PeerNode ?? (local == "beta" ? "alpha" : "beta");
        var names = new NameAllocator("node");
        _local = _draft.Nodes[0];
        _peer = _draft.Nodes[1];
        _local.Name = names.Take(local);
        _peer.Name = names.Take(peer);
        var file = new SourceRef(Display(path), 0);
        if (_local.Name != local)
            _draft.Changed(file, $"--node {local}", $"named {_local.Name} here (names are [a-z][a-z0-9-])");
        if (_peer.Name != peer)
            _draft.Changed(file, $"--peer {peer}", $"named {_peer.Name} here (names are [a-z][a-z0-9-], and the two differ)");
        _draft.Assumed(file, "node names",
            $"keepalived.conf describes one node: this file is {_local.Name}'s, the other node is {_peer.Name} (--node and --peer choose)");
        _draft.Fencing = FencingMode.Off;
        _draft.FencingComment = "keepalived does not fence; add a fence device and set required";
        _draft.Changed(file, "fencing",
            "off, as keepalived ran: a peer that looks dead is taken over from without cutting its power, so a partition can leave both active");
    }

    private void Key()
    {
        _draft.KeyFile = options.KeyFile;
        _draft.KeyComment = options.KeyWritten ? "a new random key (--write-key)" : "not created: see the report";
        if (options.KeyWritten)
            _draft.Changed(new SourceRef(Display(path), 0), "cluster.key_file", $"a new random 32-byte key was written to {options.KeyFile}; copy it to both nodes");
        else
            _draft.Assumed(new SourceRef(Display(path), 0), "cluster.key_file",
                $"keepalived has no shared key for the pair: create one with appliancectl config import-keepalived --write-key {options.KeyFile} (or head -c 32 /dev/urandom > {options.KeyFile}; chmod 600) and copy it to both nodes");
    }

    // ---- global_defs --------------------------------------------------------------------------

    private TimeSpan? _garpInterval;
    private int? _garpRepeat;
    private TimeSpan? _garpRefresh;

    private static readonly Dictionary<string, string> GlobalReasons = new(StringComparer.Ordinal)
    {
        ["notification_email"] = "the appliance sends no mail; alarms are in status, /metrics and the log",
        ["notification_email_from"] = "the appliance sends no mail; alarms are in status, /metrics and the log",
        ["smtp_server"] = "the appliance sends no mail; alarms are in status, /metrics and the log",
        ["smtp_connect_timeout"] = "the appliance sends no mail; alarms are in status, /metrics and the log",
        ["smtp_helo_name"] = "the appliance sends no mail; alarms are in status, /metrics and the log",
        ["router_id"] = "the node's name is given by --node (applianced --node NAME)",
        ["script_user"] = "monitors and exec checks run as root under applianced",
        ["enable_script_security"] = "monitors and exec checks run as root under applianced",
        ["lvs_sync_daemon"] = "IPVS's sync daemon has no equivalent; the director syncs connections with conntrackd (director.sync)",
        ["lvs_timeouts"] = "IPVS timeouts: the director's connections live in conntrack with the kernel's timeouts",
        ["vrrp_mcast_group4"] = "the heartbeat's links are in nodes[].links",
        ["vrrp_mcast_group6"] = "the heartbeat's links are in nodes[].links",
        ["vrrp_version"] = "the appliance's heartbeat is its own protocol, not VRRP",
        ["vrrp_strict"] = "the appliance's heartbeat is its own protocol, not VRRP",
        ["vrrp_skip_check_adv_addr"] = "the appliance's heartbeat is its own protocol, not VRRP",
        ["vrrp_check_unicast_src"] = "the appliance's heartbeat checks every frame's HMAC with the cluster key",
        ["vrrp_iptables"] = "the appliance owns only table inet appliance in nftables",
        ["nftables"] = "the appliance owns only table inet appliance in nftables",
        ["vrrp_garp_master_delay"] = "the appliance repeats announcements every garp_interval after the first, with no second burst",
        ["vrrp_garp_lower_prio_delay"] = "there are no VRRP adverts from a lower priority to answer",
        ["vrrp_garp_lower_prio_repeat"] = "there are no VRRP adverts from a lower priority to answer",
        ["vrrp_garp_master_refresh_repeat"] = "one announcement per refresh",
        ["vrrp_gna_interval"] = "unsolicited neighbour advertisements follow the vip's garp_interval",
        ["vrrp_min_garp"] = "each vip's garp_repeat says how many",
    };

    private void Globals()
    {
        foreach (var g in _root.Where(n => n.Keyword == "global_defs"))
        {
            Use(g);
            foreach (var c in g.Children)
            {
                switch (c.Keyword)
                {
                    case "vrrp_garp_interval":
                        _garpInterval = Timer(c, 0);
                        Use(c);
                        break;
                    case "vrrp_garp_master_repeat":
                        _garpRepeat = Int(c, 0, 0, 1_000_000);
                        Use(c);
                        break;
                    case "vrrp_garp_master_refresh":
                        _garpRefresh = Timer(c, 0);
                        Use(c);
                        break;
                    default:
                        Skip(c, GlobalReasons.TryGetValue(c.Keyword, out string? why) ? why : "a setting of keepalived's own daemons; no equivalent");
                        break;
                }
            }
        }
    }

    // ---- values -------------------------------------------------------------------------------

    private int? Int(KaNode n, int i, int min, int max)
    {
        string? text = n.Arg(i);
        if (text is null || !int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
        {
            Error(n, i, text is null ? $"expected a number from {min} to {max}" : $"'{text}' is not a number from {min} to {max}");
            return null;
        }
        return v;
    }

    /// <summary>A keepalived TIMER: seconds, fractional allowed, to the microsecond; kept to the millisecond.</summary>
    private TimeSpan? Timer(KaNode n, int i)
    {
        string? text = n.Arg(i);
        if (text is null || !decimal.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal s) || s < 0 || s > 31 * 86400)
        {
            Error(n, i, text is null ? "expected a time in seconds" : $"'{text}' is not a time in seconds");
            return null;
        }
        return TimeSpan.FromMilliseconds((long)Math.Round(s * 1000m, MidpointRounding.AwayFromZero));
    }

    private static bool TryAddress(string text, out IPAddress address) =>
        IPAddress.TryParse(text, out address!) && !text.Contains('%') && (text.Contains('.') || text.Contains(':'));

    // ---- vrrp_instance ------------------------------------------------------------------------

    private KaNode? _first;

    /// <summary>vrrp_script name → the monitor made from it (made once, however many instances track it).</summary>
    private readonly Dictionary<string, string> _monitorOf = new(StringComparer.Ordinal);

    private static readonly Dictionary<string, string> InstanceReasons = new(StringComparer.Ordinal)
    {
        ["virtual_router_id"] = "VRRP's router id; the pair is told apart by the cluster name (its hash is in every frame)",
        ["authentication"] = "VRRP's password is not reused: frames here carry an HMAC-SHA256 with the cluster key (key_file)",
        ["track_interface"] = "interface state is not tracked; a dead interface shows as a dead heartbeat link, or add a monitor (ping the upstream gateway)",
        ["notify_master"] = "the appliance runs no notify scripts: make it an exec resource (start: the master script, stop: the backup one)",
        ["notify_backup"] = "the appliance runs no notify scripts: make it an exec resource (start: the master script, stop: the backup one)",
        ["notify_fault"] = "the appliance runs no notify scripts; a failed node shows in status, /metrics and the log",
        ["notify_stop"] = "the appliance runs no notify scripts: make it an exec resource",
        ["notify"] = "the appliance runs no notify scripts: make it an exec resource",
        ["notify_master_rx_lower_pri"] = "the appliance runs no notify scripts",
        ["smtp_alert"] = "the appliance sends no mail; alarms are in status, /metrics and the log",
        ["preempt_delay"] = "a failback happens when the higher-priority node is back (auto_failback), without a delay",
        ["virtual_routes"] = "routes that follow the VIP are not managed: configure them on both nodes (systemd-networkd) or as an exec resource",
        ["virtual_rules"] = "routing rules that follow the VIP are not managed: configure them on both nodes or as an exec resource",
        ["lvs_sync_daemon_interface"] = "IPVS's sync daemon has no equivalent; the director syncs connections with conntrackd (director.sync)",
        ["use_vmac"] = "VIPs are added to the interface itself; there are no VRRP virtual MACs",
        ["vmac_xmit_base"] = "VIPs are added to the interface itself; there are no VRRP virtual MACs",
        ["version"] = "the appliance's heartbeat is its own protocol, not VRRP",
        ["dont_track_primary"] = "interface state is not tracked",
        ["mcast_src_ip"] = "multicast VRRP's source address; the heartbeat's links are in nodes[].links",
        ["native_ipv6"] = "the appliance's heartbeat is its own protocol, not VRRP",
        ["strict_mode"] = "the appliance's heartbeat is its own protocol, not VRRP",
        ["accept"] = "a VIP is an ordinary local address on the active node: it accepts traffic",
        ["no_accept"] = "a VIP is an ordinary local address on the active node: it accepts traffic",
        ["skip_check_adv_addr"] = "the appliance's heartbeat is its own protocol, not VRRP",
        ["garp_master_delay"] = "the appliance repeats announcements every garp_interval after the first, with no second burst",
        ["garp_lower_prio_delay"] = "there are no VRRP adverts from a lower priority to answer",
        ["garp_lower_prio_repeat"] = "there are no VRRP adverts from a lower priority to answer",
        ["garp_master_refresh_repeat"] = "one announcement per refresh",
        ["debug"] = "applianced logs one line per event",
    };

    private void Instances(List<KaNode> instances)
    {
        var file = new SourceRef(Display(path), 0);
        if (instances.Count == 0)
        {
            _draft.Assumed(file, "no vrrp_instance", "no VIPs, priorities or timers in the file: the appliance's default timers, priority 100 for both nodes");
            return;
        }
        _first = instances[0];
        // Sync groups: the appliance moves every VIP together, which is what a sync group asks for.
        foreach (var sg in _root.Where(n => n.Keyword == "vrrp_sync_group"))
        {
            Use(sg);
            foreach (var c in sg.Children)
            {
                if (c.Keyword == "group")
                {
                    UseAll(c);
                    _draft.Changed(sg.At, sg.Text, "every VIP of the pair moves together here, as a sync group asks");
                }
                else if (c.Block is null && c.Args.Count == 0 && instances.Any(i => i.Arg(0) == c.Keyword))
                {
                    // keepalived before 1.2 listed the instances directly; 2.2.7 calls them unknown keywords.
                    Skip(c, "an instance listed outside a group { } block; keepalived 2 ignores it (Unknown keyword)");
                }
                else
                    Skip(c, InstanceReasons.TryGetValue(c.Keyword, out string? why) ? why : "a sync group setting with no equivalent");
            }
        }

        var firstState = StateOf(_first);
        int firstPriority = PriorityOf(_first) ?? DefaultPriority;
        var firstAdvert = AdvertOf(_first) ?? DefaultAdvert;
        bool firstNopreempt = _first.Child("nopreempt") is not null;
        foreach (var inst in instances)
        {
            Use(inst);
            Instance(inst);
            if (inst == _first)
                continue;
            var differences = new List<string>();
            if (StateOf(inst) != firstState)
                differences.Add($"state {StateOf(inst)}");
            if ((PriorityOf(inst) ?? DefaultPriority) != firstPriority)
                differences.Add($"priority {PriorityOf(inst) ?? DefaultPriority}");
            if ((AdvertOf(inst) ?? DefaultAdvert) != firstAdvert)
                differences.Add($"advert_int {ImportText.Ms(AdvertOf(inst) ?? DefaultAdvert)}");
            if ((inst.Child("nopreempt") is not null) != firstNopreempt)
                differences.Add(firstNopreempt ? "preempting" : "nopreempt");
            string name = inst.Arg(0) ?? "?";
            _draft.Changed(inst.At, $"vrrp_instance {name}", differences.Count == 0
                ? $"its VIPs join those of {_first.Arg(0)}: one active node holds them all"
                : $"{string.Join(", ", differences)} unlike {_first.Arg(0)}: keepalived could make it MASTER on the other node; here its VIPs move with {_first.Arg(0)}'s (one active node holds them all)");
        }

        int priority = Math.Clamp(firstPriority, 1, 255);
        _local.Priority = priority;
        bool master = firstState == "MASTER" || priority == 255;
        _peer.Priority = master ? Math.Max(priority - 50, 0) : Math.Min(priority + 50, 255);
        if (_peer.Priority == _local.Priority)
            _peer.Priority = master ? priority - 1 : priority + 1;
        _draft.Assumed(_first.At, $"vrrp_instance {_first.Arg(0)}",
            $"this node is {firstState} with priority {priority}; the other node's priority is not in this file: {_peer.Priority} here ({(master ? "lower" : "higher")})");

        _draft.AutoFailback = !firstNopreempt;
        _draft.AutoFailbackComment = firstNopreempt ? "nopreempt" : "keepalived preempts unless nopreempt";
        var keepalive = firstAdvert;
        var timers = new Timers(keepalive, 2 * keepalive, 3 * keepalive, 3 * keepalive > Timers.Default.Initdead ? 3 * keepalive : Timers.Default.Initdead);
        _draft.Timers = TimerFit.Fit(timers, (name, why) => _draft.Changed(_first.Child("advert_int")?.At ?? _first.At, name, why));
        _draft.TimersComment = $"from advert_int {ImportText.Ms(firstAdvert)}";
        _draft.Changed(_first.Child("advert_int")?.At ?? _first.At, $"advert_int {ImportText.Ms(firstAdvert)}",
            "keepalive = advert_int, deadtime = 3 adverts (VRRP's master-down interval without its skew), warntime = 2 adverts");
        _draft.ClusterName = NameAllocator.Sanitize(options.ClusterName ?? "vrrp-" + (_first.Child("virtual_router_id")?.Arg(0) ?? "0"), "keepalived");
        if (options.ClusterName is null)
            _draft.Assumed(_first.At, "cluster name", $"{_draft.ClusterName}, from the first virtual_router_id (--cluster NAME to choose)");
    }

    private string StateOf(KaNode inst) => inst.Child("state")?.Arg(0)?.ToUpperInvariant() ?? "BACKUP";

    private int? PriorityOf(KaNode inst) => inst.Child("priority") is { } p ? int.TryParse(p.Arg(0), NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : null : null;

    private TimeSpan? AdvertOf(KaNode inst) =>
        inst.Child("advert_int") is { } a && decimal.TryParse(a.Arg(0), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal s) && s > 0
            ? TimeSpan.FromMilliseconds((long)Math.Round(s * 1000m)) : null;

    private void Instance(KaNode inst)
    {
        string name = inst.Arg(0) ?? "vrrp";
        string? iface = inst.Child("interface")?.Arg(0);
        int? repeat = _garpRepeat;
        TimeSpan? refresh = _garpRefresh;
        foreach (var c in inst.Children)
        {
            switch (c.Keyword)
            {
                case "state":
                    if (c.Arg(0)?.ToUpperInvariant() is not ("MASTER" or "BACKUP"))
                        Error(c, 0, $"'{c.Arg(0)}' is not MASTER or BACKUP");
                    Use(c);
                    break;
                case "priority":
                    Int(c, 0, 1, 255);
                    Use(c);
                    break;
                case "advert_int":
                    if (Timer(c, 0) is { } t && t <= TimeSpan.Zero)
                        Error(c, 0, "must be more than 0");
                    Use(c);
                    break;
                case "interface" or "nopreempt" or "preempt" or "unicast_src_ip" or "unicast_peer":
                    Use(c); // read by Instances and Links
                    break;
                case "garp_master_repeat":
                    repeat = Int(c, 0, 0, 1_000_000);
                    Use(c);
                    break;
                case "garp_master_refresh":
                    refresh = Timer(c, 0);
                    Use(c);
                    break;
                case "virtual_ipaddress" or "virtual_ipaddress_excluded":
                    Use(c);
                    break;
                case "track_script":
                    Use(c);
                    foreach (var tracked in c.Children)
                        TrackScript(inst, tracked);
                    break;
                default:
                    Skip(c, InstanceReasons.TryGetValue(c.Keyword, out string? why) ? why : $"not recognised by the importer (a vrrp_instance option keepalived may know): not imported");
                    break;
            }
        }
        foreach (var block in inst.Children.Where(c => c.Keyword is "virtual_ipaddress" or "virtual_ipaddress_excluded"))
        {
            foreach (var v in block.Children)
                Vip(inst, name, iface, v, repeat, refresh, excluded: block.Keyword == "virtual_ipaddress_excluded");
        }
    }

    private void Vip(KaNode inst, string instance, string? iface, KaNode v, int? repeat, TimeSpan? refresh, bool excluded)
    {
        Use(v);
        string spec = v.Keyword;
        string[] parts = spec.Split('/');
        if (!TryAddress(parts[0], out var ip) || parts.Length > 2)
        {
            Error(v, -1, $"'{spec}' is not an address[/prefix]");
            return;
        }
        bool v6 = ip.AddressFamily == AddressFamily.InterNetworkV6;
        int length = v6 ? 128 : 32;
        if (parts.Length == 2 && (!int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out length) || length < 0 || length > (v6 ? 128 : 32)))
        {
            Error(v, -1, $"'{parts[1]}' is not a prefix length (0 to {(v6 ? 128 : 32)})");
            return;
        }
        if (length == 0)
        {
            _draft.Skipped(v.At, v.Text, "a /0 address is no VIP");
            return;
        }
        string? dev = iface;
        var ignored = new List<string>();
        for (int i = 0; i < v.Args.Count; i++)
        {
            string word = v.Args[i].Text;
            bool hasValue = word is "dev" or "brd" or "broadcast" or "label" or "scope" or "track_group" or "preferred_lft" or "metric";
            if (word == "dev" && i + 1 < v.Args.Count)
                dev = v.Args[i + 1].Text;
            else
                ignored.Add(hasValue && i + 1 < v.Args.Count ? $"{word} {v.Args[i + 1].Text}" : word);
            if (hasValue)
                i++;
        }
        if (dev is null)
        {
            _draft.Skipped(v.At, v.Text, "no interface: neither dev nor the instance's interface names one");
            return;
        }
        if (_vips.Any(x => x.Address.Equals(ip)))
        {
            _draft.Skipped(v.At, v.Text, $"{ip} is a VIP already (an earlier line)");
            return;
        }
        if (_draft.Resources.Count >= ConfigLimits.MaxResources)
        {
            _draft.Skipped(v.At, v.Text, $"the appliance holds at most {ConfigLimits.MaxResources} resources");
            return;
        }
        string name = _draft.ResourceNames.Take(instance);
        var map = new YOutMap().Add("name", name).Add("kind", "vip").Add("address", $"{ip}/{length}").Add("interface", dev);
        if (repeat is { } r)
        {
            map.Add("garp_repeat", Math.Min(r, 100));
            if (r > 100)
                _draft.Changed(v.At, v.Text, $"garp_master_repeat {r}: at most 100 announcements, 100 here");
        }
        if (_garpInterval is { } gi && gi > TimeSpan.Zero)
            map.Add("garp_interval", gi < TimeSpan.FromMilliseconds(10) ? TimeSpan.FromMilliseconds(10) : gi > TimeSpan.FromSeconds(60) ? TimeSpan.FromSeconds(60) : gi);
        if (refresh is { } rf && rf > TimeSpan.Zero)
            map.Add("garp_refresh", rf > TimeSpan.FromMinutes(60) ? TimeSpan.FromMinutes(60) : rf);
        _draft.Resources.Add(map.WithComment($"{v.At}: vrrp_instance {instance}"));
        _vips.Add((name, ip, length, dev));
        if (parts.Length == 1)
            _draft.Assumed(v.At, v.Text, $"no prefix length: /{length}, as keepalived adds it");
        if (ignored.Count > 0)
            _draft.Changed(v.At, v.Text, $"{string.Join(", ", ignored)}: not set here (the address is added to {dev} with the kernel's defaults)");
        if (excluded)
            _draft.Changed(v.At, v.Text, "virtual_ipaddress_excluded: not in VRRP adverts; here a VIP like the others");
    }

    private void TrackScript(KaNode inst, KaNode t)
    {
        Use(t);
        string scriptName = t.Keyword;
        var script = _root.LastOrDefault(n => n.Keyword == "vrrp_script" && n.Arg(0) == scriptName);
        if (script is null)
        {
            _draft.Skipped(t.At, t.Text, $"no vrrp_script {scriptName} is defined; keepalived ignores it too");
            return;
        }
        int? trackWeight = null;
        if (t.Arg(0) == "weight")
            trackWeight = Int(t, 1, -254, 254);
        if (!_monitorOf.TryGetValue(scriptName, out string? monitor))
        {
            monitor = Monitor(script);
            if (monitor is null)
                return;
            _monitorOf[scriptName] = monitor;
        }
        int weight = trackWeight ?? (script.Child("weight") is { } w ? int.TryParse(w.Arg(0), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int sw) ? sw : 0 : 0);
        if (weight != 0)
            _draft.Changed(t.At, $"vrrp_instance {inst.Arg(0)}: {t.Text}",
                $"weight {weight}: keepalived {(weight < 0 ? "lowered" : "raised")} the priority by {Math.Abs(weight)} and let the priorities decide; here a failing monitor {monitor} makes the node unfit and it hands over to a healthy peer");
    }

    /// <summary>A vrrp_script as a monitor of kind exec; null when it cannot be one (reported).</summary>
    private string? Monitor(KaNode script)
    {
        UseAll(script);
        string name = script.Arg(0) ?? "script";
        var line = script.Child("script");
        if (line is null || line.Args.Count == 0)
        {
            _draft.Skipped(script.At, script.Text, "no script line (keepalived removes such a vrrp_script)");
            return null;
        }
        if (_draft.Monitors.Count >= ConfigLimits.MaxMonitors)
        {
            _draft.Skipped(script.At, script.Text, $"at most {ConfigLimits.MaxMonitors} monitors");
            return null;
        }
        string command = string.Join(' ', line.Args.Select(a => a.Text));
        var interval = script.Child("interval") is { } iv ? Timer(iv, 0) ?? DefaultAdvert : DefaultAdvert;
        if (interval < TimeSpan.FromMilliseconds(100))
            interval = TimeSpan.FromMilliseconds(100);
        var timeoutNode = script.Child("timeout");
        var timeout = timeoutNode is null ? interval : Timer(timeoutNode, 0) ?? interval;
        if (timeoutNode is null)
        {
            timeout = TimeSpan.FromMilliseconds(Math.Max(10, (long)(interval.TotalMilliseconds * 0.8)));
            _draft.Assumed(script.At, $"vrrp_script {name}",
                $"no timeout: keepalived waits up to the interval; {ImportText.Ms(timeout)} here (a monitor's timeout is less than its interval)");
        }
        else if (timeout >= interval)
        {
            var fitted = TimeSpan.FromMilliseconds(Math.Max(10, (long)(interval.TotalMilliseconds * 0.8)));
            _draft.Changed(script.Child("timeout")?.At ?? script.At, $"vrrp_script {name} timeout",
                $"{ImportText.Ms(timeout)}: a monitor's timeout must be less than its interval ({ImportText.Ms(interval)}); {ImportText.Ms(fitted)} here");
            timeout = fitted;
        }
        int rise = script.Child("rise") is { } r ? Int(r, 0, 1, 100) ?? 1 : 1;
        int fall = script.Child("fall") is { } f ? Int(f, 0, 1, 100) ?? 1 : 1;
        string monitor = _draft.MonitorNames.Take(name);
        _draft.Monitors.Add(new YOutMap().Add("name", monitor).Add("kind", "exec").Add("command", command)
            .Add("interval", interval).Add("timeout", timeout).Add("rise", rise).Add("fall", fall)
            .WithComment($"{script.At}: vrrp_script {name}"));
        _draft.Changed(line.At, $"vrrp_script {name}: {line.Text}",
            "keepalived ran the script itself; here /bin/sh -c runs the line" +
            (command.Contains("/dev/tcp/", StringComparison.Ordinal) ? " (/dev/tcp is a bash feature: dash, Debian's /bin/sh, fails it; write bash -c '...' or nc -z)" : ""));
        foreach (var c in script.Children.Where(c => c.Keyword is "user" or "init_fail"))
            _draft.Skipped(c.At, $"vrrp_script {name}: {c.Text}", c.Keyword == "user" ? "monitors run as root under applianced" : "a monitor starts up and judges with rise and fall");
        foreach (var c in script.Children.Where(c => c.Keyword is not ("script" or "interval" or "timeout" or "rise" or "fall" or "weight" or "user" or "init_fail")))
            _draft.Skipped(c.At, $"vrrp_script {name}: {c.Text}", "not recognised by the importer: not imported");
        return monitor;
    }

    // ---- links --------------------------------------------------------------------------------

    private IPAddress? Hint(NodeOut node, string? iface) =>
        (iface is null ? null : options.Addresses.FirstOrDefault(h => h.Node == node.Name && h.Interface == iface))?.Address
        ?? options.Addresses.FirstOrDefault(h => h.Node == node.Name && h.Interface is null)?.Address;

    private void Links(List<KaNode> instances)
    {
        var file = new SourceRef(Display(path), 0);
        foreach (var h in options.Addresses.Where(h => h.Node != _local.Name && h.Node != _peer.Name))
            _draft.Skipped(file, $"--address {h.Node}={h.Address}", $"{h.Node} is neither node ({_local.Name}, {_peer.Name})");
        var made = new HashSet<(string, string)>();
        bool Add(string rawName, IPAddress local, IPAddress peer, string comment)
        {
            if (_local.Links.Count >= ConfigLimits.MaxLinksPerNode || !made.Add((local.ToString(), peer.ToString())))
                return false;
            string name = _draft.LinkNames.Take(rawName);
            _local.Links.Add(new YOutMap().Add("name", name).Add("kind", "udp").Add("local", local.ToString()).Add("peer", peer.ToString()).WithComment(comment));
            _peer.Links.Add(new YOutMap().Add("name", name).Add("kind", "udp").Add("local", peer.ToString()).Add("peer", local.ToString()).WithComment(comment));
            return true;
        }

        foreach (var inst in instances)
        {
            string? iface = inst.Child("interface")?.Arg(0);
            var peers = inst.Child("unicast_peer");
            var src = inst.Child("unicast_src_ip");
            if (peers is null || !peers.Children.Any())
                continue;
            var peerAddresses = new List<IPAddress>();
            foreach (var p in peers.Children)
            {
                Use(p);
                if (!TryAddress(p.Keyword, out var a))
                {
                    Error(p, -1, $"'{p.Keyword}' is not an address");
                    continue;
                }
                if (peerAddresses.Count == 0)
                    peerAddresses.Add(a);
                else
                    _draft.Skipped(p.At, p.Text, $"a pair has one peer; {peerAddresses[0]} is it (a third VRRP node has no place here)");
                foreach (var extra in p.Args)
                    _draft.Changed(p.At, p.Text, $"{extra.Text}: not set here");
            }
            if (peerAddresses.Count == 0)
                continue;
            IPAddress? local = null;
            if (src?.Arg(0) is { } s && TryAddress(s, out var sa))
                local = sa;
            else if (src is not null)
                Error(src, 0, $"'{src.Arg(0)}' is not an address");
            local ??= Hint(_local, iface);
            if (local is null || local.AddressFamily != peerAddresses[0].AddressFamily)
            {
                _draft.Skipped(peers.At, $"vrrp_instance {inst.Arg(0)} unicast_peer",
                    $"no unicast_src_ip: give this node's own address with --address {_local.Name}{(iface is null ? "" : ":" + iface)}=IP");
                continue;
            }
            if (Add("vrrp-" + (iface ?? inst.Arg(0) ?? "lan"), local, peerAddresses[0], $"{peers.At}: vrrp_instance {inst.Arg(0)} unicast") && src is null)
                _draft.Assumed(peers.At, $"vrrp_instance {inst.Arg(0)} unicast_peer", $"this node's address {local} is from --address");
        }

        // Multicast VRRP: the addresses come from the options, per interface.
        foreach (var iface in instances.Select(i => i.Child("interface")?.Arg(0)).Where(i => i is not null).Distinct())
        {
            if (instances.Where(i => i.Child("interface")?.Arg(0) == iface).All(i => i.Child("unicast_peer") is { } up && up.Children.Any()))
                continue;
            var (l, p) = (Hint(_local, iface), Hint(_peer, iface));
            if (l is null || p is null)
                continue;
            if (l.AddressFamily != p.AddressFamily || l.Equals(p))
            {
                _draft.Skipped(file, $"--address for {iface}", $"{l} and {p} are not two addresses of one family");
                continue;
            }
            if (Add("vrrp-" + iface, l, p, $"VRRP on {iface}, addresses from --address"))
                _draft.Changed(file, $"VRRP multicast on {iface}", $"a unicast heartbeat link between {_local.Name} {l} and {_peer.Name} {p} (from --address)");
        }
        if (_local.Links.Count == 0 && Hint(_local, null) is { } gl && Hint(_peer, null) is { } gp && gl.AddressFamily == gp.AddressFamily && !gl.Equals(gp))
        {
            Add("lan", gl, gp, "addresses from --address");
            _draft.Assumed(file, "heartbeat link", $"a unicast link between {_local.Name} {gl} and {_peer.Name} {gp} (from --address)");
        }
        if (options.SerialDevice is { } dev)
        {
            string name = _draft.LinkNames.Take("serial0");
            foreach (var n in new[] { _local, _peer })
                n.Links.Add(new YOutMap().Add("name", name).Add("kind", "serial").Add("device", dev).Add("baud", 115200).WithComment("--serial"));
        }
        else
            _draft.Assumed(file, "serial link",
                "keepalived heartbeats over the network only; one broken path is then a split brain: add a null-modem cable with --serial DEVICE (or under nodes[].links)");
    }

    // ---- virtual servers ----------------------------------------------------------------------

    private sealed record Endpoint(IPAddress Address, int Port);

    /// <summary>A real server's health check as the director would run it, and a few words on where it came from.</summary>
    private sealed record CheckSpec(string Kind, TimeSpan Interval, TimeSpan Timeout, int Fall, string? Path, string? Expect, string? Host,
        string? Body, string? Command, bool StartDown)
    {
        public string Describe() => Kind switch
        {
            "http" => $"http {Path} expect {Expect}{(Host is null ? "" : " host " + Host)}{(Body is null ? "" : " body " + Body)}",
            "exec" => $"exec {Command}",
            _ => Kind,
        } + (Kind == "none" ? "" : $" every {ImportText.Ms(Interval)}, timeout {ImportText.Ms(Timeout)}, fall {Fall}") + (StartDown ? ", start down" : "");
    }

    private readonly List<(YOutMap Service, string Family, List<(IPEndPoint Address, KaNode Rs)> Servers, IPEndPoint? Sorry, KaNode Vs, string Listen)> _services = [];

    private static readonly Dictionary<string, string> ServiceReasons = new(StringComparer.Ordinal)
    {
        ["delay_before_retry"] = "a failed check is retried at the next interval, not sooner",
        ["warmup"] = "first checks are spread over the interval by a seeded hash",
        ["ha_suspend"] = "checks run on both nodes all the time, so a standby's table is current when it takes over",
        ["omega"] = "there are no quorum scripts to run at shutdown",
        ["quorum_up"] = "the director runs no quorum scripts; quorum changes show in services and the log",
        ["quorum_down"] = "the director runs no quorum scripts; quorum changes show in services and the log",
        ["sorry_server_inhibit"] = "the sorry server takes new clients only while no real server can",
        ["sorry_server_lvs_method"] = "the sorry server is reached like the real servers (nat)",
        ["persistence_engine"] = "persistence is by client address prefix only",
        ["ops"] = "one-packet scheduling has no equivalent: UDP flows stay on their real server",
        ["ip_family"] = "the family follows the addresses",
        ["smtp_alert"] = "the appliance sends no mail; alarms are in status, /metrics and the log",
        ["snmp_name"] = "the appliance has no SNMP; figures are on /metrics",
        ["retry"] = "",
        ["nb_get_retry"] = "",
        ["connect_timeout"] = "",
        ["delay_loop"] = "",
        ["alpha"] = "",
        ["inhibit_on_failure"] = "",
        ["virtualhost"] = "",
        ["sh-port"] = "the source hash hashes the client address only",
        ["sh-fallback"] = "a down server's clients are hashed over the others anyway",
        ["mh-port"] = "the source hash hashes the client address only",
        ["mh-fallback"] = "a down server's clients are hashed over the others anyway",
        ["flag-1"] = "IPVS scheduler flags have no equivalent",
        ["flag-2"] = "IPVS scheduler flags have no equivalent",
        ["flag-3"] = "IPVS scheduler flags have no equivalent",
    };

    private void Services()
    {
        foreach (var vs in _root.Where(n => n.Keyword == "virtual_server"))
            VirtualServer(vs);
        foreach (var g in _root.Where(n => n.Keyword == "virtual_server_group"))
            if (!g.Handled)
                Skip(g, "no virtual_server group uses it");
        Director();
    }

    private void VirtualServer(KaNode vs)
    {
        Use(vs);
        if (vs.Block is null)
        {
            Skip(vs, "has no { } block");
            return;
        }
        var endpoints = new List<(Endpoint Ep, SourceRef At)>();
        if (vs.Arg(0) == "fwmark")
        {
            Skip(vs, "fwmark services (marked by iptables rules) do not map: the director balances address:port/protocol services");
            return;
        }
        if (vs.Arg(0) == "group")
        {
            var group = _root.LastOrDefault(n => n.Keyword == "virtual_server_group" && n.Arg(0) == vs.Arg(1));
            if (group is null)
            {
                Error(vs, 1, $"no virtual_server_group {vs.Arg(1)} is defined");
                return;
            }
            Use(group);
            foreach (var member in group.Children)
            {
                Use(member);
                if (member.Keyword == "fwmark")
                {
                    _draft.Skipped(member.At, $"virtual_server_group {group.Arg(0)}: {member.Text}", "fwmark services do not map");
                    continue;
                }
                foreach (var ep in GroupMember(group, member))
                    endpoints.Add((ep, member.At));
            }
        }
        else
        {
            if (!TryAddress(vs.Arg(0) ?? "", out var ip))
            {
                Error(vs, 0, $"'{vs.Arg(0)}' is not an address, fwmark N or group NAME");
                return;
            }
            if (vs.Args.Count < 2)
            {
                Skip(vs, "no port: a persistent all-ports service does not map; the director balances one port per service");
                return;
            }
            if (Int(vs, 1, 0, 65535) is not { } port)
                return;
            if (port == 0)
            {
                Skip(vs, "port 0 (all ports) does not map; the director balances one port per service");
                return;
            }
            endpoints.Add((new Endpoint(ip, port), vs.At));
        }
        if (endpoints.Count == 0)
        {
            UseAll(vs);
            _draft.Skipped(vs.At, vs.Text, "no address:port to balance");
            return;
        }
        Service(vs, endpoints);
    }

    /// <summary>Most services one virtual_server_group range may expand to.</summary>
    private const int MaxRangeAddresses = 256;

    private IEnumerable<Endpoint> GroupMember(KaNode group, KaNode m)
    {
        // ADDRESS[-LAST] PORT: a range varies the address's last part (last byte, or last 16-bit group for IPv6).
        string spec = m.Keyword;
        string subject = $"virtual_server_group {group.Arg(0)}: {m.Text}";
        if (m.Args.Count != 1 || !int.TryParse(m.Arg(0), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            _draft.Skipped(m.At, subject, "no port (or port 0): the director balances one port per service");
            yield break;
        }
        string addressText = spec, last = "";
        int dash = spec.LastIndexOf('-');
        if (dash > 0)
            (addressText, last) = (spec[..dash], spec[(dash + 1)..]);
        if (!TryAddress(addressText, out var first))
        {
            Error(m, -1, $"'{spec}' is not an address or address-range");
            yield break;
        }
        if (last.Length == 0)
        {
            yield return new Endpoint(first, port);
            yield break;
        }
        bool v6 = first.AddressFamily == AddressFamily.InterNetworkV6;
        byte[] bytes = first.GetAddressBytes();
        int start = v6 ? (bytes[14] << 8) | bytes[15] : bytes[3];
        if (!int.TryParse(last, v6 ? NumberStyles.AllowHexSpecifier : NumberStyles.None, CultureInfo.InvariantCulture, out int end) || end < start || end > (v6 ? 0xffff : 255))
        {
            Error(m, -1, $"'{spec}': the range's end must be from {start} to {(v6 ? 0xffff : 255)}");
            yield break;
        }
        if (end - start + 1 > MaxRangeAddresses)
        {
            _draft.Skipped(m.At, subject, $"more than {MaxRangeAddresses} addresses in one range");
            yield break;
        }
        for (int v = start; v <= end; v++)
        {
            if (v6)
                (bytes[14], bytes[15]) = ((byte)(v >> 8), (byte)v);
            else
                bytes[3] = (byte)v;
            yield return new Endpoint(new IPAddress(bytes), port);
        }
    }

    private void Service(KaNode vs, List<(Endpoint Ep, SourceRef At)> endpoints)
    {
        string header = vs.Text;
        // lvs method
        var kind = vs.Child("lb_kind") ?? vs.Child("lvs_method");
        string method = kind?.Arg(0)?.ToUpperInvariant() ?? "NAT";
        if (kind is not null)
            Use(kind);
        if (method is "DR" or "TUN")
        {
            Skip(vs, $"lb_kind {method}: only NAT maps; with {method} the real servers answer clients directly, the director here translates addresses (nat, snat)");
            return;
        }
        if (method != "NAT")
        {
            Error(kind!, 0, $"'{kind!.Arg(0)}' is not NAT, DR or TUN");
            return;
        }
        if (kind is null)
            _draft.Assumed(vs.At, header, "no lb_kind (keepalived -t reports it): NAT, keepalived's default");

        var protoNode = vs.Child("protocol");
        string proto = protoNode?.Arg(0)?.ToUpperInvariant() ?? "TCP";
        if (protoNode is not null)
            Use(protoNode);
        if (proto == "SCTP")
        {
            Skip(vs, "protocol SCTP: the director balances tcp and udp");
            return;
        }
        if (proto is not ("TCP" or "UDP"))
        {
            Error(protoNode!, 0, $"'{protoNode!.Arg(0)}' is not TCP, UDP or SCTP");
            return;
        }

        // scheduler
        var algoNode = vs.Child("lb_algo") ?? vs.Child("lvs_sched");
        string algo = algoNode?.Arg(0)?.ToLowerInvariant() ?? "wlc";
        if (algoNode is not null)
            Use(algoNode);
        string scheduler = algo switch
        {
            "rr" => "rr",
            "wrr" => "wrr",
            "sh" or "mh" => "sh",
            _ => "wrr",
        };
        string? schedulerWhy = algo switch
        {
            "rr" or "wrr" or "sh" => null,
            "mh" => "maglev hashing on the source: sh here, a weighted source hash with the same effect (a client stays on its server)",
            "lc" or "wlc" or "sed" or "nq" or "twos" => $"{algo} counts connections; the director has no least-connection scheduler: wrr with the same weights",
            "lblc" or "lblcr" => $"{algo} (locality by destination, for caches) has no equivalent: wrr with the same weights",
            "dh" => "dh hashes the destination, one server per destination address: no equivalent, wrr with the same weights",
            "fo" => "fo sends every client to the up server of highest weight: no equivalent, wrr with the same weights (set weight 0 on the spares to keep them idle)",
            "ovf" => "ovf fills the server of highest weight up to its weight in connections: no equivalent, wrr with the same weights",
            _ => null,
        };
        if (algoNode is null)
            _draft.Assumed(vs.At, header, "no lb_algo (keepalived -t reports it): keepalived's default wlc, here wrr with the same weights");
        else if (schedulerWhy is not null)
            _draft.Changed(algoNode.At, $"{header}: {algoNode.Text}", schedulerWhy);
        else if (algo is not ("rr" or "wrr" or "sh"))
        {
            Error(algoNode, 0, $"'{algoNode.Arg(0)}' is not a scheduler keepalived knows");
            return;
        }

        var service = new YOutMap();
        // persistence
        YOutMap? persistence = null;
        if (vs.Child("persistence_timeout") is { } pt)
        {
            Use(pt);
            TimeSpan timeout = BarePersistence;
            if (pt.Args.Count > 0 && Int(pt, 0, 0, 31 * 86400) is { } secs)
                timeout = TimeSpan.FromSeconds(secs);
            var fitted = timeout < ConfigLimits.MinPersistenceTimeout ? ConfigLimits.MinPersistenceTimeout
                : timeout > ConfigLimits.MaxPersistenceTimeout ? ConfigLimits.MaxPersistenceTimeout : timeout;
            if (fitted != timeout)
                _draft.Changed(pt.At, $"{header}: {pt.Text}", $"the director keeps affinity {ImportText.Ms(ConfigLimits.MinPersistenceTimeout)} to {ImportText.Ms(ConfigLimits.MaxPersistenceTimeout)}: {ImportText.Ms(fitted)} here");
            persistence = new YOutMap().Add("timeout", fitted);
            if (vs.Child("persistence_granularity") is { } pg)
            {
                Use(pg);
                if (Granularity(pg, endpoints[0].Ep.Address.AddressFamily == AddressFamily.InterNetworkV6) is { } bits)
                    persistence.Add("granularity", bits);
            }
        }
        else if (vs.Child("persistence_granularity") is { } pg)
            Skip(pg, "no persistence_timeout: no affinity to set a granularity for");

        // quorum
        YOutMap? quorum = null;
        if (vs.Child("quorum") is { } q)
        {
            Use(q);
            if (Int(q, 0, 0, 1_048_576) is { } min)
                (quorum ??= new YOutMap()).Add("min_weight", min);
        }
        if (vs.Child("hysteresis") is { } hy)
        {
            Use(hy);
            if (Int(hy, 0, 0, 1_048_576) is { } h)
                (quorum ??= new YOutMap()).Add("hysteresis", h);
        }

        // real servers and their checks
        bool v6 = endpoints[0].Ep.Address.AddressFamily == AddressFamily.InterNetworkV6;
        int defaultPort = endpoints[0].Ep.Port;
        var servers = new List<(IPEndPoint Address, KaNode Rs, YOutMap Map, CheckSpec? Check)>();
        foreach (var rs in vs.Children.Where(c => c.Keyword == "real_server"))
        {
            if (RealServer(vs, rs, v6, defaultPort) is { } server)
                servers.Add(server);
        }
        IPEndPoint? sorry = null;
        if (vs.Child("sorry_server") is { } ss)
        {
            Use(ss);
            if (TryAddress(ss.Arg(0) ?? "", out var sa) && (sa.AddressFamily == AddressFamily.InterNetworkV6) == v6)
            {
                int sp = defaultPort;
                if (ss.Args.Count > 1 && Int(ss, 1, 1, 65535) is { } p)
                    sp = p;
                sorry = new IPEndPoint(sa, sp);
            }
            else
                Error(ss, 0, $"'{ss.Arg(0)}' is not an {(v6 ? "IPv6" : "IPv4")} address");
        }
        // Service-level options mapped through the checks or reported.
        foreach (var c in vs.Children.Where(c => !c.Handled && c.Keyword != "real_server"))
        {
            if (ServiceReasons.TryGetValue(c.Keyword, out string? why) && why.Length > 0)
                Skip(c, why, $"{header}: {c.Text}");
            else if (ServiceReasons.ContainsKey(c.Keyword))
                Use(c); // read by the checks
            else
                Skip(c, "not recognised by the importer (a virtual_server option keepalived may know): not imported", $"{header}: {c.Text}");
        }
        if (vs.Child("inhibit_on_failure") is { } inh)
            _draft.Changed(inh.At, $"{header}: {inh.Text}", "a failed real server leaves the scheduling (its established connections stay) instead of staying at weight 0");
        if (servers.Count == 0)
        {
            _draft.Skipped(vs.At, header, "no real server could be imported: no service");
            return;
        }

        // One check per service: the one most real servers have.
        var chosen = servers.Select(s => s.Check).GroupBy(c => c).OrderByDescending(g => g.Count()).First().Key;
        foreach (var s in servers.Where(s => s.Check != chosen))
            _draft.Changed(s.Rs.At, $"{header}: {s.Rs.Text}",
                $"its check ({s.Check?.Describe() ?? "none"}) differs from the service's ({chosen?.Describe() ?? "none"}): the director checks every real server of a service alike");

        foreach (var (ep, at) in endpoints)
        {
            if (_services.Count >= ConfigLimits.MaxDirectorServices)
            {
                _draft.Skipped(at, $"{header}: {ep.Address}:{ep.Port}", $"the director takes at most {ConfigLimits.MaxDirectorServices} services");
                continue;
            }
            string listen = (v6 ? $"[{ep.Address}]" : ep.Address.ToString()) + $":{ep.Port}/{proto.ToLowerInvariant()}";
            string name = ServiceName(ep, proto);
            var map = new YOutMap().Add("name", name).Add("listen", listen).Add("scheduler", scheduler).Add("forwarding", "nat");
            if (persistence is not null)
                map.Add("persistence", persistence);
            if (quorum is not null)
                map.Add("quorum", quorum);
            map.Add("check", CheckMap(chosen));
            var rsList = new YOutList();
            rsList.Items.AddRange(servers.Select(s => s.Map));
            map.Add("real_servers", rsList);
            if (sorry is not null)
                map.Add("sorry_server", v6 ? $"[{sorry.Address}]:{sorry.Port}" : sorry.ToString());
            map.WithComment($"{at}: {header}");
            _services.Add((map, v6 ? "ipv6" : "ipv4", servers.Select(s => (s.Address, s.Rs)).ToList(), sorry, vs, listen));
        }
    }

    private readonly NameAllocator _serviceNames = new("vs");

    private string ServiceName(Endpoint ep, string proto) =>
        _serviceNames.Take($"{proto.ToLowerInvariant()}-{ep.Port}-{ep.Address}");

    private int? Granularity(KaNode pg, bool v6)
    {
        string text = pg.Arg(0) ?? "";
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int bits) && bits >= 1 && bits <= (v6 ? 128 : 32))
            return bits;
        if (!v6 && IPAddress.TryParse(text, out var mask) && mask.AddressFamily == AddressFamily.InterNetwork)
        {
            uint m = (uint)IPAddress.NetworkToHostOrder(BitConverter.ToInt32(mask.GetAddressBytes()));
            int ones = System.Numerics.BitOperations.PopCount(m);
            if (ones > 0 && m == uint.MaxValue << (32 - ones))
                return ones;
        }
        Error(pg, 0, $"'{text}' is not a netmask or prefix length");
        return null;
    }

    private (IPEndPoint, KaNode, YOutMap, CheckSpec?)? RealServer(KaNode vs, KaNode rs, bool v6, int defaultPort)
    {
        Use(rs);
        string header = $"{vs.Text}: {rs.Text}";
        if (!TryAddress(rs.Arg(0) ?? "", out var ip))
        {
            Error(rs, 0, $"'{rs.Arg(0)}' is not an address");
            return null;
        }
        if ((ip.AddressFamily == AddressFamily.InterNetworkV6) != v6)
        {
            Skip(rs, $"the service is {(v6 ? "IPv6" : "IPv4")}: the director does not translate between families", header);
            return null;
        }
        int port = defaultPort;
        if (rs.Args.Count > 1 && Int(rs, 1, 1, 65535) is { } p)
            port = p;
        var method = rs.Child("lvs_method") ?? rs.Child("lb_kind");
        if (method is not null && method.Arg(0)?.ToUpperInvariant() != "NAT")
        {
            Skip(rs, $"lvs_method {method.Arg(0)}: only NAT maps", header);
            return null;
        }
        var map = new YOutMap().Add("address", v6 ? $"[{ip}]:{port}" : $"{ip}:{port}");
        if (rs.Child("weight") is { } w)
        {
            Use(w);
            if (Int(w, 0, 0, 65535) is { } weight)
            {
                map.Add("weight", Math.Min(weight, ConfigLimits.MaxRealServerWeight));
                if (weight > ConfigLimits.MaxRealServerWeight)
                    _draft.Changed(w.At, $"{header}: {w.Text}", $"weights go up to {ConfigLimits.MaxRealServerWeight}: {ConfigLimits.MaxRealServerWeight} here (scale the others alike)");
            }
        }
        if (rs.Child("uthreshold") is { } ut)
        {
            Use(ut);
            if (Int(ut, 0, 0, int.MaxValue) is { } cap)
            {
                if (cap >= 1)
                {
                    map.Add("capacity", Math.Min(cap, 10_000_000));
                    _draft.Changed(ut.At, $"{header}: {ut.Text}",
                        "capacity: the director does not cap connections; it counts them and warns when losing the busiest real server would overload the rest");
                }
                else
                    _draft.Skipped(ut.At, $"{header}: {ut.Text}", "0 means no limit");
            }
        }
        if (method is not null)
            Use(method);
        CheckSpec? check = null;
        var checkers = rs.Children.Where(c => c.Keyword.EndsWith("_CHECK", StringComparison.Ordinal) || c.Keyword is "HTTP_GET" or "SSL_GET").ToList();
        // One check per real server: the first the director can run, else the first.
        var kept = checkers.FirstOrDefault(c => c.Keyword is "TCP_CHECK" or "HTTP_GET" or "SSL_GET" or "SMTP_CHECK" ||
                                                (c.Keyword == "MISC_CHECK" && c.Child("misc_path") is not null))
                   ?? checkers.FirstOrDefault();
        if (kept is not null)
            check = Check(vs, rs, kept, port);
        foreach (var c in checkers.Where(c => c != kept))
            Skip(c, $"the director runs one check per real server: {kept!.Keyword} is kept", $"{header}: {c.Keyword}");
        bool hasAlpha = rs.Child("alpha") is not null || vs.Child("alpha") is not null;
        foreach (var c in rs.Children.Where(c => !c.Handled))
        {
            string? why = c.Keyword switch
            {
                "notify_up" or "notify_down" => "the director runs no scripts on a real server's state; it is in services, /metrics and the log",
                "lthreshold" => "the director does not cap connections",
                "inhibit_on_failure" => null,
                "alpha" or "delay_loop" or "connect_timeout" or "retry" or "nb_get_retry" or "delay_before_retry" or "warmup" or "virtualhost" => null,
                "smtp_alert" => "the appliance sends no mail",
                _ => "not recognised by the importer (a real_server option keepalived may know): not imported",
            };
            if (why is null)
                Use(c);
            else
                Skip(c, why, $"{header}: {c.Text}");
            if (c.Keyword == "inhibit_on_failure")
                _draft.Changed(c.At, $"{header}: {c.Text}", "a failed real server leaves the scheduling (its established connections stay) instead of staying at weight 0");
            if (c.Keyword is "delay_before_retry" or "warmup")
                _draft.Skipped(c.At, $"{header}: {c.Text}", c.Keyword == "warmup" ? "first checks are spread over the interval by a seeded hash" : "a failed check is retried at the next interval");
        }
        if (hasAlpha && check is not null && check.Kind != "none")
            check = check with { StartDown = true };
        return (new IPEndPoint(ip, port), rs, map, check);
    }

    /// <summary>A value of a checker, falling back to its real server's and then its virtual server's.</summary>
    private static KaNode? Inherited(KaNode vs, KaNode rs, KaNode checker, params string[] keywords) =>
        keywords.Select(k => checker.Child(k)).FirstOrDefault(n => n is not null)
        ?? keywords.Select(k => rs.Child(k)).FirstOrDefault(n => n is not null)
        ?? keywords.Select(k => vs.Child(k)).FirstOrDefault(n => n is not null);

    private CheckSpec? Check(KaNode vs, KaNode rs, KaNode c, int rsPort)
    {
        Use(c);
        string header = $"{vs.Text}: {rs.Text}: {c.Keyword}";
        string kind = c.Keyword switch
        {
            "TCP_CHECK" => "tcp",
            "HTTP_GET" => "http",
            "SSL_GET" => "tcp",
            "SMTP_CHECK" => "tcp",
            "MISC_CHECK" => "exec",
            _ => "none",
        };
        if (kind == "none")
        {
            Skip(c, c.Keyword switch
            {
                "DNS_CHECK" => "no DNS check: the real servers are not checked (check: none); an exec check running dig would do it",
                "UDP_CHECK" => "no UDP check: the real servers are not checked (check: none)",
                "PING_CHECK" => "no ICMP check: the real servers are not checked (check: none); an exec check running ping would do it",
                "BFD_CHECK" => "no BFD: the real servers are not checked (check: none)",
                "FILE_CHECK" => "no file check: the real servers are not checked (check: none); an exec check testing the file would do it",
                _ => "not recognised by the importer: the real servers are not checked (check: none)",
            }, header);
            return new CheckSpec("none", TimeSpan.Zero, TimeSpan.Zero, 0, null, null, null, null, null, false);
        }
        if (c.Keyword == "SSL_GET")
            _draft.Changed(c.At, header, "no TLS check: a tcp connect to the real server's port");
        if (c.Keyword == "SMTP_CHECK")
            _draft.Changed(c.At, header, "no SMTP dialogue: a tcp connect to the real server's port");

        var loopNode = Inherited(vs, rs, c, "delay_loop");
        var interval = loopNode is null ? DefaultDelayLoop : Timer(loopNode, 0) ?? DefaultDelayLoop;
        if (loopNode is null)
            _draft.Assumed(vs.At, $"{vs.Text}: delay_loop", $"not set: keepalived's default {ImportText.Ms(DefaultDelayLoop)}");
        var fittedInterval = interval < TimeSpan.FromMilliseconds(100) ? TimeSpan.FromMilliseconds(100) : interval > TimeSpan.FromMinutes(60) ? TimeSpan.FromMinutes(60) : interval;
        if (fittedInterval != interval)
            _draft.Changed(loopNode?.At ?? vs.At, $"{header}: delay_loop", $"{ImportText.Ms(interval)}: a check interval is 100ms to 60m; {ImportText.Ms(fittedInterval)} here");
        interval = fittedInterval;

        TimeSpan timeout;
        if (kind == "exec")
        {
            var mt = c.Child("misc_timeout");
            timeout = mt is null ? interval : Timer(mt, 0) ?? interval;
        }
        else
        {
            var ct = Inherited(vs, rs, c, "connect_timeout");
            timeout = ct is null ? DefaultConnectTimeout : Timer(ct, 0) ?? DefaultConnectTimeout;
        }
        if (timeout >= interval || timeout < TimeSpan.FromMilliseconds(10))
        {
            var fitted = TimeSpan.FromMilliseconds(Math.Max(10, (long)(interval.TotalMilliseconds * 0.8)));
            _draft.Changed(c.At, header, $"timeout {ImportText.Ms(timeout)}: a check's timeout must be less than its interval ({ImportText.Ms(interval)}); {ImportText.Ms(fitted)} here");
            timeout = fitted;
        }
        var retryNode = Inherited(vs, rs, c, "retry", "nb_get_retry");
        int retry = retryNode is null ? (kind == "exec" ? 0 : 1) : Int(retryNode, 0, 0, 1000) ?? 1;
        int fall = Math.Clamp(retry + 1, 1, 100);

        string? pathText = null, expect = null, host = null, body = null, command = null;
        foreach (var o in c.Children)
        {
            switch (o.Keyword)
            {
                case "connect_port":
                    Use(o);
                    if (o.Arg(0) != rsPort.ToString(CultureInfo.InvariantCulture))
                        _draft.Changed(o.At, $"{header}: {o.Text}", $"the director checks the real server's own port, {rsPort}");
                    break;
                case "connect_timeout" or "retry" or "nb_get_retry" or "delay_loop" or "misc_timeout":
                    Use(o);
                    break;
                case "delay_before_retry":
                    Skip(o, "a failed check is retried at the next interval", $"{header}: {o.Text}");
                    break;
                case "warmup":
                    Skip(o, "first checks are spread over the interval by a seeded hash", $"{header}: {o.Text}");
                    break;
                case "alpha":
                    Use(o);
                    break;
                case "url" when kind == "http" || c.Keyword == "SSL_GET":
                    Use(o);
                    if (pathText is not null || c.Keyword == "SSL_GET")
                    {
                        UseAll(o);
                        if (pathText is not null)
                            _draft.Skipped(o.At, $"{header}: url {o.Child("path")?.Arg(0)}", $"one URL per check: {pathText} is checked");
                        continue;
                    }
                    (pathText, expect, body) = Url(o, header);
                    break;
                case "virtualhost":
                    Use(o);
                    break;
                case "misc_path" when kind == "exec":
                    Use(o);
                    // A script that names its real server works for every server of the service with the address as a variable.
                    var words = o.Args.SelectMany(a => a.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
                    string rsAddress = rs.Arg(0) ?? "";
                    bool named = words.Skip(1).Contains(rsAddress);
                    command = string.Join(' ', words.Select((w, i) => i > 0 && w == rsAddress ? "\"$REAL_ADDRESS\"" : w));
                    _draft.Changed(o.At, $"{header}: {o.Text}", "keepalived ran it itself; here /bin/sh -c runs the line, with the real server in $REAL_ADDRESS and $REAL_PORT" +
                        (named ? $" ({rsAddress} in the line is \"$REAL_ADDRESS\" here, so one check serves every real server)" : ""));
                    break;
                case "misc_dynamic":
                    Skip(o, "the exit code does not set the weight: exit 0 passes, anything else fails", $"{header}: {o.Text}");
                    break;
                case "user":
                    Skip(o, "exec checks run as root under applianced", $"{header}: {o.Text}");
                    break;
                case "helo_name" or "host":
                    Skip(o, o.Keyword == "host" ? "one address per check: the real server's" : "no SMTP dialogue", $"{header}: {o.Text}");
                    break;
                case "connect_ip" or "bindto" or "bind_to" or "bind_if" or "bind_port" or "fwmark":
                    Skip(o, "checks connect from the node to the real server's own address", $"{header}: {o.Text}");
                    break;
                case "http_protocol" or "fast_recovery" or "enable_sni" or "log_all_failures" or "tls_compliant":
                    Skip(o, o.Keyword == "fast_recovery" ? "a server comes back after rise passes" : "the check speaks HTTP/1.1 with a Host header", $"{header}: {o.Text}");
                    break;
                default:
                    Skip(o, "not recognised by the importer (a checker option keepalived may know): not imported", $"{header}: {o.Text}");
                    break;
            }
        }
        if (kind == "http")
        {
            if (pathText is null)
            {
                _draft.Changed(c.At, header, "no url block: GET / expecting 200-299");
                pathText = "/";
            }
            expect ??= "200-299";
            host = (Inherited(vs, rs, c, "virtualhost")?.Arg(0));
        }
        if (kind == "exec" && command is null)
        {
            _draft.Skipped(c.At, header, "no misc_path: nothing to run; the real servers are not checked (check: none)");
            return new CheckSpec("none", TimeSpan.Zero, TimeSpan.Zero, 0, null, null, null, null, null, false);
        }
        return new CheckSpec(kind, interval, timeout, fall, pathText, expect, host, body, command, false);
    }

    private (string Path, string? Expect, string? Body) Url(KaNode url, string header)
    {
        string p = url.Child("path")?.Arg(0) ?? "/";
        string? expect = null, body = null;
        foreach (var o in url.Children)
        {
            switch (o.Keyword)
            {
                case "path":
                    Use(o);
                    if (!p.StartsWith('/'))
                        Error(o, 0, $"'{p}' is not a URL path");
                    break;
                case "status_code":
                    Use(o);
                    var codes = o.Args.Select(a => a.Text).ToList();
                    var valid = codes.FirstOrDefault(IsStatus);
                    if (valid is null)
                    {
                        Error(o, 0, $"'{string.Join(' ', codes)}' is no status code or range");
                        break;
                    }
                    expect = valid;
                    if (codes.Count > 1)
                        _draft.Changed(o.At, $"{header}: {o.Text}", $"one code or range per check: {valid} here");
                    break;
                case "digest":
                    Skip(o, "no body digest: the status code decides", $"{header}: url {p}: digest");
                    break;
                case "regex":
                    string re = string.Join(' ', o.Args.Select(a => a.Text));
                    if (re.Length > 0 && re.Length <= 256 && re.IndexOfAny(@"\^$.|?*+()[]{}".ToCharArray()) < 0)
                    {
                        Use(o);
                        body = re;
                        _draft.Changed(o.At, $"{header}: {o.Text}", "a literal pattern: the body must contain it");
                    }
                    else
                        Skip(o, "no regular expressions: only a literal text the body contains (check.body)", $"{header}: {o.Text}");
                    break;
                case "virtualhost":
                    Skip(o, "one Host per check: the service's virtualhost, if any", $"{header}: {o.Text}");
                    break;
                default:
                    Skip(o, o.Keyword is "regex_no_match" or "regex_options" or "regex_max_offset" or "regex_min_offset" or "regex_stack"
                        ? "no regular expressions" : "not recognised by the importer (a url option keepalived may know): not imported", $"{header}: {o.Text}");
                    break;
            }
        }
        return (p, expect, body);
    }

    private static bool IsStatus(string text)
    {
        var parts = text.Split('-');
        return parts.Length is 1 or 2 && parts.All(x => x.Length == 3 && x.All(char.IsAsciiDigit)) &&
               parts.All(x => int.Parse(x, CultureInfo.InvariantCulture) is >= 100 and <= 599) &&
               int.Parse(parts[0], CultureInfo.InvariantCulture) <= int.Parse(parts[^1], CultureInfo.InvariantCulture);
    }

    private static YOutMap CheckMap(CheckSpec? c)
    {
        if (c is null || c.Kind == "none")
            return new YOutMap().Add("kind", "none").WithComment(c is null ? "keepalived: no checker, always up" : null);
        var map = new YOutMap().Add("kind", c.Kind);
        if (c.Kind == "http")
        {
            map.Add("path", c.Path!).Add("expect", new YOutScalar(c.Expect!));
            if (c.Host is not null)
                map.Add("host", c.Host);
            if (c.Body is not null)
                map.Add("body", c.Body);
        }
        if (c.Kind == "exec")
            map.Add("command", c.Command!);
        map.Add("interval", c.Interval).Add("timeout", c.Timeout).Add("rise", 1).Add("fall", c.Fall);
        if (c.StartDown)
            map.Add("start", "down");
        return map;
    }

    private void Director()
    {
        if (_services.Count == 0)
            return;
        var inside = new Dictionary<string, (string Name, IPAddress Address, int Length, string Interface)>();
        var kept = new List<YOutMap>();
        static IPAddress ListenAddress(string listen) => IPAddress.Parse(listen.StartsWith('[') ? listen[1..listen.IndexOf(']')] : listen[..listen.IndexOf(':')]);
        // One line per virtual_server for its addresses that are not VIPs (a group may have many).
        foreach (var byVs in _services.Where(x => !_vips.Any(v => v.Address.Equals(ListenAddress(x.Listen)))).GroupBy(x => x.Vs))
        {
            var listens = byVs.Select(x => x.Listen).ToList();
            var addresses = listens.Select(ListenAddress).Distinct().ToList();
            _draft.Skipped(byVs.Key.At, $"{byVs.Key.Text}: {string.Join(", ", listens)}",
                $"{string.Join(", ", addresses)} {(addresses.Count == 1 ? "is not a VIP" : "are not VIPs")} of this file's vrrp_instances: the director balances only addresses the pair floats; add {(addresses.Count == 1 ? "it" : "them")} to a virtual_ipaddress block");
        }
        foreach (var (service, family, servers, sorry, vs, listen) in _services)
        {
            var listenAddress = ListenAddress(listen);
            if (!_vips.Any(v => v.Address.Equals(listenAddress)))
                continue;
            bool v6 = family == "ipv6";
            var all = servers.Select(s => s.Address.Address).Concat(sorry is null ? [] : [sorry.Address]).ToList();
            if (!inside.TryGetValue(family, out var gateway))
            {
                var candidates = _vips.Where(v => (v.Address.AddressFamily == AddressFamily.InterNetworkV6) == v6 && v.Length < (v6 ? 128 : 32)).ToList();
                // The VIP on the real servers' subnet that covers most of them; a VIP that is not the listen address first.
                var best = candidates.Select(v => (v, n: all.Count(a => DirectorLoader.InPrefix(a, new IpPrefix(v.Address, v.Length)))))
                    .Where(x => x.n > 0).OrderByDescending(x => x.n).ThenBy(x => x.v.Address.Equals(listenAddress) ? 1 : 0).Select(x => x.v).FirstOrDefault();
                if (best.Name is null)
                {
                    _draft.Skipped(vs.At, $"{vs.Text}: {listen}",
                        $"no VIP of this file is on the real servers' subnet ({string.Join(", ", servers.Select(s => s.Address.Address).Distinct())}): in LVS-NAT they route back through the director, so add the gateway address they use as a VIP with its prefix (like 10.0.0.254/24 dev eth1)");
                    continue;
                }
                gateway = best;
                inside[family] = gateway;
                _draft.Changed(vs.At, $"{vs.Text}: {listen}",
                    $"{gateway.Name} ({gateway.Address}/{gateway.Length} on {gateway.Interface}) is on the real servers' subnet: their gateway, director.inside_vips");
            }
            var prefix = new IpPrefix(gateway.Address, gateway.Length);
            var rsList = (YOutList)service.Entries.First(e => e.Key == "real_servers").Value;
            var outside = servers.Where(s => !DirectorLoader.InPrefix(s.Address.Address, prefix)).ToList();
            foreach (var s in outside)
            {
                _draft.Skipped(s.Rs.At, $"{vs.Text}: {s.Rs.Text}", $"not on the inside VIP's subnet ({gateway.Address}/{gateway.Length}): in nat mode a real server routes back through it");
            }
            var keep = servers.Select((s, i) => (s, i)).Where(x => DirectorLoader.InPrefix(x.s.Address.Address, prefix)).Select(x => rsList.Items[x.i]).ToList();
            if (keep.Count == 0)
            {
                _draft.Skipped(vs.At, $"{vs.Text}: {listen}", "none of its real servers is on the inside VIP's subnet: no service");
                continue;
            }
            rsList.Items.Clear();
            rsList.Items.AddRange(keep);
            if (sorry is not null && !DirectorLoader.InPrefix(sorry.Address, prefix))
            {
                service.Entries.RemoveAll(e => e.Key == "sorry_server");
                _draft.Skipped(vs.Child("sorry_server")!.At, $"{vs.Text}: sorry_server {sorry}", $"not on the inside VIP's subnet ({gateway.Address}/{gateway.Length})");
            }
            kept.Add(service);
        }
        if (kept.Count == 0)
            return;
        var dir = new YOutMap();
        dir.Add("inside_vips", new YOutList(inside.Values.Select(v => v.Name)));
        var list = new YOutList();
        list.Items.AddRange(kept);
        dir.Add("services", list);
        _draft.Director = dir;
    }

    // ---- what is left -------------------------------------------------------------------------

    private static readonly Dictionary<string, string> TopReasons = new(StringComparer.Ordinal)
    {
        ["static_ipaddress"] = "addresses that do not move belong to the system's network config (systemd-networkd *.network files)",
        ["static_routes"] = "routes that do not move belong to the system's network config (systemd-networkd *.network files)",
        ["static_rules"] = "routing rules that do not move belong to the system's network config",
        ["vrrp_script"] = "not tracked by any vrrp_instance",
        ["vrrp_track_process"] = "process tracking: use an exec monitor (pidof NAME)",
        ["track_file"] = "file tracking: use an exec monitor that tests the file",
        ["vrrp_track_file"] = "file tracking: use an exec monitor that tests the file",
        ["bfd_instance"] = "no BFD",
        ["linkbeat_use_polling"] = "interface state is not tracked",
        ["garp_group"] = "each vip has its own garp_interval and garp_repeat",
        ["net_namespace"] = "applianced runs in the namespace it is started in",
        ["instance"] = "one applianced per node",
        ["use_pid_dir"] = "one applianced per node, locked in its state directory",
    };

    private void Leftovers()
    {
        foreach (var top in _root)
        {
            if (!top.Handled)
            {
                Skip(top, TopReasons.TryGetValue(top.Keyword, out string? why) ? why
                    : "not recognised by the importer (keepalived may know it): not imported");
                continue;
            }
            foreach (var n in top.SelfAndDescendants().Where(n => !n.Handled))
            {
                n.Handled = true;
                _draft.Skipped(n.At, n.Text, "not imported: the importer has no mapping for it here");
            }
        }
    }
}
