using System.Diagnostics;
using Appliance.Core.Fencing;
using Appliance.Linux.Fencing;
using Appliance.Linux.Serial;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// The UUCP lock in a world-writable directory (a temp dir here, through the lock-directory seam):
/// what another local user can leave at the lock path must not make us write through a symlink,
/// hang on a FIFO, or keep a dead owner's lock for ever.
/// </summary>
public sealed class UucpLockTests : IDisposable
{
    private const string Device = "/dev/ttyAPL9";
    private readonly string _dir = Directory.CreateTempSubdirectory("apl-lock-").FullName;

    private string LockPath => Path.Combine(_dir, UucpLock.NameFor(Device));

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_symlink_at_the_lock_path_is_neither_followed_nor_removed()
    {
        string victim = Path.Combine(_dir, "victim");
        File.WriteAllText(victim, "precious\n");
        File.CreateSymbolicLink(LockPath, victim);
        // The temp name earlier versions used was predictable: plant a link there too.
        File.CreateSymbolicLink($"{LockPath}.{Environment.ProcessId}.tmp", victim);

        using UucpLock? taken = UucpLock.TryAcquire(_dir, Device, out string reason);

        Assert.Null(taken);
        Assert.Equal("precious\n", File.ReadAllText(victim));
        Assert.Contains(LockPath, reason);
        Assert.Contains("symbolic link", reason);
        Assert.Equal(victim, new FileInfo(LockPath).LinkTarget); // left for the administrator
        Assert.Empty(Directory.GetFiles(_dir, "LTMP.*"));
    }

    [Fact]
    public async Task A_fifo_at_the_lock_path_fails_at_once_naming_it()
    {
        Edge.Run("mkfifo", LockPath);
        string reason = "";
        var attempt = Task.Run(() =>
        {
            using UucpLock? taken = UucpLock.TryAcquire(_dir, Device, out reason);
            return taken is null;
        });
        bool finished = await Task.WhenAny(attempt, Task.Delay(TimeSpan.FromSeconds(5))) == attempt;
        if (!finished)
            UnblockFifoReader(LockPath);
        Assert.True(finished, "TryAcquire hung on a FIFO at the lock path");
        Assert.True(await attempt, "took a lock over a FIFO");
        Assert.Contains(LockPath, reason);
        Assert.Contains("FIFO", reason);
    }

    [Fact]
    public async Task The_fence_device_reports_a_fifo_lock_as_an_error_without_hanging()
    {
        Edge.Run("mkfifo", LockPath);
        using var pdu = new SerialPduFenceDevice("pdu1", Device, new Dictionary<string, char> { ["nodeb"] = '0' }, lockDirectory: _dir);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var sw = Stopwatch.StartNew();
        var run = pdu.RunAsync(FenceAction.Status, "nodeb", cts.Token);
        bool finished = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(10))) == run;
        if (!finished)
            UnblockFifoReader(LockPath);
        Assert.True(finished, "the session thread hung on a FIFO at the lock path");
        FenceResult r = await run;
        Assert.Equal(FenceOutcome.Error, r.Outcome);
        Assert.Contains(LockPath, r.Reason);
        Assert.Contains("FIFO", r.Reason);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(3), $"took {sw.Elapsed}");
    }

    [Theory]
    [InlineData("2147483647\n")] // a PID above pid_max: its owner is gone
    [InlineData("not a pid\n")]
    [InlineData("")]
    public void A_regular_lock_without_a_live_owner_is_taken_over(string content)
    {
        File.WriteAllText(LockPath, content);
        using (UucpLock? taken = UucpLock.TryAcquire(_dir, Device, out string reason))
        {
            Assert.True(taken is not null, reason);
            Assert.Equal($"{Environment.ProcessId,10}\n", File.ReadAllText(LockPath));
        }
        Assert.False(File.Exists(LockPath), "lock left behind after Dispose");
        Assert.Empty(Directory.GetFiles(_dir, "LTMP.*"));
    }

    [Fact]
    public void A_regular_lock_of_a_live_process_is_respected()
    {
        File.WriteAllText(LockPath, $"{Environment.ProcessId,10}\n"); // someone, alive: ourselves will do
        using (UucpLock? taken = UucpLock.TryAcquire(_dir, Device, out string reason))
        {
            Assert.Null(taken);
            Assert.Contains($"locked by pid {Environment.ProcessId}", reason);
        }
        Assert.True(File.Exists(LockPath));
    }

    /// <summary>Lets a reader stuck in open(2) or read(2) of the FIFO go (EOF), so a failing test does not hang the run.</summary>
    private static void UnblockFifoReader(string fifo)
    {
        using var writer = new FileStream(fifo, FileMode.Open, FileAccess.Write);
    }
}
