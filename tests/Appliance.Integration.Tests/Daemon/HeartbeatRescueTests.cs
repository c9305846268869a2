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

    /// <summary>How the stand-in below is watched.</summary>
    public enum Watch
    {
        /// <summary>No watcher: the control.</summary>
        None,
        /// <summary>The watcher may run the loop's pass for it (it sleeps outside the pass, as the heartbeat thread does).</summary>
        Steps,
        /// <summary>The watcher finds the loop always held (a thread late inside its pass): it can only move it.</summary>
        Held,
    }

    /// <summary>
    /// A stand-in for the heartbeat thread (SCHED_FIFO 40 on CPU 0, a 3 ms loop that tells the watcher
    /// when it is due again and holds the loop, as HeartbeatThread does, except while it sleeps) while
    /// CPU 0 is held by a SCHED_FIFO 99 busy loop for 150 ms (a stopped CPU, as RescueLabTests plays it).
    /// Watched, the loop's passes go on through the stop: run by the watcher on CPU 1 while the thread
    /// waits on CPU 0, or, when the watcher finds the loop held, by the thread itself after it was moved
    /// to CPU 1. Unwatched, the loop waits the whole stop. The bounds are half the stop apart on purpose:
    /// this is whether the loop ran during the stop, not how fast (that is the bench's).
    /// </summary>
    [RootTheory]
    [InlineData(Watch.Steps)]
    [InlineData(Watch.Held)]
    [InlineData(Watch.None)]
    public void A_watched_loop_goes_on_through_a_stopped_CPU_and_an_unwatched_one_waits(Watch watch)
    {
        if (Environment.ProcessorCount < 2)
            return;
        var period = TimeSpan.FromMilliseconds(3);
        long periodTicks = (long)(period.TotalSeconds * Stopwatch.Frequency);
        using var poller = new Poller(0);
        var plan = RescuePlan.Of([0, 1], [0], enabled: true);
        int held = 1;
        long last = 0, worstGap = 0;
        int watcherPasses = 0;
        HeartbeatRescue? rescue = null;
        // One pass of the loop, by whoever holds it: the gap since the previous pass, and the next due.
        void Pass()
        {
            long now = Stopwatch.GetTimestamp();
            if (last != 0)
                worstGap = Math.Max(worstGap, now - last);
            last = now;
            rescue?.Expect(now + periodTicks);
        }
        bool Step()
        {
            if (watch == Watch.Held || Interlocked.CompareExchange(ref held, 1, 0) != 0)
                return false;
            Pass();
            watcherPasses++;
            Volatile.Write(ref held, 0);
            return true;
        }
        using (rescue = watch == Watch.None ? null : new HeartbeatRescue(plan, [0, 1], period, poller.Wake, Step))
        {
            int cpuAfter = -1;
            var stop = new ManualResetEventSlim();
            var ready = new ManualResetEventSlim();
            var thread = new Thread(() =>
            {
                Assert.Null(RealtimeThread.TryMakeCurrentThreadRealtime(RealtimeThread.HeartbeatPriority));
                Assert.Null(RealtimeThread.TryPinThread(0, [0]));
                rescue?.Attach();
                ready.Set();
                while (!stop.IsSet)
                {
                    Pass();
                    Volatile.Write(ref held, 0);
                    poller.Wait(period);
                    var spin = new SpinWait();
                    while (Interlocked.CompareExchange(ref held, 1, 0) != 0)
                        spin.SpinOnce(sleep1Threshold: -1);
                }
                cpuAfter = RealtimeThread.CurrentCpu();
                rescue?.Expect(long.MaxValue);
            }) { IsBackground = true };
            thread.Start();
            ready.Wait();
            Thread.Sleep(100);
            while (Interlocked.CompareExchange(ref held, 1, 0) != 0)
                Thread.Yield();
            worstGap = 0;
            watcherPasses = 0;
            Volatile.Write(ref held, 0);
            RescueLabTests.StopCpu(0);
            Thread.Sleep(50);
            stop.Set();
            thread.Join();
            var gap = Stopwatch.GetElapsedTime(0, worstGap);
            output.WriteLine($"{watch}: worst gap between passes {gap.TotalMilliseconds:0.0} ms, thread on CPU {cpuAfter} after, " +
                $"passes by the watcher {watcherPasses}, moves {rescue?.Rescues}, latest found {rescue?.WorstLate.TotalMilliseconds:0.0} ms late");
            switch (watch)
            {
                case Watch.Steps:
                    Assert.True(gap < RescueLabTests.Stop / 2, $"worst gap {gap.TotalMilliseconds} ms: the loop waited out the stop");
                    Assert.True(rescue!.Steps >= 10, $"the watcher ran {rescue.Steps} passes in a 150 ms stop of a 3 ms loop");
                    AssertPlacesSwapped(rescue, cpuAfter); // none, unless the host itself stopped a CPU mid-pass
                    break;
                case Watch.Held:
                    Assert.True(gap < RescueLabTests.Stop / 2, $"worst gap {gap.TotalMilliseconds} ms: the thread waited out the stop");
                    Assert.Equal(0, rescue!.Steps);
                    Assert.True(rescue.Rescues >= 1);
                    AssertPlacesSwapped(rescue, cpuAfter);
                    break;
                default:
                    Assert.True(gap >= RescueLabTests.Stop * 2 / 3, $"worst gap {gap.TotalMilliseconds} ms: the stop did not hold the thread (so it proves nothing)");
                    Assert.Equal(0, cpuAfter);
                    break;
            }
        }
    }

    /// <summary>
    /// Each move swaps the two CPUs: the thread goes to the watcher's and the watcher takes the one it
    /// left. The thread started on CPU 0, so an odd number of moves leaves it on 1. Usually there is
    /// one move (Held) or none (Steps), but this host also stops a CPU by itself now and then (7 % steal
    /// on 2026-12-07), and a thread late then is moved again, rightly: CI once saw two.
    /// </summary>
    private static void AssertPlacesSwapped(HeartbeatRescue rescue, int cpuAfter)
    {
        Assert.Equal(rescue.Rescues % 2 == 1 ? 1 : 0, cpuAfter);
        Assert.Equal(1 - cpuAfter, rescue.WatchCpu);
    }
}
