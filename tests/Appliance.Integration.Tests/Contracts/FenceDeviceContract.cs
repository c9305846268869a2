using System.Diagnostics;
using Appliance.Core.Fencing;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Contracts;

/// <summary>
/// The contract of <see cref="IFenceDevice"/>, written once and run against every driver (one
/// derived class each, in FenceDeviceImplementations.cs): what <see cref="FenceController"/> and the
/// daemon's fencing service rely on.
/// <list type="number">
/// <item>Kind is the config kind; Name the configured name.</item>
/// <item>Off, then Status reads Off (the controller's verification: a fence counts only when a
/// status read after the off says off).</item>
/// <item>On, then Status reads On; a device that only a person can switch on (manual) answers On
/// with a hard error instead.</item>
/// <item>Reboot is done where <see cref="IFenceDevice.CanReboot"/> (and Status then reads On), else
/// a hard error (the controller does off, then on).</item>
/// <item>Every answer is a result of the closed set (<see cref="FenceOutcome"/> other than
/// NoDevice, which is the controller's, and a defined <see cref="PowerState"/>) with a reason for
/// people; never an exception.</item>
/// <item>Cancellation: a token cancelled before the call gets Timeout for Off, and any call returns
/// within <see cref="FencingLimits.CancelGrace"/>; an action in flight (a device that stopped
/// answering, an operator who never comes) returns Timeout within CancelGrace of the cancel, as
/// the fencing service waits no longer before it calls the driver wedged.</item>
/// <item>A node the device has no mapping for (PDU outlet, agent plug) is a hard error naming the
/// node, so the controller moves on to the next device, and nothing is switched.</item>
/// </list>
/// Fixtures whose device needs a person give the contract an operator (<see cref="PlayOperator"/>).
/// </summary>
public abstract class FenceDeviceContract(ITestOutputHelper output) : IDisposable
{
    protected const string DeviceName = "fence-contract";

    /// <summary>Bound of one action in these tests: a PDU handshake plus a Python agent's start on a loaded box.</summary>
    private static readonly TimeSpan ActionTimeout = TimeSpan.FromSeconds(20);

    /// <summary>How long an action runs before the in-flight clause cancels it: past any handshake's first step.</summary>
    private static readonly TimeSpan CancelAfter = TimeSpan.FromMilliseconds(500);

    private readonly List<IDisposable> _cleanup = [];
    private IFenceDevice? _device;

    protected ITestOutputHelper Output { get; } = output;

    /// <summary>The device under test, made on first use and disposed (if it is disposable) after the test.</summary>
    protected IFenceDevice Device => _device ??= Created(CreateDevice());

    /// <summary>A fresh device named <see cref="DeviceName"/> that can fence <see cref="Target"/>, with its simulator ready.</summary>
    protected abstract IFenceDevice CreateDevice();

    protected abstract string ExpectedKind { get; }

    /// <summary>A node this device can fence.</summary>
    protected abstract string Target { get; }

    /// <summary>A node this device has no mapping for (null: it fences whatever it is wired to; skip that clause).</summary>
    protected virtual string? UnknownTarget => null;

    /// <summary>False for a device whose On must be done by a person (then On is a hard error).</summary>
    protected virtual bool CanPowerOn => true;

    /// <summary>Plays the operator right after <paramref name="action"/> started, for devices that wait for one (manual).</summary>
    protected virtual void PlayOperator(IFenceDevice device, FenceAction action, string target)
    {
    }

    /// <summary>Makes the device stop answering (silent PDU, hanging agent, no operator); skip the clause where it cannot be.</summary>
    protected virtual void MakeUnresponsive(IFenceDevice device) =>
        throw new NotSupportedException($"{GetType().Name} cannot make its device hang: add [ContractSkip] saying why");

    /// <summary>Disposes <paramref name="d"/> after the test, before what was tracked earlier.</summary>
    protected T Track<T>(T d) where T : IDisposable
    {
        _cleanup.Add(d);
        return d;
    }

    private IFenceDevice Created(IFenceDevice device)
    {
        if (device is IDisposable d)
            Track(d);
        return device;
    }

    public void Dispose()
    {
        for (int i = _cleanup.Count - 1; i >= 0; i--)
        {
            try
            {
                _cleanup[i].Dispose();
            }
            catch (Exception ex)
            {
                Output.WriteLine($"cleanup: {ex.Message}");
            }
        }
        GC.SuppressFinalize(this);
    }

    [ContractFact]
    public void Kind_and_name_are_the_configured_ones()
    {
        Assert.Equal((ExpectedKind, DeviceName), (Device.Kind, Device.Name));
    }

    [ContractFact]
    public async Task Off_then_status_reads_off()
    {
        FenceResult off = await Run(FenceAction.Off, Target);
        Assert.True(off.Outcome == FenceOutcome.Done, $"off: {off}");
        FenceResult status = await Run(FenceAction.Status, Target);
        Assert.True(status is { Outcome: FenceOutcome.Done, Power: PowerState.Off }, $"status after off: {status}");
    }

    [ContractFact]
    public async Task On_then_status_reads_on()
    {
        Assert.Equal(FenceOutcome.Done, (await Run(FenceAction.Off, Target)).Outcome); // from off, so on has something to do
        FenceResult on = await Run(FenceAction.On, Target);
        if (!CanPowerOn)
        {
            Assert.True(on.Outcome == FenceOutcome.HardError, $"on, by a device only a person can switch on: {on}");
            return;
        }
        Assert.True(on.Outcome == FenceOutcome.Done, $"on: {on}");
        FenceResult status = await Run(FenceAction.Status, Target);
        Assert.True(status is { Outcome: FenceOutcome.Done, Power: PowerState.On }, $"status after on: {status}");
    }

