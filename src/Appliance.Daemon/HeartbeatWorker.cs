using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text.Json;
using Appliance.Core.Fencing;
using Appliance.Core.Node;
using Appliance.Core.Ports;
using Appliance.Core.Arbiter;
using Appliance.Core.Values;
using Appliance.Linux;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>
/// The heartbeat worker: a process of its own that runs only the heartbeat thread.
/// <para>
/// Why a process (DESIGN.md section 3 asks for a dedicated thread that is "not starved by load or
/// GC"): the .NET collector stops every managed thread of a process while it works, so a daemon
/// whose heap is busy (scripts, health checks, control requests) would delay its own keepalives by
/// its collection pauses; measured at 60-130 ms with the heap churned. The worker allocates almost
/// nothing (a little per status request), so its collector practically never runs, and its
/// heartbeat thread runs SCHED_FIFO. The daemon talks to it over stdin/stdout in line JSON
/// (<see cref="HeartbeatWire"/>); when the daemon dies its stdin closes and the worker exits.
/// </para>
/// </summary>
internal static class HeartbeatWorker
{
    /// <summary>A request line longer than this is a bug in the parent: the worker stops.</summary>
    private const int MaxRequestChars = 4096;

    /// <summary>
    /// Environment variable: CPUs to pin the heartbeat thread to, like <c>1</c> or <c>2-3</c> (unset:
    /// wherever the scheduler puts it, which measured best on the 2-core bench machine; README,
    /// Performance). For a board that reserves a core for it (isolcpus).
    /// </summary>
    public const string CpusVariable = "APPLIANCE_HEARTBEAT_CPUS";

    /// <summary>
    /// Environment variable: <c>off</c> runs the heartbeat thread without its watcher on another CPU
    /// (<see cref="HeartbeatRescue"/>; on by default wherever there are two CPUs). For measuring what the
    /// watcher saves; a node has no reason to turn it off.
    /// </summary>
    public const string RescueVariable = "APPLIANCE_HEARTBEAT_RESCUE";

