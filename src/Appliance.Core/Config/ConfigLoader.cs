using System.Collections.Immutable;
using System.Net;

namespace Appliance.Core.Config;

/// <summary>
/// Reads and validates the YAML config (DESIGN.md section 6). Pure: the caller reads the file and
/// passes its text. Every problem found becomes a <see cref="ConfigError"/> with file, line and
/// column; nothing in the text makes it throw.
/// </summary>
public static class ConfigLoader
{
    /// <param name="sourcePath">Where the text came from; used only in messages.</param>
    /// <param name="yamlText">The whole config file.</param>
    /// <param name="boards">Where board profiles are found (and <c>applianced --board</c>); null: a
    /// config that names a board or has a panel is an error.</param>
    public static ConfigResult Load(string sourcePath, string yamlText, Board.BoardCatalog? boards = null)
    {
        ArgumentNullException.ThrowIfNull(sourcePath);
        ArgumentNullException.ThrowIfNull(yamlText);
        var diag = new Diagnostics(sourcePath);
        if (yamlText.Length > ConfigLimits.MaxConfigChars)
        {
            diag.Add(SourcePosition.Start, "", $"the file has {yamlText.Length} characters; a config is at most {ConfigLimits.MaxConfigChars}");
            return diag.ToResult(null);
        }

        var root = YamlTree.Parse(yamlText, diag);
        if (root is null)
        {
            if (diag.Count == 0)
                diag.Add(SourcePosition.Start, "", $"the file is empty; expected {ConfigSchema.Root.Expected}");
            return diag.ToResult(null);
        }
        if (root is YScalar { IsNull: true })
        {
            diag.Add(root.Start, "", $"the document is empty; expected {ConfigSchema.Root.Expected}");
            return diag.ToResult(null);
        }

        var top = MapReader.Open(root, ConfigSchema.Root, "", diag);
        if (top is null)
            return diag.ToResult(null);

        var cluster = ReadCluster(top.Section(ConfigSchema.Cluster), diag);
        var nodeList = top.List(ConfigSchema.Nodes);
        var nodes = ReadNodes(nodeList, cluster?.Timers, diag);
        var fenceList = top.List(ConfigSchema.FenceDevices);
        var fenceDevices = ReadFenceDevices(fenceList, diag);
        var resources = ReadResources(top.List(ConfigSchema.Resources), diag);
        var monitors = ReadMonitors(top.List(ConfigSchema.Monitors), diag);
        bool directorOk = true;
        DirectorConfig? director = null;
        if (top.Has(ConfigSchema.Director))
        {
            director = top.Section(ConfigSchema.Director) is { } d ? DirectorLoader.Read(d, resources, diag) : null;
            directorOk = director is not null;
        }
        IPEndPoint? metrics = null;
        bool metricsOk = true;
        if (top.Has(ConfigSchema.Metrics))
        {
            metrics = top.Section(ConfigSchema.Metrics) is { } m && m.Get(ConfigSchema.MetricsListen) is { Ok: true } listen ? listen.Value : null;
            metricsOk = metrics is not null;
        }
        var panel = PanelLoader.Read(top, boards, diag);
        bool fenceRefsOk = nodes is null || fenceDevices is null || CheckFenceReferences(nodeList, nodes.Value, fenceDevices.Value, fenceList, diag);
        return diag.ToResult(cluster is not null && nodes is not null && fenceDevices is not null && fenceRefsOk &&
                             resources is not null && monitors is not null && directorOk && metricsOk && panel.Ok
            ? new ApplianceConfig(sourcePath, cluster, nodes.Value)
            {
                FenceDevices = fenceDevices.Value, Resources = resources.Value, Monitors = monitors.Value, Director = director,
                MetricsListen = metrics, Board = panel.Board, Panel = panel.Panel,
            }
            : null);
    }

    // ---- fence devices ------------------------------------------------------------------------

    private static ImmutableArray<FenceDeviceConfig>? ReadFenceDevices(ListRead list, Diagnostics diag) =>
        ReadNamedList(list, ConfigSchema.FenceDeviceName, "fence device", diag, ReadFenceDevice);

