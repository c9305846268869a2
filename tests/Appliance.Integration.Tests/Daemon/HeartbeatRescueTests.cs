using System.Diagnostics;
using Appliance.Daemon;
using Appliance.Integration.Tests.Edge;
using Appliance.Integration.Tests.Lab;
using Appliance.Linux;
using Xunit;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Daemon;

public sealed class HeartbeatRescueTests(ITestOutputHelper output)
{
    [Fact]
    public void The_watcher_takes_a_CPU_the_heartbeat_thread_does_not_use_or_says_why_there_is_none()
    {
        var two = RescuePlan.Of([0, 1], [], enabled: true);
        Assert.Equal([0], two.HeartbeatCpus);
        Assert.Equal((1, (string?)null), (two.WatchCpu, two.Off));

        var four = RescuePlan.Of([0, 1, 2, 3], [], enabled: true);
        Assert.Equal([0, 1, 2], four.HeartbeatCpus);
        Assert.Equal(3, four.WatchCpu);

        // An operator's pin (an isolated core) is kept; the watcher takes the first CPU outside it.
        var pinned = RescuePlan.Of([0, 1, 2, 3], [2], enabled: true);
        Assert.Equal([2], pinned.HeartbeatCpus);
        Assert.Equal(0, pinned.WatchCpu);

        var everywhere = RescuePlan.Of([0, 1], [0, 1], enabled: true);
        Assert.Equal(-1, everywhere.WatchCpu);
        Assert.Contains("every CPU", everywhere.Off);

        var one = RescuePlan.Of([0], [], enabled: true);
        Assert.Equal(-1, one.WatchCpu);
        Assert.Contains("one CPU", one.Off);

        var off = RescuePlan.Of([0, 1], [], enabled: false);
        Assert.Equal(-1, off.WatchCpu);
        Assert.Equal([0, 1], off.HeartbeatCpus);
        Assert.Contains(HeartbeatWorker.RescueVariable, off.Off);
    }

    [Theory]
    [InlineData(3, 1.5)]
    [InlineData(0.5, 0.5)]
    [InlineData(200, 20)]
    public void The_watcher_acts_half_a_keepalive_late_within_half_a_millisecond_and_20(double keepaliveMs, double slackMs) =>
        Assert.Equal(TimeSpan.FromMilliseconds(slackMs), HeartbeatRescue.SlackOf(TimeSpan.FromMilliseconds(keepaliveMs)));

    /// <summary>
    /// A stand-in for the heartbeat thread (SCHED_FIFO 40 on CPU 0, a 3 ms loop that tells the watcher
    /// when it will be back) while CPU 0 is held by a SCHED_FIFO 99 busy loop for 150 ms (a stopped CPU,
    /// as RescueLabTests plays it). Watched, it is moved to CPU 1 and keeps its loop going through the
    /// stop; unwatched, it waits the whole stop. The bounds are half the stop apart on purpose: this is
    /// whether it ran during the stop, not how fast (that is the bench's).
    /// </summary>
    [RootTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_watched_thread_is_moved_off_a_stopped_CPU_and_an_unwatched_one_waits(bool watched)
    {
        if (Environment.ProcessorCount < 2)
            return;
        var period = TimeSpan.FromMilliseconds(3);
        using var poller = new Poller(0);
        var plan = RescuePlan.Of([0, 1], [0], enabled: true);
        using var rescue = watched ? new HeartbeatRescue(plan, [0, 1], period, poller.Wake) : null;
        long worstGap = 0;
        int cpuAfter = -1;
        var stop = new ManualResetEventSlim();
        var ready = new ManualResetEventSlim();
        var thread = new Thread(() =>
        {
            Assert.Null(RealtimeThread.TryMakeCurrentThreadRealtime(RealtimeThread.HeartbeatPriority));
            Assert.Null(RealtimeThread.TryPinThread(0, [0]));
            rescue?.Attach();
            long last = Stopwatch.GetTimestamp();
            ready.Set();
            while (!stop.IsSet)
            {
                rescue?.Expect(Stopwatch.GetTimestamp() + (long)(period.TotalSeconds * Stopwatch.Frequency));
                poller.Wait(period);
                long now = Stopwatch.GetTimestamp();
                worstGap = Math.Max(worstGap, now - last);
                last = now;
            }
            cpuAfter = RealtimeThread.CurrentCpu();
        }) { IsBackground = true };
        thread.Start();
        ready.Wait();
        Thread.Sleep(100);
        worstGap = 0;
        RescueLabTests.StopCpu(0);
        Thread.Sleep(50);
        stop.Set();
        thread.Join();
        var gap = Stopwatch.GetElapsedTime(0, worstGap);
        output.WriteLine($"watched {watched}: worst loop gap {gap.TotalMilliseconds:0.0} ms, on CPU {cpuAfter} after, " +
            $"moves {rescue?.Rescues}, latest found {rescue?.WorstLate.TotalMilliseconds:0.0} ms late");
        if (watched)
        {
            Assert.True(gap < RescueLabTests.Stop / 2, $"worst gap {gap.TotalMilliseconds} ms: the thread waited out the stop");
            Assert.True(rescue!.Rescues >= 1);
            Assert.Equal(1, cpuAfter);
            Assert.Equal(0, rescue.WatchCpu);
        }
        else
        {
            Assert.True(gap >= RescueLabTests.Stop * 2 / 3, $"worst gap {gap.TotalMilliseconds} ms: the stop did not hold the thread (so it proves nothing)");
            Assert.Equal(0, cpuAfter);
        }
    }
}
