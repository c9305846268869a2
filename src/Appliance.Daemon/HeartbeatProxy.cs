using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Appliance.Core.Arbiter;
using Appliance.Core.Heartbeat;
using Appliance.Core.Fencing;
using Appliance.Core.Membership;
using Appliance.Core.Node;
using Appliance.Core.Ports;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>
/// The daemon's side of its <see cref="HeartbeatWorker"/>: starts the worker process (the same
/// executable with --heartbeat-worker), forwards requests, and delivers membership events.
/// </summary>
internal sealed class HeartbeatProxy : IDisposable
{
    private readonly Process _worker;
    private readonly ConcurrentDictionary<long, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly Action<NodeCommand> _onCommand;
    private readonly ConcurrentDictionary<long, TaskCompletionSource<(bool Ok, string Message)>> _operator = new();
    private readonly ILogger _log;
    private readonly CancellationTokenSource _exited = new();
    private readonly object _writeGate = new();
    private long _nextId;
    private volatile bool _disposing;

    /// <summary>The heartbeat worker's gen0 budget, DOTNET_GCgen0size (hexadecimal bytes): 32 MiB.</summary>
    public const string WorkerGen0BudgetHex = "2000000";

    /// <param name="onCommand">Each command of the node (which runs in the worker), in order, on the reader thread; it must not block.</param>
    public HeartbeatProxy(DaemonOptions options, Action<NodeCommand> onCommand, ILogger log)
    {
        _onCommand = onCommand;
        _log = log;
        var self = SelfCommand.Get();
        var psi = new ProcessStartInfo(self[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var a in self.Skip(1))
            psi.ArgumentList.Add(a);
        // No tiered re-JIT in the worker: installing tier-1 code suspends every managed thread, and
        // under CPU load the suspending thread (ordinary priority) can keep the real-time heartbeat
        // thread waiting for tens of milliseconds. Everything is compiled once, fully, at first use.
        psi.Environment["DOTNET_TieredCompilation"] = "0";
        psi.Environment["DOTNET_TieredPGO"] = "0";
        // A collection stops the real-time heartbeat thread until it is done, and it runs on the
        // thread that allocated, an ordinary one here (status replies, log lines) that load can
        // preempt mid-collection: measured 5-8 ms per collection with both CPUs busy. The worker
        // allocates nothing per frame, only per status request (~3 kB) and per logged event, so a
        // gen0 budget of 32 MiB (the value is hex) makes a collection a rare event (one in 20,000
        // status requests, where the default budget collected 16 times).
        psi.Environment["DOTNET_GCgen0size"] = WorkerGen0BudgetHex;
        foreach (var a in options.WorkerArguments())
            psi.ArgumentList.Add(a);
        _worker = Process.Start(psi) ?? throw new IOException("cannot start the heartbeat worker");
        _ = Task.Factory.StartNew(ReadLoop, TaskCreationOptions.LongRunning);
    }

    /// <summary>Cancelled when the worker process ends: the daemon cannot run without a heartbeat.</summary>
    public CancellationToken Exited => _exited.Token;

    public async Task<HeartbeatStatus> GetStatusAsync()
    {
        var reply = await Request("status").ConfigureAwait(false);
        return HeartbeatWire.ReadStatus(reply.GetProperty("status"));
    }

    public Task ResetCadenceAsync() => Request("reset-cadence");

    /// <summary>The worker's latest log lines (<see cref="RecentLog"/>), oldest first.</summary>
    public async Task<IReadOnlyList<string>> GetLogAsync()
    {
        var reply = await Request("log").ConfigureAwait(false);
        return [.. reply.GetProperty("lines").EnumerateArray().Select(l => l.GetString() ?? "")];
    }

    /// <summary>
    /// Called on the reader thread with each config-sync payload the worker received from the peer
    /// (authentic and fresh) and the index of the link it came on. It must not block.
    /// </summary>
    public Action<byte[], int>? SyncReceived { get; set; }

    /// <summary>A config-sync payload for the peer (the worker seals and sends it when a link allows).</summary>
    public void SendSync(byte[] payload) => Command("sync-send", w => w.WriteBase64String("data", payload));

    /// <summary>The config version word the keepalives carry from now on.</summary>
    public void SetConfigWord(uint word) => Command("config-word", w => w.WriteNumber("word", word));

    /// <summary>The worker's sync message counters per link.</summary>
    public async Task<(IReadOnlyList<SyncLinkCounters> Links, long Dropped, long RingOverflow, int Queued)> GetSyncStatusAsync()
    {
        var reply = await Request("sync-status").ConfigureAwait(false);
        return HeartbeatWire.ReadSyncStatus(reply.GetProperty("sync"));
    }

    /// <summary>Tells the node whether the local monitors pass.</summary>
    public void SetHealthy(bool healthy) => Command("health", w => w.WriteBoolean("healthy", healthy));

    /// <summary>SIGTERM: the node releases everything to the peer and says goodbye, then emits <see cref="Left"/>.</summary>
    public void Leave() => Command("leave", _ => { });

    /// <summary>The outcome of a <see cref="RunResource"/>.</summary>
    public void ResourceDone(int index, ResourceVerb verb, ResourceOutcome outcome) => Command("resource-done", w =>
    {
        w.WriteNumber("index", index);
        w.WriteNumber("verb", (int)verb);
        w.WriteBoolean("ok", outcome.Ok);
        w.WriteString("reason", outcome.Reason);
    });

    /// <summary>The result of a <see cref="RunFenceDevice"/>.</summary>
    public void FenceDone(long op, FenceResult result) => Command("fence-done", w =>
    {
        w.WriteNumber("op", op);
        w.WriteNumber("outcome", (int)result.Outcome);
        w.WriteNumber("power", (int)result.Power);
        w.WriteString("reason", result.Reason);
    });

    /// <summary>`fence NODE` or `fence on NODE`: runs in the node; the answer comes when the operation ends.</summary>
    public Task<(bool Ok, string Message)> OperatorFenceAsync(string target, bool powerOn)
    {
        long id = Interlocked.Increment(ref _nextId);
        var tcs = new TaskCompletionSource<(bool, string)>(TaskCreationOptions.RunContinuationsAsynchronously);
        _operator[id] = tcs;
        if (_exited.IsCancellationRequested)
            tcs.TrySetResult((false, "the heartbeat worker has ended"));
        else
            Write(w =>
            {
                w.WriteStartObject();
                w.WriteNumber("id", id);
                w.WriteString("cmd", powerOn ? "fence-on" : "fence");
                w.WriteString("target", target);
                w.WriteEndObject();
            });
        return tcs.Task;
    }

    /// <summary>An operator's standby or takeover.</summary>
    public Task RequestAsync(OperatorRequest r) => Request("request", w => w.WriteNumber("request", (int)r));

    private void Command(string cmd, Action<Utf8JsonWriter> fields) => Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("cmd", cmd);
        fields(w);
        w.WriteEndObject();
    });

    private Task<JsonElement> Request(string cmd, Action<Utf8JsonWriter>? fields = null)
    {
        long id = Interlocked.Increment(ref _nextId);
        var tcs = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = tcs;
        if (_exited.IsCancellationRequested)
            tcs.TrySetException(new IOException("the heartbeat worker has ended"));
        else
            Write(w =>
            {
                w.WriteStartObject();
                w.WriteNumber("id", id);
                w.WriteString("cmd", cmd);
                fields?.Invoke(w);
                w.WriteEndObject();
            });
        return tcs.Task;
    }

    private void Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
            body(w);
        buffer.WriteByte((byte)'\n');
        lock (_writeGate)
        {
            try
            {
                var stdin = _worker.StandardInput.BaseStream;
                stdin.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
                stdin.Flush();
            }
            catch (IOException)
            {
                // the worker is gone; ReadLoop reports it
            }
        }
    }

    private void ReadLoop()
    {
        try
        {
            var reader = _worker.StandardOutput;
            while (reader.ReadLine() is { } line)
            {
                using var doc = JsonDocument.Parse(line);
                var root = doc.RootElement;
                if (root.TryGetProperty("command", out var c))
                {
                    var command = NodeWire.ReadCommand(c);
                    if (command is OperatorReply reply)
                    {
                        if (_operator.TryRemove(reply.RequestId, out var waiting))
                            waiting.TrySetResult((reply.Ok, reply.Message));
                    }
                    else
                        _onCommand(command);
                }
                else if (root.TryGetProperty("id", out var id))
                {
                    if (_pending.TryRemove(id.GetInt64(), out var tcs))
                        tcs.TrySetResult(root.Clone());
                }
                else if (root.TryGetProperty("sync", out var sync))
                    SyncReceived?.Invoke(sync.GetProperty("data").GetBytesFromBase64(), sync.GetProperty("link").GetInt32());
            }
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            Trace.StartFailed(_log, "heartbeat worker: " + e.Message);
        }
        _worker.WaitForExit();
        if (!_disposing)
            Trace.WorkerEnded(_log, _worker.Id, _worker.ExitCode);
        _exited.Cancel();
        foreach (var p in _pending.Values)
            p.TrySetException(new IOException("the heartbeat worker has ended"));
        foreach (var o in _operator.Values)
            o.TrySetResult((false, "the heartbeat worker has ended"));
    }

    public void Dispose()
    {
        _disposing = true;
        try
        {
            _worker.StandardInput.Close(); // the worker exits at end of input
            if (!_worker.WaitForExit(2000))
                _worker.Kill();
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
        }
        _worker.Dispose();
    }
}
