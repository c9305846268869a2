using System.Diagnostics;
using Appliance.Core.Config;
using Appliance.Core.Director;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>
/// Runs conntrackd on this node, whatever its role (the standby's external cache is what a takeover
/// commits), with the config written from <c>director.sync</c>; restarts it when it ends, with a
/// doubling backoff; ends it when the daemon ends. Its output goes to conntrackd's own log file in
/// the state directory.
/// </summary>
internal sealed class ConntrackdSupervisor : IAsyncDisposable
{
    public const string Program = "/usr/sbin/conntrackd";

    /// <summary>First and longest wait before conntrackd is started again after it ended.</summary>
    public static readonly TimeSpan RestartBackoff = TimeSpan.FromSeconds(1), RestartBackoffMax = TimeSpan.FromSeconds(30);

    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private volatile Process? _current;

    /// <summary>How often <see cref="WaitReadyAsync"/> looks (conntrackd is up some 50 to 100 ms after its start here).</summary>
    public static readonly TimeSpan ReadyPoll = TimeSpan.FromMilliseconds(10);

    private readonly string[] _command;
    private readonly string[] _stale;
    private readonly string _socket;

    /// <param name="command">How to run conntrackd (default: <see cref="Program"/>); tests run it in a namespace with `ip netns exec`.</param>
    public ConntrackdSupervisor(ConntrackSyncConfig sync, string stateDir, ILogger log, TimeProvider time, string[]? command = null)
    {
        _command = command ?? [Program];
        _log = log;
        _time = time;
        Directory.CreateDirectory(stateDir);
        ConfigPath = Path.Combine(stateDir, "conntrackd.conf");
        _socket = ConntrackdConfig.ControlSocket(stateDir);
        _stale = [ConntrackdConfig.LockFile(stateDir), _socket];
        File.WriteAllText(ConfigPath, ConntrackdConfig.Render(sync, stateDir));
    }

    public string ConfigPath { get; }

    /// <summary>conntrackd's control socket (what the commit and the other requests talk to).</summary>
    public string ControlSocket => _socket;

    /// <summary>The running conntrackd's pid, or null.</summary>
    public int? Pid => _current is { HasExited: false } p ? p.Id : null;

    public void Start() => _loop = Supervise(_stop.Token);

    /// <summary>
    /// True once a conntrackd of this supervisor runs and has created its control socket (what `-c`
    /// connects to); false if that has not happened within <paramref name="bound"/>. A takeover right
    /// after the daemon starts (both nodes booted together) comes before conntrackd is up: its commit
    /// would fail with "can't connect" and leave the node unfit, so the commit waits for this first.
    /// The stale socket of a killed conntrackd does not count: it is deleted before a new one starts,
    /// and only a running process counts.
    /// </summary>
    public async Task<bool> WaitReadyAsync(TimeSpan bound, CancellationToken ct)
    {
        long started = _time.GetTimestamp();
        while (true)
        {
            if (_current is { HasExited: false } && File.Exists(_socket))
                return true;
            if (_time.GetElapsedTime(started) >= bound)
                return false;
            await Task.Delay(ReadyPoll, _time, ct).ConfigureAwait(false);
        }
    }

    private async Task Supervise(CancellationToken ct)
    {
        var backoff = RestartBackoff;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                // A conntrackd that was killed leaves its lock file and socket, and a new one then refuses
                // to start. Only this supervisor runs conntrackd with this state directory (the daemon
                // holds the node's instance lock), and none of ours runs now: they are stale.
                foreach (var f in _stale)
                    File.Delete(f);
                var psi = new ProcessStartInfo(_command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
                foreach (var a in _command[1..])
                    psi.ArgumentList.Add(a);
                psi.ArgumentList.Add("-C");
                psi.ArgumentList.Add(ConfigPath);
                long started = _time.GetTimestamp();
                Process p;
                try
                {
                    p = Process.Start(psi) ?? throw new InvalidOperationException("no process");
                }
                catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
                {
                    Trace.ConntrackdEnded(_log, $"cannot start {_command[0]}: {e.Message}", (long)backoff.TotalMilliseconds);
                    await Task.Delay(backoff, _time, ct).ConfigureAwait(false);
                    backoff = backoff * 2 > RestartBackoffMax ? RestartBackoffMax : backoff * 2;
                    continue;
                }
                _current = p;
                p.OutputDataReceived += (_, _) => { };
                p.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) Trace.ConntrackdSays(_log, line); };
                p.BeginOutputReadLine();
                p.BeginErrorReadLine();
                Trace.ConntrackdStarted(_log, p.Id, ConfigPath);
                try
                {
                    await p.WaitForExitAsync(ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                // A run that lasted is a fresh failure: start the backoff again.
                if (_time.GetElapsedTime(started) > RestartBackoffMax)
                    backoff = RestartBackoff;
                Trace.ConntrackdEnded(_log, $"conntrackd (pid {p.Id}) exited with code {p.ExitCode}", (long)backoff.TotalMilliseconds);
                p.Dispose();
                _current = null;
                await Task.Delay(backoff, _time, ct).ConfigureAwait(false);
                backoff = backoff * 2 > RestartBackoffMax ? RestartBackoffMax : backoff * 2;
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            Trace.BackgroundFailed(_log, "conntrackd supervisor", e.ToString());
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _loop.ConfigureAwait(false);
        if (_current is { HasExited: false } p)
        {
            try
            {
                p.Kill();
                await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
            {
            }
        }
        _current?.Dispose();
    }
}
