using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Appliance.Core.Config;
using Appliance.Core.Director;

namespace Appliance.Linux.Director;

/// <summary>
/// Probes real servers for the director's checks (issue 9 part 3): asynchronous sockets, no thread
/// and no process per check (exec aside, and exec bounded). The check's timeout is a hard deadline
/// on the whole exchange, connect to verdict: a server that trickles its answer a byte at a time
/// still fails at the timeout, unlike keepalived#1822 where each read restarted the clock. Never
/// throws for an operating failure; the outcome is a <see cref="CheckOutcome"/> with a reason.
/// </summary>
public sealed class CheckProber : IDisposable
{
    /// <summary>
    /// exec checks running at once. Each is a /bin/sh; PR keepalived#429 and #2653 are what happens
    /// without a bound (blocked scripts pile up, 100% CPU). A check that finds no free slot before
    /// its deadline fails with that reason, so a slow script shows rather than hiding the others.
    /// </summary>
    public const int ExecConcurrencyMax = 8;

    /// <summary>Most of an http answer read (status line, headers and the start of the body searched for `body`).</summary>
    public const int HttpAnswerBytesMax = 64 * 1024;

    /// <summary>How much of a failing script's stderr goes into the reason.</summary>
    private const int ReasonStderrCharsMax = 200;

    private readonly SemaphoreSlim _execSlots;
    private readonly int _execConcurrency;

    public CheckProber(int execConcurrency = ExecConcurrencyMax)
    {
        _execConcurrency = execConcurrency;
        _execSlots = new SemaphoreSlim(execConcurrency, execConcurrency);
    }

    /// <summary>exec checks running now.</summary>
    public int ExecRunning => _execConcurrency - _execSlots.CurrentCount;

    /// <summary>
    /// One check of <paramref name="target"/> within its timeout. <paramref name="ct"/> is the
    /// daemon's shutdown: cancelling it throws <see cref="OperationCanceledException"/>; the timeout
    /// gives a <see cref="CheckVerdict.Timeout"/> outcome.
    /// </summary>
    public async Task<CheckOutcome> ProbeAsync(CheckTarget target, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(target.Timeout);
        var progress = new Progress();
        try
        {
            return target.Kind switch
            {
                DirectorCheckKind.Tcp => await Tcp(target, progress, deadline.Token).ConfigureAwait(false),
                DirectorCheckKind.Http => await Http(target, progress, deadline.Token).ConfigureAwait(false),
                DirectorCheckKind.Exec => await Exec(target, progress, deadline.Token).ConfigureAwait(false),
                _ => CheckOutcome.Pass("check kind none"),
            };
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return CheckOutcome.TimedOut($"no answer within {Ms(target.Timeout)} ({progress.Stage})");
        }
        catch (SocketException e)
        {
            return CheckOutcome.Fail($"{progress.Stage}: {Describe(e)}");
        }
        catch (IOException e)
        {
            return CheckOutcome.Fail($"{progress.Stage}: {e.Message}");
        }
    }

    /// <summary>Where a check got to, for the reason of a timeout: "connecting", "waiting for the status line (12 bytes read)".</summary>
    private sealed class Progress
    {
        public string Stage { get; set; } = "connecting";
    }

    /// <summary>
    /// A check's socket, closed with a reset (SO_LINGER 0), as HAProxy closes its checks: no FIN
    /// exchange and no TIME_WAIT entry per check (1000 checks a second would keep ~60,000 of them).
    /// </summary>
    private static Socket CheckSocket(IPEndPoint address) =>
        new(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, LingerState = new LingerOption(true, 0) };

    private static async Task<CheckOutcome> Tcp(CheckTarget t, Progress progress, CancellationToken ct)
    {
        using var s = CheckSocket(t.Address);
        await s.ConnectAsync(t.Address, ct).ConfigureAwait(false);
        return CheckOutcome.Pass("connected");
    }

