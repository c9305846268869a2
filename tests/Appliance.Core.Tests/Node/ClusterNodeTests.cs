using System.Collections.Immutable;
using System.Net;
using Appliance.Core.Arbiter;
using Appliance.Core.Config;
using Appliance.Core.Fencing;
using Appliance.Core.Heartbeat;
using Appliance.Core.Node;
using Appliance.Core.Ports;

namespace Appliance.Core.Tests.Node;

/// <summary>The node's host logic piece by piece: resource sequencing and the fencing rounds.</summary>
public class ClusterNodeTests
{
    private static readonly TimeSpan T0 = TimeSpan.FromSeconds(Random.Shared.Next(1, 100_000));

    private static ResourceSequencer Sequencer(int count, TimeSpan monitor = default) =>
        new([.. Enumerable.Range(0, count).Select(i => new ResourceSpec($"r{i}", "exec", TimeSpan.FromSeconds(30), monitor))]);

    /// <summary>Drives the sequencer's next action with <paramref name="ok"/> and returns it.</summary>
    private static RunResource Next(ResourceSequencer s, List<NodeCommand> outbox, TimeSpan now, bool ok = true)
    {
        s.Advance(now, outbox);
        var r = Assert.IsType<RunResource>(Assert.Single(outbox));
        outbox.Clear();
        s.Done(now, r.Index, r.Verb, ok ? ResourceOutcome.Done() : ResourceOutcome.Failed("boom"));
        return r;
    }

    private static void CleanUp(ResourceSequencer s, List<NodeCommand> outbox, int count)
    {
        for (int i = count - 1; i >= 0; i--)
            Assert.Equal((i, ResourceVerb.Stop), (Next(s, outbox, T0).Index, ResourceVerb.Stop));
        s.Advance(T0, outbox);
        Assert.Equal(LocalResources.Stopped, s.Aggregate);
    }

    [Fact]
    public void Boot_stops_everything_then_starts_in_order_and_stops_in_reverse()
    {
        var s = Sequencer(3);
        var outbox = new List<NodeCommand>();
        Assert.Equal(LocalResources.Stopping, s.Aggregate); // held until the boot's clean-up proves otherwise
        CleanUp(s, outbox, 3);
        s.Want(ArbiterAction.StartResources, NodeRole.Takeover);
        var starts = Enumerable.Range(0, 3).Select(_ => Next(s, outbox, T0)).ToList();
        Assert.Equal([0, 1, 2], starts.Select(r => r.Index));
        Assert.All(starts, r => Assert.Equal(ResourceVerb.Start, r.Verb));
        s.Advance(T0, outbox);
        Assert.Equal(LocalResources.Started, s.Aggregate);
        s.Want(ArbiterAction.StopResources, NodeRole.Releasing);
        var stops = Enumerable.Range(0, 3).Select(_ => Next(s, outbox, T0)).ToList();
        Assert.Equal([2, 1, 0], stops.Select(r => r.Index));
        s.Advance(T0, outbox);
        Assert.Equal(LocalResources.Stopped, s.Aggregate);
    }

    [Fact]
    public void A_failed_start_stops_itself_and_those_before_it_and_leaves_the_node_unfit()
    {
        var s = Sequencer(3);
        var outbox = new List<NodeCommand>();
        CleanUp(s, outbox, 3);
        s.Want(ArbiterAction.StartResources, NodeRole.Takeover);
        Next(s, outbox, T0);
        Assert.Equal(1, Next(s, outbox, T0, ok: false).Index);
        // Rollback: r1 (a start that failed may have half happened), then r0.
        Assert.Equal((1, ResourceVerb.Stop), (Next(s, outbox, T0).Index, ResourceVerb.Stop));
        Assert.Equal(0, Next(s, outbox, T0).Index);
        s.Advance(T0, outbox);
        Assert.Equal(LocalResources.Stopped, s.Aggregate);
        Assert.Contains("r1: start failed", s.Failure);
        Assert.Equal(ResourceState.Failed, s.Snapshot()[1].State);
        Assert.Empty(outbox); // no retry of its own: unfit until an operator's takeover
    }

