using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;
using Appliance.Linux.Nft;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>How to start the nft worker: the command line (ending in --nft-worker) and variables to add to its environment.</summary>
internal sealed record NftWorkerStart(IReadOnlyList<string> Command, IReadOnlyDictionary<string, string> Environment)
{
    /// <summary>
    /// This daemon's own executable with <see cref="NftWorker.Flag"/> (as `dotnet applianced.dll`
    /// when that is how the daemon, or a test host, runs), after <paramref name="prefix"/> (e.g.
    /// `ip netns exec NS`, which execs, so the worker keeps the pid we see).
    /// </summary>
    public static NftWorkerStart ThisExecutable(IEnumerable<string>? prefix = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var command = new List<string>(prefix ?? []);
        command.AddRange(SelfCommand.Get());
        command.Add(NftWorker.Flag);
        return new NftWorkerStart(command, environment ?? new Dictionary<string, string>());
    }
}

/// <summary>
/// The daemon's side of its <see cref="NftWorker"/>: applies nft transactions and reads tables
/// through the worker process, one request at a time, without blocking a daemon thread on it.
/// <para>
/// Every failure is a value (an <see cref="NftResult"/>) and a log line, never an exception: the
/// worker crashed or exited during a request ("worker crashed (signal 11)"), did not start, or did
/// not answer within the timeout (it is killed). A dead worker is replaced by a new one at the
/// next request; after a crash during an apply, whether that transaction took effect is unknown
/// (<see cref="NftOutcome.Failed"/>): the caller reads back or applies its full state again.
/// A caller's cancellation also kills the worker (it cannot be told to stop mid-transaction).
/// </para>
/// </summary>
internal sealed class NftProxy : IDisposable
{
    /// <summary>
    /// How long one request may take. A whole 5000-server ruleset with a counter per server loads in
    /// ~0.15 s in process (reference/nat-director.md section 4); 10 s is that with a wide margin for
    /// a loaded 2-core board and the fallback's process start, and still well inside what an operator waits.
    /// </summary>
    public static readonly TimeSpan RequestTimeoutDefault = TimeSpan.FromSeconds(10);

    /// <summary>From start to the worker's hello: a .NET process start on a busy board (measured: ~0.1-0.3 s idle).</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    /// <summary>Requests that may wait behind the one running; beyond, a request fails at once ("busy") instead of piling up.</summary>
    public const int QueuedRequestsMax = 16;

    /// <summary>Longest worker stderr line forwarded to our log.</summary>
    private const int StderrLineCharsMax = 1000;

    private readonly NftWorkerStart _start;
    private readonly ILogger _log;
    private readonly TimeSpan _timeout;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Worker? _worker;
    private int _queued;
    private long _nextId;
    private volatile bool _disposed;

    public NftProxy(ILogger log, NftWorkerStart? start = null, TimeSpan? requestTimeout = null)
    {
        _log = log;
        _start = start ?? NftWorkerStart.ThisExecutable();
        _timeout = requestTimeout ?? RequestTimeoutDefault;
    }

    /// <summary>Workers started so far (1 after the first request; each crash adds one at the next request).</summary>
    public int WorkersStarted { get; private set; }

    /// <summary>The running worker's pid, or null.</summary>
    public int? WorkerPid => _worker is { Alive: true } w ? w.Pid : null;

    /// <summary>What the running worker applies with (libnftables or the `nft -f -` fallback), or null before the first start.</summary>
    public NftBackend? Backend => _worker?.Backend;