    private static FenceDeviceConfig? ReadFenceDevice(MapReader r, Field<string> name)
    {
        var kind = r.Get(ConfigSchema.FenceDeviceKindOption);
        var action = r.Get(ConfigSchema.FenceAction);
        var timeout = r.Get(ConfigSchema.FenceTimeout);
        var attempts = r.Get(ConfigSchema.FenceAttempts);
        if (!kind.Ok)
            return null;
        bool ok = name.Ok && action.Ok && timeout.Ok && attempts.Ok;
        switch (kind.Value)
        {
            case FenceDeviceKind.GpioRelay:
                var chip = r.Get(ConfigSchema.RelayChip);
                var line = r.Get(ConfigSchema.RelayLine);
                var activeLow = r.Get(ConfigSchema.RelayActiveLow);
                return ok && chip.Ok && line.Ok && activeLow.Ok
                    ? new GpioRelayFenceConfig(name.Value!, action.Value, timeout.Value, attempts.Value, chip.Value!, line.Value!, activeLow.Value)
                    : null;
            case FenceDeviceKind.SerialPdu:
                var protocol = r.Get(ConfigSchema.PduProtocol);
                var dev = r.Get(ConfigSchema.PduDevice);
                var outlets = r.Get(ConfigSchema.PduOutlets);
                var monitor = r.Get(ConfigSchema.PduMonitor);
                return ok && protocol.Ok && dev.Ok && outlets.Ok && monitor.Ok
                    ? new SerialPduFenceConfig(name.Value!, action.Value, timeout.Value, attempts.Value, dev.Value!,
                        [.. outlets.Value.Select(kv => new KeyValuePair<string, char>(kv.Key, (char)('0' + kv.Value)))], monitor.Value)
                    : null;
            case FenceDeviceKind.FenceAgent:
                var agent = r.Get(ConfigSchema.AgentPath);
                var parameters = r.Get(ConfigSchema.AgentParams);
                var plugs = r.Get(ConfigSchema.AgentPlugs);
                return ok && agent.Ok && parameters.Ok && plugs.Ok
                    ? new FenceAgentFenceConfig(name.Value!, action.Value, timeout.Value, attempts.Value, agent.Value!, parameters.Value, plugs.Value)
                    : null;
            default:
                return ok ? new ManualFenceConfig(name.Value!, action.Value, timeout.Value, attempts.Value) : null;
        }
    }

    /// <summary>Each node's fence list names real devices, and a PDU it names has an outlet for it.</summary>
    private static bool CheckFenceReferences(ListRead nodeList, ImmutableArray<NodeConfig> nodes, ImmutableArray<FenceDeviceConfig> devices,
        ListRead fenceList, Diagnostics diag)
    {
        bool ok = true;
        for (int i = 0; i < nodes.Length; i++)
        {
            var node = nodes[i];
            var fence = nodeList.Items[i].Reader!.Get(ConfigSchema.Fence);
            foreach (var deviceName in node.Fence)
            {
                var device = devices.FirstOrDefault(d => d.Name == deviceName);
                if (device is null)
                {
                    string known = devices.IsEmpty ? "no fence_devices are configured" : "fence_devices: " + string.Join(", ", devices.Select(d => d.Name));
                    string? near = Suggest.Closest(deviceName, devices.Select(d => d.Name));
                    diag.Add(fence.Position, fence.Path,
                        $"fence device '{deviceName}' is not defined" + (near is null ? $" ({known})" : $"; did you mean '{near}'?"));
                    ok = false;
                }
                else if (device is SerialPduFenceConfig pdu && !pdu.Outlets.Any(o => o.Key == node.Name))
                {
                    int at = devices.IndexOf(device);
                    var outlets = fenceList.Items[at].Reader!.Get(ConfigSchema.PduOutlets);
                    diag.Add(outlets.Position, outlets.Path,
                        $"fence device '{pdu.Name}' fences node {node.Name} but has no outlet for it; add {node.Name} to outlets");
                    ok = false;
                }
            }
        }
        return ok;
    }

    // ---- resources ----------------------------------------------------------------------------

    private static ImmutableArray<ResourceConfig>? ReadResources(ListRead list, Diagnostics diag) =>
        ReadNamedList(list, ConfigSchema.ResourceName, "resource", diag, ReadResource);

    private static ResourceConfig? ReadResource(MapReader r, Field<string> name)
    {
        var kind = r.Get(ConfigSchema.ResourceKindOption);
        var monitorInterval = r.Get(ConfigSchema.ResourceMonitorInterval);
        if (!kind.Ok || !name.Ok || !monitorInterval.Ok)
            return null;
        return ReadResourceKind(r, name, kind.Value) is { } resource ? resource with { MonitorInterval = monitorInterval.Value } : null;
    }

