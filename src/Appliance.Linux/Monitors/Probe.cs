using System.Diagnostics;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Appliance.Core.Config;
using Appliance.Core.Ports;

namespace Appliance.Linux.Monitors;

/// <summary>One probe of a monitor, bounded by its timeout; never throws for an operating failure.</summary>
public static class Probe
{
    private static readonly HttpClient Http = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromSeconds(30), UseProxy = false });

    public static async Task<ResourceOutcome> RunAsync(MonitorConfig m, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(m.Timeout);
        try
        {
            return m.Kind switch
            {
                MonitorKind.Tcp => await Tcp(m, timeout.Token).ConfigureAwait(false),
                MonitorKind.Http => await HttpGet(m, timeout.Token).ConfigureAwait(false),
                MonitorKind.Exec => await Exec(m, timeout.Token).ConfigureAwait(false),
                _ => await Ping(m).ConfigureAwait(false),
            };
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return ResourceOutcome.Failed($"no answer within {m.Timeout.TotalMilliseconds:0}ms");
        }
        catch (Exception e) when (e is SocketException or HttpRequestException or IOException or PingException or InvalidOperationException)
        {
            return ResourceOutcome.Failed(e.Message);
        }
    }

    private static async Task<ResourceOutcome> Tcp(MonitorConfig m, CancellationToken ct)
    {
        using var s = new Socket(m.Address!.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync(m.Address, ct).ConfigureAwait(false);
        return ResourceOutcome.Done($"connected to {m.Address}");
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
