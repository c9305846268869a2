using System.Collections.Concurrent;
using System.Diagnostics;
using Appliance.Daemon;
using Appliance.Linux.Nft;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// The daemon's nft worker through its proxy: the worker is applianced --nft-worker (run as
/// `dotnet applianced.dll` from the test output) started with `ip netns exec` in a fresh network
/// namespace; this test process plays the daemon.
/// </summary>
public sealed class NftProxyTests : IDisposable
{
    private readonly NftNamespace _ns = new();
    private readonly ListLogger _log;

    public NftProxyTests(ITestOutputHelper output) => _log = new ListLogger(output);

    public void Dispose() => _ns.Dispose();

    private NftProxy Proxy(bool testHooks = false, TimeSpan? timeout = null) => new(_log,
        NftWorkerStart.ThisExecutable(["ip", "netns", "exec", _ns.Name],
            testHooks ? new Dictionary<string, string> { [NftWorker.TestHooksVariable] = "1" } : null),
        timeout);

    [RootFact]
    public async Task Applies_rejects_and_lists_through_the_worker()
    {
        using var proxy = Proxy();

        var applied = await proxy.ApplyAsync(NftTexts.Small);
        var rejected = await proxy.ApplyAsync("flush chain inet appliance svc_web\nadd rule inet appliance svc_web jump nowhere\n");
        var checkedOnly = await proxy.ApplyAsync(NftTexts.RewriteWebChain, checkOnly: true);
        var listed = await proxy.ListAsync(NftTable.Appliance);
        var counters = await proxy.ListCountersAsync(NftTable.Appliance);

        Assert.Equal(NftOutcome.Applied, applied.Outcome);
        Assert.Equal(NftBackend.Library, applied.Backend);
        Assert.NotNull(applied.RoundTrip);
        Assert.True(applied.RoundTrip >= applied.Elapsed);
        Assert.Equal(NftOutcome.Rejected, rejected.Outcome);
        Assert.StartsWith("transaction:2:", rejected.Message);
        Assert.Contains("jump nowhere", rejected.Message);
        Assert.Equal(NftOutcome.Checked, checkedOnly.Outcome);
        Assert.Equal(_ns.ListOurs(), listed.Output); // in the namespace, mod 2: neither the rejection nor the check changed it
        Assert.Contains("mod 2", listed.Output);
        Assert.True(NftCounters.Parse(counters.Output).ContainsKey("web_rs1"));
        Assert.Equal(1, proxy.WorkersStarted);
        Assert.Equal(NftBackend.Library, proxy.Backend);
        Assert.Equal(2, _log.Count(1802)); // the apply and the check
        Assert.Equal(1, _log.Count(1803));
    }

    [RootFact]
    public async Task A_crash_in_the_worker_is_a_failure_then_a_new_worker_applies_and_the_daemon_is_unharmed()
    {
        using var proxy = Proxy(testHooks: true);
        Assert.Null(await proxy.StartAsync());
        int firstPid = proxy.WorkerPid!.Value;
        Assert.Equal(NftOutcome.Applied, (await proxy.ApplyAsync(NftTexts.Small)).Outcome);
        string before = _ns.ListOurs();

        // The "daemon" keeps a heartbeat-like tick running on its own thread through the crash.
        using var stop = new CancellationTokenSource();
        long ticks = 0;
        var ticker = new Thread(() => { while (!stop.IsCancellationRequested) { Interlocked.Increment(ref ticks); Thread.Sleep(5); } }) { IsBackground = true };
        ticker.Start();

        var crashed = await proxy.CrashForTestAsync();
        long ticksAtCrash = Interlocked.Read(ref ticks);

        Assert.Equal(NftOutcome.Failed, crashed.Outcome);
        Assert.Equal("worker crashed (signal 11)", crashed.Message);
        Assert.Null(proxy.WorkerPid);
        Assert.Single(_log.Entries, e => e.Id == 1801 && e.Message.Contains("crashed (signal 11)") && e.Message.Contains("the request in flight failed"));
        Assert.Equal(before, _ns.ListOurs()); // the loaded table is the kernel's: a worker's death does not touch it

        var next = await proxy.ApplyAsync(NftTexts.RewriteWebChain);

        Assert.Equal(NftOutcome.Applied, next.Outcome);
        Assert.Equal(2, proxy.WorkersStarted);
        Assert.NotEqual(firstPid, proxy.WorkerPid);
        Assert.Contains("mod 3", _ns.ListOurs());
        Thread.Sleep(50);
        stop.Cancel();
        ticker.Join();
        Assert.True(Interlocked.Read(ref ticks) > ticksAtCrash, "the test process's own thread stopped ticking");
    }

