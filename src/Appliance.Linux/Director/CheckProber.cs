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

    /// <summary>
    /// Sleeps on the check loop's thread (see <see cref="CheckLoop.DelayAsync"/>): the continuation
    /// runs there, inline; it must start its probes and return, never block.
    /// </summary>
    public Task DelayAsync(TimeSpan delay, CancellationToken ct) => CheckLoop.Shared.DelayAsync(delay, ct);

    /// <summary>exec checks running now.</summary>
    public int ExecRunning => _execConcurrency - _execSlots.CurrentCount;

    /// <summary>
    /// One check of <paramref name="target"/> within its timeout. <paramref name="ct"/> is the
    /// daemon's shutdown: cancelling it throws <see cref="OperationCanceledException"/>; the timeout
    /// gives a <see cref="CheckVerdict.Timeout"/> outcome.
    /// </summary>
    /// <remarks>Never blocks the calling thread: tcp and http are handed to the check loop, exec leaves for the pool before it forks.</remarks>
    public Task<CheckOutcome> ProbeAsync(CheckTarget target, CancellationToken ct) => target.Kind switch
    {
        // tcp and http: the process's one check loop (CheckLoop: a poll thread, no per-check task machinery)
        DirectorCheckKind.Tcp or DirectorCheckKind.Http => CheckLoop.Shared.Start(target, ct),
        DirectorCheckKind.Exec => ExecAsync(target, ct),
        _ => Task.FromResult(CheckOutcome.Pass("check kind none")),
    };

    private async Task<CheckOutcome> ExecAsync(CheckTarget target, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(target.Timeout);
        var progress = new Progress();
        try
        {
            return await Exec(target, progress, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return CheckOutcome.TimedOut($"no answer within {Ms(target.Timeout)} ({progress.Stage})");
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

    /// <summary>The code of "HTTP/1.x NNN reason"; null when it is not a status line.</summary>
    internal static int? ParseStatus(ReadOnlySpan<byte> line)
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

    internal static string Printable(ReadOnlySpan<byte> bytes)
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
        // The fork happens below, before the first real await: leave the caller's thread first (the
        // daemon starts probes on the check loop's thread, which must never wait for a fork).
        await Task.Yield();
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

    private static string Ms(TimeSpan t) => $"{t.TotalMilliseconds:0}ms";

    public void Dispose() => _execSlots.Dispose();
}
