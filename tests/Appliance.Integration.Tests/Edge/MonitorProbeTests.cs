using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using Appliance.Core.Config;
using Appliance.Linux;
using Appliance.Linux.Director;
using Appliance.Linux.Monitors;
using Microsoft.Extensions.Time.Testing;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// The node's monitor probes: a deadline is the service's, not this process's. A look at the deadline
/// that comes late (the process was held) gives the probe that long again, once; a tcp probe is judged
/// by the kernel's state of its connect. Real probes on loopback.
/// </summary>
public sealed class MonitorProbeTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(150);

    private static FakeTimeProvider Clock() => new(DateTimeOffset.UnixEpoch.AddDays(Random.Shared.Next(1, 20_000)));

    private static MonitorConfig Tcp(IPEndPoint address) => new("service", MonitorKind.Tcp, TimeSpan.FromMilliseconds(200), Timeout, 2, 2,
        address, null, 0, null, ImmutableArray<IPAddress>.Empty);

    [Fact]
    public async Task A_deadline_looked_at_late_gives_the_probe_the_time_the_process_was_held()
    {
        var time = Clock();
        var work = new TaskCompletionSource();
        var verdict = Probe.WithinAsync(work.Task, Timeout, time, CancellationToken.None);
        time.Advance(Timeout + TimeSpan.FromMilliseconds(100)); // the deadline's timer runs 100 ms late
        await Task.Delay(200);
        Assert.False(verdict.IsCompleted, "a deadline looked at 100 ms late was judged at once, not given the 100 ms back");
        work.SetResult(); // the answer queued behind the hold
        Assert.True(await verdict.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_deadline_looked_at_on_time_fails_and_the_time_back_is_given_only_once()
    {
        var time = Clock();
        var work = new TaskCompletionSource();
        var onTime = Probe.WithinAsync(work.Task, Timeout, time, CancellationToken.None);
        time.Advance(Timeout + HeldProcess.Slack / 2);
        Assert.False(await onTime.WaitAsync(TimeSpan.FromSeconds(5)));

        var held = Probe.WithinAsync(work.Task, Timeout, time, CancellationToken.None);
        time.Advance(Timeout + TimeSpan.FromMilliseconds(100));
        await Task.Delay(100);
        Assert.False(held.IsCompleted); // the late look gave the 100 ms back
        time.Advance(TimeSpan.FromMilliseconds(400)); // held again, longer: no second grace
        Assert.False(await held.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Shutdown_during_a_probe_throws_rather_than_failing_the_service()
    {
        var time = Clock();
        using var stop = new CancellationTokenSource();
        var verdict = Probe.WithinAsync(new TaskCompletionSource().Task, Timeout, time, stop.Token);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => verdict);
    }

    [Fact]
    public async Task A_tcp_probe_connects_to_a_listener_and_names_a_refusal()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var up = (IPEndPoint)listener.LocalEndpoint;
        var ok = await Probe.RunAsync(Tcp(up), TimeProvider.System, CancellationToken.None);
        Assert.True(ok.Ok, ok.Reason);
        Assert.Equal($"connected to {up}", ok.Reason);

        listener.Stop(); // nothing listens on the port now
        var refused = await Probe.RunAsync(Tcp(up), TimeProvider.System, CancellationToken.None);
        Assert.False(refused.Ok);
        Assert.Contains("refused", refused.Reason, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task The_kernels_word_on_a_connect_is_connected_only_when_it_completed()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var up = (IPEndPoint)listener.LocalEndpoint;

        using var fresh = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        Assert.False(Probe.ConnectedInKernel(fresh)); // no connect yet

        using var connected = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await connected.ConnectAsync(up);
        Assert.True(Probe.ConnectedInKernel(connected));

        listener.Stop();
        using var refused = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await Assert.ThrowsAsync<SocketException>(() => refused.ConnectAsync(up));
        Assert.False(Probe.ConnectedInKernel(refused));

        var disposed = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        disposed.Dispose();
        Assert.False(Probe.ConnectedInKernel(disposed));
    }

    [Fact]
    public async Task A_socket_connected_to_itself_is_told_apart_from_a_connection()
    {
        // Simultaneous open: a socket bound to a port nothing listens on, connecting to that same port.
        using var self = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        self.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var own = (IPEndPoint)self.LocalEndPoint!;
        await self.ConnectAsync(own);
        Assert.True(CheckLoop.ConnectedToItself((int)self.Handle, own));

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var up = (IPEndPoint)listener.LocalEndpoint;
        using var connected = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await connected.ConnectAsync(up);
        Assert.False(CheckLoop.ConnectedToItself((int)connected.Handle, up));

        using var self6 = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        self6.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        var own6 = (IPEndPoint)self6.LocalEndPoint!;
        await self6.ConnectAsync(own6);
        Assert.True(CheckLoop.ConnectedToItself((int)self6.Handle, own6));
    }
}