    public static int Run(NodeSetup setup, ILogger log, RecentLog recent)
    {
        // Everything the worker says goes out through one writer thread: the real-time heartbeat
        // thread only queues the node's commands (a lock-free queue) and wakes the writer through an
        // eventfd (a syscall, no user-space lock it could wait on behind a preempted ordinary
        // thread), so a slow reader of the pipe (a busy daemon) can never hold up a keepalive.
        // A signal meant for the node must not end the heartbeat in the middle of the daemon's
        // planned switchover or reload: the worker ends when the daemon closes its stdin.
        using var signals = new WorkerSignals();
        // The whole process in RAM before the heartbeat starts: the program text (so the takeover
        // path, run for the first time at a failover, is not read from disk then) and, as they are
        // touched, the heap and stacks. This process is small; the daemon is not locked.
        string? lockWhy = RealtimeThread.TryLockProcessMemory();
        bool locked = lockWhy is null;
        if (locked)
            Trace.MemoryLocked(log, ResidentKb());
        else
            Trace.NoMemoryLock(log, lockWhy!);
        // Every thread of the worker real-time, below the heartbeat thread (which raises itself): the
        // runtime's own (finalizer, console logger, signal handler) now, and through inheritance every thread
        // started from here on. A collection stops the heartbeat thread until the threads it waits on
        // are done (RealtimeThread.WorkerPriority).
        if (RealtimeThread.TryMakeProcessRealtime(RealtimeThread.WorkerPriority) is { } rtWhy)
            Trace.NoWorkerRealtime(log, rtWhy);
        else
            Trace.WorkerRealtime(log, RealtimeThread.WorkerPriority);
        var output = Console.OpenStandardOutput();
        var replies = new ConcurrentQueue<Action<Utf8JsonWriter>>();
        using var wake = new Poller(0);
        using var hb = HeartbeatThread.Create(setup, TimeProvider.System, log, _ => { });
        hb.Node = new ClusterNode(setup.Config, setup.SelfIndex, Random.Shared.NextDouble);
        hb.CommandsReady = wake.Wake;
        hb.SyncReady = wake.Wake;
        hb.LogsReady = wake.Wake;
        hb.MemoryLocked = locked;
        hb.PinCpus = PinCpus(log);
        hb.RescueEnabled = RescueEnabled(log);
        void Reply(Action<Utf8JsonWriter> write)
        {
            replies.Enqueue(write);
            wake.Wake();
        }
        var writer = new Thread(() => WriteLoop(output, hb, replies, wake, log)) { Name = "worker-writer", IsBackground = true };
        writer.Start();
        hb.Start();
        void SendOk(long id) => Reply(w =>
        {
            w.WriteStartObject();
            w.WriteNumber("id", id);
            w.WriteBoolean("ok", true);
            w.WriteEndObject();
        });

        using var input = new StreamReader(Console.OpenStandardInput());
        while (input.ReadLine() is { } line)
        {
            if (line.Length > MaxRequestChars)
                return 1;
            using var doc = JsonDocument.Parse(line);
            var request = doc.RootElement;
            long id = request.TryGetProperty("id", out var idElement) ? idElement.GetInt64() : 0;
            switch (request.GetProperty("cmd").GetString())
            {
                case "status":
                    var status = hb.GetStatusAsync().GetAwaiter().GetResult();
                    Reply(w =>
                    {
                        w.WriteStartObject();
                        w.WriteNumber("id", id);
                        w.WritePropertyName("status");
                        HeartbeatWire.WriteStatus(w, status);
                        w.WriteEndObject();
                    });
                    break;
                case "reset-cadence":
                    hb.ResetCadenceAsync().GetAwaiter().GetResult();
                    SendOk(id);
                    break;
                case "log":
                    // The worker's latest log lines, for the console's `show log` (written by the writer thread).
                    Reply(w =>
                    {
                        w.WriteStartObject();
                        w.WriteNumber("id", id);
                        w.WriteStartArray("lines");
                        foreach (string l in recent.Lines)
                            w.WriteStringValue(l);
                        w.WriteEndArray();
                        w.WriteEndObject();
                    });
                    break;
                case "health":
                    bool healthy = request.GetProperty("healthy").GetBoolean();
                    hb.InvokeAsync(_ => { hb.Node!.SetHealthy(healthy); return true; });
                    break;
                case "request":
                    var r = (OperatorRequest)request.GetProperty("request").GetInt32();
                    hb.InvokeAsync(_ => { hb.Node!.Request(r); return true; }).GetAwaiter().GetResult();
                    SendOk(id);
                    break;
                case "sync-send":
                    // A config-sync payload for the peer; the heartbeat thread sends it when a link allows.
                    hb.SendSync(request.GetProperty("data").GetBytesFromBase64());
                    break;
                case "config-word":
                    uint word = request.GetProperty("word").GetUInt32();
                    hb.InvokeAsync(_ => { hb.Node!.ConfigWord = word; return true; });
                    break;
                case "sync-status":
                    var counters = hb.Sync?.Counters() ?? [];
                    long dropped = hb.Sync?.Dropped ?? 0, overflow = hb.Sync?.RingOverflow ?? 0;
                    int queued = hb.Sync?.Queued ?? 0;
                    Reply(w =>
                    {
                        w.WriteStartObject();
                        w.WriteNumber("id", id);
                        w.WritePropertyName("sync");
                        HeartbeatWire.WriteSyncStatus(w, counters, dropped, overflow, queued);
                        w.WriteEndObject();
                    });
                    break;
                case "leave":
                    hb.InvokeAsync(_ => { hb.Node!.Leave(); return true; });
                    break;
                case "resource-done":
                    int index = request.GetProperty("index").GetInt32();
                    var verb = (ResourceVerb)request.GetProperty("verb").GetInt32();
                    var outcome = new ResourceOutcome(request.GetProperty("ok").GetBoolean(), request.GetProperty("reason").GetString()!);
                    hb.InvokeAsync(_ => { hb.Node!.ResourceDone(hb.Now(), index, verb, outcome); return true; });
                    break;
                case "fence-done":
                    long op = request.GetProperty("op").GetInt64();
                    var result = new FenceResult((FenceOutcome)request.GetProperty("outcome").GetInt32(),
                        (PowerState)request.GetProperty("power").GetInt32(), request.GetProperty("reason").GetString()!);
                    hb.InvokeAsync(_ => { hb.Node!.FenceDone(hb.Now(), op, result); return true; });
                    break;
                case "fence" or "fence-on":
                    string target = request.GetProperty("target").GetString()!;
                    bool on = request.GetProperty("cmd").GetString() == "fence-on";
                    // The answer comes as a "reply" command, now (refused) or when the operation ends.
                    hb.InvokeAsync(_ =>
                    {
                        var node = hb.Node!;
                        var refused = on ? node.RequestPowerOn(hb.Now(), target, id) : node.RequestFence(hb.Now(), target, id);
                        if (refused is not null)
                            node.Outbox.Add(new OperatorReply(id, false, refused));
                        return true;
                    });
                    break;
            }
        }
        return 0; // stdin closed: the daemon is gone, and so is its heartbeat
    }

