using System.Runtime.InteropServices;
using System.Text.Json;
using Appliance.Linux;
using Appliance.Linux.Nft;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Appliance.Daemon;

/// <summary>
/// The nft worker: a process of its own (applianced --nft-worker) that owns the one libnftables
/// context and applies the director's transactions for the daemon.
/// <para>
/// Why a process (DESIGN.md section 3, "native code that can crash runs where a crash cannot take
/// the heartbeat down"): nft 1.0.6's JSON parser died with SIGSEGV inside our process on a bad
/// document (reference/nat-director.md 3.12), and the library calls exit() itself on some errors
/// (no netlink socket: exit 3; no memory: exit 4). The runtime cannot catch either. Here they end
/// only this process; <see cref="NftProxy"/> reports the request in flight as failed and starts a
/// new worker. We send only text, which parsed cleanly in every case tried, so this is insurance,
/// and cheap: a round trip over the pipes costs well under a millisecond next to the apply itself.
/// </para>
/// <para>
/// No config: the worker needs none, so Program.Main branches here before reading it. It lives in
/// the network namespace it was started in (its context's netlink socket is opened at start). It
/// ends when its stdin closes (the daemon is gone); SIGTERM, SIGINT and SIGHUP are ignored so that a
/// Ctrl-C, a systemd stop or a reload reaching the process group cannot take it away in the middle of the
/// daemon's planned switchover. Single-threaded: one request at a time, in order.
/// </para>
/// <para>
/// Test hook: with <see cref="TestHooksVariable"/>=1 in its environment the worker also accepts
/// {"cmd":"crash-for-test"}, which crashes it inside libnftables (see
/// <see cref="NftApplier.CrashForTest"/>). Without the variable the command is unknown.
/// </para>
/// </summary>
internal static class NftWorker
{
    /// <summary>The argument that makes applianced run as the nft worker (alone: no other argument).</summary>
    public const string Flag = "--nft-worker";

    /// <summary>Set to 1 in the worker's environment to enable the test-only commands.</summary>
    public const string TestHooksVariable = "APPLIANCE_TEST_HOOKS";

    public static int Run()
    {
        using var loggerFactory = LoggerFactory.Create(b => b
            .SetMinimumLevel(LogLevel.Information)
            .AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.ColorBehavior = LoggerColorBehavior.Disabled;
            })
            // stdout is the protocol: every log line goes to stderr, which the proxy forwards.
            .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace));
        var log = loggerFactory.CreateLogger("nft-worker");
        using var signals = new WorkerSignals();
        bool testHooks = Environment.GetEnvironmentVariable(TestHooksVariable) == "1";

        using var applier = NftApplier.Open();
        var output = Console.OpenStandardOutput();
        try
        {
            output.Write(NftWire.Line(w =>
            {
                w.WriteStartObject("hello");
                w.WriteNumber("pid", Environment.ProcessId);
                w.WriteString("backend", NftWire.BackendName(applier.Backend));
                w.WriteString("fallback", applier.FallbackReason);
                w.WriteEndObject();
            }));
            var input = new BoundedLineReader(Console.OpenStandardInput(), NftWire.LineBytesMax);
            while (input.ReadLine() is { } line)
            {
                long id = 0;
                NftResult result;
                try
                {
                    using var doc = JsonDocument.Parse(line);
                    var request = doc.RootElement;
                    id = request.GetProperty("id").GetInt64();
                    result = Handle(request, applier, testHooks);
                }
                catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or ArgumentException or FormatException)
                {
                    result = NftResult.Fail($"bad request to the nft worker: {e.Message}");
                }
                output.Write(NftWire.Line(w => NftWire.WriteResult(w, id, result)));
            }
            return 0; // stdin closed: the daemon is gone
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            Trace.BackgroundFailed(log, "nft worker pipes", e.Message);
            return 1;
        }
    }

    private static NftResult Handle(JsonElement request, INftApplier applier, bool testHooks)
    {
        string? cmd = request.GetProperty("cmd").GetString();
        switch (cmd)
        {
            case "apply":
                return applier.Apply(request.GetProperty("text").GetString()!, request.GetProperty("check").GetBoolean());
            case "list":
                return applier.List(NftTable.Parse(request.GetProperty("table").GetString()!),
                    request.TryGetProperty("stateless", out var s) && s.GetBoolean());
            case "counters":
                return applier.ListCounters(NftTable.Parse(request.GetProperty("table").GetString()!));
            case "crash-for-test" when testHooks:
                NftApplier.CrashForTest(applier);
                return NftResult.Fail("still alive after crash-for-test");
            default:
                return NftResult.Fail($"unknown command '{cmd}'" + (cmd == "crash-for-test" ? $" ({TestHooksVariable} is not 1)" : ""));
        }
    }
}