    [ContractFact]
    public async Task Reboot_is_done_where_the_device_can_reboot_and_a_hard_error_otherwise()
    {
        FenceResult reboot = await Run(FenceAction.Reboot, Target);
        if (!Device.CanReboot)
        {
            Assert.True(reboot.Outcome == FenceOutcome.HardError, $"reboot by a device that cannot: {reboot}");
            return;
        }
        Assert.True(reboot.Outcome == FenceOutcome.Done, $"reboot: {reboot}");
        FenceResult status = await Run(FenceAction.Status, Target);
        Assert.True(status is { Outcome: FenceOutcome.Done, Power: PowerState.On }, $"status after reboot: {status}");
    }

    [ContractFact]
    public async Task Every_answer_is_a_closed_set_result_with_a_reason()
    {
        // The controller's whole vocabulary, in an order that visits each state; Run checks each answer.
        foreach (FenceAction action in new[] { FenceAction.Status, FenceAction.Off, FenceAction.Status, FenceAction.On,
                     FenceAction.Status, FenceAction.Off, FenceAction.Off, FenceAction.Status })
            Output.WriteLine($"{action}: {await Run(action, Target)}");
    }

    [ContractFact]
    public async Task A_token_cancelled_before_the_call_gets_a_timeout_within_the_cancel_grace()
    {
        IFenceDevice device = Device; // made (simulator started) before the clock runs
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        foreach (FenceAction action in new[] { FenceAction.Off, FenceAction.Status, FenceAction.On })
        {
            var sw = Stopwatch.StartNew();
            Task<FenceResult> task = device.RunAsync(action, Target, cancelled.Token);
            FenceResult r = await Bounded(task, FencingLimits.CancelGrace, $"{action} with a cancelled token");
            AssertWellFormed(r, action);
            Output.WriteLine($"{action} cancelled: {r} in {sw.Elapsed.TotalMilliseconds:0} ms");
            Assert.True(sw.Elapsed <= FencingLimits.CancelGrace, $"{action} with a cancelled token took {sw.Elapsed} (the call itself included)");
            if (action == FenceAction.Off)
                Assert.True(r.Outcome == FenceOutcome.Timeout, $"off with a cancelled token must not be done: {r}");
        }
    }

    [ContractFact]
    public async Task An_action_in_flight_returns_a_timeout_within_the_cancel_grace_of_the_cancel()
    {
        IFenceDevice device = Device;
        MakeUnresponsive(device);
        using var cts = new CancellationTokenSource();
        Task<FenceResult> task = device.RunAsync(FenceAction.Off, Target, cts.Token);
        await Task.Delay(CancelAfter);
        Assert.False(task.IsCompleted, $"an unresponsive device answered off before the cancel: {(task.IsCompleted ? task.Result : default)}");

        var sw = Stopwatch.StartNew();
        cts.Cancel();
        FenceResult r = await Bounded(task, FencingLimits.CancelGrace, "off cancelled in flight");
        Output.WriteLine($"answered {sw.Elapsed.TotalMilliseconds:0} ms after the cancel: {r}");
        AssertWellFormed(r, FenceAction.Off);
        Assert.True(r.Outcome == FenceOutcome.Timeout, $"off cancelled in flight: {r}");
    }

    [ContractFact]
    public async Task An_unknown_target_is_a_hard_error_naming_it_and_switches_nothing()
    {
        Assert.True(UnknownTarget is not null, $"{GetType().Name} names no unknown target: add [ContractSkip] saying why the clause does not apply");
        FenceResult before = await Run(FenceAction.Status, Target);
        foreach (FenceAction action in new[] { FenceAction.Off, FenceAction.Status, FenceAction.On })
        {
            FenceResult r = await Run(action, UnknownTarget);
            Assert.True(r.Outcome == FenceOutcome.HardError, $"{action} of unknown node {UnknownTarget}: {r}");
            Assert.Contains(UnknownTarget, r.Reason, StringComparison.Ordinal);
        }
        FenceResult after = await Run(FenceAction.Status, Target);
        Assert.Equal((before.Outcome, before.Power), (after.Outcome, after.Power));
    }

    /// <summary>One action as the fencing service runs it: bounded, the operator played, the answer checked.</summary>
    private async Task<FenceResult> Run(FenceAction action, string target)
    {
        IFenceDevice device = Device;
        using var cts = new CancellationTokenSource(ActionTimeout);
        Task<FenceResult> task = device.RunAsync(action, target, cts.Token);
        PlayOperator(device, action, target);
        FenceResult r = await Bounded(task, ActionTimeout + FencingLimits.CancelGrace, $"{action} of {target}");
        AssertWellFormed(r, action);
        return r;
    }

    /// <summary>The task's result, or a failure naming <paramref name="what"/> if it takes longer than <paramref name="limit"/>.</summary>
    private static async Task<FenceResult> Bounded(Task<FenceResult> task, TimeSpan limit, string what)
    {
        try
        {
            return await task.WaitAsync(limit);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"{what}: no result within {limit.TotalMilliseconds:0} ms");
            throw;
        }
    }

    private static void AssertWellFormed(FenceResult r, FenceAction action)
    {
        Assert.True(Enum.IsDefined(r.Outcome) && r.Outcome != FenceOutcome.NoDevice, $"{action}: outcome {r.Outcome} is not a driver's");
        Assert.True(Enum.IsDefined(r.Power), $"{action}: power {r.Power}");
        Assert.False(string.IsNullOrWhiteSpace(r.Reason), $"{action}: {r.Outcome} without a reason");
    }
}