    [Fact]
    public void A_failed_stop_means_stop_failed_and_the_rest_are_still_stopped()
    {
        var s = Sequencer(2);
        var outbox = new List<NodeCommand>();
        CleanUp(s, outbox, 2);
        s.Want(ArbiterAction.StartResources, NodeRole.Takeover);
        Next(s, outbox, T0);
        Next(s, outbox, T0);
        s.Want(ArbiterAction.StopResources, NodeRole.Releasing);
        Assert.Equal(1, Next(s, outbox, T0, ok: false).Index);
        Assert.Equal(0, Next(s, outbox, T0).Index);
        s.Advance(T0, outbox);
        Assert.Equal(LocalResources.StopFailed, s.Aggregate);
    }

    [Fact]
    public void A_failed_monitor_restarts_in_place_once_then_the_node_is_unfit()
    {
        var s = Sequencer(1, monitor: TimeSpan.FromSeconds(10));
        var outbox = new List<NodeCommand>();
        CleanUp(s, outbox, 1);
        s.Want(ArbiterAction.StartResources, NodeRole.Takeover);
        Next(s, outbox, T0);
        s.Advance(T0, outbox);
        Assert.Equal(T0 + TimeSpan.FromSeconds(10), s.NextWake());
        var now = T0 + TimeSpan.FromSeconds(10);
        Assert.Equal(ResourceVerb.Monitor, Next(s, outbox, now, ok: false).Verb);
        Assert.Equal(ResourceVerb.Stop, Next(s, outbox, now).Verb);
        Assert.Equal(ResourceVerb.Start, Next(s, outbox, now).Verb); // restarted in place
        Assert.Equal("", s.Failure);
        now += TimeSpan.FromSeconds(10);
        Assert.Equal(ResourceVerb.Monitor, Next(s, outbox, now, ok: false).Verb);
        Assert.Equal(ResourceVerb.Stop, Next(s, outbox, now).Verb);
        Assert.Equal(ResourceVerb.Start, Next(s, outbox, now, ok: false).Verb);
        Assert.Contains("restart failed", s.Failure);
        Assert.Equal(LocalResources.Started, s.Aggregate); // still held: the arbiter hands over, then stops it
    }

    private static ResourceSequencer WithFinish(TimeSpan monitor = default) => new(
    [
        new ResourceSpec("sync", "conntrack", TimeSpan.FromSeconds(30), monitor) { FinishesLast = true },
        new ResourceSpec("vip", "vip", TimeSpan.FromSeconds(5), default),
    ]);

    [Fact]
    public void A_stop_wanted_while_a_finish_runs_waits_for_it_then_stops_everything_in_reverse()
    {
        var s = WithFinish();
        var outbox = new List<NodeCommand>();
        CleanUp(s, outbox, 2);
        s.Want(ArbiterAction.StartResources, NodeRole.Takeover);
        Assert.Equal((0, ResourceVerb.Start), Pair(Next(s, outbox, T0)));
        Assert.Equal((1, ResourceVerb.Start), Pair(Next(s, outbox, T0)));
        s.Advance(T0, outbox);
        var finish = Assert.IsType<RunResource>(Assert.Single(outbox));
        outbox.Clear();
        Assert.Equal((0, ResourceVerb.Finish), (finish.Index, finish.Verb));
        s.Want(ArbiterAction.StopResources, NodeRole.Releasing); // the peer came back meanwhile
        s.Advance(T0, outbox);
        Assert.Empty(outbox); // one action at a time: the commit is let finish (a purge must come after it)
        s.Done(T0, 0, ResourceVerb.Finish, ResourceOutcome.Done());
        Assert.Equal((1, ResourceVerb.Stop), Pair(Next(s, outbox, T0)));
        Assert.Equal((0, ResourceVerb.Stop), Pair(Next(s, outbox, T0)));
        s.Advance(T0, outbox);
        Assert.Equal(LocalResources.Stopped, s.Aggregate);
    }

