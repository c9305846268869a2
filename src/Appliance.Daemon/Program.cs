using System.Runtime.InteropServices;
using Appliance.Core.Arbiter;
using Appliance.Core.Config;
using Appliance.Core.Ports;
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
        "usage: applianced --config FILE [--node NAME] [--control PATH] [--state-dir DIR] [--board NAME|FILE]\n" +
        "  --config FILE     the cluster configuration (YAML), e.g. /etc/appliance/appliance.yaml\n" +
        "  --node NAME       which node of the config this board is (default: the host name)\n" +
        "  --control PATH    the control socket (default: /run/appliance/control.sock)\n" +
        "  --state-dir DIR   where state that survives restarts is kept (default: /var/lib/appliance)\n" +
        "  --board NAME|FILE the board profile (default: the config's board), see board/*.yaml\n";

    public static async Task<int> Main(string[] args)
    {
        // The nft worker (started by NftProxy) needs no config: it only applies nft text.
        if (args is [NftWorker.Flag])
            return NftWorker.Run();

        var options = DaemonOptions.Parse(args, out string? usageError);
        if (options is null)
        {
            Console.Error.Write((usageError is null ? "" : "applianced: " + usageError + "\n") + Usage);
            return usageError is null ? 0 : 2;
        }

        // The latest lines in memory for the console's `show log`; the worker keeps its own, which the daemon asks for.
        var recent = new RecentLog(options.HeartbeatWorker ? "heartbeat" : "applianced");
        using var loggerFactory = LoggerFactory.Create(b => b
            .AddProvider(recent)
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

        // A `commit confirmed` whose time ran out while the daemon was down is rolled back before the
        // config is read, so the daemon starts with the generation before it (ConfigStore).
        if (!options.HeartbeatWorker && ConfigStore.RecoverAtStart(options.StateDir, options.ConfigPath, KernelBootId.Current(), TimeProvider.System, log) is { } recovered)
            Console.Error.WriteLine($"applianced: {recovered}");

        // The same rules as `appliancectl config check` (ConfigFile): refusals stop us, warnings are said.
        var configFile = ConfigFile.Read(options.ConfigPath);
        if (!options.HeartbeatWorker) // the worker reads the same file: said once is enough
            foreach (string warning in configFile.Warnings)
                Console.Error.WriteLine($"applianced: warning: {warning}");
        if (configFile.Text is not { } text)
        {
            Console.Error.WriteLine($"applianced: cannot use config {configFile.Error}");
            return 2;
        }
        var loaded = ConfigLoader.Load(options.ConfigPath, text, BoardFiles.Catalog(options.Board));
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
        // One daemon per node: taken before anything starts (worker, control socket, resources), held
        // until Main returns. The heartbeat worker is this daemon's child and takes none.
        string? lockError = null;
        using var instance = options.HeartbeatWorker ? null : InstanceLock.TryAcquire(options.StateDir, selfNode.Name, out lockError);
        if (lockError is not null)
        {
            Console.Error.WriteLine($"applianced: {lockError}");
            return 1;
        }
        var key = KeyFile.Load(config.Cluster.KeyFile);
        if (key.Key is null)
        {
            Console.Error.WriteLine($"applianced: {key.Error}");
            return 2;
        }
        var setup = new NodeSetup(config, selfIndex, key.Key);

        if (options.HeartbeatWorker)
            return HeartbeatWorker.Run(setup, log, recent);

        using var daemon = new ApplianceDaemon(setup, options, log, recent);
        using var stop = new CancellationTokenSource();
        string reason = "";
        int signals = 0;
        // SIGTERM (systemctl stop/restart, an upgrade) is a planned switchover (DESIGN.md section 3):
        // the first one releases everything to the peer and says goodbye; a second one exits at once.
        void OnSignal(PosixSignalContext ctx)
        {
            ctx.Cancel = true;
            reason = ctx.Signal.ToString();
            if (Interlocked.Increment(ref signals) == 1)
                daemon.Leave(reason);
            else
                stop.Cancel();
        }
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        // SIGHUP (systemctl reload): re-read the config and apply what can be applied live; the
        // outcome goes to the log (`appliancectl reload` gets it as its reply).
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, ctx =>
        {
            ctx.Cancel = true;
            daemon.ReloadInBackground("SIGHUP");
        });
        try
        {
            await daemon.RunAsync(stop.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException or TimeoutException)
        {
            Trace.StartFailed(log, e.Message);
            return 1;
        }
        Trace.Stopping(log, reason);
        return 0;
    }
}

