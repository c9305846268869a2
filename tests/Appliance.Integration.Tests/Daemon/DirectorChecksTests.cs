using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Appliance.Core.Config;
using Appliance.Core.Director;
using Appliance.Daemon;
using Appliance.Linux.Nft;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>
/// The check runner with fake probes: checks run once per interval, a hung probe is not started
/// again, a throwing probe is a failure, and `services --json` shows result and reason. (The table
/// is never loaded here: the nft worker cannot start, so only the checks' state is seen.) On the
/// real clock: on Microsoft's FakeTimeProvider the loop's wake-ups came late (to be looked into).
/// </summary>
public sealed class DirectorChecksTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly IPEndPoint A = IPEndPoint.Parse("10.77.0.11:8080"), B = IPEndPoint.Parse("10.77.0.12:8080"), C = IPEndPoint.Parse("10.77.0.13:8080");

    private static DirectorConfig Config() => new([], null,
    [
        new VirtualServiceConfig("web", new ServiceListen(IPAddress.Parse("192.0.2.10"), 80, L4Protocol.Tcp), DirectorScheduler.Rr, DirectorForwarding.Nat,
            null, QuorumConfig.Default, DirectorCheckConfig.Default with { Interval = TimeSpan.FromMilliseconds(200), Timeout = TimeSpan.FromMilliseconds(100), Rise = 1, Fall = 2 },
            [new RealServerConfig(A, 1, null, RealServerAdminState.Up), new RealServerConfig(B, 1, null, RealServerAdminState.Up), new RealServerConfig(C, 1, null, RealServerAdminState.Up)], null),
    ]);

    [Fact]
    public async Task Checks_run_once_per_interval_a_hung_probe_is_not_started_twice_and_services_shows_the_result()
    {
        var time = TimeProvider.System;
        var calls = new ConcurrentDictionary<IPEndPoint, int>();
        var hung = new TaskCompletionSource<CheckOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<CheckOutcome> Probe(CheckTarget t, CancellationToken ct)
        {
            calls.AddOrUpdate(t.Address, 1, (_, n) => n + 1);
            if (t.Address.Equals(A))
                return Task.FromResult(CheckOutcome.Fail("connecting: connection refused"));
            if (t.Address.Equals(B))
                throw new InvalidOperationException("probe bug");
            return hung.Task; // C never answers (a probe that ignores its deadline)
        }
        using var nft = new NftProxy(NullLogger.Instance, new NftWorkerStart(["/nonexistent/applianced", NftWorker.Flag], new Dictionary<string, string>()));
        var director = new DirectorService(Config(), "test", NullLogger.Instance, time, nft);
        await using var checks = new DirectorChecks(Config(), "test", "alpha", director, NullLogger.Instance, time, Probe);
        checks.Start();
        // The first round pays the JIT and the first exception's stack trace (hundreds of ms here):
        // count over a window after it.
        await Task.Delay(1000); // not Thread.Sleep: a blocked pool thread on 2 cores starves the timers
        int a0 = calls[A];
        long skipped0 = checks.Stats().Skipped;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await Task.Delay(2000);
        var stats = checks.Stats();
        double intervals = watch.Elapsed.TotalMilliseconds / 200;
        // Never more than once per interval, and it keeps running. How late a check may start is the
        // benchmark's business (tests/bench/checks.sh): on this shared machine a real-time bound here
        // failed whenever other jobs ran (2 of 10 slots skipped as late, seen).
        Assert.True(calls[A] - a0 <= intervals + 1.5, $"{calls[A] - a0} checks of A in {intervals:F1} intervals; {stats}");
        Assert.True(calls[A] - a0 >= 1, $"A was not checked again in {intervals:F1} intervals; {stats}");
        output.WriteLine($"A checked {calls[A] - a0} times in {intervals:F1} intervals, {stats.Skipped - skipped0} slots skipped as late");
        Assert.Equal(1, calls[C]);      // still running: never started twice

        JsonElement web = default;
        Assert.True(SpinWait.SpinUntil(() =>
        {
            web = JsonDocument.Parse(director.WriteServicesAsync().GetAwaiter().GetResult()).RootElement.GetProperty("services")[0].Clone();
            return web.GetProperty("servers")[1].GetProperty("state").GetString() == "down";
        }, TimeSpan.FromSeconds(5)));
        var servers = web.GetProperty("servers");
        Assert.Equal("down", servers[0].GetProperty("state").GetString());
        Assert.Equal("fail", servers[0].GetProperty("check").GetProperty("result").GetString());
        Assert.Equal("connecting: connection refused", servers[0].GetProperty("check").GetProperty("reason").GetString());
        Assert.Contains("probe bug", servers[1].GetProperty("check").GetProperty("reason").GetString()); // a throwing probe is a failure
        Assert.Equal("up", servers[2].GetProperty("state").GetString());
        Assert.Equal("pending", servers[2].GetProperty("check").GetProperty("result").GetString());
        Assert.Equal(3, stats.Targets);
        Assert.Equal(1, stats.Running);
        hung.SetResult(CheckOutcome.Pass("connected"));
    }
}