    [Fact]
    public void A_failed_finish_keeps_the_other_resources_and_restarts_it_in_place_once_then_the_node_is_unfit()
    {
        var s = WithFinish(monitor: TimeSpan.FromSeconds(10));
        var outbox = new List<NodeCommand>();
        CleanUp(s, outbox, 2);
        s.Want(ArbiterAction.StartResources, NodeRole.Takeover);
        Next(s, outbox, T0);
        Next(s, outbox, T0);
        Assert.Equal((0, ResourceVerb.Finish), Pair(Next(s, outbox, T0, ok: false)));
        Assert.Equal(LocalResources.Started, s.Aggregate); // the VIP serves; the commit is what failed
        Assert.Equal("", s.Failure);
        Assert.Contains("finish failed", s.Snapshot()[0].Detail);
        Assert.Equal((0, ResourceVerb.Stop), Pair(Next(s, outbox, T0)));
        Assert.Equal((0, ResourceVerb.Start), Pair(Next(s, outbox, T0)));
        Assert.Equal((0, ResourceVerb.Finish), Pair(Next(s, outbox, T0)));
        Assert.Equal("", s.Failure);
        Assert.Equal(T0 + TimeSpan.FromSeconds(10), s.NextWake()); // monitored again

        // A monitor that fails later restarts it with its finish too; a finish that fails again is the end.
        var now = T0 + TimeSpan.FromSeconds(10);
        Assert.Equal((0, ResourceVerb.Monitor), Pair(Next(s, outbox, now, ok: false)));
        Assert.Equal((0, ResourceVerb.Stop), Pair(Next(s, outbox, now)));
        Assert.Equal((0, ResourceVerb.Start), Pair(Next(s, outbox, now)));
        Assert.Equal((0, ResourceVerb.Finish), Pair(Next(s, outbox, now, ok: false)));
        Assert.Contains("failed again", s.Failure);
        Assert.Equal(LocalResources.Started, s.Aggregate); // still held: the arbiter hands over, then stops it
        s.Advance(now, outbox);
        Assert.Empty(outbox);
    }

    private static (int, ResourceVerb) Pair(RunResource r) => (r.Index, r.Verb);

    [Fact]
    public void A_withdrawn_start_does_not_run_later_on_a_node_that_backed_off()
    {
        var s = Sequencer(1);
        var outbox = new List<NodeCommand>();
        CleanUp(s, outbox, 1);
        s.Want(ArbiterAction.StartResources, NodeRole.Takeover);
        s.Want(ArbiterAction.None, NodeRole.Standby); // the peer took them meanwhile
        s.Advance(T0, outbox);
        Assert.Empty(outbox);
    }

    [Fact]
    public void A_resource_carries_its_configured_timeout_up_to_ten_minutes()
    {
        var script = new ScriptResourceConfig("db", ResourceKind.Ocf, null, null, null, "heartbeat:pgsql", [], TimeSpan.FromMinutes(10));
        Assert.Equal(TimeSpan.FromMinutes(10), ResourceSpec.From(script).Timeout);
        var s = new ResourceSequencer([ResourceSpec.From(script)]);
        var outbox = new List<NodeCommand>();
        s.Advance(T0, outbox);
        Assert.Equal(TimeSpan.FromMinutes(10), Assert.IsType<RunResource>(Assert.Single(outbox)).Timeout);
    }

    private static ClusterConfig Cluster => new("c", "/k", false, FencingMode.Required, Timers.Default)
        { FenceDelay = TimeSpan.FromMilliseconds(300), FenceDelayRandom = TimeSpan.Zero };

    private static FencingRounds Rounds(bool manual = false) => new(Cluster, "beta",
        [new FenceLevel("relay-beta", TimeSpan.FromSeconds(2), 2, FenceFinalAction.Off)], manual ? ["relay-beta"] : [], () => 0.5);