    private static ResourceConfig? ReadResourceKind(MapReader r, Field<string> name, ResourceKind kind)
    {
        if (kind == ResourceKind.Vip)
        {
            var address = r.Get(ConfigSchema.VipAddress);
            var iface = r.Get(ConfigSchema.VipInterface);
            var repeat = r.Get(ConfigSchema.VipGarpRepeat);
            var interval = r.Get(ConfigSchema.VipGarpInterval);
            var refresh = r.Get(ConfigSchema.VipGarpRefresh);
            return address.Ok && iface.Ok && repeat.Ok && interval.Ok && refresh.Ok
                ? new VipResourceConfig(name.Value!, address.Value, iface.Value!) { Garp = new Net.GarpSchedule(repeat.Value, interval.Value, refresh.Value) }
                : null;
        }
        var timeout = r.Get(ConfigSchema.ScriptTimeout);
        string? start = null, stop = null, monitor = null, script = null, agent = null;
        ImmutableArray<KeyValuePair<string, string>> parameters = [];
        bool ok = timeout.Ok;
        if (kind == ResourceKind.Exec)
        {
            var a = r.Get(ConfigSchema.ExecStart);
            var b = r.Get(ConfigSchema.ExecStop);
            var m = r.Get(ConfigSchema.ExecMonitor);
            (start, stop, monitor, ok) = (a.Value, b.Value, m.Value, ok && a.Ok && b.Ok && m.Ok);
        }
        else if (kind == ResourceKind.Lsb)
        {
            var a = r.Get(ConfigSchema.LsbScript);
            (script, ok) = (a.Value, ok && a.Ok);
        }
        else
        {
            var a = r.Get(ConfigSchema.OcfAgent);
            var p = r.Get(ConfigSchema.OcfParams);
            (agent, parameters, ok) = (a.Value, p.Value, ok && a.Ok && p.Ok);
        }
        return ok ? new ScriptResourceConfig(name.Value!, kind, start, stop, script, agent, parameters, timeout.Value) { Monitor = monitor } : null;
    }

    /// <summary>
    /// A list of maps with unique names (resources, monitors, fence devices): each item read by
    /// <paramref name="readItem"/>, which reports its own errors and returns null for a bad item.
    /// Null when anything in the list was wrong.
    /// </summary>
    internal static ImmutableArray<T>? ReadNamedList<T>(ListRead list, ScalarOption<string> nameOption, string noun, Diagnostics diag,
        Func<MapReader, Field<string>, T?> readItem) where T : class
    {
        var result = ImmutableArray.CreateBuilder<T>();
        var firstByName = new Dictionary<string, string>(StringComparer.Ordinal);
        bool ok = list.CountOk;
        foreach (var item in list.Items)
        {
            if (item.Reader is not { } r)
            {
                ok = false;
                continue;
            }
            var name = r.Get(nameOption);
            bool unique = FirstUse(firstByName, name, r.Path, noun, diag);
            if (readItem(r, name) is { } value && unique && name.Ok)
                result.Add(value);
            else
                ok = false;
        }
        return ok ? result.ToImmutable() : null;
    }

    /// <summary>Records a list item's name; false (with the error) when an earlier item already has it.</summary>
    private static bool FirstUse(Dictionary<string, string> firstByName, Field<string> name, string path, string noun, Diagnostics diag)
    {
        if (!name.Ok || !name.Present)
            return true;
        if (firstByName.TryGetValue(name.Value!, out var firstPath))
        {
            diag.Add(name.Position, name.Path, $"{noun} name '{name.Value}' is already used by {firstPath}");
            return false;
        }
        firstByName[name.Value!] = path;
        return true;
    }

    // ---- monitors -----------------------------------------------------------------------------

    private static ImmutableArray<MonitorConfig>? ReadMonitors(ListRead list, Diagnostics diag) =>
        ReadNamedList(list, ConfigSchema.MonitorName, "monitor", diag, (r, name) => ReadMonitor(r, name, diag));

