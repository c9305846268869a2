using System.Net;
using Appliance.Core.Config;
using Appliance.Core.Heartbeat;

namespace Appliance.Core.Tests.Heartbeat;

/// <summary>
/// Each link's cadence (DESIGN.md section 4): UDP at the cluster's keepalive, a serial link at the
/// smallest whole multiple of it that its baud rate carries, and a configured cadence checked against
/// both rules; warntime and deadtime scale with it.
/// </summary>
public class LinkCadenceTests
{
    private static Timers Cluster(int keepaliveMs, int deadtimeMs) =>
        new(TimeSpan.FromMilliseconds(keepaliveMs), TimeSpan.FromMilliseconds((keepaliveMs + deadtimeMs) / 2.0),
            TimeSpan.FromMilliseconds(deadtimeMs), TimeSpan.FromSeconds(2));

    private static readonly UdpLinkConfig Udp = new("lan0", IPAddress.Loopback, IPAddress.Loopback, null, 694);

    private static SerialLinkConfig Serial(int baud, int? keepaliveMs = null) =>
        new("serial0", "/dev/ttyS1", baud) { Keepalive = keepaliveMs is { } k ? TimeSpan.FromMilliseconds(k) : null };

    [Fact]
    public void A_udp_link_runs_at_the_cluster_cadence_even_at_2_ms()
    {
        var t = Cluster(2, 6);
        var r = LinkCadence.Of(t, Udp);
        Assert.Null(r.Error);
        Assert.Equal(new LinkTimers(1, t.Keepalive, t.Warntime, t.Deadtime, TimeSpan.Zero, t.Deadtime), r.Timers);
        Assert.Contains("the cluster's", r.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void The_serial_frame_time_is_its_encoded_bytes_at_ten_bits_each()
    {
        int bytes = LinkCadence.SerialFrameBytes;
        Assert.InRange(bytes, HeartbeatCodec.FrameBytes + 2, HeartbeatCodec.FrameBytes + 16); // COBS overhead, CRC and delimiters
        // 115200 baud is 11.52 bytes per millisecond.
        Assert.Equal(bytes / 11.52, LinkCadence.SerialFrameTime(115200).TotalMilliseconds, 3);
        Assert.True(LinkCadence.SerialFloor(115200) * LinkCadence.SerialLineSharePercentMax / 100 >= LinkCadence.SerialFrameTime(115200));
    }

    [Fact]
    public void A_serial_link_too_slow_for_2_ms_gets_the_smallest_multiple_it_carries()
    {
        var t = Cluster(2, 6);
        var r = LinkCadence.Of(t, Serial(115200));
        Assert.Null(r.Error);
        var lt = r.Timers!.Value;
        TimeSpan floor = LinkCadence.SerialFloor(115200);
        Assert.True(lt.Keepalive >= floor, $"{lt.Keepalive} < floor {floor}");
        Assert.True(lt.Keepalive - t.Keepalive < floor, "not the smallest multiple");
        Assert.Equal(lt.EveryTicks * t.Keepalive, lt.Keepalive);
        Assert.Equal(lt.EveryTicks * t.Deadtime, lt.Deadtime);
        Assert.Equal(lt.EveryTicks * t.Warntime, lt.Warntime);
        Assert.Equal(LinkCadence.SerialFrameTime(115200), lt.FrameTime);
        Assert.Equal(lt.Deadtime, lt.AckFreshness); // 3 keepalives + 2 frame times is more than 3 x every x 2 ms
        Assert.Contains("115200 baud", r.Explanation, StringComparison.Ordinal);
        Assert.Contains($"{lt.EveryTicks} x cluster keepalive 2ms", r.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void At_ordinary_timers_a_serial_link_keeps_the_cluster_cadence()
    {
        var t = Cluster(200, 1000);
        var lt = LinkCadence.Of(t, Serial(115200)).Timers!.Value;
        Assert.Equal(1, lt.EveryTicks);
        Assert.Equal(t.Deadtime, lt.Deadtime);
        Assert.Equal(3 * t.Keepalive + 2 * LinkCadence.SerialFrameTime(115200), lt.AckFreshness);
    }

    [Theory]
    [InlineData(9600)]
    [InlineData(19200)]
    [InlineData(38400)]
    [InlineData(57600)]
    [InlineData(115200)]
    [InlineData(230400)]
    [InlineData(460800)]
    public void For_every_baud_and_keepalive_the_chosen_cadence_carries_the_frames_and_is_the_smallest(int baud)
    {
        TimeSpan floor = LinkCadence.SerialFloor(baud);
        for (int k = 2; k <= 200; k++)
        {
            var t = Cluster(k, 3 * k);
            var r = LinkCadence.Of(t, Serial(baud));
            if (r.Error is not null)
            {
                Assert.True(Math.Ceiling(floor / t.Keepalive) > LinkCadence.MaxEveryTicks, $"{baud} baud, {k} ms: {r.Error}");
                continue;
            }
            var lt = r.Timers!.Value;
            Assert.True(lt.Keepalive >= floor, $"{baud} baud, {k} ms: {lt.Keepalive} below {floor}");
            Assert.True(lt.EveryTicks == 1 || lt.Keepalive - t.Keepalive < floor, $"{baud} baud, {k} ms: every {lt.EveryTicks} is not the smallest");
            Assert.True(lt.AckFreshness <= lt.Deadtime);
        }
    }

    [Fact]
    public void A_configured_cadence_must_be_a_whole_multiple_of_the_cluster_keepalive()
    {
        var r = LinkCadence.Of(Cluster(2, 6), Serial(115200, keepaliveMs: 13));
        Assert.Null(r.Timers);
        Assert.Contains("whole multiple of cluster.timers.keepalive (2ms)", r.Error, StringComparison.Ordinal);
        Assert.Contains("like 14ms", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_configured_cadence_faster_than_the_line_carries_is_refused_with_the_bound()
    {
        var r = LinkCadence.Of(Cluster(2, 6), Serial(115200, keepaliveMs: 4));
        Assert.Null(r.Timers);
        Assert.Contains("faster than the link can carry", r.Error, StringComparison.Ordinal);
        Assert.Contains("at 115200 baud", r.Error, StringComparison.Ordinal);
        Assert.Contains("use at least", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_configured_slower_cadence_is_kept()
    {
        var r = LinkCadence.Of(Cluster(2, 6), Serial(115200, keepaliveMs: 40));
        Assert.Null(r.Error);
        Assert.Equal(20, r.Timers!.Value.EveryTicks);
        Assert.Equal(TimeSpan.FromMilliseconds(120), r.Timers.Value.Deadtime);
        Assert.Contains("configured", r.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void A_link_far_slower_than_the_cluster_is_refused()
    {
        // 1200 baud needs ~100 ms per frame: 50 ticks of 2 ms is fine, 2 ms at 300 baud is not.
        var r = LinkCadence.Of(Cluster(2, 6), Serial(300));
        Assert.Null(r.Timers);
        Assert.Contains($"at most {LinkCadence.MaxEveryTicks} times slower", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void OfNode_gives_every_link_its_own_timers()
    {
        var t = Cluster(2, 6);
        var node = new NodeConfig("alpha", 100, [Serial(115200), Udp], []);
        var all = LinkCadence.OfNode(t, node);
        Assert.Equal(2, all.Length);
        Assert.True(all[0].EveryTicks > 1);
        Assert.Equal(1, all[1].EveryTicks);
    }
}