    /// <summary>Starts the worker now, if it is not running, so that the first apply does not pay for it. Null, or why it failed.</summary>
    public async Task<string?> StartAsync(CancellationToken ct = default)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var (_, failure) = await EnsureWorkerAsync().ConfigureAwait(false);
            return failure;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Applies <paramref name="text"/> as one transaction (or only checks it). Never throws for a refusal or a worker failure.</summary>
    public async Task<NftResult> ApplyAsync(string text, bool checkOnly = false, CancellationToken ct = default)
    {
        if (NftApplier.RefuseText(text) is { } why)
        {
            Trace.NftRejected(_log, text.Length, why);
            return new NftResult(NftOutcome.Rejected, why, "", NftBackend.None, TimeSpan.Zero);
        }
        var r = await RequestAsync("apply", w =>
        {
            w.WriteString("text", text);
            w.WriteBoolean("check", checkOnly);
        }, ct).ConfigureAwait(false);
        switch (r.Outcome)
        {
            case NftOutcome.Applied or NftOutcome.Checked:
                Trace.NftApplied(_log, text.Length, NftWire.OutcomeName(r.Outcome), r.Elapsed.TotalMilliseconds,
                    NftWire.BackendName(r.Backend), r.RoundTrip?.TotalMilliseconds ?? 0);
                break;
            case NftOutcome.Rejected:
                Trace.NftRejected(_log, text.Length, r.Message);
                break;
            default:
                Trace.NftFailed(_log, checkOnly ? "check" : "apply", r.Message);
                break;
        }
        return r;
    }

    /// <summary>`list table`: the table's text in <see cref="NftResult.Output"/> (Rejected when it does not exist).</summary>
    public Task<NftResult> ListAsync(NftTable table, bool stateless = false, CancellationToken ct = default) => ReadAsync("list", w =>
    {
        w.WriteString("table", table.ToString());
        w.WriteBoolean("stateless", stateless);
    }, ct);

    /// <summary>`list counters table`: parse the output with <see cref="NftCounters.Parse"/>.</summary>
    public Task<NftResult> ListCountersAsync(NftTable table, CancellationToken ct = default)
        => ReadAsync("counters", w => w.WriteString("table", table.ToString()), ct);

    /// <summary>Test hook: asks the worker to crash (it obeys only with APPLIANCE_TEST_HOOKS=1 in its environment).</summary>
    internal Task<NftResult> CrashForTestAsync() => RequestAsync("crash-for-test", _ => { }, default);

    private async Task<NftResult> ReadAsync(string cmd, Action<Utf8JsonWriter> fields, CancellationToken ct)
    {
        var r = await RequestAsync(cmd, fields, ct).ConfigureAwait(false);
        if (r.Outcome == NftOutcome.Failed)
            Trace.NftFailed(_log, cmd, r.Message);
        return r;
    }

    private async Task<NftResult> RequestAsync(string cmd, Action<Utf8JsonWriter> fields, CancellationToken ct)
    {
        if (_disposed)
            return NftResult.Fail("the nft proxy is closed");
        if (Interlocked.Increment(ref _queued) > QueuedRequestsMax + 1)
        {
            Interlocked.Decrement(ref _queued);
            return NftResult.Fail($"busy: {QueuedRequestsMax} nft requests already wait (NftProxy.QueuedRequestsMax)");
        }
        try
        {
            await _gate.WaitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Interlocked.Decrement(ref _queued);
            return NftResult.Fail("cancelled while waiting for the nft worker");
        }
        long started = Stopwatch.GetTimestamp();
        try
        {
            var (worker, failure) = await EnsureWorkerAsync().ConfigureAwait(false);
            if (worker is null)
                return NftResult.Fail(failure!);
            long id = Interlocked.Increment(ref _nextId);
            var reply = worker.Expect(id);
            byte[] line = NftWire.Line(w =>
            {
                w.WriteNumber("id", id);
                w.WriteString("cmd", cmd);
                fields(w);
            });
            await worker.SendAsync(line).ConfigureAwait(false); // a dead pipe completes `reply` with the reason
            try
            {
                var r = await reply.WaitAsync(_timeout, ct).ConfigureAwait(false);
                return r with { RoundTrip = Stopwatch.GetElapsedTime(started) };
            }
            catch (TimeoutException)
            {
                string reason = $"no answer to '{cmd}' within {_timeout.TotalSeconds:0.#}s";
                worker.Kill(reason);
                return NftResult.Fail($"{reason}; worker killed (whether a transaction took effect is unknown, it is atomic)");
            }
            catch (OperationCanceledException)
            {
                worker.Kill($"'{cmd}' cancelled by the caller");
                return NftResult.Fail($"'{cmd}' cancelled; worker killed (whether a transaction took effect is unknown, it is atomic)");
            }
        }
        finally
        {
            _gate.Release();
            Interlocked.Decrement(ref _queued);
        }
    }