    private static MonitorConfig? ReadMonitor(MapReader r, Field<string> name, Diagnostics diag)
    {
        var kind = r.Get(ConfigSchema.MonitorKindOption);
        var interval = r.Get(ConfigSchema.MonitorInterval);
        var timeout = r.Get(ConfigSchema.MonitorTimeout);
        var rise = r.Get(ConfigSchema.MonitorRise);
        var fall = r.Get(ConfigSchema.MonitorFall);
        bool itemOk = name.Ok && kind.Ok && interval.Ok && timeout.Ok && rise.Ok && fall.Ok;
        if (interval.Ok && timeout.Ok && timeout.Value >= interval.Value)
        {
            diag.Add(timeout.Position, timeout.Path,
                $"timeout ({Duration.Format(timeout.Value)}) must be less than interval ({Duration.Format(interval.Value)})");
            itemOk = false;
        }
        if (!kind.Ok)
            return null;
        IPEndPoint? address = null;
        string? url = null, command = null;
        int expect = 200;
        ImmutableArray<IPAddress> targets = [];
        switch (kind.Value)
        {
            case MonitorKind.Tcp:
                var a = r.Get(ConfigSchema.MonitorAddress);
                itemOk &= a.Ok;
                address = a.Value;
                break;
            case MonitorKind.Http:
                var u = r.Get(ConfigSchema.MonitorUrl);
                var e = r.Get(ConfigSchema.MonitorExpect);
                itemOk &= u.Ok && e.Ok;
                (url, expect) = (u.Value, e.Value);
                break;
            case MonitorKind.Exec:
                var c = r.Get(ConfigSchema.MonitorCommand);
                itemOk &= c.Ok;
                command = c.Value;
                break;
            case MonitorKind.Ping:
                var t = r.Get(ConfigSchema.MonitorTargets);
                itemOk &= t.Ok;
                targets = t.Value;
                break;
        }
        return itemOk
            ? new MonitorConfig(name.Value!, kind.Value, interval.Value, timeout.Value, rise.Value, fall.Value, address, url, expect, command, targets)
            : null;
    }

    // ---- cluster ------------------------------------------------------------------------------

    private static ClusterConfig? ReadCluster(MapReader? r, Diagnostics diag)
    {
        if (r is null)
            return null;
        var name = r.Get(ConfigSchema.ClusterName);
        var keyFile = r.Get(ConfigSchema.KeyFile);
        var autoFailback = r.Get(ConfigSchema.AutoFailback);
        var fencing = r.Get(ConfigSchema.Fencing);
        var fenceDelay = r.Get(ConfigSchema.FenceDelay);
        var fenceDelayRandom = r.Get(ConfigSchema.FenceDelayRandom);
        var timers = ReadTimers(r.Section(ConfigSchema.TimersSection), diag);
        if (!(name.Ok && keyFile.Ok && autoFailback.Ok && fencing.Ok && fenceDelay.Ok && fenceDelayRandom.Ok) || timers is null)
            return null;
        return new ClusterConfig(name.Value!, keyFile.Value!, autoFailback.Value, fencing.Value, timers)
        {
            FenceDelay = fenceDelay.Value, FenceDelayRandom = fenceDelayRandom.Value,
        };
    }

    private static Timers? ReadTimers(MapReader? r, Diagnostics diag)
    {
        if (r is null)
            return null;
        var fields = new Dictionary<ScalarOption<TimeSpan>, Field<TimeSpan>>
        {
            [ConfigSchema.Keepalive] = r.Get(ConfigSchema.Keepalive),
            [ConfigSchema.Warntime] = r.Get(ConfigSchema.Warntime),
            [ConfigSchema.Deadtime] = r.Get(ConfigSchema.Deadtime),
            [ConfigSchema.Initdead] = r.Get(ConfigSchema.Initdead),
        };
        if (!fields.Values.All(f => f.Ok))
            return null;
        var timers = new Timers(fields[ConfigSchema.Keepalive].Value, fields[ConfigSchema.Warntime].Value,
            fields[ConfigSchema.Deadtime].Value, fields[ConfigSchema.Initdead].Value);
        bool ok = true;
        foreach (var rule in ConfigSchema.TimerRules)
        {
            if (rule.Holds(timers))
                continue;
            var subject = fields[rule.Subject];
            diag.Add(subject.Position, subject.Path, rule.Message(timers));
            ok = false;
        }
        return ok ? timers : null;
    }

    // ---- nodes --------------------------------------------------------------------------------

