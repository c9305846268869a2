using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Threading.Channels;
using Appliance.Core.Config;
using Appliance.Core.Heartbeat;
using Appliance.Core.Membership;
using Appliance.Core.Values;
using Appliance.Linux;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Appliance.Daemon;

internal static class Program
{
    private const string Usage =
        "usage: applianced --config FILE [--node NAME] [--control PATH] [--state-dir DIR]\n" +
        "  --config FILE     the cluster configuration (YAML), e.g. /etc/appliance/appliance.yaml\n" +
        "  --node NAME       which node of the config this board is (default: the host name)\n" +
        "  --control PATH    the control socket (default: /run/appliance/control.sock)\n" +
        "  --state-dir DIR   where state that survives restarts is kept (default: /var/lib/appliance)\n";

    public static async Task<int> Main(string[] args)
    {
        var options = DaemonOptions.Parse(args, out string? usageError);
        if (options is null)
        {
            Console.Error.Write((usageError is null ? "" : "applianced: " + usageError + "\n") + Usage);
            return usageError is null ? 0 : 2;
        }

        using var loggerFactory = LoggerFactory.Create(b => b
            .SetMinimumLevel(LogLevel.Information)
            .AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
                o.ColorBehavior = LoggerColorBehavior.Disabled;
            })
            .AddFilter<ConsoleLoggerProvider>(null, LogLevel.Information)
            .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace));
        var log = loggerFactory.CreateLogger("applianced");

        string text;
        try
        {
            text = File.ReadAllText(options.ConfigPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"applianced: cannot read config {options.ConfigPath}: {e.Message}");
            return 2;
        }
        var loaded = ConfigLoader.Load(options.ConfigPath, text);
        if (loaded.Config is not { } config)
        {
            foreach (var error in loaded.Errors)
                Console.Error.WriteLine(error.ToString());
            return 2;
        }
        string nodeName = options.Node ?? Environment.MachineName;
        if (config.FindNode(nodeName) is not { } selfNode)
        {
            Console.Error.WriteLine($"applianced: node '{nodeName}' is not in {options.ConfigPath} (nodes: {string.Join(", ", config.Nodes.Select(n => n.Name))}); pass --node");
            return 2;
        }
        int selfIndex = config.Nodes.IndexOf(selfNode);
        var key = KeyFile.Load(config.Cluster.KeyFile);
        if (key.Key is null)
        {
            Console.Error.WriteLine($"applianced: {key.Error}");
            return 2;
        }

        using var daemon = new ApplianceDaemon(config, selfIndex, key.Key, options, TimeProvider.System, log);
        using var stop = new CancellationTokenSource();
        string reason = "";
        void OnSignal(PosixSignalContext ctx)
        {
            ctx.Cancel = true;
            reason = ctx.Signal.ToString();
            stop.Cancel();
        }
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        try
        {
            await daemon.RunAsync(stop.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException)
        {
            Trace.StartFailed(log, e.Message);
            return 1;
        }
        Trace.Stopping(log, reason);
        return 0;
    }
}

internal sealed record DaemonOptions(string ConfigPath, string? Node, string ControlPath, string StateDir)
{
    public static DaemonOptions? Parse(string[] args, out string? error)
    {
        error = null;
        string? config = null, node = null, control = "/run/appliance/control.sock", state = "/var/lib/appliance";
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (a is "-h" or "--help")
                return null;
            if (a is not ("--config" or "--node" or "--control" or "--state-dir"))
            {
                error = $"unknown argument '{a}'";
                return null;
            }
            if (i + 1 >= args.Length)
            {
                error = $"{a} needs a value";
                return null;
            }
            string v = args[++i];
            switch (a)
            {
                case "--config": config = v; break;
                case "--node": node = v; break;
                case "--control": control = v; break;
                case "--state-dir": state = v; break;
            }
        }
        if (config is null)
        {
            error = "--config is required";
            return null;
        }
        return new DaemonOptions(config, node, control, state);
    }
}

