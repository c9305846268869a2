using System.Runtime.CompilerServices;
using Appliance.Core.Config;
using Appliance.Core.Director;
using static Appliance.Core.Tests.Director.DirectorSamples;

namespace Appliance.Core.Tests.Director;

/// <summary>
/// Golden rulesets, one per feature: <c>Golden/full-*.nft</c> (a whole load) and
/// <c>Golden/change-*.nft</c> (a transaction, with the load it applies to in
/// <c>change-*.before.nft</c>). Integration's NftGoldenSyntaxTests loads each into a network
/// namespace with nft, so the text here is proven to be what the kernel takes.
/// Set APPLIANCE_UPDATE_GOLDEN=1 to rewrite them from the current output, then read the diff.
/// </summary>
public class NftRulesetGoldenTests
{
    private const string UpdateSwitch = "APPLIANCE_UPDATE_GOLDEN";

    internal static string GoldenDir([CallerFilePath] string here = "") => Path.Combine(Path.GetDirectoryName(here)!, "Golden");

    private static void Golden(string name, string actual)
    {
        string path = Path.Combine(GoldenDir(), name);
        if (Environment.GetEnvironmentVariable(UpdateSwitch) == "1")
            File.WriteAllText(path, actual);
        Assert.True(File.Exists(path), $"no golden file {path}; run with {UpdateSwitch}=1 to create it");
        Assert.Equal(File.ReadAllText(path), actual);
    }

    private static void Full(string name, DirectorPlan plan) => Golden($"full-{name}.nft", NftRuleset.FullLoad(plan));

    [Fact]
    public void Rr() => Full("rr", Plan(Load(Web("rr"))));

    /// <summary>3:2:1 interleaved: a b a c a b, not a a a b b c.</summary>
    [Fact]
    public void Wrr() => Full("wrr", Plan(Load(Web("wrr", "3, 2, 1"))));

    [Fact]
    public void Sh() => Full("sh", Plan(Load(Web("sh"))));

    /// <summary>Weighted random over intervals: 0-2, 3-4, 5.</summary>
    [Fact]
    public void Random() => Full("random", Plan(Load(Web("random", "3, 2, 1"))));

    /// <summary>/24 persistence; .12 drains (keeps persisted clients, takes no new ones), .13 is down (neither).</summary>
    [Fact]
    public void Persistence()
    {
        var config = Load(Web("wrr", "2, 1, 1", "      persistence: {timeout: 300s, granularity: 24}\n"));
        var health = HealthView.AsConfigured
            .With("web", Ep("10.0.0.12:8080"), new RealServerStatus(ServerState.Drain, 1))
            .With("web", Ep("10.0.0.13:8080"), new RealServerStatus(ServerState.Down, 1));
        Full("persistence", Plan(config, health));
    }

    /// <summary>Everything down: the sorry server takes new clients.</summary>
    [Fact]
    public void SorryAllDown()
    {
        var config = Load(Web("rr", extra: "      sorry_server: 10.0.0.250:80\n"));
        var health = HealthView.AsConfigured;
        foreach (var rs in config.Director!.Services[0].RealServers)
            health = health.With("web", rs.Address, new RealServerStatus(ServerState.Down, rs.Weight));
        Full("sorry-all-down", Plan(config, health));
    }

    /// <summary>Quorum 3 with one of three weight-1 servers down: two are schedulable but the sorry server serves.</summary>
    [Fact]
    public void SorryQuorumLost()
    {
        var config = Load(Web("wrr", extra: "      quorum: {min_weight: 3, hysteresis: 0}\n      sorry_server: 10.0.0.250:80\n"));
        var health = HealthView.AsConfigured.With("web", Ep("10.0.0.13:8080"), new RealServerStatus(ServerState.Down, 1));
        Full("sorry-quorum-lost", Plan(config, health));
    }

    /// <summary>A nat and an snat service side by side: only the snat one's ids are in @snat4.</summary>
    [Fact]
    public void NatAndSnat()
    {
        var config = Load("""
            director:
              inside_vips: [gw-inside]
              services:
                - name: web
                  listen: 203.0.113.10:80/tcp
                  forwarding: nat
                  real_servers: [{address: 10.0.0.11:8080}, {address: 10.0.0.12:8080}]
                - name: api
                  listen: 203.0.113.10:443/tcp
                  forwarding: snat
                  scheduler: rr
                  real_servers: [{address: 192.168.50.21:443}, {address: 192.168.50.22:443}]

            """);
        Full("nat-snat", Plan(config));
    }