    /// <summary>A link as read, valid or not, kept for the checks across the two nodes.</summary>
    private sealed class LinkDraft
    {
        public required string Path { get; init; }
        public required Field<string> Name { get; init; }
        public required Field<LinkKind> Kind { get; init; }
        public Field<int> Baud { get; init; }
        public Field<IPAddress> Local { get; init; }
        public Field<IPAddress> Peer { get; init; }
        public Field<IPAddress> Group { get; init; }
        public Field<int> Port { get; init; }
        public Field<TimeSpan> Keepalive { get; init; }

        /// <summary>The valid link; null when anything about it was wrong (and reported).</summary>
        public LinkConfig? Config { get; init; }
    }

    private sealed class NodeDraft
    {
        public required string Path { get; init; }
        public required Field<string> Name { get; init; }
        public required ListRead Links { get; init; }

        /// <summary>This node's links by name, duplicates left out.</summary>
        public required Dictionary<string, LinkDraft> LinksByName { get; init; }

        /// <summary>Every link item had a valid name; else "missing" would only echo the bad name.</summary>
        public required bool AllLinkNamesKnown { get; init; }

        public NodeConfig? Config { get; init; }

        /// <summary>How messages name the node: its name, or its path while the name is bad or taken twice.</summary>
        public string Label { get; set; } = "";
    }

    /// <param name="timers">The cluster's timers when they were read validly: each link's cadence is checked against them.</param>
    private static ImmutableArray<NodeConfig>? ReadNodes(ListRead list, Timers? timers, Diagnostics diag)
    {
        var drafts = new List<NodeDraft>();
        var firstByName = new Dictionary<string, string>(StringComparer.Ordinal);
        bool ok = list.CountOk;
        foreach (var item in list.Items)
        {
            if (item.Reader is null)
            {
                ok = false;
                continue;
            }
            var draft = ReadNode(item.Reader, timers, diag);
            draft.Label = draft.Path;
            if (draft.Name.Ok)
            {
                if (firstByName.TryGetValue(draft.Name.Value!, out var firstPath))
                {
                    diag.Add(draft.Name.Position, draft.Name.Path, $"node name '{draft.Name.Value}' is already used by {firstPath}");
                    drafts.First(d => d.Path == firstPath).Label = firstPath;
                    ok = false;
                }
                else
                {
                    firstByName[draft.Name.Value!] = draft.Path;
                    draft.Label = draft.Name.Value!;
                }
            }
            ok &= draft.Config is not null;
            drafts.Add(draft);
        }
        if (drafts.Count == ConfigLimits.NodeCount)
            ok &= CheckPair(drafts[0], drafts[1], diag);
        return ok ? [.. drafts.Select(d => d.Config!)] : null;
    }

    private static NodeDraft ReadNode(MapReader r, Timers? timers, Diagnostics diag)
    {
        var name = r.Get(ConfigSchema.NodeName);
        var priority = r.Get(ConfigSchema.Priority);
        var fence = r.Get(ConfigSchema.Fence);
        var list = r.List(ConfigSchema.Links);

        bool ok = name.Ok && priority.Ok && fence.Ok && list.CountOk;
        var byName = new Dictionary<string, LinkDraft>(StringComparer.Ordinal);
        var links = ImmutableArray.CreateBuilder<LinkConfig>();
        foreach (var item in list.Items)
        {
            if (item.Reader is null)
            {
                ok = false;
                continue;
            }
            var link = ReadLink(item.Reader, diag);
            if (link.Name.Ok)
            {
                if (byName.TryGetValue(link.Name.Value!, out var first))
                {
                    diag.Add(link.Name.Position, link.Name.Path, $"link name '{link.Name.Value}' is already used by {first.Path}");
                    ok = false;
                    continue;
                }
                byName[link.Name.Value!] = link;
            }
            if (link.Config is null || (timers is not null && !CheckCadence(link, timers, diag)))
                ok = false;
            else
                links.Add(link.Config);
        }
        return new NodeDraft
        {
            Path = r.Path,
            Name = name,
            Links = list,
            LinksByName = byName,
            AllLinkNamesKnown = list.Items.All(i => i.Reader is not null && i.Reader.Get(ConfigSchema.LinkName).Ok),
            Config = ok ? new NodeConfig(name.Value!, priority.Value, links.ToImmutable(), fence.Value) : null,
        };
    }

