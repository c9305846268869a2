using System.Text.RegularExpressions;
using Appliance.Integration.Tests.Edge;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Lab;

/// <summary>A lab of its own for the reload tests (they rewrite its config): fast timers, fencing off.</summary>
public sealed class DirectorReloadLabFixture : LabFixture
{
    public DirectorReloadLabFixture() : base("rl", "--keepalive", "50ms", "--deadtime", "250ms")
    {
        if (Environment.IsPrivilegedProcess)
            Original = File.ReadAllText(Lab.Env["CONFIG"]);
    }

    /// <summary>The config as `lab up` wrote it; every test starts from it and puts it back.</summary>
    public string Original { get; } = "";
}

/// <summary>
/// The config reload on the real pair (issue 9 parts 5 and 7): `lab reload` after editing the lab's
/// config file. wrr weights set by a reload hold within 2 % over 600 connections; sh sends each of
/// many client sources to one server, the same on alpha and beta and across reloads; a held
/// connection survives reloads that change weights and add a server; a bad file is refused with
/// file:line:col and changes nothing in either kernel.
/// </summary>
[Collection("lab")]
public sealed class DirectorReloadLabTests : IClassFixture<DirectorReloadLabFixture>, IDisposable
{
    private readonly DirectorReloadLabFixture _fixture;
    private readonly ITestOutputHelper _output;
    private readonly string _base;

    public DirectorReloadLabTests(DirectorReloadLabFixture fixture, ITestOutputHelper output)
    {
        _fixture = fixture;
        _output = output;
        _base = fixture.Original;
        if (Environment.IsPrivilegedProcess)
        {
            File.WriteAllText(ConfigPath, _base);
            Reload();
            FencingLab.Wait(L, () => FencingLab.Holder(L) is not null, TimeSpan.FromSeconds(15), "one node holds the VIP");
        }
    }

    public void Dispose()
    {
        if (!Environment.IsPrivilegedProcess)
            return;
        File.WriteAllText(ConfigPath, _base);
        L.Run("reload");
    }

    private Lab L => _fixture.Lab;

    private string ConfigPath => L.Env["CONFIG"];

    private string Endpoint(string server) => $"{L.Env[$"ADDR_{server}"]}:{L.Env["RS_PORT"]}";

    /// <summary>The lab's config with the service's scheduler, the weights of rs1..rs3 (null: as generated) and without the servers in <paramref name="without"/>.</summary>
    private string Config(string scheduler, int?[]? weights = null, params string[] without)
    {
        string text = Regex.Replace(_base, @"(?m)^(\s+scheduler: )\w+$", "${1}" + scheduler);
        string[] servers = L.Env["REAL_SERVERS"].Split(' ');
        for (int i = 0; i < servers.Length; i++)
        {
            string line = $"        - {{address: {Endpoint(servers[i])}}}\n";
            Assert.Contains(line, text);
            string replacement = without.Contains(servers[i]) ? ""
                : weights?[i] is int w ? $"        - {{address: {Endpoint(servers[i])}, weight: {w}}}\n" : line;
            text = text.Replace(line, replacement, StringComparison.Ordinal);
        }
        return text;
    }

    /// <summary>`lab reload` on both nodes; both must apply it. Returns its output (each node's answer).</summary>
    private string Reload(string? config = null)
    {
        if (config is not null)
            File.WriteAllText(ConfigPath, config);
        var r = L.Run("reload");
        _output.WriteLine($"lab reload: {r.Out.Trim()}{r.Err.Trim()}");
        Assert.True(r.Exit == 0, $"lab reload failed ({r.Exit}): {r.Out}{r.Err}");
        return r.Out;
    }