internal sealed record DaemonOptions(string ConfigPath, string? Node, string ControlPath, string StateDir, bool HeartbeatWorker = false)
{
    /// <summary><c>--board NAME|FILE</c>: the board profile, over the config's <c>board</c>.</summary>
    public string? Board { get; init; }

    /// <summary>The arguments that start this daemon's heartbeat worker process (see <see cref="HeartbeatWorker"/>).</summary>
    public IEnumerable<string> WorkerArguments() =>
        new[] { "--config", ConfigPath, "--control", ControlPath, "--state-dir", StateDir, "--heartbeat-worker" }
            .Concat(Node is null ? Array.Empty<string>() : new[] { "--node", Node })
            .Concat(Board is null ? Array.Empty<string>() : new[] { "--board", Board });

    public static DaemonOptions? Parse(string[] args, out string? error)
    {
        error = null;
        string? config = null, node = null, board = null, control = "/run/appliance/control.sock", state = "/var/lib/appliance";
        bool worker = false;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (a is "-h" or "--help")
                return null;
            if (a == "--heartbeat-worker")
            {
                worker = true; // internal: the daemon starts its own heartbeat worker with this
                continue;
            }
            if (a is not ("--config" or "--node" or "--control" or "--state-dir" or "--board"))
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
                case "--board": board = v; break;
            }
        }
        if (config is null)
        {
            error = "--config is required";
            return null;
        }
        return new DaemonOptions(config, node, control, state, worker) { Board = board };
    }
}

/// <summary>What one board needs to know to run: the config, which node it is, the shared key.</summary>
internal sealed record NodeSetup(ApplianceConfig Config, int SelfIndex, byte[] Key)
{
    public NodeConfig Self => Config.Nodes[SelfIndex];
}

/// <summary>
/// Wires Core to the edge for one board: the heartbeat worker (where the node's host logic runs),
/// the executor of its commands, local monitors, the duplicate-VIP watch, the control socket and
/// sd_notify.
/// </summary>
internal sealed class ApplianceDaemon : IDisposable
{
    private readonly ApplianceConfig _config;
    private readonly NodeConfig _self;
    private readonly NodeConfig _peer;
    private readonly DaemonOptions _options;
    private readonly ILogger _log;
    private readonly HeartbeatProxy _heartbeat;
    private readonly NodeExecutor _executor;
    private readonly MonitorRunner _monitors;
    private readonly DuplicateVipWatch _vipWatch;
    private readonly DirectorService? _director;
    private readonly ConntrackdSupervisor? _conntrackd;
    private readonly DirectorChecks? _checks;
    private readonly ConnectionSampler? _connections;
    private readonly PanelService? _panel;
    private readonly ConfigReloader _reloader;
    private readonly ConfigStore? _store;
    private readonly string _storeError = "";
    private readonly RecentLog _recent;
    private readonly ConfigSyncService _sync;
    private IReadOnlyList<SyncLinkCounters> _syncLinks = [];
    private readonly TimeProvider _time;
    private readonly long _started;
    private readonly SdNotify _notify = new();
    private readonly CancellationTokenSource _leave = new();
    private string _leaveSignal = "";

