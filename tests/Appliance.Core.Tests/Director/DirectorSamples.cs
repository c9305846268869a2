using System.Net;
using Appliance.Core.Config;
using Appliance.Core.Director;
using Appliance.Core.Tests.Config;

namespace Appliance.Core.Tests.Director;

/// <summary>Director configs for the compiler tests: the config base plus VIPs and one director section.</summary>
internal static class DirectorSamples
{
    /// <summary>Outside VIPs (v4, v6) and inside VIPs (v4, v6) used by every sample.</summary>
    public const string Resources = """
        resources:
          - {name: vip-web, kind: vip, address: 203.0.113.10/24, interface: eth0}
          - {name: vip-web6, kind: vip, address: 2001:db8::10/64, interface: eth0}
          - {name: gw-inside, kind: vip, address: 10.0.0.254/24, interface: eth1}
          - {name: gw-inside6, kind: vip, address: fd00:77::254/64, interface: eth1}

        """;

    /// <summary>Loads <paramref name="director"/> (a whole <c>director:</c> section) with the base config, or fails the test.</summary>
    public static ApplianceConfig Load(string director, string? clusterName = null)
    {
        string yaml = ConfigSamples.Base + Resources + director;
        if (clusterName is not null)
            yaml = yaml.Replace("  name: edge\n", $"  name: {clusterName}\n", StringComparison.Ordinal);
        var result = ConfigLoader.Load(ConfigSamples.File, yaml);
        Assert.True(result.Ok, string.Join("\n", result.Errors));
        return result.Config!;
    }

    public static DirectorPlan Plan(ApplianceConfig config, HealthView? health = null, DirectorPlan? previous = null) =>
        DirectorPlanner.Plan(config.Director!, config.Cluster.Name, health ?? HealthView.AsConfigured, previous);

    /// <summary>One tcp service on 203.0.113.10:80 with three real servers, nat, and the given extra lines.</summary>
    public static string Web(string scheduler, string weights = "1, 1, 1", string extra = "", string forwarding = "nat")
    {
        var w = weights.Split(", ");
        return $$"""
            director:
              inside_vips: [gw-inside, gw-inside6]
              services:
                - name: web
                  listen: 203.0.113.10:80/tcp
                  scheduler: {{scheduler}}
                  forwarding: {{forwarding}}
            {{extra}}      real_servers:
                    - {address: 10.0.0.11:8080, weight: {{w[0]}}}
                    - {address: 10.0.0.12:8080, weight: {{w[1]}}}
                    - {address: 10.0.0.13:8080, weight: {{w[2]}}}

            """;
    }

    public static IPEndPoint Ep(string text) => IPEndPoint.Parse(text);
}
