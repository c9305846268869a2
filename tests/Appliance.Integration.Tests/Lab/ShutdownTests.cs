using System.Diagnostics;
using Appliance.Integration.Tests.Edge;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Lab;

/// <summary>
/// SIGTERM is a planned switchover (issue 8, DESIGN.md section 3), with fencing required: the active
/// node hands the VIP over with no gap beyond stop/start and holds nothing after; a standby that
/// stops is shown `stopped` by its peer and is not fenced; started again, it is met again.
/// </summary>
[Collection("lab")]
public sealed class ShutdownTests(RelayLabFixture fixture, ITestOutputHelper output) : IClassFixture<RelayLabFixture>
{
    private Lab L => fixture.Lab;

    private TimeSpan Deadtime => TimeSpan.FromMilliseconds(
        L.Status("alpha")!.Value.GetProperty("timers").GetProperty("deadtime_ms").GetInt64());

    private void StartAgain(string node)
    {
        if (L.Status(node) is null)
            L.Must("start", node);
        FencingLab.Restore(L);
    }

    [RootFact]
    public void Sigterm_of_the_active_node_moves_the_vip_like_a_switchover_and_fences_nobody()
    {
        FencingLab.Restore(L);
        string active = FencingLab.Holder(L)!, standby = FencingLab.Other(active);
        int fencesBefore = FencingLab.History(L, standby).Length;
        var deadtime = Deadtime;
        try
        {
            var stop = Task.Run(() => L.Run("stop", active));
            // Sample who holds the VIP: never both, and the time neither does is the switchover's gap.
            var sw = Stopwatch.StartNew();
            TimeSpan? lostAt = null, gainedAt = null;
            int both = 0, samples = 0;
            while (sw.Elapsed < TimeSpan.FromSeconds(10) && gainedAt is null)
            {
                // The standby first: the leaver only ever drops the VIP here, so if it still holds it when
                // read after the standby was seen holding it, they truly overlapped (the other order
                // would count a handover that happens between the two reads).
                bool s = L.KernelHoldsVip(standby), a = L.KernelHoldsVip(active);
                samples++;
                if (a && s)
                    both++;
                if (!a && lostAt is null)
                    lostAt = sw.Elapsed;
                if (s && gainedAt is null)
                    gainedAt = sw.Elapsed;
            }
            var (exit, outText, err) = stop.GetAwaiter().GetResult();
            Assert.True(exit == 0, $"lab stop {active}: {outText}{err}");
            Assert.True(both == 0, $"both nodes held the VIP in {both} of {samples} samples");
            Assert.True(lostAt is not null && gainedAt is not null, $"the VIP did not move to {standby} within 10 s");
            var gap = gainedAt!.Value - lostAt!.Value;
            output.WriteLine($"SIGTERM of {active}: the VIP left it at +{lostAt.Value.TotalMilliseconds:F1} ms and was on {standby} " +
                $"at +{gainedAt.Value.TotalMilliseconds:F1} ms: a gap of {gap.TotalMilliseconds:F1} ms ({samples} samples; deadtime {deadtime.TotalMilliseconds:F0} ms)");
            // A failover could not be faster than deadtime plus a fence; a switchover is a stop and a start.
            Assert.True(gap < deadtime, $"the gap {gap.TotalMilliseconds:F0} ms is that of a failover, not of a switchover");

            FencingLab.Wait(L, () => L.Status(standby)?.GetProperty("role").GetString() == "active", TimeSpan.FromSeconds(5), $"{standby} active");
            Assert.Equal("stopped", L.PeerState(standby));
            Thread.Sleep(deadtime * 2); // long past the point where a dead peer would have been fenced
            Assert.Equal("on", L.Power(active));
            Assert.False(L.KernelHoldsVip(active), $"{active} still holds the VIP after it stopped");
            Assert.Equal(fencesBefore, FencingLab.History(L, standby).Length);
            Assert.Equal("stopped", L.PeerState(standby));
            Assert.Contains("left the pair", L.Log(active));
        }
        finally
        {
            StartAgain(active);
        }
    }

    [RootFact]
    public void Sigterm_of_the_standby_is_shown_stopped_not_fenced_and_a_restart_is_met_again()
    {
        FencingLab.Restore(L);
        string active = FencingLab.Holder(L)!, standby = FencingLab.Other(active);
        int fencesBefore = FencingLab.History(L, active).Length;
        try
        {
            L.Must("stop", standby);
            FencingLab.Wait(L, () => L.PeerState(active) == "stopped", TimeSpan.FromSeconds(3), $"{active} shows {standby} stopped");
            Thread.Sleep(Deadtime * 3); // an active node fences a dead peer at once: this one must not
            Assert.Equal("stopped", L.PeerState(active));
            Assert.Equal("on", L.Power(standby));
            Assert.True(L.KernelHoldsVip(active));
            Assert.Equal(fencesBefore, FencingLab.History(L, active).Length);

            L.Must("start", standby);
            FencingLab.Wait(L, () => L.PeerState(active) == "up" && L.PeerState(standby) == "up", TimeSpan.FromSeconds(15), "both met again");
            Assert.Equal("standby", L.Status(standby)!.Value.GetProperty("role").GetString());
            Assert.True(L.KernelHoldsVip(active));
            output.WriteLine($"{standby} stopped: {active} showed it stopped and fenced nothing; started again, it is standby");
        }
        finally
        {
            StartAgain(standby);
        }
    }
}
