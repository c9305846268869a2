using System.Net;
using System.Runtime.CompilerServices;
using Appliance.Core.Arbiter;
using Appliance.Core.Config;
using Appliance.Core.Director;
using Appliance.Core.Heartbeat;
using Appliance.Core.Node;

namespace Appliance.Core.Tests.Director;

/// <summary>Connection sync: conntrackd's generated config, and the takeover's order: table, VIPs, commit.</summary>
public class ConntrackSyncTests
{
    private static string Golden([CallerFilePath] string here = "") => Path.Combine(Path.GetDirectoryName(here)!, "Golden", "conntrackd.conf");

    private static readonly ConntrackSyncConfig Sync = new("eth2", IPAddress.Parse("10.99.0.1"), IPAddress.Parse("10.99.0.2"), 3780);

    [Fact]
    public void The_config_matches_the_golden_file_and_does_not_ignore_the_vips()
    {
        string text = ConntrackdConfig.Render(Sync, "/var/lib/appliance");
        if (Environment.GetEnvironmentVariable("APPLIANCE_UPDATE_GOLDEN") == "1")
            File.WriteAllText(Golden(), text);
        Assert.Equal(File.ReadAllText(Golden()), text);
        Assert.Contains("Mode FTFW", text);
        Assert.Contains("IPv4_Destination_Address 10.99.0.2", text);
        Assert.Contains("IPv4_address 10.99.0.0/24", text); // the sync link itself is ignored
        Assert.DoesNotContain("203.0.113.10", text);
    }

    [Fact]
    public void The_second_node_swaps_local_and_peer_of_the_one_config_file()
    {
        Assert.Equal(Sync, NodeResources.ForNode(Sync, 0));
        var beta = NodeResources.ForNode(Sync, 1);
        Assert.Equal((IPAddress.Parse("10.99.0.2"), IPAddress.Parse("10.99.0.1")), (beta.Local, beta.Peer));
        Assert.Contains("IPv4_Destination_Address 10.99.0.1", ConntrackdConfig.Render(beta, "/var/lib/appliance"));
    }

    [Fact]
    public void A_state_directory_conntrackd_cannot_parse_is_refused()
    {
        Assert.Throws<ArgumentException>(() => ConntrackdConfig.Render(Sync, "/var/lib/my appliance"));
    }

    private static ApplianceConfig WithSync() => DirectorSamples.Load(DirectorSamples.Web("rr").Replace(
        "  inside_vips: [gw-inside, gw-inside6]\n", "  inside_vips: [gw-inside, gw-inside6]\n  sync: {interface: eth2, local: 10.99.0.1, peer: 10.99.0.2}\n", StringComparison.Ordinal));

    [Fact]
    public void The_sync_resource_starts_first_with_the_table_commits_after_every_vip_and_stops_last()
    {
        var config = WithSync();
        Assert.NotNull(config.Director!.Sync);
        var resources = NodeResources.Of(config);
        Assert.Equal(ConntrackSyncResourceConfig.ResourceName, resources[0].Name);
        Assert.Equal(config.Resources.Length + 1, resources.Length);
        Assert.Equal(config.Resources.AsEnumerable(), resources.Skip(1));
        Assert.Equal(config.Resources.AsEnumerable(), NodeResources.Of(config with { Director = config.Director with { Sync = null } }));

        var s = new ResourceSequencer([.. resources.Select(ResourceSpec.From)]);
        var outbox = new List<NodeCommand>();
        var now = TimeSpan.FromSeconds(5);
        void Drive(ArbiterAction want, NodeRole role, List<(int, ResourceVerb)> order)
        {
            s.Want(want, role);
            for (int guard = 0; guard < 100; guard++)
            {
                s.Advance(now, outbox);
                if (outbox.Count == 0)
                    return;
                var r = Assert.IsType<RunResource>(Assert.Single(outbox));
                outbox.Clear();
                order.Add((r.Index, r.Verb));
                if (r.Verb == ResourceVerb.Finish)
                    Assert.Equal(LocalResources.Starting, s.Aggregate); // not held until the commit is in
                s.Done(now, r.Index, r.Verb, Appliance.Core.Ports.ResourceOutcome.Done());
            }
        }
        Drive(ArbiterAction.None, NodeRole.Starting, []);
        var starts = new List<(int, ResourceVerb)>();
        Drive(ArbiterAction.StartResources, NodeRole.Takeover, starts);
        // The table (the sync resource's start), every VIP, then the commit (its finish).
        Assert.Equal([.. Enumerable.Range(0, resources.Length).Select(i => (i, ResourceVerb.Start)), (0, ResourceVerb.Finish)], starts);
        Assert.Equal(LocalResources.Started, s.Aggregate);
        Assert.Equal(ConntrackSyncResourceConfig.CommitTimeout, ResourceSpec.From(resources[0]).Timeout);
        Assert.True(ResourceSpec.From(resources[0]).FinishesLast);
        Assert.All(resources.Skip(1), r => Assert.False(ResourceSpec.From(r).FinishesLast));
        var stops = new List<(int, ResourceVerb)>();
        Drive(ArbiterAction.StopResources, NodeRole.Releasing, stops);
        Assert.Equal(Enumerable.Range(0, resources.Length).Reverse().Select(i => (i, ResourceVerb.Stop)), stops);
    }
}
