using System.Diagnostics;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Appliance.Core.Config;
using Appliance.Core.Ports;

namespace Appliance.Linux.Monitors;

/// <summary>
/// One probe of a monitor, bounded by its timeout; never throws for an operating failure. The
/// timeout is the service's, not this process's (<see cref="HeldProcess"/>): a look at the deadline
/// that comes late gives the probe that much longer once (<see cref="WithinAsync"/>), and a tcp
/// probe is judged by the kernel's state of its connect at the deadline, whichever of our threads
/// (timer or socket) happened to run first.
/// </summary>
public static class Probe
{
    private static readonly HttpClient Http = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromSeconds(30), UseProxy = false });

    public static async Task<ResourceOutcome> RunAsync(MonitorConfig m, TimeProvider time, CancellationToken ct)
    {
        if (m.Kind == MonitorKind.Ping)
            return await Guard(Ping(m)).ConfigureAwait(false); // each target bounded by the timeout on its own
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var socket = m.Kind == MonitorKind.Tcp ? new Socket(m.Address!.AddressFamily, SocketType.Stream, ProtocolType.Tcp) : null;
        var work = Guard(m.Kind switch
        {
            MonitorKind.Tcp => Tcp(socket!, m, abort.Token),
            MonitorKind.Http => HttpGet(m, abort.Token),
            _ => Exec(m, abort.Token),
        });
        if (await WithinAsync(work, m.Timeout, time, ct).ConfigureAwait(false))
            return await work.ConfigureAwait(false);
        bool connected = socket is not null && ConnectedInKernel(socket);
        bool toItself = connected && ConnectedToItself(socket!, m);
        await abort.CancelAsync().ConfigureAwait(false);
        try
        {
            await work.ConfigureAwait(false); // an exec's child killed and reaped, a connect or request abandoned
        }
        catch (OperationCanceledException)
        {
        }
        if (connected)
            return toItself ? RefusedToItself : ResourceOutcome.Done($"connected to {m.Address} (by the kernel's word at the deadline)");
        return ResourceOutcome.Failed($"no answer within {m.Timeout.TotalMilliseconds:0}ms");
    }

    /// <summary>
    /// Whether <paramref name="work"/> completed within <paramref name="timeout"/>, counted on
    /// <paramref name="time"/> from now. When the look at the deadline itself comes more than
    /// <see cref="HeldProcess.Slack"/> late, the process was held: the work gets that much longer (at most
    /// one more timeout), once, so a completion queued behind the hold is seen. Cancelling
    /// <paramref name="ct"/> throws.
    /// </summary>
    public static async Task<bool> WithinAsync(Task work, TimeSpan timeout, TimeProvider time, CancellationToken ct)
    {
        long start = time.GetTimestamp();
        var wait = timeout;
        for (int look = 0; ; look++)
        {
            using var stopDelay = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var delay = Task.Delay(wait, time, stopDelay.Token);
            if (await Task.WhenAny(work, delay).ConfigureAwait(false) == work)
            {
                await stopDelay.CancelAsync().ConfigureAwait(false);
                return true;
            }
            ct.ThrowIfCancellationRequested();
            var late = time.GetElapsedTime(start) - timeout;
            if (look > 0 || late <= HeldProcess.Slack)
                return work.IsCompleted;
            wait = late < timeout ? late : timeout;
        }
    }

    /// <summary>
    /// Whether the kernel has completed the socket's connect, whatever our threads have seen of it:
    /// writable without an error or hang-up (a socket never connected is writable with POLLHUP; one
    /// still connecting is neither; a refused one has POLLERR or POLLHUP).
    /// </summary>
    internal static bool ConnectedInKernel(Socket socket)
    {
        try
        {
            Span<Interop.Sys.PollFd> fd = [new Interop.Sys.PollFd((int)socket.Handle, Interop.Sys.POLLOUT)];
            return Interop.Sys.Poll(fd, 0) == 1
                && (fd[0].REvents & (Interop.Sys.POLLOUT | Interop.Sys.POLLERR | Interop.Sys.POLLHUP)) == Interop.Sys.POLLOUT;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>A tcp probe whose socket connected to itself: nothing listens on the port (<see cref="Director.CheckLoop.ConnectedToItself"/>).</summary>
    private static readonly ResourceOutcome RefusedToItself = ResourceOutcome.Failed($"connection refused ({Director.CheckLoop.ToItself})");

    private static bool ConnectedToItself(Socket s, MonitorConfig m)
    {
        try
        {
            return Director.CheckLoop.ConnectedToItself((int)s.Handle, m.Address!);
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>An operating failure (refused, unreachable, no such host) as a failed outcome; a bug still throws.</summary>
    private static async Task<ResourceOutcome> Guard(Task<ResourceOutcome> probe)
    {
        try
        {
            return await probe.ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or HttpRequestException or IOException or PingException or InvalidOperationException)
        {
            return ResourceOutcome.Failed(e.Message);
        }
    }

    private static async Task<ResourceOutcome> Tcp(Socket s, MonitorConfig m, CancellationToken ct)
    {
        await s.ConnectAsync(m.Address!, ct).ConfigureAwait(false);
        return ConnectedToItself(s, m) ? RefusedToItself : ResourceOutcome.Done($"connected to {m.Address}");
    }

    private static async Task<ResourceOutcome> HttpGet(MonitorConfig m, CancellationToken ct)
    {
        using var response = await Http.GetAsync(m.Url, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        int code = (int)response.StatusCode;
        return code == m.Expect ? ResourceOutcome.Done($"HTTP {code}") : ResourceOutcome.Failed($"HTTP {code}, expected {m.Expect}");
    }

    private static async Task<ResourceOutcome> Exec(MonitorConfig m, CancellationToken ct)
    {
        var psi = new ProcessStartInfo("/bin/sh");
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(m.Command!);
        var r = await ChildProcess.RunAsync(psi, stdin: null, ct).ConfigureAwait(false);
        if (r.Outcome == ChildOutcome.Killed)
            ct.ThrowIfCancellationRequested(); // the probe timed out or we shut down; RunAsync above tells which
        if (r.Outcome == ChildOutcome.NotStarted)
            throw new IOException($"cannot start /bin/sh: {r.Why}");
        string err = r.Stderr.Trim();
        if (err.Length > 200)
            err = err[..200];
        return r.ExitCode == 0 ? ResourceOutcome.Done("exit 0") : ResourceOutcome.Failed($"exit {r.ExitCode} {err}".TrimEnd());
    }

    private static async Task<ResourceOutcome> Ping(MonitorConfig m)
    {
        using var ping = new Ping();
        string last = "";
        foreach (var target in m.Targets)
        {
            var reply = await ping.SendPingAsync(target, m.Timeout).ConfigureAwait(false);
            if (reply.Status == IPStatus.Success)
                return ResourceOutcome.Done($"{target} answered in {reply.RoundtripTime}ms");
            last = $"{target}: {reply.Status}";
        }
        return ResourceOutcome.Failed(last);
    }
}