    /// <summary>IPv6 with /64 persistence (the default) and source hash, snat to the v6 inside VIP.</summary>
    [Fact]
    public void Ipv6()
    {
        var config = Load("""
            director:
              inside_vips: [gw-inside, gw-inside6]
              services:
                - name: web6
                  listen: "[2001:db8::10]:80/tcp"
                  scheduler: sh
                  forwarding: snat
                  persistence: {timeout: 10m}
                  real_servers: [{address: "[fd00:77::11]:8080", weight: 2}, {address: "[fd00:77::12]:8080"}]
                  sorry_server: "[fd00:77::250]:8080"

            """);
        Full("ipv6", Plan(config));
    }

    [Fact]
    public void Udp()
    {
        var config = Load("""
            director:
              inside_vips: [gw-inside]
              services:
                - name: dns
                  listen: 203.0.113.10:53/udp
                  scheduler: rr
                  check: {kind: none}
                  real_servers: [{address: 10.0.0.53:53}, {address: 10.0.0.54:53}]

            """);
        Full("udp", Plan(config));
    }

    /// <summary>Nothing schedulable and no sorry server: no rule directs the packet, the director's own stack answers.</summary>
    [Fact]
    public void NothingUp()
    {
        var config = Load(Web("rr", "0, 0, 0"));
        Full("nothing-up", Plan(config));
    }

    /// <summary>
    /// A health flip: .12 goes down in web (its chain is rewritten, its live entry deleted); the
    /// other service's chain, counters and persistence entries are not touched.
    /// </summary>
    [Fact]
    public void ChangeHealthFlip()
    {
        var config = Load(TwoServices);
        var before = Plan(config);
        var after = Plan(config, HealthView.AsConfigured.With("web", Ep("10.0.0.12:8080"), new RealServerStatus(ServerState.Down, 1)), before);
        Golden("change-health-flip.before.nft", NftRuleset.FullLoad(before));
        Golden("change-health-flip.nft", NftRuleset.Change(before, after));
    }

    /// <summary>
    /// A reload: service api removed, dns added, web's persistence timeout changed (its map is
    /// recreated) and a real server added to it. No table delete; unchanged objects untouched.
    /// </summary>
    [Fact]
    public void ChangeReload()
    {
        var before = Plan(Load(TwoServices));
        var after = Plan(Load("""
            director:
              inside_vips: [gw-inside]
              services:
                - name: web
                  listen: 203.0.113.10:80/tcp
                  scheduler: wrr
                  persistence: {timeout: 600s, granularity: 24}
                  real_servers: [{address: 10.0.0.11:8080, weight: 2}, {address: 10.0.0.12:8080}, {address: 10.0.0.13:8080}]
                  sorry_server: 10.0.0.250:80
                - name: dns
                  listen: 203.0.113.10:53/udp
                  scheduler: rr
                  forwarding: snat
                  real_servers: [{address: 10.0.0.53:53}]

            """), previous: before);
        Golden("change-reload.before.nft", NftRuleset.FullLoad(before));
        Golden("change-reload.nft", NftRuleset.Change(before, after));
    }

    [Fact]
    public void Change_OfAPlanToItself_IsEmpty()
    {
        var plan = Plan(Load(TwoServices));
        Assert.Equal("", NftRuleset.Change(plan, plan));
    }

    [Fact]
    public void Change_NeverDeletesOrFlushesTheTable()
    {
        var before = Plan(Load(TwoServices));
        var after = Plan(Load(Web("sh")));
        string text = NftRuleset.Change(before, after);
        Assert.DoesNotContain("delete table", text);
        Assert.DoesNotContain("flush table", text);
        foreach (var baseChain in new[] { "guard", "prerouting", "forward" })
            Assert.DoesNotContain($"chain {NftRuleset.Table} {baseChain}\n", text);
    }

    [Fact]
    public void TheRuleset_TouchesOnlyTheDirectorsTable()
    {
        string text = NftRuleset.FullLoad(Plan(Load(TwoServices)));
        foreach (var line in text.Split('\n').Where(l => l.StartsWith("table ") || l.StartsWith("delete table ")))
            Assert.Contains("table inet appliance", line);
    }

    private const string TwoServices = """
        director:
          inside_vips: [gw-inside]
          services:
            - name: web
              listen: 203.0.113.10:80/tcp
              scheduler: wrr
              persistence: {timeout: 300s, granularity: 24}
              real_servers: [{address: 10.0.0.11:8080, weight: 2}, {address: 10.0.0.12:8080}]
              sorry_server: 10.0.0.250:80
            - name: api
              listen: 203.0.113.10:443/tcp
              scheduler: rr
              forwarding: snat
              real_servers: [{address: 10.0.0.21:443}, {address: 10.0.0.22:443}]

        """;
}