    private static LinkDraft ReadLink(MapReader r, Diagnostics diag)
    {
        var name = r.Get(ConfigSchema.LinkName);
        var kind = r.Get(ConfigSchema.LinkKindOption);
        var keepalive = r.Get(ConfigSchema.LinkKeepalive);
        if (!kind.Ok)
            return new LinkDraft { Path = r.Path, Name = name, Kind = kind, Keepalive = keepalive };
        TimeSpan? ownKeepalive = keepalive.Present ? keepalive.Value : null;

        if (kind.Value == LinkKind.Serial)
        {
            var device = r.Get(ConfigSchema.SerialDevice);
            var baud = r.Get(ConfigSchema.SerialBaud);
            return new LinkDraft
            {
                Path = r.Path, Name = name, Kind = kind, Baud = baud, Keepalive = keepalive,
                Config = name.Ok && device.Ok && baud.Ok && keepalive.Ok
                    ? new SerialLinkConfig(name.Value!, device.Value!, baud.Value) { Keepalive = ownKeepalive }
                    : null,
            };
        }

        var local = r.Get(ConfigSchema.UdpLocal);
        var peer = r.Get(ConfigSchema.UdpPeer);
        var group = r.Get(ConfigSchema.UdpGroup);
        var port = r.Get(ConfigSchema.UdpPort);
        bool ok = name.Ok && local.Ok && peer.Ok && group.Ok && port.Ok && keepalive.Ok;
        if (peer.Present && group.Present)
        {
            diag.Add(group.Position, group.Path, "peer and group are both set; set peer for unicast or group for multicast, not both");
            ok = false;
        }
        else if (!peer.Present && !group.Present)
        {
            diag.Add(r.Position, r.Path, "a udp link needs peer (unicast) or group (multicast)");
            ok = false;
        }
        if (local.Ok && local.Present)
        {
            foreach (var other in new[] { peer, group })
            {
                if (other.Ok && other.Present && other.Value!.AddressFamily != local.Value!.AddressFamily)
                {
                    string option = other.Path[(other.Path.LastIndexOf('.') + 1)..];
                    diag.Add(other.Position, other.Path, $"{option} ({other.Value}) and local ({local.Value}) must be of the same address family");
                    ok = false;
                }
            }
        }
        return new LinkDraft
        {
            Path = r.Path, Name = name, Kind = kind, Local = local, Peer = peer, Group = group, Port = port, Keepalive = keepalive,
            Config = ok ? new UdpLinkConfig(name.Value!, local.Value!, peer.Value, group.Value, port.Value) { Keepalive = ownKeepalive } : null,
        };
    }

    /// <summary>
    /// The link's cadence against the cluster timers (<see cref="Heartbeat.LinkCadence"/>); the error
    /// points at the link's keepalive when it was written, else at what chose the cadence (a serial
    /// link's baud).
    /// </summary>
    private static bool CheckCadence(LinkDraft link, Timers timers, Diagnostics diag)
    {
        var result = Heartbeat.LinkCadence.Of(timers, link.Config!);
        if (result.Error is null)
            return true;
        if (link.Keepalive.Present)
            diag.Add(link.Keepalive.Position, link.Keepalive.Path, result.Error);
        else if (link.Config is SerialLinkConfig)
            diag.Add(link.Baud.Position, link.Baud.Path, result.Error);
        else
            diag.Add(link.Name.Position, link.Path, result.Error);
        return false;
    }

    /// <summary>
    /// The rules between the two nodes: same links, same kinds, ends that point at each other.
    /// Each check runs only on what was read validly, so one bad value does not echo as more errors.
    /// </summary>
    private static bool CheckPair(NodeDraft a, NodeDraft b, Diagnostics diag)
    {
        bool ok = true;
        // A list that is absent or not a list was reported already; "missing" would only echo it.
        if (!a.Links.Present || !b.Links.Present || a.Links.Items.IsEmpty || b.Links.Items.IsEmpty)
            return true;

        foreach (var (from, to) in new[] { (a, b), (b, a) })
        {
            foreach (var name in from.LinksByName.Keys)
            {
                if (to.LinksByName.ContainsKey(name) || !to.AllLinkNamesKnown)
                    continue;
                diag.Add(to.Links.Position, to.Links.Path, $"link '{name}' of node {from.Label} is missing on node {to.Label}");
                ok = false;
            }
        }

        foreach (var (name, la) in a.LinksByName)
        {
            if (!b.LinksByName.TryGetValue(name, out var lb) || !la.Kind.Ok || !lb.Kind.Ok)
                continue;
            if (la.Kind.Value != lb.Kind.Value)
            {
                diag.Add(lb.Kind.Position, lb.Kind.Path,
                    $"link '{name}' is {Kind(la.Kind.Value)} on node {a.Label} but {Kind(lb.Kind.Value)} on node {b.Label}");
                ok = false;
                continue;
            }
            ok &= la.Kind.Value == LinkKind.Serial
                ? CheckSerialPair(name, a, la, b, lb, diag)
                : CheckUdpPair(name, a, la, b, lb, diag);
            ok &= CheckKeepalivePair(name, a, la, b, lb, diag);
        }
        return ok;
    }

