using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;

namespace Appliance.Core.Config;

/// <summary>Reads and validates the <c>director</c> section (part of <see cref="ConfigLoader"/>).</summary>
internal static class DirectorLoader
{
    /// <param name="resources">The valid resources, or null when they had errors (then the checks that refer to them are skipped, not echoed).</param>
    public static DirectorConfig? Read(MapReader r, ImmutableArray<ResourceConfig>? resources, Diagnostics diag)
    {
        var insideNames = r.Get(ConfigSchema.InsideVips);
        var vips = resources?.OfType<VipResourceConfig>().ToList();
        var inside = ReadInside(insideNames, resources, vips, diag);

        ConntrackSyncConfig? sync = null;
        bool syncOk = true;
        if (r.Has(ConfigSchema.DirectorSync))
        {
            sync = r.Section(ConfigSchema.DirectorSync) is { } sr ? ReadSync(sr, diag) : null;
            syncOk = sync is not null;
        }

        var list = r.List(ConfigSchema.DirectorServices);
        var services = ConfigLoader.ReadNamedList(list, ConfigSchema.ServiceName, "service", diag,
            (sr, name) => ReadService(sr, name, vips, inside, diag));
        bool ok = services is not null && syncOk && inside is not null;
        if (services is not null)
            ok &= CheckUniqueListens(list, services.Value, diag) & CheckServerCount(list, services.Value, diag);
        return ok ? new DirectorConfig(inside!.Value, sync, services!.Value) : null;
    }

    private static ImmutableArray<InsideVip>? ReadInside(Field<ImmutableArray<string>> names, ImmutableArray<ResourceConfig>? resources,
        List<VipResourceConfig>? vips, Diagnostics diag)
    {
        if (!names.Ok)
            return null;
        if (resources is null || vips is null)
            return [];
        var result = ImmutableArray.CreateBuilder<InsideVip>();
        bool ok = true;
        foreach (var name in names.Value)
        {
            var vip = vips.FirstOrDefault(v => v.Name == name);
            if (vip is null)
            {
                string why = resources.Value.Any(x => x.Name == name) ? $"resource '{name}' is not a vip resource"
                    : Suggest.Closest(name, vips.Select(v => v.Name)) is { } near ? $"vip resource '{name}' is not defined; did you mean '{near}'?"
                    : $"vip resource '{name}' is not defined ({(vips.Count == 0 ? "no vip resources are configured" : "vip resources: " + string.Join(", ", vips.Select(v => v.Name)))})";
                diag.Add(names.Position, names.Path, why);
                ok = false;
                continue;
            }
            var item = new InsideVip(vip.Name, vip.Address, vip.Interface);
            if (result.FirstOrDefault(x => x.IsIPv6 == item.IsIPv6) is { } other)
            {
                diag.Add(names.Position, names.Path,
                    $"'{other.Resource}' and '{name}' are both {Family(item.IsIPv6)}; name at most one inside VIP per address family");
                ok = false;
                continue;
            }
            result.Add(item);
        }
        return ok ? result.ToImmutable() : null;
    }

    private static ConntrackSyncConfig? ReadSync(MapReader r, Diagnostics diag)
    {
        var iface = r.Get(ConfigSchema.SyncInterface);
        var local = r.Get(ConfigSchema.SyncLocal);
        var peer = r.Get(ConfigSchema.SyncPeer);
        var port = r.Get(ConfigSchema.SyncPort);
        if (!(iface.Ok && local.Ok && peer.Ok && port.Ok))
            return null;
        if (local.Value!.AddressFamily != peer.Value!.AddressFamily)
        {
            diag.Add(peer.Position, peer.Path, $"peer ({peer.Value}) and local ({local.Value}) must be of the same address family");
            return null;
        }
        return new ConntrackSyncConfig(iface.Value!, local.Value, peer.Value, port.Value);
    }