    /// <summary>The running worker, or a new one; (null, why) when none can be started. Called under the gate.</summary>
    private async Task<(Worker? Worker, string? Failure)> EnsureWorkerAsync()
    {
        if (_worker is { Alive: true } running)
            return (running, null);
        _worker?.Dispose();
        _worker = null;
        long t0 = Stopwatch.GetTimestamp();
        Worker w;
        try
        {
            w = Worker.Start(_start, _log);
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException or IOException)
        {
            string why = $"cannot start the nft worker ({string.Join(' ', _start.Command)}): {e.Message}";
            Trace.NftFailed(_log, "start", why);
            return (null, why);
        }
        WorkersStarted++;
        string? failure;
        try
        {
            failure = await w.Hello.WaitAsync(StartTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            failure = $"no hello from the nft worker within {StartTimeout.TotalSeconds:0}s";
            w.Kill(failure);
        }
        if (failure is not null)
        {
            Trace.NftFailed(_log, "start", failure);
            w.Dispose();
            return (null, failure);
        }
        Trace.NftWorkerStarted(_log, w.Pid, NftWire.BackendName(w.Backend), (long)Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        if (w.FallbackReason is { } fallback)
            Trace.NftFallback(_log, fallback);
        _worker = w;
        return (w, null);
    }

    public void Dispose()
    {
        _disposed = true;
        _worker?.Dispose();
    }

    /// <summary>One worker process: its pipes, its reader, the request in flight.</summary>
    private sealed class Worker : IDisposable
    {
        private readonly Process _process;
        private readonly ILogger _log;
        private readonly TaskCompletionSource<string?> _hello = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Lock _lock = new();
        private (long Id, TaskCompletionSource<NftResult> Reply)? _inFlight;
        private string? _killedBecause;
        private volatile bool _disposing;
        private volatile bool _ended;

        private Worker(Process process, ILogger log)
        {
            _process = process;
            _log = log;
            Pid = process.Id;
        }

        public int Pid { get; }
        public bool Alive => !_ended;
        public NftBackend Backend { get; private set; } = NftBackend.None;
        public string? FallbackReason { get; private set; }

        /// <summary>Completes with null once the worker said hello, or with why it did not.</summary>
        public Task<string?> Hello => _hello.Task;

        public static Worker Start(NftWorkerStart start, ILogger log)
        {
            var psi = new ProcessStartInfo(start.Command[0])
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (string a in start.Command.Skip(1))
                psi.ArgumentList.Add(a);
            // The worker speaks for nobody to systemd.
            foreach (string name in new[] { "NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC", "LISTEN_FDS", "LISTEN_PID" })
                psi.Environment.Remove(name);
            foreach (var (name, value) in start.Environment)
                psi.Environment[name] = value;
            var process = Process.Start(psi) ?? throw new InvalidOperationException("Process.Start returned null");
            var w = new Worker(process, log);
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is { Length: > 0 } l)
                    Trace.NftWorkerSaid(log, w.Pid, l.Length > StderrLineCharsMax ? l[..StderrLineCharsMax] + "..." : l);
            };
            process.BeginErrorReadLine();
            _ = Task.Run(w.ReadLoopAsync);
            return w;
        }

        /// <summary>Registers the one request in flight; its task completes with the reply or with the worker's end.</summary>
        public Task<NftResult> Expect(long id)
        {
            var tcs = new TaskCompletionSource<NftResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_lock)
            {
                if (_ended)
                    tcs.TrySetResult(NftResult.Fail(_killedBecause ?? "the nft worker has ended"));
                else
                    _inFlight = (id, tcs);
            }
            return tcs.Task;
        }

