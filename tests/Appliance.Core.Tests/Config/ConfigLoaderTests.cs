using System.Collections.Immutable;
using System.Net;
using Appliance.Core.Config;

namespace Appliance.Core.Tests.Config;

public class ConfigLoaderTests
{
    private static ApplianceConfig LoadOk(string yaml)
    {
        var result = ConfigLoader.Load(ConfigSamples.File, yaml);
        Assert.True(result.Ok, string.Join("\n", result.Errors));
        Assert.Empty(result.Errors);
        return result.Config!;
    }

    [Fact]
    public void Director_check_takes_a_status_range_a_body_and_a_start_state()
    {
        const string Check = "check: {kind: http, path: /health, expect: 200, interval: 2s, timeout: 1s, rise: 2, fall: 3}";
        Assert.Contains(Check, ConfigSamples.WithDirector);
        var web = LoadOk(ConfigSamples.WithDirector.Replace(Check,
            "check: {kind: http, path: /health, expect: 200-299, body: ready, start: down, interval: 2s, timeout: 1s}")).Director!.Services[0];
        Assert.Equal(new HttpStatusRange(200, 299), web.Check.Expect);
        Assert.Equal("ready", web.Check.Body);
        Assert.Equal(CheckStart.Down, web.Check.Start);
        Assert.Equal(CheckStart.Up, DirectorCheckConfig.Default.Start);
        foreach (var (bad, message) in new[]
                 {
                     ("expect: 299-200", "must be codes from 100 to 599, the lower first"),
                     ("expect: 20x", "expected an HTTP status code"),
                     ("start: maybe", "expected"),
                 })
        {
            var result = ConfigLoader.Load(ConfigSamples.File, ConfigSamples.WithDirector.Replace(Check, $"check: {{kind: http, {bad}}}"));
            Assert.False(result.Ok, bad);
            Assert.Contains(result.Errors, e => e.ToString().Contains(message));
        }
    }

