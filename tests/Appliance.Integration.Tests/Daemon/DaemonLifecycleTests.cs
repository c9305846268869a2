using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Appliance.Integration.Tests.Lab;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>
/// applianced as systemd runs it (Type=notify, WatchdogSec): READY=1 once the control socket is up,
/// WATCHDOG=1 at half the watchdog interval, STOPPING=1 and exit 0 on SIGTERM, socket removed.
/// One node alone on loopback; its peer never answers.
/// </summary>
public sealed class DaemonLifecycleTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("apl-daemon-").FullName;

    [Fact]
    public void Notifies_systemd_pets_the_watchdog_and_stops_cleanly_on_sigterm()
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
        string notifyPath = Path.Combine(_dir, "notify.sock");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(notifyPath));
        notify.ReceiveTimeout = 10_000;

        string control = Path.Combine(_dir, "control.sock");
        var psi = new ProcessStartInfo(Path.Combine(bin, "applianced"))
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var a in new[] { "--config", config, "--node", "alpha", "--control", control, "--state-dir", Path.Combine(_dir, "state") })
            psi.ArgumentList.Add(a);
        psi.Environment["NOTIFY_SOCKET"] = notifyPath;
        psi.Environment["WATCHDOG_USEC"] = "400000";
        using var daemon = Process.Start(psi)!;
        var log = new StringBuilder();
        daemon.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        daemon.BeginErrorReadLine();
        daemon.BeginOutputReadLine();
        try
        {
            var messages = new List<string>();
            var buf = new byte[4096];
            var sw = Stopwatch.StartNew();
            while (messages.Count(m => m.Contains("WATCHDOG=1")) < 3 && sw.Elapsed < TimeSpan.FromSeconds(10))
                messages.Add(Encoding.ASCII.GetString(buf, 0, notify.Receive(buf)));
            output.WriteLine(string.Join(" | ", messages.Select(m => m.Replace('\n', ' '))));
            Assert.StartsWith("READY=1", messages[0]);
            Assert.True(File.Exists(control), "the control socket exists once READY=1 is sent");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(control));
            Assert.True(messages.Count(m => m.Contains("WATCHDOG=1")) >= 3);

            using (var kill = Process.Start("kill", $"-TERM {daemon.Id}"))
                kill.WaitForExit();
            var stopping = Encoding.ASCII.GetString(buf, 0, notify.Receive(buf));
            // The role line of the switchover (STATUS=standby: shutting down) may come first.
            for (int i = 0; i < 10 && (stopping.Contains("WATCHDOG=1") || stopping.StartsWith("STATUS=", StringComparison.Ordinal)); i++)
                stopping = Encoding.ASCII.GetString(buf, 0, notify.Receive(buf));
            Assert.StartsWith("STOPPING=1\n", stopping); // then why: a planned switchover to the peer
            Assert.Contains("STATUS=shutting down", stopping);
            Assert.True(daemon.WaitForExit(5000), "applianced did not exit within 5 s of SIGTERM");
            daemon.WaitForExit(); // and its redirected output is drained
            Assert.Equal(0, daemon.ExitCode);
            Assert.False(File.Exists(control), "the control socket is removed on exit");
            lock (log)
                Assert.Contains("stopping (SIGTERM)", log.ToString());
        }
        finally
        {
            if (!daemon.HasExited)
                daemon.Kill(entireProcessTree: true);
            lock (log)
                output.WriteLine(log.ToString());
        }
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