    [RootFact]
    public async Task The_crash_hook_does_not_exist_without_the_variable()
    {
        using var proxy = Proxy(testHooks: false);
        Assert.Null(await proxy.StartAsync());
        int pid = proxy.WorkerPid!.Value;

        var r = await proxy.CrashForTestAsync();

        Assert.Equal(NftOutcome.Failed, r.Outcome);
        Assert.Contains("unknown command 'crash-for-test'", r.Message);
        Assert.Equal(pid, proxy.WorkerPid);
        Assert.Equal(NftOutcome.Applied, (await proxy.ApplyAsync(NftTexts.Small)).Outcome);
    }

    [RootFact]
    public async Task A_worker_killed_between_requests_is_replaced_at_the_next_one()
    {
        using var proxy = Proxy();
        Assert.Null(await proxy.StartAsync());
        int pid = proxy.WorkerPid!.Value;

        Process.GetProcessById(pid).Kill(); // SIGKILL, from outside (an OOM killer, an operator)
        long deadline = Environment.TickCount64 + 10_000;
        while (proxy.WorkerPid is not null && Environment.TickCount64 < deadline)
            await Task.Delay(10);
        var r = await proxy.ApplyAsync(NftTexts.Small);

        Assert.Equal(NftOutcome.Applied, r.Outcome);
        Assert.Equal(2, proxy.WorkersStarted);
        Assert.Single(_log.Entries, e => e.Id == 1801 && e.Message.Contains("crashed (signal 9)") && e.Message.Contains("no request was in flight"));
    }

    [RootFact]
    public async Task A_request_over_the_timeout_kills_the_worker_and_the_transaction_is_all_or_nothing()
    {
        using (var warm = Proxy())
            Assert.Null(await warm.StartAsync()); // the first start of the test host's dll is the slow one
        using var proxy = Proxy(timeout: TimeSpan.FromMilliseconds(1));
        Assert.Null(await proxy.StartAsync());

        var r = await proxy.ApplyAsync(NftTexts.Director(1, 5000));

        Assert.Equal(NftOutcome.Failed, r.Outcome);
        Assert.Contains("within", r.Message);
        Assert.Contains("worker killed", r.Message);
        Assert.Single(_log.Entries, e => e.Id == 1807);
        string table = _ns.ListOurs(); // either nothing or all 5000 servers: never a part
        Assert.True(table == "" || table.Contains("mod 5000"), table.Length > 300 ? table[..300] : table);
    }

    [RootFact]
    public async Task Oversized_text_is_refused_before_the_worker()
    {
        using var proxy = Proxy();

        var r = await proxy.ApplyAsync(new string('#', NftApplier.TransactionBytesMax + 1));

        Assert.Equal(NftOutcome.Rejected, r.Outcome);
        Assert.Contains("TransactionBytesMax", r.Message);
        Assert.Equal(0, proxy.WorkersStarted);
    }

    [RootFact]
    public async Task A_worker_that_cannot_start_is_a_failure_not_an_exception()
    {
        using var proxy = new NftProxy(_log, new NftWorkerStart(["/nonexistent/applianced", NftWorker.Flag], new Dictionary<string, string>()));

        var r = await proxy.ApplyAsync(NftTexts.Small);

        Assert.Equal(NftOutcome.Failed, r.Outcome);
        Assert.Contains("cannot start the nft worker", r.Message);
        Assert.Contains(_log.Entries, e => e.Id == 1804);
    }
}
