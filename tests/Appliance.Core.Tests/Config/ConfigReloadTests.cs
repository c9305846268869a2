using Appliance.Core.Config;
using Appliance.Core.Director;
using Appliance.Core.Tests.Director;

namespace Appliance.Core.Tests.Config;

/// <summary>The reload's split (ConfigReload.Plan): what is applied live, what is listed for a restart, and nothing half-applied.</summary>
public class ConfigReloadTests
{
    private static ApplianceConfig Load(string director, Func<string, string>? edit = null)
    {
        string yaml = ConfigSamples.Base + DirectorSamples.Resources + director;
        if (edit is not null)
            yaml = edit(yaml);
        var result = ConfigLoader.Load(ConfigSamples.File, yaml);
        Assert.True(result.Ok, string.Join("\n", result.Errors));
        return result.Config!;
    }

    private static readonly string Web = DirectorSamples.Web("rr");

    [Fact]
    public void The_same_file_changes_nothing_and_needs_no_restart()
    {
        var running = Load(Web);
        var plan = ConfigReload.Plan(running, Load(Web));
        Assert.Empty(plan.Live);
        Assert.Empty(plan.RestartNeeded);
        Assert.False(plan.DirectorChanged);
        Assert.Same(running, plan.Effective);
    }

    [Fact]
    public void Weights_and_scheduler_are_live_and_listed_one_line_each()
    {
        var plan = ConfigReload.Plan(Load(Web), Load(DirectorSamples.Web("wrr", "1, 2, 3")));
        Assert.Equal<string>(
        [
            "director.services[web].scheduler: rr -> wrr",
            "director.services[web].real_servers[10.0.0.12:8080].weight: 1 -> 2",
            "director.services[web].real_servers[10.0.0.13:8080].weight: 1 -> 3",
        ], plan.Live);
        Assert.Empty(plan.RestartNeeded);
        var s = Assert.Single(plan.Effective.Director!.Services);
        Assert.Equal(DirectorScheduler.Wrr, s.Scheduler);
        Assert.Equal([1, 2, 3], s.RealServers.Select(r => r.Weight));
    }

    [Fact]
    public void Servers_and_services_added_and_removed_are_live()
    {
        string next = DirectorSamples.Web("rr").Replace("        - {address: 10.0.0.11:8080, weight: 1}\n", "", StringComparison.Ordinal)
            + """
                - name: dns
                  listen: 203.0.113.10:53/udp
                  check: {kind: none}
                  real_servers: [{address: 10.0.0.21:53}]
                  sorry_server: 10.0.0.250:53

            """;
        var plan = ConfigReload.Plan(Load(Web), Load(next));
        Assert.Equal<string>(
        [
            "director.services[web].real_servers[10.0.0.11:8080]: removed",
            "director.services[dns]: added (203.0.113.10:53/udp, wrr, 1 real servers)",
        ], plan.Live);
        Assert.Empty(plan.RestartNeeded);
        Assert.Equal<string>(["web", "dns"], plan.Effective.Director!.Services.Select(s => s.Name));
    }

    [Fact]
    public void Check_persistence_and_sorry_server_changes_are_live()
    {
        string extra = "      persistence: {timeout: 60s, granularity: 24}\n      check: {kind: http, path: /health, interval: 1s, timeout: 500ms, start: down}\n      sorry_server: 10.0.0.250:80\n";
        var plan = ConfigReload.Plan(Load(Web), Load(DirectorSamples.Web("rr", extra: extra)));
        Assert.Equal(3, plan.Live.Length);
        Assert.StartsWith("director.services[web].persistence: none -> 60s/24", plan.Live[0], StringComparison.Ordinal);
        Assert.StartsWith("director.services[web].check: tcp every 2000ms", plan.Live[1], StringComparison.Ordinal);
        Assert.Contains("-> http /health every 1000ms, timeout 500ms, rise 2, fall 3, start down", plan.Live[1], StringComparison.Ordinal);
        Assert.Equal("director.services[web].sorry_server: none -> 10.0.0.250:80", plan.Live[2]);
    }

