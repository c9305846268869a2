using System.Text.Json;
using Appliance.Core.Arbiter;
using Appliance.Core.Values;
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

    public static int Run(NodeSetup setup, ILogger log)
    {
        var output = Console.OpenStandardOutput();
        var gate = new object();
        void Send(Action<Utf8JsonWriter> write)
        {
            lock (gate)
            {
                using (var w = new Utf8JsonWriter(output))
                    write(w);
                output.WriteByte((byte)'\n');
                output.Flush();
            }
        }

        // Membership changes are logged by the heartbeat thread and acted on by its arbiter; the
        // daemon learns the outcome as decisions.
        using var hb = HeartbeatThread.Create(setup, TimeProvider.System, log, _ => { });
        var config = setup.Config;
        var peer = config.PeerOf(setup.Self.Name);
        int peerIndex = config.Nodes.IndexOf(peer);
        bool preferred = Arbiter.IsPreferred(setup.Self, peer, new NodeId((byte)(setup.SelfIndex + 1)), new NodeId((byte)(peerIndex + 1)));
        uint mask = config.Resources.Length == 0 ? 0 : (uint)((1UL << config.Resources.Length) - 1);
        hb.Arbiter = new ArbiterHost(new Arbiter(preferred, config.Cluster.AutoFailback, config.Cluster.Fencing), mask,
            (d, life) => Send(w => HeartbeatWire.WriteDecision(w, d, life)));
        hb.Start();
        void SendOk(long id) => Send(w =>
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
                    Send(w =>
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
                case "resources":
                    var resources = (LocalResources)request.GetProperty("state").GetInt32();
                    hb.InvokeAsync(_ => { hb.Arbiter!.SetResources(resources); return true; });
                    break;
                case "health":
                    bool healthy = request.GetProperty("healthy").GetBoolean();
                    hb.InvokeAsync(_ => { hb.Arbiter!.SetHealthy(healthy); return true; });
                    break;
                case "fenced":
                    long life = request.GetProperty("peer_life").GetInt64();
                    hb.InvokeAsync(_ => { hb.Arbiter!.PeerFenced(life); return true; });
                    break;
                case "request":
                    var r = (OperatorRequest)request.GetProperty("request").GetInt32();
                    hb.InvokeAsync(_ => { hb.Arbiter!.Request(r); return true; });
                    SendOk(id);
                    break;
            }
        }
        return 0; // stdin closed: the daemon is gone, and so is its heartbeat
    }
}
