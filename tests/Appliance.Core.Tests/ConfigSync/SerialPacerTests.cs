using Appliance.Core.ConfigSync;
using Appliance.Core.Heartbeat;

namespace Appliance.Core.Tests.ConfigSync;

public class SerialPacerTests
{
    private const int Keepalive = HeartbeatCodec.FrameBytes;

    [Theory]
    [InlineData(115200, 200)]
    [InlineData(115200, 50)]
    [InlineData(9600, 1000)]
    [InlineData(38400, 100)]
    public void Scheduled_keepalives_never_wait_behind_sync_messages(int baud, int keepaliveMs)
    {
        var interval = TimeSpan.FromMilliseconds(keepaliveMs);
        var pacer = new SerialPacer(baud, interval);
        // The heartbeat thread as it runs: a keepalive every interval, and between them it wakes when
        // the pacer says and writes whatever the pacer allows of an endless queue of full messages.
        var now = TimeSpan.FromSeconds(777);
        var nextKeepalive = now;
        int sent = 0;
        TimeSpan worstKeepaliveWait = TimeSpan.Zero;
        var end = now + TimeSpan.FromSeconds(60);
        while (now < end)
        {
            if (now >= nextKeepalive)
            {
                // The keepalive goes onto the line behind whatever is still on it.
                var wait = pacer.LineFreeAt > now ? pacer.LineFreeAt - now : TimeSpan.Zero;
                if (wait > worstKeepaliveWait)
                    worstKeepaliveWait = wait;
                pacer.KeepaliveWritten(now, Keepalive);
                nextKeepalive += interval;
            }
            while (pacer.MaySend(now, SyncEnvelope.MaxMessageBytes))
            {
                pacer.Written(now, SyncEnvelope.MaxMessageBytes);
                sent++;
            }
            var chance = pacer.NextChance(now, SyncEnvelope.MaxMessageBytes);
            now = chance < nextKeepalive ? chance : nextKeepalive;
        }
        Assert.Equal(TimeSpan.Zero, worstKeepaliveWait);
        double bytesPerSecond = sent * SyncEnvelope.MaxMessageBytes / 60.0;
        double line = baud / 10.0;
        // The line's rate less the keepalives, the guard and the slot ends that fit no whole message.
        Assert.InRange(bytesPerSecond, line * 0.25, line);
    }

    [Fact]
    public void Nothing_goes_before_the_first_keepalive_set_the_cadence()
    {
        var pacer = new SerialPacer(115200, TimeSpan.FromMilliseconds(200));
        Assert.False(pacer.MaySend(TimeSpan.FromSeconds(1), 10));
        Assert.Equal(TimeSpan.MaxValue, pacer.NextChance(TimeSpan.FromSeconds(1), 10));
        pacer.KeepaliveWritten(TimeSpan.FromSeconds(1), Keepalive);
        Assert.False(pacer.MaySend(TimeSpan.FromSeconds(1), 10)); // the keepalive is still on the line
        var free = pacer.NextChance(TimeSpan.FromSeconds(1), 10);
        Assert.Equal(pacer.LineFreeAt, free);
        Assert.True(pacer.MaySend(free, 10));
    }

    [Fact]
    public void A_message_that_would_end_too_close_to_the_next_keepalive_waits_for_it()
    {
        var pacer = new SerialPacer(115200, TimeSpan.FromMilliseconds(200));
        var t = TimeSpan.FromSeconds(10);
        pacer.KeepaliveWritten(t, Keepalive);
        var wire = pacer.WireTime(SyncEnvelope.MaxMessageBytes);
        Assert.InRange(wire.TotalMilliseconds, 22, 24); // 263 bytes at 11.52 bytes/ms
        var late = t + TimeSpan.FromMilliseconds(200) - wire - SerialPacer.Guard + TimeSpan.FromMilliseconds(0.1);
        Assert.False(pacer.MaySend(late, SyncEnvelope.MaxMessageBytes));
        Assert.Equal(TimeSpan.MaxValue, pacer.NextChance(late, SyncEnvelope.MaxMessageBytes));
        Assert.True(pacer.MaySend(late - TimeSpan.FromMilliseconds(0.2), SyncEnvelope.MaxMessageBytes));
    }
}
