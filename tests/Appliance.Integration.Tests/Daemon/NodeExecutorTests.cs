using System.Collections.Concurrent;
using System.Collections.Immutable;
using Appliance.Core.Arbiter;
using Appliance.Core.Fencing;
using Appliance.Core.Node;
using Appliance.Core.Ports;
using Appliance.Daemon;
using Appliance.Daemon.Fencing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>
/// The daemon's executor of the node's commands, on a fake clock: resource actions bounded by the
/// configured timeout (not a fixed 20 s), drivers that throw or hang still answer, and a fence
/// history that cannot be written never stops fencing.
/// </summary>
public sealed class NodeExecutorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("apl-exec-").FullName;
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UnixEpoch.AddDays(Random.Shared.Next(1, 20_000)));
    private readonly BlockingCollection<(int Index, ResourceVerb Verb, ResourceOutcome Outcome)> _resourceDone = [];
    private readonly BlockingCollection<(long Op, FenceResult Result)> _fenceDone = [];

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private sealed class FakeResource(Func<CancellationToken, Task<ResourceOutcome>> start) : IResource
    {
        public string Name => "r0";
        public string Kind => "exec";
        public TimeSpan MonitorInterval => TimeSpan.Zero;
        public Task<ResourceOutcome> StartAsync(CancellationToken ct) => start(ct);
        public Task<ResourceOutcome> StopAsync(CancellationToken ct) => Task.FromResult(ResourceOutcome.Done());
        public Task<ResourceOutcome> MonitorAsync(CancellationToken ct) => Task.FromResult(ResourceOutcome.Done());
    }

    private sealed class FakeDevice(Func<CancellationToken, Task<FenceResult>> run) : IFenceDevice
    {
        public string Name => "relay-beta";
        public string Kind => "gpio-relay";
        public bool CanReboot => false;
        public Task<FenceResult> RunAsync(FenceAction action, string target, CancellationToken ct) => run(ct);
    }

    private NodeExecutor Executor(IResource? resource = null, IFenceDevice? device = null, string? stateDir = null) => new(
        resource is null ? [] : [resource],
        device is null ? new Dictionary<string, IFenceDevice>() : new Dictionary<string, IFenceDevice> { [device.Name] = device },
        new FenceHistory(stateDir ?? _dir),
        (i, verb, outcome) => _resourceDone.Add((i, verb, outcome)),
        (op, result) => _fenceDone.Add((op, result)),
        _ => { }, _ => { }, NullLogger.Instance, _time);

    /// <summary>Advances the fake clock in small steps, letting the pool run what falls due.</summary>
    private void Advance(TimeSpan by)
    {
        var step = TimeSpan.FromMilliseconds(500);
        for (var done = TimeSpan.Zero; done < by; done += step)
        {
            _time.Advance(step);
            Thread.Sleep(1);
        }
    }

    private static T Take<T>(BlockingCollection<T> reports, string what) =>
        reports.TryTake(out var r, TimeSpan.FromSeconds(10)) ? r : throw new TimeoutException($"no report of {what}");

    [Fact]
    public async Task A_resource_action_runs_for_its_configured_timeout_not_a_fixed_20_s()
    {
        // A 60 s start (an OCF agent warming a cache): the config allows up to 10 min.
        var started = new TaskCompletionSource();
        await using var exec = Executor(new FakeResource(async ct =>
        {
            started.TrySetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
            return ResourceOutcome.Done();
        }));
        exec.OnCommand(new RunResource(0, ResourceVerb.Start, TimeSpan.FromSeconds(60)));
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Advance(TimeSpan.FromSeconds(30));
        Assert.False(_resourceDone.TryTake(out var early, TimeSpan.FromMilliseconds(200)), $"ended at 30 s of 60: {early}");
        Advance(TimeSpan.FromSeconds(31));
        var (index, verb, outcome) = Take(_resourceDone, "the start");
        Assert.Equal((0, ResourceVerb.Start), (index, verb));
        Assert.False(outcome.Ok);
        Assert.Contains("timed out after 60 s", outcome.Reason);
    }

    [Fact]
    public async Task A_resource_that_ignores_cancellation_or_throws_still_gets_an_answer()
    {
        await using (var exec = Executor(new FakeResource(_ => new TaskCompletionSource<ResourceOutcome>().Task)))
        {
            exec.OnCommand(new RunResource(0, ResourceVerb.Start, TimeSpan.FromSeconds(5)));
            Thread.Sleep(50);
            Advance(TimeSpan.FromSeconds(5) + NodeExecutor.ResourceCancelGrace + TimeSpan.FromSeconds(1));
            var wedged = Take(_resourceDone, "the wedged start").Outcome;
            Assert.False(wedged.Ok);
            Assert.Contains("abandoned", wedged.Reason);
        }
        await using (var exec = Executor(new FakeResource(_ => throw new InvalidOperationException("driver bug"))))
        {
            exec.OnCommand(new RunResource(0, ResourceVerb.Start, TimeSpan.FromSeconds(5)));
            var thrown = Take(_resourceDone, "the throwing start").Outcome;
            Assert.False(thrown.Ok);
            Assert.Contains("driver bug", thrown.Reason);
        }
    }

    [Fact]
    public async Task A_fence_history_that_cannot_be_written_is_in_status_and_fencing_goes_on()
    {
        // The state directory is a regular file: every write fails (as root too, unlike permissions).
        string notADir = Path.Combine(_dir, "state");
        File.WriteAllText(notADir, "");
        await using var exec = Executor(device: new FakeDevice(_ => Task.FromResult(FenceResult.Done(PowerState.Off))), stateDir: notADir);
        var report = new FenceReport("beta", true, "relay-beta", Appliance.Core.Config.FenceFinalAction.Off, FenceOutcome.Done, "beta is off",
            TimeSpan.Zero, TimeSpan.FromMilliseconds(12), ImmutableArray<string>.Empty);
        exec.OnCommand(new FenceEnded(report, FenceTrigger.PeerDead));
        Assert.True(SpinWait.SpinUntil(() => exec.HistoryError.Length > 0, TimeSpan.FromSeconds(10)), "the failed write is not shown");
        Assert.Contains(notADir, exec.HistoryError);
        // The next device action still runs and answers.
        exec.OnCommand(new RunFenceDevice(7, "relay-beta", FenceAction.Status, "beta", TimeSpan.FromSeconds(2), false));
        var (op, result) = Take(_fenceDone, "the status read");
        Assert.Equal(7, op);
        Assert.Equal(PowerState.Off, result.Power);
    }

    [Fact]
    public async Task A_fence_device_that_hangs_past_its_timeout_and_grace_is_reported_wedged()
    {
        await using var exec = Executor(device: new FakeDevice(_ => new TaskCompletionSource<FenceResult>().Task));
        exec.OnCommand(new RunFenceDevice(3, "relay-beta", FenceAction.Off, "beta", TimeSpan.FromSeconds(2), false));
        Thread.Sleep(50);
        Advance(TimeSpan.FromSeconds(2) + FencingLimits.CancelGrace + TimeSpan.FromSeconds(1));
        var (op, result) = Take(_fenceDone, "the hung off");
        Assert.Equal(3, op);
        Assert.Equal(FenceOutcome.HardError, result.Outcome);
        Assert.Contains("wedged", result.Reason);
    }

    [Fact]
    public async Task A_cancelled_fence_operation_still_reports_so_the_node_knows_the_device_is_free()
    {
        await using var exec = Executor(device: new FakeDevice(async ct =>
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
            return FenceResult.Done(PowerState.Off);
        }));
        exec.OnCommand(new RunFenceDevice(4, "relay-beta", FenceAction.Off, "beta", TimeSpan.FromSeconds(30), false));
        Thread.Sleep(50);
        exec.OnCommand(new CancelFenceDevice(4, "beta", "the peer is heard again"));
        var (op, result) = Take(_fenceDone, "the cancelled off");
        Assert.Equal(4, op);
        Assert.Equal(FenceOutcome.Timeout, result.Outcome);
    }

    [Fact]
    public async Task Left_and_decisions_reach_the_daemon()
    {
        var decisions = new List<ArbiterDecision>();
        await using var exec = new NodeExecutor([], new Dictionary<string, IFenceDevice>(), new FenceHistory(_dir),
            (_, _, _) => { }, (_, _) => { }, d => decisions.Add(d), _ => { }, NullLogger.Instance, _time);
        exec.OnCommand(new Decided(new ArbiterDecision(Appliance.Core.Heartbeat.NodeRole.Standby, ArbiterAction.None, "shutting down")));
        exec.OnCommand(new Left(true, "the peer has seen this node leave"));
        Assert.Single(decisions);
        Assert.True((await exec.Left.WaitAsync(TimeSpan.FromSeconds(5))).Clean);
    }
}
