using System.Diagnostics;
using System.Text.RegularExpressions;
using Appliance.Integration.Tests.Edge;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Lab;

/// <summary>A lab whose resources add the real Dummy and IPaddr2 agents of Debian's resource-agents, and an exec resource.</summary>
public sealed class OcfLabFixture() : LabFixture("o",
    "--resource", "{name: dummy, kind: ocf, agent: heartbeat:Dummy}",
    "--resource", "{name: vip2, kind: ocf, agent: \"heartbeat:IPaddr2\", params: [ip=192.168.80.20, cidr_netmask=24, nic=eth0]}",
    "--resource", "{name: stamp, kind: exec, start: \"true\", stop: \"true\"}");

[Collection("lab")]
public sealed class OcfResourceTests(OcfLabFixture fixture, ITestOutputHelper output) : IClassFixture<OcfLabFixture>
{
    private Lab L => fixture.Lab;

    private string Addresses(string node)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true };
        foreach (var a in new[] { "-n", L.Env[$"NS_{node}"], "-o", "-4", "addr", "show", "dev", "eth0" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return text;
    }

    private string[] States(string node) => L.Status(node)!.Value.GetProperty("resources").EnumerateArray()
        .Select(r => $"{r.GetProperty("name").GetString()}={r.GetProperty("state").GetString()}").ToArray();

    [RootFact]
    public void Real_Dummy_and_IPaddr2_agents_start_in_order_on_the_active_node_and_stop_in_reverse_on_switchover()
    {
        Lab.WaitUntil(() => States("alpha").All(s => s.EndsWith("=started")) || States("beta").All(s => s.EndsWith("=started")),
            TimeSpan.FromSeconds(10), "one node has every resource started");
        string active = States("alpha").All(s => s.EndsWith("=started")) ? "alpha" : "beta";
        string standby = active == "alpha" ? "beta" : "alpha";
        Assert.Contains(" 192.168.80.20/24 ", Addresses(active));
        Assert.DoesNotContain(" 192.168.80.20/24 ", Addresses(standby));

        L.Must("ctl", active, "standby");
        Lab.WaitUntil(() => States(standby).All(s => s.EndsWith("=started")), TimeSpan.FromSeconds(10), $"{standby} starts everything");
        Assert.All(States(active), s => Assert.EndsWith("=stopped", s));
        Assert.Contains(" 192.168.80.20/24 ", Addresses(standby));
        Assert.DoesNotContain(" 192.168.80.20/24 ", Addresses(active));

        // The order, from the releasing node's log: stop in reverse of the config order.
        var stops = Regex.Matches(L.Log(active), @"resource stop (\w+) \((\w+)\): done").Select(m => m.Groups[1].Value).TakeLast(4).ToArray();
        output.WriteLine($"{active} stopped: {string.Join(", ", stops)}; {standby} started: " +
            string.Join(", ", Regex.Matches(L.Log(standby), @"resource start (\w+) \((\w+)\): done in (\d+)ms").TakeLast(4).Select(m => $"{m.Groups[1].Value} ({m.Groups[3].Value} ms)")));
        Assert.Equal(new[] { "stamp", "vip2", "dummy", "vip" }, stops);
    }
}
