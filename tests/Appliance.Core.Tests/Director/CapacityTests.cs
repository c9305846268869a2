using System.Net;
using Appliance.Core.Config;
using Appliance.Core.Director;

namespace Appliance.Core.Tests.Director;

/// <summary>The rolling peak and the N-1 capacity warning on fake time (a random origin, so a leak of real time shows).</summary>
public class CapacityTests
{
    private static readonly TimeSpan Origin = TimeSpan.FromMilliseconds(Random.Shared.Next(1, int.MaxValue));
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    private static RealServerConfig Rs(int i, int? capacity, int weight = 1, RealServerAdminState state = RealServerAdminState.Up) =>
        new(new IPEndPoint(IPAddress.Parse($"10.0.0.{10 + i}"), 8080), weight, capacity, state);

    private static VirtualServiceConfig Service(string name, params RealServerConfig[] servers) =>
        new(name, new ServiceListen(IPAddress.Parse("203.0.113.10"), 80 + name.Length, L4Protocol.Tcp), DirectorScheduler.Wrr, DirectorForwarding.Nat,
            null, QuorumConfig.Default, DirectorCheckConfig.Default, [.. servers], null);

    private static DirectorConfig Config(params VirtualServiceConfig[] services) => new([], null, [.. services]);

    private static Dictionary<string, long> Active(params (string Service, long N)[] values) => values.ToDictionary(v => v.Service, v => v.N);

    [Fact]
    public void The_peak_is_the_largest_value_in_the_window_and_leaves_with_its_bucket()
    {
        var w = new PeakWindow(TimeSpan.FromHours(24), 24);
        Assert.Equal(0, w.Peak(Origin));
        w.Record(Origin, 500);
        w.Record(Origin + TimeSpan.FromMinutes(1), 200); // same bucket: a smaller value does not lower it
        w.Record(Origin + 3 * Hour, 300);
        Assert.Equal(500, w.Peak(Origin + 3 * Hour));
        Assert.Equal(500, w.Peak(Origin + 22 * Hour));
        // 500's bucket began at most one hour before Origin; 25 hours later it is out of the window.
        Assert.Equal(300, w.Peak(Origin + 25 * Hour));
        Assert.Equal(0, w.Peak(Origin + 28 * Hour));
        // A slot reused by a later bucket starts from the new value, not the old maximum.
        w.Record(Origin + 48 * Hour, 7);
        Assert.Equal(7, w.Peak(Origin + 48 * Hour));
    }

    [Fact]
    public void The_window_never_reaches_back_more_than_its_length()
    {
        var w = new PeakWindow(TimeSpan.FromHours(24), 24);
        var rng = new Random(42);
        var samples = new List<(TimeSpan At, long Value)>();
        var t = Origin;
        for (int i = 0; i < 2000; i++)
        {
            t += TimeSpan.FromMinutes(rng.Next(1, 120));
            long v = rng.Next(0, 100_000);
            w.Record(t, v);
            samples.Add((t, v));
            long peak = w.Peak(t);
            // At least the last 23 hours, at most the last 24 (the current bucket is partial).
            long sure = samples.Where(s => t - s.At < 23 * Hour).Max(s => s.Value);
            long most = samples.Where(s => t - s.At < 24 * Hour + Hour).Max(s => s.Value);
            Assert.InRange(peak, sure, most);
        }
    }