    [Fact]
    public void An_operator_fence_is_refused_while_the_automatic_rounds_run_and_the_reverse_waits()
    {
        var r = Rounds();
        var outbox = new List<NodeCommand>();
        r.Step(T0, wanted: true, selfHolds: true, "peer dead", outbox);
        var off = Assert.Single(outbox.OfType<RunFenceDevice>());
        Assert.NotNull(r.RequestFence(T0, 1, outbox));
        Assert.NotNull(r.RequestPowerOn(T0, 2, outbox));
        // The peer is heard again: the rounds stop, but the device still runs; nothing else may start until it reports.
        r.Step(T0, wanted: false, selfHolds: true, "peer back", outbox);
        Assert.Single(outbox.OfType<CancelFenceDevice>());
        Assert.True(r.DeviceBusy);
        Assert.NotNull(r.RequestFence(T0, 3, outbox));
        outbox.Clear();
        r.Done(T0 + TimeSpan.FromMilliseconds(5), off.Op, FenceResult.Timeout("cancelled"), outbox);
        Assert.Empty(outbox); // the moot report starts nothing
        Assert.Null(r.RequestFence(T0, 4, outbox)); // the device is free: an operator's fence runs now
        var opOff = Assert.Single(outbox.OfType<RunFenceDevice>());
        // And the automatic rounds wait for it.
        outbox.Clear();
        r.Step(T0, wanted: true, selfHolds: true, "peer dead", outbox);
        Assert.Empty(outbox.OfType<RunFenceDevice>());
        r.Done(T0, opOff.Op, FenceResult.Done(PowerState.Unknown), outbox);
        var status = Assert.Single(outbox.OfType<RunFenceDevice>());
        Assert.Equal(FenceAction.Status, status.Action);
        outbox.Clear();
        r.Done(T0, status.Op, FenceResult.Done(PowerState.Off), outbox);
        Assert.Contains(outbox, c => c is OperatorReply { RequestId: 4, Ok: true });
        Assert.Equal(T0, r.VerifiedAt);
    }

    [Fact]
    public void A_standby_waits_fence_delay_and_failed_rounds_go_on_with_backoff()
    {
        var r = Rounds();
        var outbox = new List<NodeCommand>();
        r.Step(T0, wanted: true, selfHolds: false, "peer dead", outbox);
        Assert.Empty(outbox.OfType<RunFenceDevice>());
        Assert.Equal(FencingPhase.Delaying, r.Phase);
        Assert.Equal(T0 + TimeSpan.FromMilliseconds(300), r.NextWake());
        var now = r.NextWake();
        for (int attempt = 0; attempt < 2; attempt++)
        {
            outbox.Clear();
            r.Step(now, wanted: true, selfHolds: false, "peer dead", outbox);
            var off = Assert.Single(outbox.OfType<RunFenceDevice>());
            outbox.Clear();
            r.Done(now, off.Op, FenceResult.Error("line noise"), outbox);
            now = r.NextWake() == TimeSpan.MaxValue ? now : r.NextWake();
        }
        Assert.Equal(1, r.RoundsFailed);
        Assert.Contains(outbox, c => c is FenceEnded { Report.Verified: false });
        Assert.Equal(FencingPhase.Failed, r.Phase);
        Assert.True(r.NextWake() > now - TimeSpan.FromSeconds(1) && r.NextWake() != TimeSpan.MaxValue, "the next round is scheduled");
    }

    [Fact]
    public void A_manual_device_asks_an_operator()
    {
        var r = Rounds(manual: true);
        var outbox = new List<NodeCommand>();
        r.Step(T0, wanted: true, selfHolds: true, "peer dead", outbox);
        Assert.True(Assert.Single(outbox.OfType<RunFenceDevice>()).Manual);
        Assert.Equal(FencingPhase.WaitingOperator, r.Phase);
        Assert.Contains("OPERATOR INTERVENTION REQUIRED", r.Progress);
    }

    private static ApplianceConfig Pair() => new("t.yaml", Cluster with { Fencing = FencingMode.Required },
        [new NodeConfig("alpha", 100, [new UdpLinkConfig("lan0", IPAddress.Loopback, IPAddress.Loopback, null, 694)], ["relay-alpha"]),
         new NodeConfig("beta", 90, [new UdpLinkConfig("lan0", IPAddress.Loopback, IPAddress.Loopback, null, 694)], ["relay-beta"])])
    {
        FenceDevices = [new GpioRelayFenceConfig("relay-alpha", FenceFinalAction.Off, TimeSpan.FromSeconds(2), 2, "/dev/gpiochip0", "1", false),
                        new GpioRelayFenceConfig("relay-beta", FenceFinalAction.Off, TimeSpan.FromSeconds(2), 2, "/dev/gpiochip0", "2", false)],
    };

    [Fact]
    public void The_node_refuses_to_fence_itself_or_a_stranger()
    {
        var node = new ClusterNode(Pair(), 0, () => 0.5);
        Assert.Contains("it is this node", node.RequestFence(T0, "alpha", 1));
        Assert.Contains("unknown node", node.RequestFence(T0, "gamma", 2));
        Assert.Contains("this node", node.RequestPowerOn(T0, "alpha", 3));
        Assert.Empty(node.Outbox);
    }
}