/// <summary>
/// Wires Core to the edge for one board: heartbeat thread, control socket, sd_notify, and the
/// node's role (until the arbiter arrives: starting until the peer is judged, then standby).
/// </summary>
internal sealed class ApplianceDaemon : IDisposable
{
    private readonly ApplianceConfig _config;
    private readonly NodeConfig _self;
    private readonly NodeConfig _peer;
    private readonly DaemonOptions _options;
    private readonly ILogger _log;
    private readonly HeartbeatThread _heartbeat;
    private readonly Channel<MembershipEvent> _events = Channel.CreateBounded<MembershipEvent>(
        new BoundedChannelOptions(Membership.PendingEventsMax) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
    private readonly SdNotify _notify = new();
    private volatile NodeRole _role = NodeRole.Starting;

    public ApplianceDaemon(ApplianceConfig config, int selfIndex, byte[] key, DaemonOptions options, TimeProvider time, ILogger log)
    {
        _config = config;
        _self = config.Nodes[selfIndex];
        _peer = config.PeerOf(_self.Name);
        _options = options;
        _log = log;
        var selfId = new NodeId((byte)(selfIndex + 1));
        var peerId = new NodeId((byte)(config.Nodes.IndexOf(_peer) + 1));
        var boot = new BootId(BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8)) | 1);
        var timers = config.Cluster.Timers;
        var codec = new HeartbeatCodec(key, config.Cluster.Name);
        TimeSpan zero = TimeSpan.Zero;
        var membership = new Membership(timers, selfId, peerId, boot, _self.Links.Length, zero);
        var node = new HeartbeatNode(codec, membership, selfId, timers, _self.Links.Length)
        {
            LocalState = new StateSummary(NodeRole.Starting, HealthFlags.None, 0, 0, 0, 0),
        };
        _heartbeat = new HeartbeatThread(node, _self.Links, LinkFactory.Open, timers, _peer.Name, time, log,
            e => _events.Writer.TryWrite(e));
        Trace.Starting(log, _self.Name, config.Cluster.Name, boot.ToString(), options.ConfigPath,
            (long)timers.Keepalive.TotalMilliseconds, (long)timers.Warntime.TotalMilliseconds,
            (long)timers.Deadtime.TotalMilliseconds, (long)timers.Initdead.TotalMilliseconds);
    }

    public async Task RunAsync(CancellationToken stop)
    {
        Directory.CreateDirectory(_options.StateDir);
        _heartbeat.Start();
        await using var control = new ControlServer(_options.ControlPath, HandleAsync, _log);
        control.Start();
        Trace.Ready(_log, _options.ControlPath);
        _notify.Send("READY=1\nSTATUS=starting: waiting for " + _peer.Name);

        using var watchdog = _notify.WatchdogInterval is { } interval ? new PeriodicTimer(interval) : null;
        Task watchdogLoop = watchdog is null ? Task.CompletedTask : PetWatchdog(watchdog, stop);
        try
        {
            await foreach (var e in _events.Reader.ReadAllAsync(stop).ConfigureAwait(false))
                OnMembershipEvent(e);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        _notify.Send("STOPPING=1");
        await watchdogLoop.ConfigureAwait(false);
    }

    private async Task PetWatchdog(PeriodicTimer timer, CancellationToken stop)
    {
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                // Pet only if the heartbeat thread answers too: a wedged heartbeat must lead to a reboot.
                var status = _heartbeat.GetStatusAsync();
                if (await Task.WhenAny(status, Task.Delay(timer.Period, stop)).ConfigureAwait(false) == status)
                    _notify.Send("WATCHDOG=1");
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void OnMembershipEvent(MembershipEvent e)
    {
        switch (e.Kind)
        {
            case MembershipEventKind.PeerUp:
            case MembershipEventKind.PeerDead:
                if (_role == NodeRole.Starting)
                    SetRole(NodeRole.Standby, e.Kind == MembershipEventKind.PeerUp ? $"{_peer.Name} is up" : $"{_peer.Name} not heard within initdead");
                _notify.Send($"STATUS={StatusJson.RoleName(_role)}, peer {_peer.Name} {(e.Kind == MembershipEventKind.PeerUp ? "up" : "dead")}");
                break;
            case MembershipEventKind.Stall:
                // Nothing is held before the arbiter exists; the stall guard's step-down is the log line
                // and the status counter. Any role that could hold resources drops to standby at once.
                if (_role is not (NodeRole.Starting or NodeRole.Standby))
                    SetRole(NodeRole.Standby, "stall guard");
                break;
        }
    }

    private void SetRole(NodeRole role, string reason)
    {
        Trace.Role(_log, StatusJson.RoleName(_role), StatusJson.RoleName(role), reason);
        _role = role;
        _heartbeat.SetLocalState(new StateSummary(role, HealthFlags.None, 0, 0, 0, 0));
    }

    private async Task<byte[]> HandleAsync(string cmd, System.Text.Json.JsonElement request)
    {
        switch (cmd)
        {
            case "status":
                var hb = await _heartbeat.GetStatusAsync().ConfigureAwait(false);
                return StatusJson.Write(_self.Name, _role, _peer.Name, _config, hb, _heartbeat.Now());
            case "reset-cadence":
                await _heartbeat.ResetCadenceAsync().ConfigureAwait(false);
                return "{\"ok\":true}"u8.ToArray();
            case "churn":
                // Benchmark aid: allocate garbage on the thread pool for a while, to show the heartbeat
                // thread keeps its cadence while this process's own heap is churned and collected.
                int seconds = request.TryGetProperty("seconds", out var sec) && sec.TryGetInt32(out int v) ? Math.Clamp(v, 1, 600) : 10;
                _ = Task.Run(() => Churn(TimeSpan.FromSeconds(seconds)));
                return "{\"ok\":true}"u8.ToArray();
            default:
                return ControlServer.Error($"unknown command '{cmd}' (this daemon knows: status, reset-cadence, churn)");
        }
    }

    private static void Churn(TimeSpan duration)
    {
        long end = Environment.TickCount64 + (long)duration.TotalMilliseconds;
        var keep = new List<byte[]>();
        while (Environment.TickCount64 < end)
        {
            for (int i = 0; i < 1000; i++)
                keep.Add(new byte[Random.Shared.Next(16, 8192)]);
            if (keep.Count > 50_000)
                keep.RemoveRange(0, 25_000); // survivors get promoted, so gen1/gen2 collections happen too
        }
    }

    public void Dispose()
    {
        _heartbeat.Dispose();
        _notify.Dispose();
    }
}
