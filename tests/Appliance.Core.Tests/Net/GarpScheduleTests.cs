using Appliance.Core.Config;
using Appliance.Core.Net;

namespace Appliance.Core.Tests.Net;

public sealed class GarpScheduleTests
{
    private static List<TimeSpan> Delays(GarpSchedule s, int max)
    {
        var list = new List<TimeSpan>();
        for (int sent = 0; list.Count < max && s.DelayBefore(sent) is { } d; sent++)
            list.Add(d);
        return list;
    }

    [Fact]
    public void The_default_is_a_burst_then_five_repeats_200ms_apart_and_nothing_more()
    {
        Assert.Equal([TimeSpan.Zero, .. Enumerable.Repeat(TimeSpan.FromMilliseconds(200), 5)], Delays(GarpSchedule.Default, 100));
    }

    [Fact]
    public void A_refresh_keeps_announcing_after_the_repeats()
    {
        var s = new GarpSchedule(2, TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(30));
        Assert.Equal(new[] { 0, 50, 50, 30_000, 30_000 }.Select(ms => TimeSpan.FromMilliseconds(ms)), Delays(s, 5));
        Assert.Equal([TimeSpan.Zero], Delays(new GarpSchedule(0, TimeSpan.FromSeconds(1), TimeSpan.Zero), 10));
    }

    [Fact]
    public void The_config_sets_the_schedule_per_vip()
    {
        var r = ConfigLoader.Load("a.yaml", Config.ConfigSamples.Base + """
            resources:
              - {name: vip, kind: vip, address: 10.0.0.1/24, interface: eth0, garp_repeat: 3, garp_interval: 1s, garp_refresh: 1m}
              - {name: vip2, kind: vip, address: 10.0.0.2/24, interface: eth0}
            """);
        Assert.True(r.Config is not null, string.Join("\n", r.Errors));
        Assert.Equal(new GarpSchedule(3, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)), ((VipResourceConfig)r.Config.Resources[0]).Garp);
        Assert.Equal(GarpSchedule.Default, ((VipResourceConfig)r.Config.Resources[1]).Garp);
    }
}