    [Fact]
    public void Bounds_are_enforced()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PeakWindow(Hour, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PeakWindow(Hour, PeakWindow.BucketsMax + 1));
        var watch = new CapacityWatch(Config(Service("web", Rs(1, 100), Rs(2, 100))));
        Assert.Throws<ArgumentOutOfRangeException>(() => watch.Sample(Origin, Active(("web", -1))));
    }

    [Fact]
    public void Without_busiest_takes_the_largest_capacity_out_of_the_pool()
    {
        var c = ServiceCapacity.Of(Service("web", Rs(1, 500), Rs(2, 300), Rs(3, 200)));
        Assert.Equal(1000, c.Total);
        Assert.Equal(500, c.WithoutBusiest);
        Assert.Equal("10.0.0.11:8080", c.Busiest);
        Assert.Null(c.Unknown);

        // One server: N-1 is nothing at all.
        Assert.Equal(0, ServiceCapacity.Of(Service("one", Rs(1, 500))).WithoutBusiest);
        // Drained in the config (state or weight 0): not in the pool, its capacity counts for nothing.
        var drained = ServiceCapacity.Of(Service("web", Rs(1, 500, state: RealServerAdminState.Drain), Rs(2, 300), Rs(3, 200, weight: 0), Rs(4, 100)));
        Assert.Equal(400, drained.Total);
        Assert.Equal(100, drained.WithoutBusiest);
    }

    [Fact]
    public void A_server_without_capacity_means_no_check_and_says_which()
    {
        var c = ServiceCapacity.Of(Service("web", Rs(1, 500), Rs(2, null)));
        Assert.Null(c.WithoutBusiest);
        Assert.Equal("no N-1 check: 10.0.0.12:8080 has no capacity", c.Unknown);
        var watch = new CapacityWatch(Config(Service("web", Rs(1, 500), Rs(2, null))));
        Assert.Empty(watch.Sample(Origin, Active(("web", 1_000_000))));
        var view = watch.View("web", Origin);
        Assert.Equal(1_000_000, view.Peak);
        Assert.Null(view.WithoutBusiest);
        Assert.Null(view.Warning);
        Assert.Equal(c.Unknown, view.Note);
        Assert.Empty(watch.Warnings);
    }

    [Fact]
    public void Warns_once_when_the_peak_exceeds_n_minus_1_and_clears_once_when_it_leaves_the_window()
    {
        var watch = new CapacityWatch(Config(Service("web", Rs(1, 500), Rs(2, 300), Rs(3, 200)), Service("api", Rs(1, 10), Rs(2, 10))));
        var t = Origin;
        Assert.Empty(watch.Sample(t, Active(("web", 500), ("api", 10))));
        Assert.Empty(watch.Warnings);

        t += TimeSpan.FromMinutes(5);
        var started = Assert.Single(watch.Sample(t, Active(("web", 501), ("api", 3))));
        Assert.Equal("web", started.Service);
        Assert.Equal(501, started.Peak);
        Assert.Equal(500, started.WithoutBusiest);
        Assert.Equal("service web: peak of 501 active connections in the last 24h exceeds the 500 its real servers can carry without the busiest (10.0.0.11:8080): not N-1 redundant",
            started.Warning);
        Assert.Equal([started.Warning!], watch.Warnings);

        // The load falls at once, but the peak stays for the window: no second event, no clearing.
        for (int i = 0; i < 12 * 23; i++)
        {
            t += TimeSpan.FromMinutes(5);
            Assert.Empty(watch.Sample(t, Active(("web", 100), ("api", 3))));
        }
        Assert.Single(watch.Warnings);
        for (int i = 0; i < 12 * 2; i++)
        {
            t += TimeSpan.FromMinutes(5);
            foreach (var c in watch.Sample(t, Active(("web", 100), ("api", 3))))
            {
                Assert.Equal("web", c.Service);
                Assert.Null(c.Warning);
                Assert.Equal(100, c.Peak);
                Assert.Empty(watch.Warnings);
                return;
            }
        }
        Assert.Fail("the warning did not clear 25 hours after the peak");
    }

    [Fact]
    public void A_service_not_measured_keeps_its_peak_and_a_reload_keeps_the_peaks_of_services_that_stay()
    {
        var watch = new CapacityWatch(Config(Service("web", Rs(1, 100), Rs(2, 100)), Service("old", Rs(1, 5), Rs(2, 5))));
        Assert.Equal(2, watch.Sample(Origin, Active(("web", 150), ("old", 9))).Count);
        Assert.Empty(watch.Sample(Origin + Hour, Active()));
        Assert.Equal(150, watch.View("web", Origin + Hour).Peak);

        // More capacity in the new config: the same peak no longer warns; `old` is gone without an event.
        watch.Reconfigure(Config(Service("web", Rs(1, 100), Rs(2, 100), Rs(3, 100))));
        var cleared = Assert.Single(watch.Sample(Origin + 2 * Hour, Active(("web", 20))));
        Assert.Equal(("web", (string?)null, 150L, (long?)200), (cleared.Service, cleared.Warning, cleared.Peak, cleared.WithoutBusiest));
        Assert.Empty(watch.Warnings);
        Assert.Equal(0, watch.View("old", Origin + 2 * Hour).Peak);
    }
}