    private static IReadOnlyCollection<int> PinCpus(ILogger log)
    {
        string? text = Environment.GetEnvironmentVariable(CpusVariable);
        if (string.IsNullOrWhiteSpace(text))
            return [];
        if (ParseCpuList(text, out var cpus, out string error))
            return cpus;
        Trace.BadTuning(log, CpusVariable, error);
        return [];
    }

    private static bool RescueEnabled(ILogger log)
    {
        string? text = Environment.GetEnvironmentVariable(RescueVariable)?.Trim();
        if (string.IsNullOrEmpty(text) || text == "on")
            return true;
        if (text == "off")
            return false;
        Trace.BadTuning(log, RescueVariable, $"'{text}' is neither on nor off");
        return true;
    }

    /// <summary>A CPU list as taskset and isolcpus write it: <c>1</c>, <c>0,2</c>, <c>2-3</c>.</summary>
    internal static bool ParseCpuList(string text, out List<int> cpus, out string error)
    {
        cpus = [];
        error = "";
        foreach (string part in text.Split(','))
        {
            string[] ends = part.Trim().Split('-');
            if (ends.Length is < 1 or > 2 || !int.TryParse(ends[0], out int from) || !int.TryParse(ends[^1], out int to) ||
                from < 0 || to < from || to >= RealtimeThread.MaxCpus)
            {
                error = $"'{text}' is not a CPU list like 1, 0,2 or 2-3 (CPUs 0 to {RealtimeThread.MaxCpus - 1})";
                cpus = [];
                return false;
            }
            for (int c = from; c <= to; c++)
                if (!cpus.Contains(c))
                    cpus.Add(c);
        }
        return true;
    }

    /// <summary>VmRSS of this process from /proc/self/status, in kB (0 when unreadable).</summary>
    private static long ResidentKb()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException)
        {
        }
        return 0;
    }

    private static void WriteLoop(Stream output, HeartbeatThread hb, ConcurrentQueue<Action<Utf8JsonWriter>> replies, Poller wake, ILogger log)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        try
        {
            while (true)
            {
                wake.Clear();
                wake.Wait(Timeout.Infinite);
                while (hb.Commands.TryDequeue(out var c))
                    Write(w => NodeWire.WriteCommand(w, c));
                hb.WritePendingLogs();
                while (replies.TryDequeue(out var r))
                    Write(r);
                while (hb.Sync is { } sync && sync.TryTakeIncoming(out var payload, out int link))
                    Write(w =>
                    {
                        w.WriteStartObject();
                        w.WriteStartObject("sync");
                        w.WriteNumber("link", link);
                        w.WriteBase64String("data", payload);
                        w.WriteEndObject();
                        w.WriteEndObject();
                    });
            }
        }
        catch (IOException e)
        {
            Trace.BackgroundFailed(log, "worker output", e.Message); // the daemon is gone; stdin's end follows
        }

        void Write(Action<Utf8JsonWriter> body)
        {
            buffer.ResetWrittenCount();
            using (var w = new Utf8JsonWriter(buffer))
                body(w);
            buffer.GetSpan(1)[0] = (byte)'\n';
            buffer.Advance(1);
            output.Write(buffer.WrittenSpan);
            output.Flush();
        }
    }
}
