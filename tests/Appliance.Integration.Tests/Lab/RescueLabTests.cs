using System.Diagnostics;
using Appliance.Integration.Tests.Edge;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Lab;

/// <summary>
/// The heartbeat thread's watcher on another CPU (HeartbeatRescue), at the bench's fastest timers
/// (3 ms / 9 ms, serial at 460800). A stopped CPU is played by a SCHED_FIFO 99 busy loop pinned to it:
/// a heartbeat thread that may only run there waits behind it exactly as it waits on a virtual CPU the
/// host stopped (the bench host does that for ~100 ms, README, Performance), which no test can order.
/// Each node's heartbeat starts on its own CPU (alpha 0, beta 1) through the lab's per-node environment.
/// </summary>
public sealed class RescueLabFixture() : LabFixture("r", Env(rescue: true), Timers)
{
    internal static readonly string[] Timers = ["--fencing", "off", "--keepalive", "3ms", "--deadtime", "9ms", "--baud", "460800"];

    internal static Dictionary<string, string> Env(bool rescue) => new()
    {
        ["LAB_ENV_alpha"] = "APPLIANCE_HEARTBEAT_CPUS=0" + (rescue ? "" : " APPLIANCE_HEARTBEAT_RESCUE=off"),
        ["LAB_ENV_beta"] = "APPLIANCE_HEARTBEAT_CPUS=1",
    };
}

/// <summary>The control: alpha's heartbeat without its watcher.</summary>
public sealed class NoRescueLabFixture() : LabFixture("n", RescueLabFixture.Env(rescue: false), RescueLabFixture.Timers);

[Collection("lab")]
public sealed class RescueLabTests(RescueLabFixture fixture, ITestOutputHelper output) : IClassFixture<RescueLabFixture>
{
    private Lab L => fixture.Lab;

    internal static readonly string[] Nodes = ["alpha", "beta"];

    /// <summary>Stopped this long: the bench host's freezes are 91-104 ms, ten deadtimes here.</summary>
    internal static readonly TimeSpan Stop = TimeSpan.FromMilliseconds(150);

    internal static HeartbeatPlace Rescue(Lab lab, string node)
    {
        var hb = lab.Status(node)!.Value.GetProperty("heartbeat");
        return new(hb.GetProperty("rescue"), hb.GetProperty("cpus").GetString()!);
    }

    /// <summary>A node's heartbeat thread's CPUs and its watcher's status object.</summary>
    internal readonly record struct HeartbeatPlace(System.Text.Json.JsonElement Rescue, string Cpus);

    /// <summary>Holds <paramref name="cpu"/> with a SCHED_FIFO 99 busy loop for <see cref="Stop"/>.</summary>
    internal static void StopCpu(int cpu)
    {
        var psi = new ProcessStartInfo("timeout")
        {
            ArgumentList = { $"{Stop.TotalSeconds:0.000}", "taskset", "-c", $"{cpu}", "chrt", "-f", "99", "sh", "-c", "while :; do :; done" },
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 124, $"the busy loop on CPU {cpu} did not run until its timeout (exit {p.ExitCode}): {err}");
    }

    [RootFact]
    public void A_CPU_that_stops_under_the_heartbeat_thread_does_not_stop_its_keepalives()
    {
        if (Environment.ProcessorCount < 2)
            return; // one CPU: nowhere to move the heartbeat (the node logs that it runs unwatched)
        L.WaitBothUp(TimeSpan.FromSeconds(10));
        foreach (var node in Nodes)
        {
            // Placed as the lab's environment said (the log), and never sharing a CPU with the watcher
            // since (this host stops a CPU now and then by itself, so either may have moved already).
            Assert.Contains($"heartbeat thread pinned to CPU {(node == "alpha" ? 0 : 1)}", L.Log(node));
            var r = Rescue(L, node);
            output.WriteLine($"{node}: heartbeat on CPU {r.Cpus}, watcher on CPU {r.Rescue.GetProperty("watch_cpu")}, {Acts(r.Rescue)} passes or moves so far");
            Assert.NotEqual(r.Cpus, r.Rescue.GetProperty("watch_cpu").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        var deaths = Nodes.ToDictionary(n => n, n => L.Deaths(n).Count);
        long actsBefore = Acts(Rescue(L, "alpha").Rescue);
        const int Rounds = 5;
        for (int round = 0; round < Rounds; round++)
        {
            // Wherever alpha's heartbeat thread is now (a move leaves it on the other CPU; a watcher's
            // pass of its loop leaves it where it was).
            int cpu = int.Parse(Rescue(L, "alpha").Cpus.Split(',', '-')[0], System.Globalization.CultureInfo.InvariantCulture);
            StopCpu(cpu);
            Thread.Sleep(500);
            foreach (var node in Nodes)
                Assert.Equal("up", L.PeerState(node));
        }
        foreach (var node in Nodes)
        {
            var r = Rescue(L, node).Rescue;
            output.WriteLine($"{node}: {r.GetProperty("steps")} passes by the watcher, {r.GetProperty("moves")} moves, latest found {r.GetProperty("worst_late_us")} µs late, {r.GetProperty("refused")} refused; " +
                $"deaths declared {L.Deaths(node).Count - deaths[node]}");
            Assert.Equal(deaths[node], L.Deaths(node).Count);
            Assert.Equal(0, r.GetProperty("refused").GetInt64());
        }
        Assert.True(Acts(Rescue(L, "alpha").Rescue) - actsBefore >= Rounds, "alpha's watcher did not act in every round");
    }

    /// <summary>What a watcher did for its heartbeat thread: passes of the loop it ran, and moves.</summary>
    internal static long Acts(System.Text.Json.JsonElement rescue) =>
        rescue.GetProperty("steps").GetInt64() + rescue.GetProperty("moves").GetInt64();
}

/// <summary>Without the watcher the same stopped CPU is a false death: the test above can fail.</summary>
[Collection("lab")]
public sealed class NoRescueLabTests(NoRescueLabFixture fixture, ITestOutputHelper output) : IClassFixture<NoRescueLabFixture>
{
    private Lab L => fixture.Lab;

    [RootFact]
    public void Without_the_watcher_a_CPU_that_stops_under_the_heartbeat_thread_is_a_false_death()
    {
        if (Environment.ProcessorCount < 2)
            return;
        L.WaitBothUp(TimeSpan.FromSeconds(10));
        var r = RescueLabTests.Rescue(L, "alpha");
        Assert.Equal("0", r.Cpus);
        Assert.Contains("off", r.Rescue.GetProperty("off").GetString());
        int before = L.Deaths("beta").Count;
        RescueLabTests.StopCpu(0);
        Lab.WaitUntil(() => L.Deaths("beta").Count > before, TimeSpan.FromSeconds(2), "beta declares alpha dead");
        output.WriteLine(L.Deaths("beta")[^1].Line);
    }
}