    public ApplianceDaemon(NodeSetup setup, DaemonOptions options, ILogger log, RecentLog recent, TimeProvider? time = null)
    {
        _recent = recent;
        _config = setup.Config;
        _self = setup.Self;
        _peer = _config.PeerOf(_self.Name);
        _options = options;
        _log = log;
        _time = time ?? TimeProvider.System;
        _started = _time.GetTimestamp();
        // Connection sync runs on both nodes all the time; its commit is the node's first resource (and
        // runs in the background while the VIPs come up: the director's guard holds mid-stream packets).
        if (_config.Director?.Sync is { } sync)
            _conntrackd = new ConntrackdSupervisor(Core.Director.NodeResources.ForNode(sync, setup.SelfIndex), options.StateDir, log, _time);
        if (_config.Director is { } directorConfig)
            _director = new DirectorService(directorConfig, _config.Cluster.Name, log, _time);
        var resources = Core.Director.NodeResources.Of(_config).Select(r => ResourceFactory.Create(r, _conntrackd, _director)).ToArray();
        _vipWatch = new DuplicateVipWatch(_config.Resources.OfType<VipResourceConfig>(), log);
        // Only the devices that fence the peer live on this board (a node never drives its own relay).
        var devices = _config.FenceLevels(_peer).ToDictionary(d => d.Name, d => Fencing.FenceDeviceFactory.Create(d, _self.Name));
        HeartbeatProxy? proxy = null;
        _executor = new NodeExecutor(resources, devices, new Fencing.FenceHistory(options.StateDir),
            (i, verb, outcome) => proxy!.ResourceDone(i, verb, outcome),
            (op, result) => proxy!.FenceDone(op, result),
            OnDecision,
            holds => _vipWatch.SetSelfHolds(holds), // a failed stop may still hold the VIP
            log, _time);
        _heartbeat = proxy = new HeartbeatProxy(options, _executor.OnCommand, log);
        _monitors = new MonitorRunner(_config.Monitors, _ => UpdateHealth(), log, _time);
        if (_config.Director is { } director && _director is not null)
        {
            // Both nodes check, so the standby's ruleset is current when it takes over.
            _checks = new DirectorChecks(director, _config.Cluster.Name, _self.Name, _director, log, _time);
            _connections = new ConnectionSampler(director, log, _time);
            _director.AttachConnections(_connections);
        }
        _reloader = new ConfigReloader(options.ConfigPath, _self.Name, _config, setup.Key, _director, _checks, _connections, log, _time)
        {
            BoardOverride = options.Board,
            ApplyMonitors = _monitors.Reconfigure,
        };
        // The config's generations and the one commit path (the console, appliancectl config, config sync).
        try
        {
            _store = new ConfigStore(options.StateDir, options.ConfigPath, _self.Name,
                (source, text) => ConfigLoader.Load(source, text, BoardFiles.Catalog(options.Board)),
                _reloader.ApplyAsync, c => KeyFile.Load(c.Cluster.KeyFile).Error, log, _time, KernelBootId.Current());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _storeError = $"the config history in {options.StateDir}/config-history cannot be kept: {e.Message}";
            Trace.ConfigHistoryProblem(log, _storeError);
        }
        // The pair keeps one config: commits replicate over the heartbeat links (README "Keeping the pair's config in sync").
        _sync = new ConfigSyncService(_self.Name, _peer.Name, options.StateDir, new FileConfigSource(options.ConfigPath, _reloader),
            new ProxySyncTransport(_heartbeat), text => ConfigLoader.Load(options.ConfigPath, text, BoardFiles.Catalog(options.Board)), log, _time);
        _heartbeat.SyncReceived = (payload, _) => _sync.Received(payload);
        // A generation committed here (console, appliancectl config commit, rollback) replicates to the
        // peer like a reload does; the peer's report goes to the log (the commit has answered already).
        if (_store is not null)
            _store.Committed += (generation, text) => Task.Run(() => _sync.LocalChangedAsync(System.Text.Encoding.UTF8.GetBytes(text), ConfigSyncService.CommitWait))
                .ContinueWith(t => Trace.BackgroundFailed(_log, "config sync of a commit", t.Exception!.GetBaseException().Message), TaskContinuationOptions.OnlyOnFaulted);
        // The front panel reads status and asks for standby through the control handler, like appliancectl.
        if (_config.Panel is { } panel)
            _panel = new PanelService(panel, _self.Name, HandleAsync, _director is not null, log, _time);
    }

