using Appliance.Integration.Tests.Edge;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Lab;

/// <summary>The director's lab: fencing required by relay, fast timers (as the fencing tests).</summary>
public sealed class DirectorLabFixture() : LabFixture("d", FencingLab.With("relay"));

/// <summary>
/// The NAT director on the real pair (issue 9 part 6): the lab's service web on the VIP, port 80,
/// rr over rs1..rs3 behind the inside gateway VIP. Exact rotation, drain with a held connection,
/// and balancing that still works after the active node loses power.
/// </summary>
[Collection("lab")]
public sealed class DirectorLabTests(DirectorLabFixture fixture, ITestOutputHelper output) : IClassFixture<DirectorLabFixture>
{
    private Lab L => fixture.Lab;

    private string[] RealServers => L.Env["REAL_SERVERS"].Split(' ');

    private string Endpoint(string server) => $"{L.Env[$"ADDR_{server}"]}:{L.Env["RS_PORT"]}";

    /// <summary>`lab client spread N`: who answered, by name ("failed" for connections nobody answered).</summary>
    private Dictionary<string, int> Spread(int n)
    {
        var r = L.Run("client", "spread", n.ToString());
        output.WriteLine($"spread {n}: {r.Out.Trim().Replace('\n', ',')}{r.Err.Trim()}");
        return r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')).ToDictionary(p => p[0], p => int.Parse(p[1]));
    }

    /// <summary>Both nodes powered and up, one holding the VIPs, every real server running, nothing drained.</summary>
    private string Ready()
    {
        FencingLab.Restore(L);
        foreach (var rs in RealServers)
        {
            L.Must("rs", "start", rs);
            L.Must("rs", "heal", rs);
            foreach (var n in new[] { "alpha", "beta" })
                L.Run("ctl", n, "undrain", L.Env["SERVICE_NAME"], Endpoint(rs));
        }
        return FencingLab.Holder(L)!;
    }

    [RootFact]
    public void Round_robin_rotates_exactly_over_the_three_real_servers()
    {
        Ready();
        var spread = Spread(30);
        Assert.Equal(new Dictionary<string, int> { ["rs1"] = 10, ["rs2"] = 10, ["rs3"] = 10 }, spread);
    }

    [RootFact]
    public void Drain_takes_a_server_out_of_new_connections_while_a_held_connection_to_it_keeps_working()
    {
        string active = Ready();
        using var hold = L.Start("client", "hold", "6");
        string first = hold.StandardOutput.ReadLine() ?? "";
        var m = Regex.Match(first, @"^connected (\w+)$");
        // Not an Assert with stderr in its message: the message is built first, and reading stderr to its
        // end waits for the hold to finish, so the drain below came after the hold and proved nothing.
        if (!m.Success)
            throw new Xunit.Sdk.XunitException($"client hold began with '{first}': {hold.StandardError.ReadToEnd()}");
        string held = m.Groups[1].Value;
        try
        {
            // The standby gets the same operator state, so a takeover would not undo the drain.
            foreach (var n in new[] { active, FencingLab.Other(active) })
                L.Must("ctl", n, "drain", L.Env["SERVICE_NAME"], Endpoint(held));
            var spread = Spread(30);
            Assert.False(spread.ContainsKey(held), $"{held} is drained but answered new connections");
            Assert.Equal(RealServers.Where(r => r != held).ToDictionary(r => r, _ => 15), spread);

            string rest = hold.StandardOutput.ReadToEnd();
            Assert.True(hold.WaitForExit(TimeSpan.FromSeconds(20)), "client hold did not end");
            output.WriteLine($"held connection to {held}: {rest.Trim()}");
            Assert.Equal(0, hold.ExitCode);
            Assert.Matches($@"server={held} sent=60 ok=60 bad=0 ", rest);
        }
        finally
        {
            if (!hold.HasExited)
                hold.Kill(entireProcessTree: true);
            foreach (var n in new[] { "alpha", "beta" })
                L.Run("ctl", n, "undrain", L.Env["SERVICE_NAME"], Endpoint(held));
        }
        Assert.Equal(new Dictionary<string, int> { ["rs1"] = 1, ["rs2"] = 1, ["rs3"] = 1 }, Spread(3));
    }

    [RootFact]
    public void After_the_active_loses_power_the_new_active_balances_over_the_real_servers()
    {
        string active = Ready();
        string other = FencingLab.Other(active);
        Assert.Equal(new Dictionary<string, int> { ["rs1"] = 2, ["rs2"] = 2, ["rs3"] = 2 }, Spread(6));
        try
        {
            L.Must("power", "off", active);
            var took = FencingLab.Wait(L, () => L.KernelHoldsVip(other), TimeSpan.FromSeconds(15), $"{other} holds the VIP");
            output.WriteLine($"{other} held the VIP {took.TotalMilliseconds:0} ms after {active} lost power");
            // The inside gateway moved with it: the real servers' answers come back through the new active.
            FencingLab.Wait(L, () => Spread(3) is { Count: 3 } s && !s.ContainsKey("failed"), TimeSpan.FromSeconds(10), "new connections reach all three real servers");
            var spread = Spread(30);
            Assert.Equal(new Dictionary<string, int> { ["rs1"] = 10, ["rs2"] = 10, ["rs3"] = 10 }, spread);
        }
        finally
        {
            FencingLab.Restore(L);
        }
    }

    [RootFact]
    public void A_stopped_real_server_leaves_the_rotation_and_comes_back_when_started()
    {
        Ready();
        L.Must("rs", "stop", "rs2");
        try
        {
            FencingLab.Wait(L, () => !Spread(6).ContainsKey("failed"), TimeSpan.FromSeconds(5), "rs2 taken out by its check");
            Assert.Equal(new Dictionary<string, int> { ["rs1"] = 15, ["rs3"] = 15 }, Spread(30));
        }
        finally
        {
            L.Must("rs", "start", "rs2");
        }
        FencingLab.Wait(L, () => Spread(3) is { Count: 3 } s && !s.ContainsKey("failed"), TimeSpan.FromSeconds(5), "rs2 back in the rotation");
    }
}