    [Fact]
    public void Changes_outside_the_director_are_listed_and_not_applied_while_the_director_part_is()
    {
        var running = Load(Web);
        var file = Load(DirectorSamples.Web("rr", "5, 1, 1"), y => y
            .Replace("deadtime: 1s", "deadtime: 2s", StringComparison.Ordinal)
            .Replace("priority: 90", "priority: 80", StringComparison.Ordinal)
            .Replace("address: 203.0.113.10/24, interface: eth0", "address: 203.0.113.10/25, interface: eth0", StringComparison.Ordinal));
        var plan = ConfigReload.Plan(running, file);
        Assert.Equal<string>(["cluster.timers.deadtime", "nodes[beta].priority", "resources[vip-web]"], plan.RestartNeeded);
        Assert.Equal<string>(["director.services[web].real_servers[10.0.0.11:8080].weight: 1 -> 5"], plan.Live);
        // Not half-applied: everything but the director's services is the running config's, untouched.
        Assert.Same(running.Cluster, plan.Effective.Cluster);
        Assert.Same(running.Nodes.Single(n => n.Name == "beta"), plan.Effective.Nodes.Single(n => n.Name == "beta"));
        Assert.Equal<Appliance.Core.Config.ResourceConfig>(running.Resources, plan.Effective.Resources);
        Assert.Equal<InsideVip>(running.Director!.InsideVips, plan.Effective.Director!.InsideVips);
        Assert.Equal<VirtualServiceConfig>(file.Director!.Services, plan.Effective.Director.Services);
        // Reloading the same file again still says so: the running config differs from it.
        var again = ConfigReload.Plan(plan.Effective, file);
        Assert.Empty(again.Live);
        Assert.Equal<string>(plan.RestartNeeded, again.RestartNeeded);
    }

    [Fact]
    public void Sync_inside_vips_and_the_director_section_itself_need_a_restart()
    {
        string withSync = Web.Replace("  inside_vips: [gw-inside, gw-inside6]\n", "  inside_vips: [gw-inside]\n  sync: {interface: eth2, local: 10.99.0.1, peer: 10.99.0.2}\n", StringComparison.Ordinal);
        var plan = ConfigReload.Plan(Load(Web), Load(withSync));
        Assert.Equal<string>(["director.sync", "director.inside_vips"], plan.RestartNeeded);
        Assert.Empty(plan.Live);

        var noDirector = Load("");
        Assert.Equal<string>(["director (removed: the table stays loaded until a restart)"], ConfigReload.Plan(Load(Web), noDirector).RestartNeeded);
        Assert.Equal<string>(["director (added: the director starts with the daemon)"], ConfigReload.Plan(noDirector, Load(Web)).RestartNeeded);
    }

    [Fact]
    public void A_new_key_in_the_same_file_needs_a_restart()
    {
        var running = Load(Web);
        Assert.Equal<string>(["cluster.key_file (the key in the file changed)"], ConfigReload.Plan(running, Load(Web), keyContentsChanged: true).RestartNeeded);
        var moved = Load(Web, y => y.Replace("key_file: /etc/appliance/authkey", "key_file: /etc/appliance/authkey2", StringComparison.Ordinal));
        Assert.Equal<string>(["cluster.key_file"], ConfigReload.Plan(running, moved, keyContentsChanged: true).RestartNeeded);
    }

    [Fact]
    public void Lists_matched_by_name_say_added_removed_and_order()
    {
        var running = Load(Web);
        var swapped = Load(Web, y => y.Replace(
            "  - {name: vip-web, kind: vip, address: 203.0.113.10/24, interface: eth0}\n  - {name: vip-web6, kind: vip, address: 2001:db8::10/64, interface: eth0}\n",
            "  - {name: vip-web6, kind: vip, address: 2001:db8::10/64, interface: eth0}\n  - {name: vip-web, kind: vip, address: 203.0.113.10/24, interface: eth0}\n", StringComparison.Ordinal));
        Assert.Equal<string>(["resources (order)"], ConfigReload.Plan(running, swapped).RestartNeeded);
        var linkGone = Load(Web, y => y.Replace("      - {name: mc, kind: udp, local: 10.1.0.1, group: 239.1.1.1}\n", "", StringComparison.Ordinal)
            .Replace("      - {name: mc, kind: udp, local: 10.1.0.2, group: 239.1.1.1}\n", "", StringComparison.Ordinal));
        Assert.Equal<string>(["nodes[alpha].links[mc] (removed)", "nodes[beta].links[mc] (removed)"], ConfigReload.Plan(running, linkGone).RestartNeeded);
    }