    private static bool CheckSerialPair(string name, NodeDraft a, LinkDraft la, NodeDraft b, LinkDraft lb, Diagnostics diag)
    {
        if (!la.Baud.Ok || !lb.Baud.Ok || la.Baud.Value == lb.Baud.Value)
            return true;
        diag.Add(lb.Baud.Position, lb.Baud.Path,
            $"baud ({lb.Baud.Value}) must equal baud on node {a.Label} ({la.Baud.Value}); both ends of link '{name}' run at one speed");
        return false;
    }

    /// <summary>Each node judges a link by the frames the other sends on it: both ends keep one cadence.</summary>
    private static bool CheckKeepalivePair(string name, NodeDraft a, LinkDraft la, NodeDraft b, LinkDraft lb, Diagnostics diag)
    {
        var ka = la.Keepalive;
        var kb = lb.Keepalive;
        if (!ka.Ok || !kb.Ok || ka.Present == kb.Present && ka.Value == kb.Value)
            return true;
        if (kb.Present)
            diag.Add(kb.Position, kb.Path, ka.Present
                ? $"keepalive ({Duration.Format(kb.Value)}) must equal keepalive on node {a.Label} ({Duration.Format(ka.Value)}); both ends of link '{name}' send at one cadence"
                : $"keepalive ({Duration.Format(kb.Value)}) is set here but not on node {a.Label}; both ends of link '{name}' send at one cadence");
        else
            diag.Add(ka.Position, ka.Path,
                $"keepalive ({Duration.Format(ka.Value)}) is set here but not on node {b.Label}; both ends of link '{name}' send at one cadence");
        return false;
    }

    private static bool CheckUdpPair(string name, NodeDraft a, LinkDraft la, NodeDraft b, LinkDraft lb, Diagnostics diag)
    {
        bool ok = true;
        if (la.Port.Ok && lb.Port.Ok && la.Port.Value != lb.Port.Value)
        {
            diag.Add(lb.Port.Position, lb.Port.Path,
                $"port ({lb.Port.Value}) must equal port on node {a.Label} ({la.Port.Value}) for link '{name}'");
            ok = false;
        }
        // Only the links whose own checks passed: their peer/group choice is known to be exclusive.
        if (la.Config is not UdpLinkConfig ua || lb.Config is not UdpLinkConfig ub)
            return ok;

        bool multicastA = ua.Group is not null, multicastB = ub.Group is not null;
        if (multicastA != multicastB)
        {
            var at = multicastB ? lb.Group : lb.Peer;
            diag.Add(at.Position, at.Path,
                $"link '{name}' is {(multicastA ? "multicast" : "unicast")} on node {a.Label} but {(multicastB ? "multicast" : "unicast")} on node {b.Label}");
            return false;
        }
        if (multicastA)
        {
            if (!ua.Group!.Equals(ub.Group))
            {
                diag.Add(lb.Group.Position, lb.Group.Path,
                    $"group ({ub.Group}) must equal group on node {a.Label} ({ua.Group}) for link '{name}'");
                ok = false;
            }
            return ok;
        }
        foreach (var (selfLink, selfDraft, other, otherLink) in new[] { (ua, la, b, ub), (ub, lb, a, ua) })
        {
            if (selfLink.Peer!.Equals(otherLink.Local))
                continue;
            diag.Add(selfDraft.Peer.Position, selfDraft.Peer.Path,
                $"peer ({selfLink.Peer}) must be node {other.Label}'s local address ({otherLink.Local}) on link '{name}'");
            ok = false;
        }
        return ok;
    }

    private static string Kind(LinkKind kind) => ((EnumType<LinkKind>)ConfigSchema.LinkKindOption.Type).Format(kind);
}