    /// <summary>SIGHUP: a reload whose outcome only the log sees (ConfigReloader logs every step).</summary>
    public void ReloadInBackground(string trigger) =>
        _ = Task.Run(() => ReloadAsync(trigger)).ContinueWith(
            t => Trace.BackgroundFailed(_log, "reload", t.Exception!.GetBaseException().ToString()), TaskContinuationOptions.OnlyOnFaulted);

    /// <summary>
    /// A reload of the config file; one that applied is a local change of the pair's config, which
    /// replicates to the peer when it still runs what the two agreed on (its report joins the reply).
    /// </summary>
    private async Task<ReloadOutcome> ReloadAsync(string trigger)
    {
        var outcome = await _reloader.ReloadFileAsync(trigger).ConfigureAwait(false);
        if (!outcome.Ok)
            return outcome;
        byte[] text;
        try
        {
            text = File.ReadAllBytes(_options.ConfigPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return outcome with { Message = outcome.Message + $"\nconfig sync: cannot read {_options.ConfigPath} again: {e.Message}" };
        }
        var replicated = await _sync.LocalChangedAsync(text, ConfigSyncService.CommitWait).ConfigureAwait(false);
        return outcome with { Message = outcome.Message + "\nconfig sync: " + replicated.Message };
    }

    /// <summary>The local monitors; the node adds its own resource failures to decide fitness.</summary>
    private void UpdateHealth() => _heartbeat.SetHealthy(_monitors.AllUp);

    private void OnDecision(ArbiterDecision d)
    {
        Trace.Role(_log, StatusJson.RoleName(d.Role), d.Action.ToString(), d.Reason);
        _notify.Send($"STATUS={StatusJson.RoleName(d.Role)}: {d.Reason}");
    }

    /// <summary>The first SIGTERM: hand over and say goodbye; <see cref="RunAsync"/> returns once the node has left.</summary>
    public void Leave(string signal)
    {
        _leaveSignal = signal;
        _heartbeat.Leave();
        _leave.Cancel();
    }

    /// <summary>
    /// Longest a clean shutdown may take: every resource's stop, plus a few deadtimes for the peer to
    /// acknowledge the goodbye. Past it the daemon exits anyway (a stop that hangs must not keep a
    /// box that no longer heartbeats from being fenced and replaced).
    /// </summary>
    public TimeSpan ShutdownTimeout => _config.Resources.Aggregate(TimeSpan.Zero,
        (sum, r) => sum + Core.Node.ResourceSpec.From(r).Timeout + NodeExecutor.ResourceCancelGrace) + 3 * _config.Cluster.Timers.Deadtime;

    public async Task RunAsync(CancellationToken stop)
    {
        Directory.CreateDirectory(_options.StateDir);
        using var workerGone = CancellationTokenSource.CreateLinkedTokenSource(stop, _heartbeat.Exited);
        // Ready means heartbeating: wait for the worker's first answer before opening the control socket.
        await _heartbeat.GetStatusAsync().WaitAsync(TimeSpan.FromSeconds(30), stop).ConfigureAwait(false);
        _sync.Start();
        await using var control = new ControlServer(_options.ControlPath, HandleAsync, _log, time: _time);
        control.Start();
        await using var metrics = _config.MetricsListen is { } listen ? new MetricsServer(listen, RenderMetricsAsync, _log) : null;
        metrics?.Start();
        _monitors.Start();
        _vipWatch.Start();
        _director?.Start(); // on both nodes, whatever the role: the table is there before any takeover
        _conntrackd?.Start();
        _checks?.Start();
        _connections?.Start();
        _panel?.Start();
        _store?.Start();
        using var loops = CancellationTokenSource.CreateLinkedTokenSource(workerGone.Token);
        Task peerRoleLoop = FeedPeerRole(loops.Token);
        Trace.Ready(_log, _options.ControlPath);
        _notify.Send("READY=1\nSTATUS=starting: waiting for " + _peer.Name);

        using var watchdog = _notify.WatchdogInterval is { } interval ? new PeriodicTimer(interval) : null;
        Task watchdogLoop = watchdog is null ? Task.CompletedTask : PetWatchdog(watchdog, loops.Token);
        try
        {
            // Everything happens in callbacks (commands, control requests, monitors); this waits for the end.
            using var waiting = CancellationTokenSource.CreateLinkedTokenSource(workerGone.Token, _leave.Token);
            await Task.Delay(Timeout.InfiniteTimeSpan, _time, waiting.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (workerGone.IsCancellationRequested || _leave.IsCancellationRequested)
        {
        }
        if (_leave.IsCancellationRequested && !workerGone.IsCancellationRequested)
            await LeaveAsync(workerGone.Token).ConfigureAwait(false);
        else
            _notify.Send("STOPPING=1");
        loops.Cancel();
        await watchdogLoop.ConfigureAwait(false);
        await peerRoleLoop.ConfigureAwait(false);
        if (!stop.IsCancellationRequested && !_leave.IsCancellationRequested)
            throw new IOException("the heartbeat worker process ended");
    }

    private async Task LeaveAsync(CancellationToken stop)
    {
        Trace.Leaving(_log, _leaveSignal);
        _notify.Send("STOPPING=1\nSTATUS=shutting down: handing over to " + _peer.Name);
        try
        {
            var left = await _executor.Left.WaitAsync(ShutdownTimeout, _time, stop).ConfigureAwait(false);
            if (left.Clean)
                Trace.Left(_log, left.Reason);
            else
                Trace.ShutdownForced(_log, left.Reason);
        }
        catch (TimeoutException)
        {
            Trace.ShutdownForced(_log, $"the clean shutdown took longer than {ShutdownTimeout.TotalSeconds:0} s");
        }
        catch (OperationCanceledException)
        {
            Trace.ShutdownForced(_log, "a second signal");
        }
    }

    /// <summary>The metrics page: the same documents as `status --json` and `services --json`.</summary>
    private async Task<string> RenderMetricsAsync()
    {
        using var status = System.Text.Json.JsonDocument.Parse(await HandleAsync("status", default).ConfigureAwait(false));
        using var services = _director is null ? null : System.Text.Json.JsonDocument.Parse(await _director.WriteServicesAsync().ConfigureAwait(false));
        return MetricsText.Render(status.RootElement, services?.RootElement);
    }

    /// <summary>The peer holds (or is taking) the resources, by its latest heartbeat.</summary>
    private static bool PeerActive(HeartbeatStatus hb) =>
        hb.Peer is PeerState.Up or PeerState.Warn && hb.PeerSummary.Role is NodeRole.Active or NodeRole.Takeover;

    /// <summary>The duplicate-VIP watch learns the peer's role from its heartbeats: read it once a second.</summary>
    private async Task FeedPeerRole(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), _time);
        try
        {
            do
            {
                var hb = await _heartbeat.GetStatusAsync().WaitAsync(stop).ConfigureAwait(false);
                _vipWatch.SetPeerActive(PeerActive(hb));
                // Config sync learns from the keepalives whether the peer is there and what config it runs.
                _sync.PeerHeartbeat(hb.Peer is PeerState.Up or PeerState.Warn, hb.PeerSummary.ConfigVersion);
                _syncLinks = (await _heartbeat.GetSyncStatusAsync().WaitAsync(stop).ConfigureAwait(false)).Links;
            }
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
        }
        catch (IOException e)
        {
            Trace.BackgroundFailed(_log, "peer role feed", e.Message);
        }
    }

    private async Task PetWatchdog(PeriodicTimer timer, CancellationToken stop)
    {
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                // Pet only if the heartbeat worker answers too: a wedged heartbeat must lead to a reboot.
                var status = _heartbeat.GetStatusAsync();
                if (await Task.WhenAny(status, Task.Delay(timer.Period, _time, stop)).ConfigureAwait(false) == status)
                    _notify.Send("WATCHDOG=1");
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task<byte[]> HandleAsync(string cmd, System.Text.Json.JsonElement request)
    {
        switch (cmd)
        {
            case "status":
            {
                var hb = await _heartbeat.GetStatusAsync().ConfigureAwait(false);
                return StatusJson.Write(_self.Name, _peer.Name, _reloader.Running, hb, _monitors.Snapshot(), _monitors.Why(),
                    _time.GetElapsedTime(_started), _executor, _vipWatch.Watched, _vipWatch.Alarms, _connections?.Warnings ?? [],
                    w =>
                    {
                        _reloader.WriteStatus(w);
                        ConfigSyncService.WriteStatus(w, _sync.View, _syncLinks);
                    },
                    _panel is null ? null : _panel.WriteStatus);
            }
            case "reload":
            {
                var outcome = await ReloadAsync("appliancectl reload").ConfigureAwait(false);
                return outcome.ToJson();
            }
            case "fence" or "fence-on" or "fence-confirm":
            {
                string target = request.TryGetProperty("target", out var t) && t.ValueKind == System.Text.Json.JsonValueKind.String ? t.GetString()! : "";
                if (_config.FindNode(target) is null)
                    return ControlServer.Error($"unknown node '{target}' (nodes: {string.Join(", ", _config.Nodes.Select(n => n.Name))})");
                var (ok, message) = cmd switch
                {
                    "fence" => await _heartbeat.OperatorFenceAsync(target, powerOn: false).ConfigureAwait(false),
                    "fence-on" => await _heartbeat.OperatorFenceAsync(target, powerOn: true).ConfigureAwait(false),
                    _ => _executor.Confirm(target, _self.Name),
                };
                return ok ? ControlServer.Ok(message) : ControlServer.Refused(message);
            }
            case "fence-history":
                return StatusJson.WriteFenceHistory(_executor.History.Entries);
            case "services":
                return _director is null ? ControlServer.Refused("no director: the config has no `director:` section")
                    : await _director.WriteServicesAsync().ConfigureAwait(false);
            case "drain" or "undrain" or "weight":
            {
                if (_director is null)
                    return ControlServer.Refused("no director: the config has no `director:` section");
                string Field(string name) => request.TryGetProperty(name, out var v) && v.ValueKind == System.Text.Json.JsonValueKind.String ? v.GetString()! : "";
                int? weight = cmd == "weight" && request.TryGetProperty("weight", out var wv) && wv.TryGetInt32(out int n) ? n : null;
                if (cmd == "weight" && weight is null)
                    return ControlServer.Error("weight needs an integer weight");
                var state = cmd switch { "drain" => Core.Director.ServerState.Drain, "undrain" => Core.Director.ServerState.Up, _ => (Core.Director.ServerState?)null };
                var (ok, message) = await _director.SetAsync(Field("service"), Field("server"), state, weight).ConfigureAwait(false);
                return ok ? ControlServer.Ok(message) : ControlServer.Refused(message);
            }
            case "standby":
            {
                await _heartbeat.RequestAsync(OperatorRequest.Standby).ConfigureAwait(false);
                var hb = await _heartbeat.GetStatusAsync().ConfigureAwait(false);
                return ControlServer.Ok(hb.Node?.Resources == LocalResources.Stopped
                    ? "standby: this node holds nothing and will not take resources until `takeover`"
                    : "standby: releasing the resources to the peer");
            }
            case "takeover":
            {
                bool force = request.TryGetProperty("force", out var f) && f.ValueKind == System.Text.Json.JsonValueKind.True;
                var hb = await _heartbeat.GetStatusAsync().ConfigureAwait(false);
                bool peerActive = PeerActive(hb);
                if (peerActive && !force)
                    return ControlServer.Refused($"{_peer.Name} is up and {StatusJson.RoleName(hb.PeerSummary.Role)}; " +
                        "`takeover --force` asks it to release them first (a planned switchover: never both at once)");
                await _heartbeat.RequestAsync(OperatorRequest.Takeover).ConfigureAwait(false);
                return ControlServer.Ok(peerActive ? "takeover: asked the peer to release; this node takes over once it has"
                    : "takeover: this node takes the resources once the peer is known to hold none");
            }
            case "config-show" or "config-commit" or "config-confirm" or "config-rollback" or "config-history":
                return _store is null ? ControlServer.Refused(_storeError) : await ConfigControl.HandleAsync(_store, cmd, request).ConfigureAwait(false);
            case "log":
            {
                int lines = request.TryGetProperty("lines", out var l) && l.TryGetInt32(out int n) ? Math.Clamp(n, 1, 2 * RecentLog.MaxLines) : 40;
                IReadOnlyList<string> worker;
                try
                {
                    worker = await _heartbeat.GetLogAsync().WaitAsync(TimeSpan.FromSeconds(5), _time).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or TimeoutException)
                {
                    worker = [$"(the heartbeat worker's lines are missing: {e.Message})"];
                }
                return ConfigControl.Lines(RecentLog.Merge(lines, _recent.Lines, worker));
            }
            case "config-push" or "config-pull":
            {
                bool force = request.TryGetProperty("force", out var f) && f.ValueKind == System.Text.Json.JsonValueKind.True;
                var result = cmd == "config-push" ? await _sync.PushAsync(force).ConfigureAwait(false) : await _sync.PullAsync(force).ConfigureAwait(false);
                return result.Ok ? ControlServer.Ok(result.Message) : ControlServer.Refused(result.Message);
            }
            case "reset-cadence":
                await _heartbeat.ResetCadenceAsync().ConfigureAwait(false);
                return "{\"ok\":true}"u8.ToArray();
            case "churn" when BenchAids:
                // Benchmark aid: allocate garbage on the thread pool for a while, to show the heartbeat
                // worker keeps its cadence while this process's own heap is churned and collected.
                int seconds = request.TryGetProperty("seconds", out var sec) && sec.TryGetInt32(out int v) ? Math.Clamp(v, 1, 600) : 10;
                _ = Task.Run(() => Churn(TimeSpan.FromSeconds(seconds))).ContinueWith(
                    t => Trace.BackgroundFailed(_log, "churn", t.Exception!.GetBaseException().Message), TaskContinuationOptions.OnlyOnFaulted);
                return "{\"ok\":true}"u8.ToArray();
            default:
                return ControlServer.Error($"unknown command '{cmd}' (this daemon knows: status, reload, standby, takeover, fence, fence-on, fence-confirm, fence-history, services, drain, undrain, weight, config-show, config-commit, config-confirm, config-rollback, config-history, config-push, config-pull, log, reset-cadence)");
        }
    }

    /// <summary>
    /// The benchmark-only commands (`churn`) exist only when the daemon was started with
    /// APPLIANCE_BENCH=1 in its environment (the benchmarks do); a production daemon does not have them.
    /// </summary>
    private static readonly bool BenchAids = Environment.GetEnvironmentVariable("APPLIANCE_BENCH") == "1";

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
        _store?.Dispose();
        _panel?.Dispose();
        _executor.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(3));
        _checks?.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(3));
        _connections?.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(3));
        _director?.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(3));
        _conntrackd?.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(6));
        _vipWatch.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(2));
        _monitors.Dispose();
        _sync.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(3));
        _heartbeat.Dispose();
        _notify.Dispose();
    }
}