    [Fact]
    public void The_live_part_becomes_one_transaction_that_keeps_the_table_and_its_base_chains()
    {
        var running = Load(Web);
        string next = DirectorSamples.Web("wrr", "1, 2, 3").Replace("        - {address: 10.0.0.11:8080, weight: 1}\n",
            "        - {address: 10.0.0.11:8080, weight: 1}\n        - {address: 10.0.0.14:8080, weight: 2}\n", StringComparison.Ordinal);
        var plan = ConfigReload.Plan(running, Load(next));
        Assert.Contains("director.services[web].real_servers[10.0.0.14:8080]: added (weight 2)", plan.Live);
        string text = NftRuleset.Change(DirectorSamples.Plan(running), DirectorSamples.Plan(plan.Effective));
        Assert.NotEqual("", text);
        Assert.DoesNotContain("delete table", text, StringComparison.Ordinal);
        foreach (string chain in new[] { "guard", "prerouting", "postrouting", "forward" })
            Assert.DoesNotContain($"flush chain {NftRuleset.Table} {chain}\n", text, StringComparison.Ordinal);
        Assert.Contains("flush chain inet appliance svc_web\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_long_difference_is_capped_with_a_count()
    {
        var running = Load(Web);
        // 100 servers added in one go: the listing stops at the cap and says how many more.
        string many = DirectorSamples.Web("rr") + string.Concat(Enumerable.Range(0, 100).Select(i => $"        - {{address: 10.0.0.{i + 100}:8080}}\n"));
        var plan = ConfigReload.Plan(running, Load(many));
        Assert.Equal(ConfigReload.MaxListedChanges, plan.Live.Length);
        Assert.Equal("... and 37 more", plan.Live[^1]);
        Assert.Equal(103, plan.Effective.Director!.Services[0].RealServers.Length);
    }

    private const string Monitors = """
        monitors:
          - {name: svc, kind: tcp, address: 127.0.0.1:7000, interval: 1s}
          - {name: gw, kind: ping, targets: [192.0.2.1]}

        """;

    [Fact]
    public void Monitors_are_live_one_line_each_and_an_unchanged_one_is_not_touched()
    {
        var running = Load(Web + Monitors);
        var file = Load(Web + Monitors
            .Replace("interval: 1s", "interval: 2s", StringComparison.Ordinal)
            .Replace("  - {name: gw, kind: ping, targets: [192.0.2.1]}\n", "  - {name: gw, kind: ping, targets: [192.0.2.1]}\n  - {name: up, kind: exec, command: 'true'}\n", StringComparison.Ordinal));
        var plan = ConfigReload.Plan(running, file);
        Assert.Empty(plan.RestartNeeded);
        Assert.True(plan.MonitorsChanged);
        Assert.False(plan.DirectorChanged);
        Assert.Equal<string>([
            "monitors[svc]: tcp 127.0.0.1:7000 every 1000ms, timeout 800ms, rise 2, fall 3 -> tcp 127.0.0.1:7000 every 2000ms, timeout 800ms, rise 2, fall 3 (its state starts again: up)",
            "monitors[up]: added (exec true every 1000ms, timeout 800ms, rise 2, fall 3)",
        ], plan.Live);
        Assert.Equal<MonitorConfig>(file.Monitors, plan.Effective.Monitors);
        Assert.Same(running.Director, plan.Effective.Director);

        var removed = ConfigReload.Plan(running, Load(Web));
        Assert.Equal<string>(["monitors[svc]: removed", "monitors[gw]: removed"], removed.Live);
        Assert.Empty(removed.RestartNeeded);
        Assert.Empty(ConfigReload.Plan(file, file).Live);
    }
}