    [Fact]
    public void Director_ParsesIntoTheModel()
    {
        var config = LoadOk(ConfigSamples.WithDirector);
        var d = config.Director!;
        Assert.Equal(["gw-inside", "gw-inside6"], d.InsideVips.Select(v => v.Resource));
        Assert.Equal(new ConntrackSyncConfig("eth2", IPAddress.Parse("10.99.0.1"), IPAddress.Parse("10.99.0.2"), 3780), d.Sync);
        var web = d.Services[0];
        Assert.Equal(new ServiceListen(IPAddress.Parse("203.0.113.10"), 80, L4Protocol.Tcp), web.Listen);
        Assert.Equal((DirectorScheduler.Wrr, DirectorForwarding.Nat), (web.Scheduler, web.Forwarding));
        Assert.Equal(new PersistenceConfig(TimeSpan.FromSeconds(300), 24), web.Persistence);
        Assert.Equal(new DirectorCheckConfig(DirectorCheckKind.Http, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1), 2, 3, "/health", HttpStatusRange.Single(200), null, null), web.Check);
        RealServerConfig[] servers =
        [
            new(IPEndPoint.Parse("10.0.0.11:8080"), 2, 500, RealServerAdminState.Up),
            new(IPEndPoint.Parse("10.0.0.12:8080"), 1, null, RealServerAdminState.Drain),
        ];
        Assert.True(servers.SequenceEqual(web.RealServers), string.Join(", ", web.RealServers));
        Assert.Equal(IPEndPoint.Parse("10.0.0.250:80"), web.SorryServer);
        var dns = d.Services[1];
        Assert.Equal("[2001:db8::10]:53/udp", dns.Listen.ToString());
        Assert.Null(dns.Persistence);
        Assert.Equal(QuorumConfig.Default, dns.Quorum);
        Assert.Equal(DirectorCheckConfig.Default, dns.Check);
        Assert.Equal(3, dns.RealServers[1].Weight);
        Assert.Null(LoadOk(ConfigSamples.Base).Director);
    }

    [Fact]
    public void DesignExample_ParsesIntoTheModel()
    {
        var config = LoadOk(ConfigSamples.DesignExample);

        Assert.Equal(ConfigSamples.File, config.SourcePath);
        Assert.Equal(
            new ClusterConfig("edge", "/etc/appliance/authkey", false, FencingMode.Required,
                new Timers(TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(600), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10))),
            config.Cluster);
        Assert.Equal(2, config.Nodes.Length);

        var alpha = config.Nodes[0];
        Assert.Equal("alpha", alpha.Name);
        Assert.Equal(100, alpha.Priority);
        Assert.Equal(
            new LinkConfig[]
            {
                new SerialLinkConfig("serial0", "/dev/ttyS1", 115200),
                new UdpLinkConfig("lan1", IPAddress.Parse("192.168.80.1"), IPAddress.Parse("192.168.80.2"), null, 694),
            },
            alpha.Links);
        Assert.Equal(new[] { "relay-alpha", "pdu" }, alpha.Fence.ToArray());

        var beta = config.Nodes[1];
        Assert.Equal("beta", beta.Name);
        Assert.Equal(90, beta.Priority);
        Assert.Equal(
            new LinkConfig[]
            {
                new SerialLinkConfig("serial0", "/dev/ttyS0", 115200),
                new UdpLinkConfig("lan1", IPAddress.Parse("192.168.80.2"), IPAddress.Parse("192.168.80.1"), null, 694),
            },
            beta.Links);
        Assert.Equal(new[] { "relay-beta", "pdu" }, beta.Fence.ToArray());

        Assert.Same(beta, config.PeerOf("alpha"));
        Assert.Same(alpha, config.FindNode("alpha"));
    }

    [Fact]
    public void BaseSample_WithMulticastLink_Parses()
    {
        var config = LoadOk(ConfigSamples.Base);
        var mc = Assert.IsType<UdpLinkConfig>(config.Nodes[1].Links[2]);
        Assert.Equal(new UdpLinkConfig("mc", IPAddress.Parse("10.1.0.2"), null, IPAddress.Parse("239.1.1.1"), 694), mc);
    }

    [Fact]
    public void LeftOutOptions_TakeTheirDefaults()
    {
        var config = LoadOk("""
            cluster: {name: edge, key_file: /k}
            nodes:
              - name: alpha
                links: [{name: s, kind: serial, device: /dev/ttyS1}]
              - name: beta
                links: [{name: s, kind: serial, device: /dev/ttyS1}]
            """);

        Assert.Equal(new ClusterConfig("edge", "/k", false, FencingMode.Required, Timers.Default), config.Cluster);
        Assert.All(config.Nodes, n =>
        {
            Assert.Equal(100, n.Priority);
            Assert.Empty(n.Fence);
            Assert.Equal(new SerialLinkConfig("s", "/dev/ttyS1", 115200), Assert.Single(n.Links));
        });
    }

    [Theory]
    [InlineData("1.5s", 1500)]
    [InlineData("2m", 120_000)]
    [InlineData("10.25s", 10_250)]
    [InlineData("1000ms", 1000)]
    [InlineData("\"3s\"", 3000)]
    public void Durations_AcceptUnitsAndDecimals(string written, int expectedMs)
    {
        var config = LoadOk($$$"""
            cluster: {name: edge, key_file: /k, timers: {initdead: {{{written}}}}}
            nodes:
              - {name: alpha, links: [{name: s, kind: serial, device: /dev/ttyS1}]}
              - {name: beta, links: [{name: s, kind: serial, device: /dev/ttyS1}]}
            """);
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), config.Cluster.Timers.Initdead);
    }

    [Fact]
    public void Ipv6Links_AndFencingOff_AndAutoFailback()
    {
        var config = LoadOk("""
            cluster: {name: edge, key_file: /k, fencing: off, auto_failback: true}
            nodes:
              - {name: alpha, priority: 0, links: [{name: v6, kind: udp, local: "fd00::1", peer: "fd00::2", port: 1}]}
              - {name: beta, priority: 255, links: [{name: v6, kind: udp, local: "fd00::2", peer: "fd00::1", port: 1}]}
            """);
        Assert.Equal(FencingMode.Off, config.Cluster.Fencing);
        Assert.True(config.Cluster.AutoFailback);
        Assert.Equal(new UdpLinkConfig("v6", IPAddress.Parse("fd00::1"), IPAddress.Parse("fd00::2"), null, 1), config.Nodes[0].Links[0]);
    }

    [Fact]
    public void Anchors_AndAliases_AreResolved()
    {
        var config = LoadOk("""
            cluster: {name: edge, key_file: /k}
            nodes:
              - {name: alpha, links: [&serial {name: s, kind: serial, device: /dev/ttyS1}], fence: &f [pdu]}
              - {name: beta, links: [*serial], fence: *f}
            fence_devices: [{name: pdu, kind: manual}]
            """);
        Assert.Equal(config.Nodes[0].Links.ToArray(), config.Nodes[1].Links.ToArray());
        Assert.Equal(new[] { "pdu" }, config.Nodes[1].Fence.ToArray());
    }

    [Fact]
    public void PositionOf_GivesWhereAnOptionWasWritten()
    {
        var result = ConfigLoader.Load(ConfigSamples.File, ConfigSamples.Base);
        Assert.Equal(new SourcePosition(3, 13), result.PositionOf(ConfigPaths.KeyFile));
        Assert.Equal(new SourcePosition(22, 47), result.PositionOf(ConfigPaths.Link(1, 0, "device")));
        Assert.Null(result.PositionOf("nodes[1].links[2].port")); // defaulted
        Assert.Equal("appliance.yaml:3:13: cluster.key_file: no such file", result.ErrorAt(ConfigPaths.KeyFile, "no such file").ToString());
        Assert.Equal("appliance.yaml:1:1: nodes[0].links[2].port: busy", result.ErrorAt("nodes[0].links[2].port", "busy").ToString());
    }

    [Fact]
    public void ConfigError_FormatsAsFileLineColumnMessage()
    {
        Assert.Equal("a.yaml:3:7: cluster.name: bad", new ConfigError("a.yaml", 3, 7, "cluster.name: bad").ToString());
    }

    [Fact]
    public void ManyErrors_AreCappedWithANote()
    {
        var yaml = "cluster: {name: edge, key_file: /k}\nnodes: []\n" +
                   string.Concat(Enumerable.Range(0, 300).Select(i => $"unknown{i}: 1\n"));
        var result = ConfigLoader.Load(ConfigSamples.File, yaml);
        Assert.Equal(ConfigLimits.MaxErrors + 1, result.Errors.Length);
        Assert.EndsWith($"too many errors; stopped after {ConfigLimits.MaxErrors}", result.Errors[^1].Message);
    }

    [Fact]
    public void DeepNesting_IsAnErrorNotAStackOverflow()
    {
        var yaml = "cluster: " + new string('[', 100_000) + new string(']', 100_000) + "\n";
        var result = ConfigLoader.Load(ConfigSamples.File, yaml);
        Assert.Equal(
            [$"appliance.yaml:1:73: nesting is deeper than {ConfigLimits.MaxNestingDepth} levels"],
            result.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void AliasBomb_IsCheap()
    {
        // Each level doubles the expanded size: 2^40 nodes if walked naively.
        var lines = new List<string> { "a0: &a0 [x, x]" };
        for (int i = 1; i <= 40; i++)
            lines.Add($"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]");
        lines.Add("cluster: {name: edge, key_file: /k}");
        lines.Add("nodes: [*a40, *a40]");
        var result = ConfigLoader.Load(ConfigSamples.File, string.Join("\n", lines));
        Assert.False(result.Ok);
        Assert.Contains(result.Errors, e => e.Message == "nodes[0]: expected a map for a node, got a list");
    }

    [Fact]
    public void OversizedText_IsRefusedBeforeParsing()
    {
        var result = ConfigLoader.Load(ConfigSamples.File, new string('#', ConfigLimits.MaxConfigChars + 1));
        Assert.Equal(
            [$"appliance.yaml:1:1: the file has {ConfigLimits.MaxConfigChars + 1} characters; a config is at most {ConfigLimits.MaxConfigChars}"],
            result.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void EveryTableOption_IsReachedByTheValidExample()
    {
        // Guards the table against an option that is declared but never read by the loader.
        var result = ConfigLoader.Load(ConfigSamples.File, ConfigSamples.Base);
        var written = new[]
        {
            "cluster.name", "cluster.key_file", "cluster.auto_failback", "cluster.fencing", "cluster.timers",
            "cluster.timers.keepalive", "cluster.timers.warntime", "cluster.timers.deadtime", "cluster.timers.initdead",
            "nodes", "nodes[0].name", "nodes[0].priority", "nodes[0].links", "nodes[0].fence",
            "nodes[0].links[0].name", "nodes[0].links[0].kind", "nodes[0].links[0].device", "nodes[0].links[0].baud",
            "nodes[0].links[1].local", "nodes[0].links[1].peer", "nodes[0].links[1].port", "nodes[0].links[2].group",
        };
        Assert.All(written, path => Assert.NotNull(result.PositionOf(path)));
    }

    [Fact]
    public void Duration_FormatIsTheShortestExactForm()
    {
        Assert.Equal("200ms", Duration.Format(TimeSpan.FromMilliseconds(200)));
        Assert.Equal("1500ms", Duration.Format(TimeSpan.FromMilliseconds(1500)));
        Assert.Equal("1s", Duration.Format(TimeSpan.FromSeconds(1)));
        Assert.Equal("60s", Duration.Format(TimeSpan.FromMinutes(1)));
        Assert.Equal("2m", Duration.Format(TimeSpan.FromMinutes(2)));
        Assert.Equal("0ms", Duration.Format(TimeSpan.Zero));
    }

    [Theory]
    [InlineData("keepalve", "keepalive")]
    [InlineData("keep", "keepalive")]
    [InlineData("keepalive_ms", "keepalive")]
    [InlineData("deadtim", "deadtime")]
    [InlineData("zzz", null)]
    public void Suggest_FindsCloseKeys(string typed, string? expected)
    {
        Assert.Equal(expected, Suggest.Closest(typed, ["keepalive", "warntime", "deadtime", "initdead"]));
    }
}
