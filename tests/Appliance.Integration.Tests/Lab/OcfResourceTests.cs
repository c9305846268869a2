using System.Diagnostics;
using System.Text.RegularExpressions;
using Appliance.Integration.Tests.Edge;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Lab;

/// <summary>A lab whose resources add the real Dummy and IPaddr2 agents of Debian's resource-agents, and an exec resource.</summary>
public sealed class OcfLabFixture() : LabFixture("o",
    "--resource", "{name: dummy, kind: ocf, agent: heartbeat:Dummy, monitor_interval: 300ms}",
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

    [RootFact]
    public void A_resource_that_dies_is_found_by_its_monitor_and_restarted_in_place()
    {
        Lab.WaitUntil(() => States("alpha").All(s => s.EndsWith("=started")) || States("beta").All(s => s.EndsWith("=started")),
            TimeSpan.FromSeconds(10), "one node has every resource started");
        string active = States("alpha").All(s => s.EndsWith("=started")) ? "alpha" : "beta";
        // Dummy is "running" while its state file exists (resource-agents' Dummy, HA_RSCTMP=/run/resource-agents).
        const string state = "/run/resource-agents/Dummy-dummy.state";
        Assert.True(File.Exists(state), $"{state} missing: is Dummy started?");
        int before = Regex.Matches(L.Log(active), "resource dummy failed its monitor").Count;
        var sw = Stopwatch.StartNew();
        File.Delete(state);
        Lab.WaitUntil(() => Regex.Matches(L.Log(active), "resource dummy failed its monitor").Count > before && File.Exists(state),
            TimeSpan.FromSeconds(5), "the monitor finds it dead and the restart brings it back");
        output.WriteLine($"Dummy killed; found by its monitor and restarted on {active} within {sw.ElapsedMilliseconds} ms");
        Assert.Contains("OCF_NOT_RUNNING", L.Log(active));
        Lab.WaitUntil(() => States(active).All(s => s.EndsWith("=started")), TimeSpan.FromSeconds(5), "every resource started again");
        Assert.Contains("restarted after its monitor failed", L.Status(active)!.Value.GetProperty("resources").ToString());
        Assert.Equal("active", L.Status(active)!.Value.GetProperty("role").GetString()); // restarted in place, no switchover
    }
}