    private static async Task<CheckOutcome> Http(CheckTarget t, Progress progress, CancellationToken ct)
    {
        using var s = CheckSocket(t.Address);
        await s.ConnectAsync(t.Address, ct).ConfigureAwait(false);
        progress.Stage = "sending the request";
        string host = t.Host ?? (t.Address.Port == 80 ? HostOf(t.Address.Address) : $"{HostOf(t.Address.Address)}:{t.Address.Port}");
        byte[] request = Encoding.ASCII.GetBytes(
            $"GET {t.Path ?? "/"} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: applianced-check\r\nAccept: */*\r\nConnection: close\r\n\r\n");
        for (int sent = 0; sent < request.Length;)
            sent += await s.SendAsync(request.AsMemory(sent), SocketFlags.None, ct).ConfigureAwait(false);

        byte[] buffer = new byte[t.Body is null ? 1024 : HttpAnswerBytesMax];
        byte[]? body = t.Body is null ? null : Encoding.UTF8.GetBytes(t.Body);
        int length = 0, status = -1, headersEnd = -1;
        while (true)
        {
            progress.Stage = status < 0 ? $"waiting for the status line ({length} bytes read)" : $"reading the answer ({length} bytes read)";
            if (length == buffer.Length)
                return status < 0 ? CheckOutcome.Fail($"no status line in the first {length} bytes")
                    : CheckOutcome.Fail($"HTTP {status}, but the first {length} bytes do not contain \"{t.Body}\"");
            int n = await s.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, ct).ConfigureAwait(false);
            bool eof = n == 0;
            length += n;
            var data = buffer.AsSpan(0, length);
            if (status < 0)
            {
                int eol = data.IndexOf("\r\n"u8);
                if (eol < 0)
                {
                    if (eof)
                        return CheckOutcome.Fail(length == 0 ? "closed without an answer" : "closed before the end of the status line");
                    continue;
                }
                if (ParseStatus(data[..eol]) is not int code)
                    return CheckOutcome.Fail($"not an HTTP answer: \"{Printable(data[..Math.Min(eol, 60)])}\"");
                status = code;
                if (!t.Expect.Contains(status))
                    return CheckOutcome.Fail($"HTTP {status}, expected {t.Expect}");
                if (body is null)
                    return CheckOutcome.Pass($"HTTP {status}");
            }
            if (headersEnd < 0 && data.IndexOf("\r\n\r\n"u8) is int h and >= 0)
                headersEnd = h + 4;
            if (headersEnd >= 0 && data[headersEnd..].IndexOf(body) >= 0)
                return CheckOutcome.Pass($"HTTP {status}, body has \"{t.Body}\"");
            if (eof)
                return CheckOutcome.Fail($"HTTP {status}, but the body does not contain \"{t.Body}\"");
        }
    }

    private static string HostOf(IPAddress a) => a.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{a}]" : a.ToString();

    /// <summary>The code of "HTTP/1.x NNN reason"; null when it is not a status line.</summary>
    private static int? ParseStatus(ReadOnlySpan<byte> line)
    {
        if (!line.StartsWith("HTTP/"u8))
            return null;
        int sp = line.IndexOf((byte)' ');
        if (sp < 0 || line.Length < sp + 4)
            return null;
        var digits = line.Slice(sp + 1, 3);
        foreach (byte b in digits)
        {
            if (b is < (byte)'0' or > (byte)'9')
                return null;
        }
        if (line.Length > sp + 4 && line[sp + 4] != (byte)' ')
            return null;
        return (digits[0] - '0') * 100 + (digits[1] - '0') * 10 + (digits[2] - '0');
    }

    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length);
        foreach (byte b in bytes)
            sb.Append(b is >= 0x20 and < 0x7f ? (char)b : '.');
        return sb.ToString();
    }

    private async Task<CheckOutcome> Exec(CheckTarget t, Progress progress, CancellationToken ct)
    {
        progress.Stage = $"waiting for an exec slot ({ExecRunning} of {_execConcurrency} running)";
        await _execSlots.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            progress.Stage = "running the command";
            // ChildProcess passes only an allow-list of variables, so the real server goes in through the command line.
            var psi = new ProcessStartInfo("/bin/sh");
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add($"REAL_ADDRESS='{t.Address.Address}' REAL_PORT='{t.Address.Port.ToString(CultureInfo.InvariantCulture)}'; export REAL_ADDRESS REAL_PORT\n{t.Command}");
            var r = await ChildProcess.RunAsync(psi, stdin: null, ct).ConfigureAwait(false);
            if (r.Outcome == ChildOutcome.Killed)
                ct.ThrowIfCancellationRequested(); // timed out (killed) or shutting down: ProbeAsync tells which
            if (r.Outcome == ChildOutcome.NotStarted)
                return CheckOutcome.Fail($"cannot start /bin/sh: {r.Why}");
            string err = r.Stderr.Trim();
            if (err.Length > ReasonStderrCharsMax)
                err = err[^ReasonStderrCharsMax..];
            return r.ExitCode == 0 ? CheckOutcome.Pass("exit 0") : CheckOutcome.Fail($"exit {r.ExitCode} {err}".TrimEnd());
        }
        finally
        {
            _execSlots.Release();
        }
    }

    private static string Describe(SocketException e) => e.SocketErrorCode switch
    {
        SocketError.ConnectionRefused => "connection refused",
        SocketError.ConnectionReset => "connection reset",
        SocketError.HostUnreachable => "host unreachable",
        SocketError.NetworkUnreachable => "network unreachable",
        _ => e.Message,
    };

    private static string Ms(TimeSpan t) => $"{t.TotalMilliseconds:0}ms";

    public void Dispose() => _execSlots.Dispose();
}
