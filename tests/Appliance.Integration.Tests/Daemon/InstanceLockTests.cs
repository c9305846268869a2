using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Appliance.Linux;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>
/// One daemon per node: the instance lock alone (a second holder in this process, in another
/// process, odd files at the path, no inheritance by children), then two real daemons.
/// </summary>
public sealed class InstanceLockTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("apl-lock-").FullName;

    private string StateDir => Path.Combine(_dir, "state");

    private string LockPath => InstanceLock.PathFor(StateDir, "alpha");

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

    [Fact]
    public void A_second_holder_is_refused_with_the_pid_of_the_first_and_changes_nothing()
    {
        using var first = InstanceLock.Acquire(StateDir, "alpha");
        Assert.Equal($"{Environment.ProcessId}\n", ReadLock(LockPath));
        DateTime written = File.GetLastWriteTimeUtc(LockPath);

        // flock belongs to the open file description: a second open in this same process conflicts.
        var e = Assert.Throws<InstanceLockedException>(() => InstanceLock.Acquire(StateDir, "alpha"));
        output.WriteLine(e.Message);
        Assert.Equal(Environment.ProcessId, e.HolderPid);
        Assert.Contains($"pid {Environment.ProcessId}", e.Message);
        Assert.Contains("alpha", e.Message);
        Assert.Equal($"{Environment.ProcessId}\n", ReadLock(LockPath));
        Assert.Equal(written, File.GetLastWriteTimeUtc(LockPath));

        Assert.Null(InstanceLock.TryAcquire(StateDir, "alpha", out string? error));
        Assert.Equal(e.Message, error);

        // Another node of the same state directory is another lock.
        using var beta = InstanceLock.Acquire(StateDir, "beta");
    }

    [Fact]
    public void The_lock_is_free_again_once_released()
    {
        InstanceLock.Acquire(StateDir, "alpha").Dispose();
        using var again = InstanceLock.Acquire(StateDir, "alpha");
        Assert.True(File.Exists(LockPath)); // left in place: flock decides, not the file's existence
    }

    [Fact]
    public void A_holder_in_another_process_is_named_by_its_pid()
    {
        Directory.CreateDirectory(StateDir);
        // flock(1) locks the file and runs the shell, which writes its pid and becomes sleep (same pid).
        var psi = new ProcessStartInfo("flock") { RedirectStandardError = true };
        foreach (string a in new[] { "-x", LockPath, "sh", "-c", $"echo $$ > '{LockPath}'; exec sleep 30" })
            psi.ArgumentList.Add(a);
        using var holder = Process.Start(psi)!;
        try
        {
            int written = 0;
            long deadline = Environment.TickCount64 + 10_000;
            while (!(File.Exists(LockPath) && int.TryParse(ReadLock(LockPath).Trim(), out written)))
            {
                Assert.True(Environment.TickCount64 < deadline, "the holder did not start");
                Thread.Sleep(10);
            }
            Assert.NotEqual(Environment.ProcessId, written);
            var e = Assert.Throws<InstanceLockedException>(() => InstanceLock.Acquire(StateDir, "alpha"));
            output.WriteLine(e.Message);
            Assert.Equal(written, e.HolderPid);
            Assert.Contains($"pid {written}", e.Message);
        }
        finally
        {
            holder.Kill(entireProcessTree: true);
            holder.WaitForExit();
        }
        // The holder died: the kernel released its lock, no stale lock to clean up. (Its sleep dies
        // asynchronously after the SIGKILL, hence the bounded wait.)
        InstanceLock? mine = null;
        for (long until = Environment.TickCount64 + 5_000; mine is null; Thread.Sleep(20))
        {
            mine = InstanceLock.TryAcquire(StateDir, "alpha", out string? error);
            Assert.True(mine is not null || Environment.TickCount64 < until, error);
        }
        using var held = mine;
        Assert.Equal($"{Environment.ProcessId}\n", ReadLock(LockPath));
    }

    [Fact]
    public void A_child_process_does_not_inherit_the_lock()
    {
        var held = InstanceLock.Acquire(StateDir, "alpha");
        using var child = Process.Start("sleep", "30");
        try
        {
            held.Dispose();
            // Had the child inherited the fd (no O_CLOEXEC), its open file description would keep the lock.
            using var again = InstanceLock.Acquire(StateDir, "alpha");
        }
        finally
        {
            child.Kill();
            child.WaitForExit();
        }
    }

    [Fact]
    public void A_symlink_a_directory_or_a_fifo_at_the_path_is_refused_and_left_alone()
    {
        Directory.CreateDirectory(StateDir);
        string target = Path.Combine(_dir, "precious");
        File.WriteAllText(target, "keep me");
        File.CreateSymbolicLink(LockPath, target);
        var e = Assert.Throws<IOException>(() => InstanceLock.Acquire(StateDir, "alpha"));
        output.WriteLine(e.Message);
        Assert.Contains(LockPath, e.Message);
        Assert.Contains("symlink", e.Message);
        Assert.Equal("keep me", File.ReadAllText(target));
        Assert.Equal(PathKind.Symlink, PathKinds.Of(LockPath));
        File.Delete(LockPath);

        Directory.CreateDirectory(LockPath);
        e = Assert.Throws<IOException>(() => InstanceLock.Acquire(StateDir, "alpha"));
        Assert.Contains("directory", e.Message);
        Directory.Delete(LockPath);

        Edge.Edge.Run("mkfifo", LockPath);
        e = Assert.Throws<IOException>(() => InstanceLock.Acquire(StateDir, "alpha"));
        Assert.Contains("not a regular file", e.Message);
        Assert.Equal(PathKind.Other, PathKinds.Of(LockPath));
    }

    [Fact]
    public void A_second_daemon_for_the_node_refuses_naming_the_first_and_touches_nothing()
    {
        string bin = Environment.GetEnvironmentVariable("APPLIANCE_BIN") ?? Path.Combine(Lab.Lab.RepoRoot(), "out", "bin");
        string key = Path.Combine(_dir, "authkey");
        File.WriteAllBytes(key, Enumerable.Range(0, 32).Select(i => (byte)(i * 7 + 1)).ToArray());
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        int port = 20000 + Random.Shared.Next(20000);
        string config = Path.Combine(_dir, "appliance.yaml");
        File.WriteAllText(config, $$"""
            cluster:
              name: solo
              key_file: {{key}}
              fencing: off
            nodes:
              - name: alpha
                links:
                  - {name: lan0, kind: udp, local: 127.0.0.1, peer: 127.0.0.2, port: {{port}}}
              - name: beta
                links:
                  - {name: lan0, kind: udp, local: 127.0.0.2, peer: 127.0.0.1, port: {{port}}}
            """);
        string control = Path.Combine(_dir, "control.sock");

        using var first = Daemon(bin, config, control, out var firstLog);
        try
        {
            long deadline = Environment.TickCount64 + 20_000;
            while (!Answers(control))
            {
                Assert.False(first.HasExited, $"the first daemon exited: {firstLog}");
                Assert.True(Environment.TickCount64 < deadline, $"the first daemon did not open its control socket: {firstLog}");
                Thread.Sleep(50);
            }

            // Same node, same state directory, same control socket: refused before touching any of it.
            using var second = Daemon(bin, config, control, out var secondLog);
            Assert.True(second.WaitForExit(10_000), "the second daemon did not exit");
            second.WaitForExit();
            string said = secondLog.ToString();
            output.WriteLine($"second: exit {second.ExitCode}: {said}");
            Assert.Equal(1, second.ExitCode);
            Assert.Contains("already running", said);
            Assert.Contains($"pid {first.Id}", said);

            Assert.False(first.HasExited);
            Assert.True(Answers(control), "the first daemon's control socket no longer answers");
            Assert.Equal($"{first.Id}\n", ReadLock(InstanceLock.PathFor(StateDir, "alpha")));
        }
        finally
        {
            if (!first.HasExited)
            {
                using (var kill = Process.Start("kill", $"-TERM {first.Id}"))
                    kill.WaitForExit();
                if (!first.WaitForExit(5000))
                    first.Kill(entireProcessTree: true);
            }
            output.WriteLine($"first: {firstLog}");
        }
    }

    private Process Daemon(string bin, string config, string control, out StringBuilder log)
    {
        var psi = new ProcessStartInfo(Path.Combine(bin, "applianced")) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "--config", config, "--node", "alpha", "--control", control, "--state-dir", StateDir })
            psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        var sink = new StringBuilder();
        p.ErrorDataReceived += (_, e) => { lock (sink) sink.AppendLine(e.Data); };
        p.OutputDataReceived += (_, e) => { lock (sink) sink.AppendLine(e.Data); };
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        log = sink;
        return p;
    }

    /// <summary>
    /// The lock file's text, read by cat(1): .NET's own file APIs take flock(LOCK_SH) on every open,
    /// which the holder's LOCK_EX refuses.
    /// </summary>
    private static string ReadLock(string path) => Edge.Edge.Run("cat", path);

    private static bool Answers(string control)
    {
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 5000 };
            socket.Connect(new UnixDomainSocketEndPoint(control));
            socket.Send("{\"cmd\":\"status\"}\n"u8.ToArray());
            var buffer = new byte[65536];
            int n = socket.Receive(buffer);
            return n > 0 && Encoding.UTF8.GetString(buffer, 0, n).Contains("\"node\"", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
