using System.Diagnostics;
using System.Text.RegularExpressions;
using Appliance.Integration.Tests.Edge;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Lab;

/// <summary>
/// The lab at the fastest recommended timers (README, Timers below 20 ms): keepalive 5 ms, deadtime
/// 30 ms, the serial cable at 460800 baud, which carries a frame every 5 ms, so both links run at the
/// cluster's cadence. Idle for 60 s, neither node may declare the other dead. This host stops a vCPU,
/// or the whole VM, for 20-35 ms about once a minute: a node's own lateness does not count as the
/// peer's silence (Membership.CheckStall, AckIsFresh), the heartbeat's watcher thread runs the loop
/// from another CPU while the heartbeat thread's CPU is stopped (HeartbeatRescue), and a freeze of both nodes longer than
/// deadtime stalls both alike: the active's stall guard asks and the standby answers that it stayed.
/// 3ms/15ms fails over faster (README) but had 1-3 false deaths or VIP moves in every 600 s window of full load here.
/// </summary>
public sealed class FastLabFixture() : LabFixture("f", "--keepalive", "5ms", "--deadtime", "30ms", "--baud", "460800");

[Collection("lab")]
public sealed class FastTimersLabTests(FastLabFixture fixture, ITestOutputHelper output) : IClassFixture<FastLabFixture>
{
    private static readonly TimeSpan Keepalive = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan Deadtime = TimeSpan.FromMilliseconds(30);

    private Lab L => fixture.Lab;

    private static readonly string[] Nodes = ["alpha", "beta"];

    private static int Count(string log, string pattern) => Regex.Matches(log, pattern).Count;

    [RootFact]
    public void Sixty_idle_seconds_at_5ms_30ms_bring_no_false_dead_and_every_link_keeps_the_cluster_cadence()
    {
        L.WaitBothUp(TimeSpan.FromSeconds(10));
        foreach (var node in Nodes)
        {
            var links = L.Status(node)!.Value.GetProperty("peer").GetProperty("links");
            foreach (var link in links.EnumerateArray())
                Assert.Equal(5, link.GetProperty("keepalive_ms").GetInt64()); // 460800 baud carries 5 ms
        }
        var before = Nodes.ToDictionary(n => n, n => (Dead: Count(L.Log(n), @"peer \w+ dead"), Late: Count(L.Log(n), @"peer \w+ late")));
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(60))
        {
            foreach (var node in Nodes)
                Assert.NotEqual("dead", L.PeerState(node)); // "late" (warn) is allowed; the logs are counted below too
            Thread.Sleep(500);
        }
        foreach (var node in Nodes)
        {
            string log = L.Log(node);
            var hb = L.Status(node)!.Value.GetProperty("heartbeat");
            output.WriteLine($"{node}: worst send gap {hb.GetProperty("worst_send_gap_us").GetInt64()} us over the lab's life; " +
                $"late {Count(log, @"peer \w+ late") - before[node].Late}, dead {Count(log, @"peer \w+ dead") - before[node].Dead} in 60 s");
            Assert.Equal(before[node].Dead, Count(log, @"peer \w+ dead"));
        }
    }

    [RootFact]
    public void Cutting_all_links_is_detected_within_deadtime_and_two_keepalives()
    {
        L.WaitBothUp(TimeSpan.FromSeconds(10));
        // A node that stalled within the last grace window judges against twice deadtime
        // (Membership.StallGraceWindow); if one stalls between this wait and the cut, it is held to that.
        L.WaitOutStallGrace();
        int[] stallsBefore = [.. Nodes.Select(n => Count(L.Log(n), "STALL GUARD"))];
        int[] deadBefore = [.. Nodes.Select(n => Regex.Matches(L.Log(n), @"peer \w+ dead: silent for").Count)];
        try
        {
            L.Must("cut", "all");
            Lab.WaitUntil(() => Nodes.All(n => L.PeerState(n) == "dead"), TimeSpan.FromSeconds(3), "both nodes declare the peer dead");
            bool[] inGrace = [.. Nodes.Select((n, i) => Count(L.Log(n), "STALL GUARD") > stallsBefore[i])];
            for (int i = 0; i < Nodes.Length; i++)
            {
                // The daemon's own measure: from the last frame it heard (at or before the cut) to the
                // instant it declared the peer dead. So detection after the cut is at most this.
                var m = Regex.Matches(L.Log(Nodes[i]), @"peer \w+ dead: silent for (\d+(?:\.\d+)?)ms");
                Assert.True(m.Count > deadBefore[i], $"{Nodes[i]} logged no death");
                double silentMs = double.Parse(m[^1].Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                var judged = inGrace[i] ? 2 * Deadtime : Deadtime;
                output.WriteLine($"{Nodes[i]}: peer dead after {silentMs} ms of silence (deadtime {Deadtime.TotalMilliseconds} ms, keepalive {Keepalive.TotalMilliseconds} ms{(inGrace[i] ? ", in a stall's grace" : "")})");
                Assert.InRange(silentMs, Deadtime.TotalMilliseconds, (judged + 2 * Keepalive).TotalMilliseconds);
            }
        }
        finally
        {
            L.Must("heal", "all");
            L.WaitBothUp(TimeSpan.FromSeconds(10));
        }
    }
}