    /// <summary>`lab client spread N [--sources K]`: counts per server and, with sources, the servers per source address.</summary>
    private (Dictionary<string, int> Counts, Dictionary<string, Dictionary<string, int>> BySource) Spread(int n, int sources = 0)
    {
        var args = sources == 0 ? new[] { "client", "spread", n.ToString() } : ["client", "spread", n.ToString(), "--sources", sources.ToString()];
        var r = L.Run(args, TimeSpan.FromSeconds(120));
        var counts = new Dictionary<string, int>();
        var bySource = new Dictionary<string, Dictionary<string, int>>();
        foreach (var line in r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var p = line.Split(' ');
            if (p[0] == "source")
            {
                if (!bySource.TryGetValue(p[1], out var servers))
                    bySource[p[1]] = servers = [];
                servers[p[2]] = int.Parse(p[3]);
            }
            else
            {
                counts[p[0]] = int.Parse(p[1].Trim('(', ')'));
            }
        }
        _output.WriteLine($"spread {n}{(sources > 0 ? $" over {sources} sources" : "")}: {string.Join(", ", counts.OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Value}"))} {r.Err.Trim()}");
        return (counts, bySource);
    }

    /// <summary>Each source's one server; fails if any source reached two.</summary>
    private Dictionary<string, string> SourceMap(int n, int sources)
    {
        var (counts, bySource) = Spread(n, sources);
        Assert.False(counts.ContainsKey("failed"), "some connections got no answer");
        Assert.Equal(sources, bySource.Count);
        foreach (var (source, servers) in bySource)
            Assert.True(servers.Count == 1, $"source {source} reached {string.Join(", ", servers.Keys)}: sh must give a source one server");
        return bySource.ToDictionary(kv => kv.Key, kv => kv.Value.Keys.Single());
    }

    [RootFact]
    public void Wrr_weights_1_2_3_set_by_a_reload_hold_within_2_percent_over_600_connections()
    {
        string reply = Reload(Config("wrr", [1, 2, 3]));
        var ms = Regex.Matches(reply, @"kernel ([0-9.]+) ms, reload ([0-9.]+) ms");
        Assert.Equal(2, ms.Count); // both nodes applied it
        foreach (Match m in ms)
            _output.WriteLine($"measured: reload applied in {m.Groups[2].Value} ms (kernel {m.Groups[1].Value} ms)");
        var (counts, _) = Spread(600);
        Assert.False(counts.ContainsKey("failed"));
        var weights = new Dictionary<string, int> { ["rs1"] = 1, ["rs2"] = 2, ["rs3"] = 3 };
        foreach (var (server, weight) in weights)
        {
            double share = counts.GetValueOrDefault(server) / 600.0, want = weight / 6.0;
            _output.WriteLine($"{server}: {counts.GetValueOrDefault(server)} of 600 = {share:P2}, weight share {want:P2}");
            Assert.InRange(share, want - 0.02, want + 0.02);
        }
    }

    [RootFact]
    public void Sh_sends_each_source_to_one_server_on_alpha_and_on_beta_and_across_reloads()
    {
        Reload(Config("sh"));
        const int Sources = 40, N = 120;
        var first = SourceMap(N, Sources);
        Assert.True(first.Values.Distinct().Count() >= 2, "40 sources all hashed to one server: no spread to compare");

        // A reload of the same file, then one without rs3 and one with it again: the seed and slots
        // come from the config alone, so the map comes back exactly.
        Reload();
        Assert.Equal(first, SourceMap(N, Sources));
        Reload(Config("sh", without: "rs3"));
        var withoutRs3 = SourceMap(N, Sources);
        Assert.DoesNotContain("rs3", withoutRs3.Values);
        Reload(Config("sh"));
        Assert.Equal(first, SourceMap(N, Sources));

        // A switchover: the other node maps every source to the same server.
        string active = FencingLab.Holder(L)!, other = FencingLab.Other(active);
        try
        {
            L.Must("ctl", active, "standby");
            FencingLab.Wait(L, () => L.KernelHoldsVip(other) && !L.KernelHoldsVip(active), TimeSpan.FromSeconds(15), $"{other} holds the VIP");
            FencingLab.Wait(L, () => !Spread(3).Counts.ContainsKey("failed"), TimeSpan.FromSeconds(10), "the service answers on the new active");
            Assert.Equal(first, SourceMap(N, Sources));
        }
        finally
        {
            // Back (and the standby request cleared): the original node maps them the same again.
            L.Run("ctl", active, "takeover", "--force");
            FencingLab.Wait(L, () => L.KernelHoldsVip(active), TimeSpan.FromSeconds(15), $"{active} holds the VIP again");
        }
        FencingLab.Wait(L, () => !Spread(3).Counts.ContainsKey("failed"), TimeSpan.FromSeconds(10), "the service answers after the switch back");
        Assert.Equal(first, SourceMap(N, Sources));
    }

    [RootFact]
    public void A_held_connection_survives_reloads_that_change_a_weight_and_add_a_server()
    {
        Reload(Config("wrr", without: "rs3"));
        using var hold = L.Start("client", "hold", "8");
        string firstLine = hold.StandardOutput.ReadLine() ?? "";
        var m = Regex.Match(firstLine, @"^connected (\w+)$");
        Assert.True(m.Success, $"client hold began with '{firstLine}': {hold.StandardError.ReadToEnd()}");
        string held = m.Groups[1].Value;
        try
        {
            Thread.Sleep(1000);
            Reload(Config("wrr", [held == "rs1" ? 3 : 1, held == "rs2" ? 3 : 1, null], "rs3")); // the held server's weight
            Thread.Sleep(1000);
            string added = Reload(Config("wrr", [held == "rs1" ? 3 : 1, held == "rs2" ? 3 : 1, 2])); // rs3 joins
            Assert.Contains($"real_servers[{Endpoint("rs3")}]: added (weight 2)", added);
            var (counts, _) = Spread(12);
            Assert.True(counts.GetValueOrDefault("rs3") > 0, "rs3 takes new connections after the reload that added it");

            string rest = hold.StandardOutput.ReadToEnd();
            Assert.True(hold.WaitForExit(TimeSpan.FromSeconds(20)), "client hold did not end");
            _output.WriteLine($"held connection to {held} across two reloads: {rest.Trim()}");
            Assert.Equal(0, hold.ExitCode);
            Assert.Matches($@"server={held} sent=80 ok=80 bad=0 ", rest);
        }
        finally
        {
            if (!hold.HasExited)
                hold.Kill(entireProcessTree: true);
        }
    }

    [RootFact]
    public void A_bad_file_is_refused_with_file_line_col_and_changes_nothing_in_either_kernel()
    {
        string Table(string node) => Edge.Edge.Run("ip", "netns", "exec", L.Env[$"NS_{node}"], "nft", "list", "table", "inet", "appliance");
        long Generation(string node) => System.Text.Json.JsonDocument.Parse(L.Run("ctl", node, "services", "--json").Out).RootElement.GetProperty("generation").GetInt64();
        var before = new[] { "alpha", "beta" }.ToDictionary(n => n, n => (Table: Table(n), Generation: Generation(n)));
        Assert.All(before.Values, b => Assert.Contains("svc_web", b.Table));

        string bad = Config("wrr", [1, 2, 3]).Replace("scheduler: wrr", "scheduler: fastest", StringComparison.Ordinal);
        File.WriteAllText(ConfigPath, bad);
        int line = bad[..bad.IndexOf("scheduler: fastest", StringComparison.Ordinal)].Count(c => c == '\n') + 1;
        var r = L.Run("reload");
        _output.WriteLine(r.Out + r.Err);
        Assert.Equal(1, r.Exit);
        foreach (string node in new[] { "alpha", "beta" })
        {
            Assert.Matches($@"(?m)^{node}: .*{Regex.Escape(ConfigPath)}:{line}:\d+: director\.services\[0\]\.scheduler", r.Out);
            Assert.Equal(before[node].Table, Table(node));
            Assert.Equal(before[node].Generation, Generation(node));
            var config = L.Status(node)!.Value.GetProperty("config");
            Assert.True(config.GetProperty("differs_from_file").GetBoolean());
        }
        // The running rr still balances: 3 connections, one each.
        Assert.Equal(new Dictionary<string, int> { ["rs1"] = 1, ["rs2"] = 1, ["rs3"] = 1 }, Spread(3).Counts);
    }
}
