using System.Collections.Concurrent;
using System.Collections.Immutable;
using Appliance.Core.Config;
using Appliance.Core.Ports;
using Appliance.Daemon;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>The monitor loops on a fake clock: the interval is the clock's, and a probe that throws is a failed probe, not a dead loop.</summary>
public sealed class MonitorRunnerTests
{
    private static MonitorConfig Exec(int fall, string name = "svc", string command = "true") => new(name, MonitorKind.Exec, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(2), 1, fall,
        null, null, 0, command, ImmutableArray<System.Net.IPAddress>.Empty);

    [Fact]
    public void Probes_run_on_the_clock_and_a_throwing_probe_counts_as_a_failure()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(Random.Shared.Next(1, 20_000)));
        var fitness = new BlockingCollection<bool>();
        int probes = 0;
        using var runner = new MonitorRunner([Exec(fall: 2)], fit => fitness.Add(fit), NullLogger.Instance, time,
            (_, _) => Interlocked.Increment(ref probes) == 1
                ? Task.FromResult(ResourceOutcome.Done("ok"))
                : throw new InvalidOperationException("probe bug"));
        runner.Start();
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref probes) == 1, TimeSpan.FromSeconds(5)));
        Assert.True(runner.AllUp);
        Thread.Sleep(100);
        Assert.Equal(1, Volatile.Read(ref probes)); // no real time passes on a fake clock
        for (int tick = 0; tick < 2; tick++)
        {
            int before = Volatile.Read(ref probes);
            time.Advance(TimeSpan.FromSeconds(10));
            Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref probes) > before, TimeSpan.FromSeconds(5)), $"tick {tick}: no probe");
        }
        Assert.True(fitness.TryTake(out bool fit, TimeSpan.FromSeconds(5)), "two failures in a row (fall 2) did not make the node unfit");
        Assert.False(fit);
        Assert.Contains("probe bug", runner.Why());
    }

    [Fact]
    public void Reconfigure_keeps_an_unchanged_monitor_stops_a_removed_one_and_starts_a_new_one_up()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(Random.Shared.Next(1, 20_000)));
        var fitness = new BlockingCollection<bool>();
        var probed = new ConcurrentQueue<string>();
        using var runner = new MonitorRunner([Exec(fall: 1, name: "keep"), Exec(fall: 1, name: "bad", command: "false")], fit => fitness.Add(fit),
            NullLogger.Instance, time, (m, _) =>
            {
                probed.Enqueue(m.Name);
                return Task.FromResult(m.Command == "false" ? ResourceOutcome.Failed("it failed") : ResourceOutcome.Done("ok"));
            });
        runner.Start();
        Assert.True(fitness.TryTake(out bool fit, TimeSpan.FromSeconds(5)) && !fit, "the failing monitor makes the node unfit");
        Assert.Contains("monitor bad down: it failed", runner.Why());
        var keptState = runner.Snapshot().Single(s => s.Name == "keep");

        // bad removed (the node is fit again), keep unchanged, fresh added; fresh starts up and is probed at once.
        runner.Reconfigure([Exec(fall: 1, name: "keep"), Exec(fall: 1, name: "fresh")]);
        Assert.True(fitness.TryTake(out fit, TimeSpan.FromSeconds(5)) && fit, "removing the down monitor makes the node fit");
        Assert.True(SpinWait.SpinUntil(() => probed.Contains("fresh"), TimeSpan.FromSeconds(5)), "the new monitor runs");
        Assert.Equal(["keep", "fresh"], runner.Snapshot().Select(s => s.Name));
        Assert.Equal(keptState, runner.Snapshot().Single(s => s.Name == "keep")); // not restarted: same state, same last result
        int keepProbes = probed.Count(n => n == "keep");
        Assert.Equal(1, keepProbes); // its loop was not started again
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(SpinWait.SpinUntil(() => probed.Count(n => n == "keep") == 2, TimeSpan.FromSeconds(5)), "the kept loop goes on");
        Thread.Sleep(100);
        Assert.DoesNotContain("bad", probed.Skip(2)); // the removed loop is gone
        Assert.True(runner.AllUp);
    }
}