    private static VirtualServiceConfig? ReadService(MapReader r, Field<string> name, List<VipResourceConfig>? vips,
        ImmutableArray<InsideVip>? inside, Diagnostics diag)
    {
        var listen = r.Get(ConfigSchema.ServiceListenOption);
        var scheduler = r.Get(ConfigSchema.ServiceScheduler);
        var forwarding = r.Get(ConfigSchema.ServiceForwarding);
        var sorry = r.Get(ConfigSchema.SorryServer);
        bool ok = name.Ok && listen.Ok && scheduler.Ok && forwarding.Ok && sorry.Ok;
        bool? ipv6 = listen.Ok ? listen.Value.IsIPv6 : null;

        if (listen.Ok && vips is not null && !vips.Any(v => v.Address.Address.Equals(listen.Value.Address)))
        {
            string known = vips.Count == 0 ? "no vip resources are configured"
                : "vip resources: " + string.Join(", ", vips.Select(v => $"{v.Name} {v.Address}"));
            diag.Add(listen.Position, listen.Path,
                $"listen address {listen.Value.Address} is not the address of a vip resource ({known}); the director balances only addresses the pair floats");
            ok = false;
        }

        InsideVip? gateway = null;
        if (ipv6 is { } v6 && forwarding.Ok && inside is { } insideVips && vips is not null)
        {
            gateway = insideVips.FirstOrDefault(x => x.IsIPv6 == v6);
            if (gateway is null)
            {
                diag.Add(forwarding.Position, forwarding.Path,
                    $"forwarding {Word(forwarding.Value)} needs an {Family(v6)} inside VIP: add a vip resource on the real servers' side and name it in director.inside_vips");
                ok = false;
            }
        }

        PersistenceConfig? persistence = null;
        if (r.Has(ConfigSchema.ServicePersistence))
        {
            persistence = r.Section(ConfigSchema.ServicePersistence) is { } pr ? ReadPersistence(pr, ipv6, diag) : null;
            ok &= persistence is not null;
        }
        var quorum = r.Section(ConfigSchema.ServiceQuorum) is { } qr ? ReadQuorum(qr) : null;
        ok &= quorum is not null;
        var check = r.Has(ConfigSchema.ServiceCheck)
            ? r.Section(ConfigSchema.ServiceCheck) is { } cr ? ReadCheck(cr, diag) : null
            : DirectorCheckConfig.Default;
        ok &= check is not null;

        var servers = ReadRealServers(r.List(ConfigSchema.RealServers), ipv6, forwarding.Ok ? forwarding.Value : null, gateway, diag);
        ok &= servers is not null;
        if (sorry.Ok && sorry.Value is { } sorryAddress)
            ok &= CheckServerAddress(sorry, sorryAddress, "sorry server", ipv6, forwarding.Ok ? forwarding.Value : null, gateway, diag);

        return ok
            ? new VirtualServiceConfig(name.Value!, listen.Value, scheduler.Value, forwarding.Value, persistence, quorum!, check!, servers!.Value, sorry.Value)
            : null;
    }

    private static PersistenceConfig? ReadPersistence(MapReader r, bool? ipv6, Diagnostics diag)
    {
        var timeout = r.Get(ConfigSchema.PersistenceTimeout);
        var granularity = r.Get(ConfigSchema.PersistenceGranularity);
        if (!timeout.Ok || !granularity.Ok || ipv6 is null)
            return null;
        if (granularity.Present && ipv6 == false && granularity.Value > 32)
        {
            diag.Add(granularity.Position, granularity.Path, $"granularity ({granularity.Value}) must be at most 32 for an IPv4 service");
            return null;
        }
        return new PersistenceConfig(timeout.Value, granularity.Present ? granularity.Value : ipv6.Value ? 64 : 32);
    }

    private static QuorumConfig? ReadQuorum(MapReader r)
    {
        var min = r.Get(ConfigSchema.QuorumMinWeight);
        var hysteresis = r.Get(ConfigSchema.QuorumHysteresis);
        return min.Ok && hysteresis.Ok ? new QuorumConfig(min.Value, hysteresis.Value) : null;
    }

    private static DirectorCheckConfig? ReadCheck(MapReader r, Diagnostics diag)
    {
        var kind = r.Get(ConfigSchema.CheckKindOption);
        var interval = r.Get(ConfigSchema.CheckInterval);
        var timeout = r.Get(ConfigSchema.CheckTimeout);
        var rise = r.Get(ConfigSchema.CheckRise);
        var fall = r.Get(ConfigSchema.CheckFall);
        var start = r.Get(ConfigSchema.CheckStartOption);
        bool ok = kind.Ok && interval.Ok && timeout.Ok && rise.Ok && fall.Ok && start.Ok;
        if (interval.Ok && timeout.Ok && timeout.Value >= interval.Value)
        {
            diag.Add(timeout.Position, timeout.Path,
                $"timeout ({Duration.Format(timeout.Value)}) must be less than interval ({Duration.Format(interval.Value)})");
            ok = false;
        }
        if (!kind.Ok)
            return null;
        string? path = null, host = null, command = null, body = null;
        var expect = HttpStatusRange.Single(200);
        if (kind.Value == DirectorCheckKind.Http)
        {
            var p = r.Get(ConfigSchema.CheckPath);
            var e = r.Get(ConfigSchema.CheckExpect);
            var h = r.Get(ConfigSchema.CheckHost);
            var b = r.Get(ConfigSchema.CheckBody);
            ok &= p.Ok && e.Ok && h.Ok && b.Ok;
            (path, expect, host, body) = (p.Value, e.Value, h.Value, b.Value);
        }
        else if (kind.Value == DirectorCheckKind.Exec)
        {
            var c = r.Get(ConfigSchema.CheckCommand);
            ok &= c.Ok;
            command = c.Value;
        }
        return ok ? new DirectorCheckConfig(kind.Value, interval.Value, timeout.Value, rise.Value, fall.Value, path, expect, host, command, body, start.Value) : null;
    }

