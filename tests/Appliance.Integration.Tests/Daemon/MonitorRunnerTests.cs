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
    private static MonitorConfig Exec(int fall) => new("svc", MonitorKind.Exec, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(2), 1, fall,
        null, null, 0, "true", ImmutableArray<System.Net.IPAddress>.Empty);

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
}