        public async Task SendAsync(byte[] line)
        {
            try
            {
                var stdin = _process.StandardInput.BaseStream;
                await stdin.WriteAsync(line).ConfigureAwait(false);
                await stdin.FlushAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
            {
                // The worker is gone (EPIPE); the read loop sees its end and completes the request with the reason.
            }
        }

        public void Kill(string reason)
        {
            lock (_lock)
                _killedBecause ??= reason;
            Trace.NftWorkerKilled(_log, Pid, reason);
            try
            {
                _process.Kill();
            }
            catch (Exception e) when (e is InvalidOperationException or Win32Exception)
            {
                // already gone
            }
        }

        private async Task ReadLoopAsync()
        {
            string? protocolError = null;
            try
            {
                var reader = new BoundedLineReader(_process.StandardOutput.BaseStream, NftWire.LineBytesMax);
                while (await reader.ReadLineAsync(default).ConfigureAwait(false) is { } line)
                {
                    using var doc = JsonDocument.Parse(line);
                    var root = doc.RootElement;
                    if (root.TryGetProperty("hello", out var hello))
                    {
                        Backend = NftWire.ParseBackend(hello.GetProperty("backend").GetString());
                        FallbackReason = hello.GetProperty("fallback").GetString();
                        _hello.TrySetResult(null);
                        continue;
                    }
                    long id = root.GetProperty("id").GetInt64();
                    TaskCompletionSource<NftResult>? reply = null;
                    lock (_lock)
                    {
                        if (_inFlight is { } f && f.Id == id)
                        {
                            reply = f.Reply;
                            _inFlight = null;
                        }
                    }
                    reply?.TrySetResult(NftWire.ReadResult(root));
                }
            }
            catch (Exception e) when (e is IOException or JsonException or InvalidDataException or KeyNotFoundException or InvalidOperationException)
            {
                protocolError = e.Message;
                try
                {
                    _process.Kill();
                }
                catch (Exception k) when (k is InvalidOperationException or Win32Exception)
                {
                }
            }
            await _process.WaitForExitAsync().ConfigureAwait(false);
            string how = Describe(_process.ExitCode);
            if (protocolError is not null)
                how = $"broke the protocol ({protocolError}) and was killed";
            TaskCompletionSource<NftResult>? pending;
            string? killedBecause;
            lock (_lock)
            {
                _ended = true;
                pending = _inFlight?.Reply;
                _inFlight = null;
                killedBecause = _killedBecause;
            }
            string reason = killedBecause is null ? $"worker {how}" : $"worker killed: {killedBecause}";
            // The log line first: a caller that reacts to the failure finds it already said.
            if (!_disposing && killedBecause is null)
                Trace.NftWorkerDied(_log, Pid, how, pending is null ? "no request was in flight" : "the request in flight failed");
            _hello.TrySetResult(reason);
            pending?.TrySetResult(NftResult.Fail(reason));
        }

        /// <summary>"crashed (signal 11)" or "exited (code 3)": .NET reports a death by signal N as exit code 128+N.</summary>
        private static string Describe(int exitCode) => exitCode > 128 ? $"crashed (signal {exitCode - 128})" : $"exited (code {exitCode})";

        public void Dispose()
        {
            _disposing = true;
            try
            {
                _process.StandardInput.Close(); // the worker exits at end of input
                if (!_process.WaitForExit(2000))
                    _process.Kill();
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or Win32Exception)
            {
            }
            _process.Dispose();
        }
    }
}