    private static ImmutableArray<RealServerConfig>? ReadRealServers(ListRead list, bool? ipv6, DirectorForwarding? forwarding,
        InsideVip? gateway, Diagnostics diag)
    {
        bool ok = list.CountOk;
        var result = ImmutableArray.CreateBuilder<RealServerConfig>();
        var firstByAddress = new Dictionary<IPEndPoint, string>();
        foreach (var item in list.Items)
        {
            if (item.Reader is not { } r)
            {
                ok = false;
                continue;
            }
            var address = r.Get(ConfigSchema.RealServerAddress);
            var weight = r.Get(ConfigSchema.RealServerWeight);
            var capacity = r.Get(ConfigSchema.RealServerCapacity);
            var state = r.Get(ConfigSchema.RealServerState);
            bool itemOk = address.Ok && weight.Ok && capacity.Ok && state.Ok;
            if (address.Ok)
            {
                if (firstByAddress.TryGetValue(address.Value!, out var firstPath))
                {
                    diag.Add(address.Position, address.Path, $"real server {address.Value} is already listed at {firstPath}");
                    itemOk = false;
                }
                else
                {
                    firstByAddress[address.Value!] = item.Path;
                    itemOk &= CheckServerAddress(address, address.Value!, "real server", ipv6, forwarding, gateway, diag);
                }
            }
            if (itemOk)
                result.Add(new RealServerConfig(address.Value!, weight.Value, capacity.Present ? capacity.Value : null, state.Value));
            else
                ok = false;
        }
        return ok ? result.ToImmutable() : null;
    }

    /// <summary>A real or sorry server is of the service's family and, in nat mode, on the inside VIP's subnet.</summary>
    private static bool CheckServerAddress(Field<IPEndPoint> field, IPEndPoint address, string noun, bool? ipv6, DirectorForwarding? forwarding,
        InsideVip? gateway, Diagnostics diag)
    {
        if (ipv6 is null)
            return true;
        bool serverV6 = address.AddressFamily == AddressFamily.InterNetworkV6;
        if (serverV6 != ipv6.Value)
        {
            diag.Add(field.Position, field.Path, $"{noun} {address} is {Family(serverV6)} but the service listens on {Family(ipv6.Value)}; the director does not translate between families");
            return false;
        }
        if (forwarding == DirectorForwarding.Nat && gateway is not null && !InPrefix(address.Address, gateway.Address))
        {
            diag.Add(field.Position, field.Path,
                $"{noun} {address.Address} is not on the inside VIP's subnet ({gateway.Resource} {gateway.Address}); in nat mode it must route back through that VIP (or use forwarding: snat)");
            return false;
        }
        return true;
    }

    private static bool CheckUniqueListens(ListRead list, ImmutableArray<VirtualServiceConfig> services, Diagnostics diag)
    {
        bool ok = true;
        for (int i = 0; i < services.Length; i++)
        {
            int first = services.Take(i).ToList().FindIndex(s => s.Listen == services[i].Listen);
            if (first < 0)
                continue;
            var field = list.Items[i].Reader!.Get(ConfigSchema.ServiceListenOption);
            diag.Add(field.Position, field.Path, $"listen {services[i].Listen} is already used by service '{services[first].Name}'");
            ok = false;
        }
        return ok;
    }

    private static bool CheckServerCount(ListRead list, ImmutableArray<VirtualServiceConfig> services, Diagnostics diag)
    {
        int count = services.Sum(s => s.RealServers.Length + (s.SorryServer is null ? 0 : 1));
        if (count <= ConfigLimits.MaxDirectorServers)
            return true;
        diag.Add(list.Position, list.Path, $"{count} real and sorry servers in all; the director takes at most {ConfigLimits.MaxDirectorServers}");
        return false;
    }

    internal static bool InPrefix(IPAddress address, IpPrefix prefix)
    {
        if (address.AddressFamily != prefix.Address.AddressFamily)
            return false;
        byte[] a = address.GetAddressBytes(), p = prefix.Address.GetAddressBytes();
        int bits = prefix.Length;
        for (int i = 0; i < a.Length && bits > 0; i++, bits -= 8)
        {
            int mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
            if ((a[i] & mask) != (p[i] & mask))
                return false;
        }
        return true;
    }

    private static string Family(bool ipv6) => ipv6 ? "IPv6" : "IPv4";

    private static string Word(DirectorForwarding f) => ((EnumType<DirectorForwarding>)ConfigSchema.ServiceForwarding.Type).Format(f);
}
