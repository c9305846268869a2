using System.Diagnostics;
using System.Net;
using Appliance.Core.Config;
using Appliance.Core.Ports;
using Appliance.Daemon;
using Appliance.Integration.Tests.Edge;
using Appliance.Linux.Director;
using Appliance.Linux.Resources;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>
/// The real conntrackd (Debian's conntrack-tools) with the config the daemon generates, in a network
/// namespace of its own: the supervisor starts it and starts it again when it dies; the takeover's
/// commit, the monitor and the release run against it.
/// </summary>
public sealed class ConntrackSyncTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("apl-ctd-").FullName;
    private readonly string _ns = "apl-ctd-" + Guid.NewGuid().ToString("N")[..8];

    public void Dispose()
    {
        try
        {
            if (File.Exists("/run/netns/" + _ns))
                Edge.Edge.Run("ip", "netns", "delete", _ns);
            Directory.Delete(_dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
        }
    }

    [RootFact]
    public async Task The_supervised_conntrackd_commits_answers_and_is_restarted_when_it_dies()
    {
        var supervisor = Setup();
        supervisor.Start();
        try
        {
            Assert.True(SpinWait.SpinUntil(() => supervisor.Pid is not null && File.Exists(Path.Combine(_dir, "conntrackd.ctl")), TimeSpan.FromSeconds(10)),
                "conntrackd did not start: " + Log());
            int first = supervisor.Pid!.Value;
            Assert.Equal(Edge.Edge.Run("ip", "netns", "exec", _ns, "readlink", "/proc/self/ns/net").Trim(), Edge.Edge.Run("readlink", $"/proc/{first}/ns/net").Trim());

            var resource = new ConntrackSyncResource(supervisor.ControlSocket);
            var start = await resource.StartAsync(CancellationToken.None);
            Assert.True(start.Ok, "start: " + start.Reason);
            var commit = await resource.FinishAsync(CancellationToken.None);
            Assert.True(commit.Ok, "commit: " + commit.Reason + Log());
            var monitor = await resource.MonitorAsync(CancellationToken.None);
            Assert.True(monitor.Ok, "monitor: " + monitor.Reason);
            Assert.True((await resource.StopAsync(CancellationToken.None)).Ok);

            Process.GetProcessById(first).Kill(); // conntrackd dies: it is started again (1 s backoff)
            Assert.True(SpinWait.SpinUntil(() => supervisor.Pid is { } p && p != first, TimeSpan.FromSeconds(10)), "conntrackd was not restarted");
            Assert.True(SpinWait.SpinUntil(() => resource.MonitorAsync(CancellationToken.None).GetAwaiter().GetResult().Ok, TimeSpan.FromSeconds(10)),
                "the restarted conntrackd does not answer" + Log());
        }
        finally
        {
            int? last = supervisor.Pid;
            await supervisor.DisposeAsync();
            if (last is { } pid)
                Assert.False(File.Exists($"/proc/{pid}/status") && !File.ReadAllText($"/proc/{pid}/status").Contains("State:\tZ"), "conntrackd outlived its supervisor");
        }
    }

    /// <summary>
    /// The daemon speaks conntrackd's control socket itself (no `conntrackd -c` process per request):
    /// against Debian's conntrackd, statistics come back as its text, a commit is done when the answer
    /// ends (its log says so), and an absent conntrackd is an error naming the socket.
    /// </summary>
    [RootFact]
    public async Task The_control_socket_carries_conntrackds_own_requests()
    {
        var supervisor = Setup();
        var missing = await Assert.ThrowsAsync<ConntrackdControlException>(
            () => ConntrackdControl.RequestAsync(supervisor.ControlSocket, ConntrackdRequest.Stats, CancellationToken.None));
        Assert.Contains(supervisor.ControlSocket, missing.Message);
        Assert.Contains("is it running?", missing.Message);
        supervisor.Start();
        try
        {
            Assert.True(await supervisor.WaitReadyAsync(TimeSpan.FromSeconds(10), CancellationToken.None), "conntrackd did not start" + Log());
            string stats = await ConntrackdControl.RequestAsync(supervisor.ControlSocket, ConntrackdRequest.Stats, CancellationToken.None);
            Assert.Contains("cache internal:", stats);
            Assert.Contains("cache external:", stats);
            Assert.Equal("", await ConntrackdControl.RequestAsync(supervisor.ControlSocket, ConntrackdRequest.Commit, CancellationToken.None));
            Assert.Contains("commit has taken", Log());
            await ConntrackdControl.RequestAsync(supervisor.ControlSocket, ConntrackdRequest.RequestResync, CancellationToken.None);
            Assert.True(SpinWait.SpinUntil(() => Log().Contains("resync requested", StringComparison.Ordinal), TimeSpan.FromSeconds(5)), "-n was not understood" + Log());
        }
        finally
        {
            await supervisor.DisposeAsync();
        }
    }

    /// <summary>
    /// A takeover right after the daemon started (both nodes booted together, seen in the lab) comes before
    /// the supervisor's conntrackd is up. The start does not wait for it (the VIPs come up after it; the
    /// guard holds the synced connections' packets); the commit (the resource's finish, after the VIPs)
    /// waits and succeeds, and it fails, bounded, only when conntrackd never comes, saying what that costs.
    /// </summary>
    [RootFact]
    public async Task A_commit_before_conntrackd_is_up_waits_for_it_without_holding_the_start_and_fails_only_when_it_never_comes()
    {
        var supervisor = Setup();
        try
        {
            var unready = new ConntrackSyncResource(supervisor.ControlSocket);
            Assert.True((await unready.StartAsync(CancellationToken.None)).Ok);
            var refused = await unready.FinishAsync(CancellationToken.None);
            Assert.False(refused.Ok, "a commit with no conntrackd running succeeded");
            Assert.Contains("commit (conntrackd -c)", refused.Reason);
            Assert.Contains("the guard drops the synced connections' packets", refused.Reason);

            var never = new ConntrackSyncResource(supervisor.ControlSocket, supervisor.WaitReadyAsync);
            var sw = Stopwatch.StartNew();
            var started = await never.StartAsync(CancellationToken.None);
            Assert.True(started.Ok, started.Reason);
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(1), $"the start waited {sw.Elapsed.TotalMilliseconds:0}ms for conntrackd");
            var finishing = never.FinishAsync(CancellationToken.None);
            await Task.Delay(100);
            Assert.False(finishing.IsCompleted, "the commit did not wait for conntrackd");
            var failed = await finishing;
            Assert.False(failed.Ok);
            Assert.Contains("conntrackd is not running", failed.Reason);
            Assert.InRange(sw.Elapsed, ConntrackSyncResource.ReadyTimeout - TimeSpan.FromMilliseconds(100), ConntrackSyncResource.ReadyTimeout + TimeSpan.FromSeconds(5));

            // The takeover's commit starts first; conntrackd comes 300 ms later.
            var resource = new ConntrackSyncResource(supervisor.ControlSocket, supervisor.WaitReadyAsync);
            Assert.True((await resource.StartAsync(CancellationToken.None)).Ok);
            var committing = resource.FinishAsync(CancellationToken.None);
            await Task.Delay(300);
            Assert.False(committing.IsCompleted, "the commit did not wait for conntrackd");
            supervisor.Start();
            var done = await committing;
            Assert.True(done.Ok, "commit: " + done.Reason + Log());
            Assert.Contains("waiting for conntrackd", done.Reason);
        }
        finally
        {
            await supervisor.DisposeAsync();
        }
    }

    /// <summary>
    /// The takeover's order is the table, the VIPs, then the commit: the start waits for the director's
    /// table (at boot it loads in the background), and when the table does not come within the bound the
    /// start still succeeds and the commit still happens (the VIPs are worth holding), and it says that
    /// the connections may be lost.
    /// </summary>
    [RootFact]
    public async Task A_commit_waits_for_the_directors_table_and_says_so_when_it_never_comes()
    {
        var supervisor = Setup();
        supervisor.Start();
        try
        {
            var table = new TaskCompletionSource();
            async Task<bool> Loaded(TimeSpan bound, CancellationToken ct)
            {
                try
                {
                    await table.Task.WaitAsync(bound, ct);
                    return true;
                }
                catch (TimeoutException)
                {
                    return false;
                }
            }
            var resource = new ConntrackSyncResource(supervisor.ControlSocket, supervisor.WaitReadyAsync, Loaded);
            var commit = resource.StartAsync(CancellationToken.None);
            await Task.Delay(500);
            Assert.False(commit.IsCompleted, "the commit did not wait for the director's table");
            table.SetResult();
            var done = await commit;
            Assert.True(done.Ok, "start: " + done.Reason);
            Assert.DoesNotContain("without the director's table", done.Reason);
            var committed = await resource.FinishAsync(CancellationToken.None);
            Assert.True(committed.Ok, "commit: " + committed.Reason + Log());

            var lateResource = new ConntrackSyncResource(supervisor.ControlSocket, supervisor.WaitReadyAsync,
                (_, _) => Task.FromResult(false));
            var late = await lateResource.StartAsync(CancellationToken.None);
            Assert.True(late.Ok, "a start without the table failed the takeover: " + late.Reason);
            Assert.Contains("without the director's table", late.Reason);
            var lateCommit = await lateResource.FinishAsync(CancellationToken.None);
            Assert.True(lateCommit.Ok, "commit: " + lateCommit.Reason + Log());
        }
        finally
        {
            await supervisor.DisposeAsync();
        }
    }

    /// <summary>
    /// A release followed at once by a takeover (the release at boot right before the first takeover, seen
    /// in the lab): the release's purge request (`-t`) must not reach conntrackd after the commit, or its
    /// purge timer deletes the now active node's established connections 60 s later. A lone release
    /// does arm it (so the log line is the evidence); a release superseded by a start does not.
    /// </summary>
    [RootFact]
    public async Task A_takeover_right_after_a_release_cancels_the_release_purge()
    {
        var supervisor = Setup();
        supervisor.Start();
        try
        {
            var resource = new ConntrackSyncResource(supervisor.ControlSocket, supervisor.WaitReadyAsync);
            Assert.True((await resource.StopAsync(CancellationToken.None)).Ok);
            Assert.True(SpinWait.SpinUntil(() => Log().Contains("flushing conntrack table in", StringComparison.Ordinal), TimeSpan.FromSeconds(10)),
                "a lone release armed no purge timer" + Log());

            Assert.True((await resource.StopAsync(CancellationToken.None)).Ok);
            var start = await resource.StartAsync(CancellationToken.None);
            Assert.True(start.Ok, start.Reason + Log());
            var committed = await resource.FinishAsync(CancellationToken.None);
            Assert.True(committed.Ok, committed.Reason + Log());
            Thread.Sleep(ConntrackSyncResource.FollowUpDelay + TimeSpan.FromSeconds(1.5)); // both follow-ups would have run by now
            string log = Log();
            int commit = log.LastIndexOf("committing", StringComparison.Ordinal);
            Assert.True(commit >= 0, "no commit in the log" + log);
            Assert.DoesNotContain("flushing conntrack table in", log[commit..]);
        }
        finally
        {
            await supervisor.DisposeAsync();
        }
    }

    /// <summary>A namespace with a sync veth pair, and a supervisor (not started) whose conntrackd runs in it.</summary>
    private ConntrackdSupervisor Setup()
    {
        Assert.True(File.Exists(ConntrackdSupervisor.Program), $"{ConntrackdSupervisor.Program} is missing: scripts/install-deps.sh installs conntrackd");
        Edge.Edge.Run("ip", "netns", "add", _ns);
        foreach (var cmd in new[] { "link set lo up", "link add sync0 type veth peer name sync1", "addr add 10.99.0.1/24 dev sync0",
                     "addr add 10.99.0.2/24 dev sync1", "link set sync0 up", "link set sync1 up" })
            Edge.Edge.Run("ip", ["-n", _ns, .. cmd.Split(' ')]);
        var sync = new ConntrackSyncConfig("sync0", IPAddress.Parse("10.99.0.1"), IPAddress.Parse("10.99.0.2"), 3780);

        // conntrackd runs in the namespace (in a daemon the whole process is in the node's namespace).
        string[] conntrackd = ["/usr/sbin/ip", "netns", "exec", _ns, ConntrackdSupervisor.Program];
        return new ConntrackdSupervisor(sync, _dir, NullLogger.Instance, TimeProvider.System, conntrackd);
    }

    private string Log() => File.Exists(Path.Combine(_dir, "conntrackd.log")) ? "\n" + File.ReadAllText(Path.Combine(_dir, "conntrackd.log")) : "";
}
