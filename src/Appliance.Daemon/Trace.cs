using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>Typed log events of the daemon, with stable event ids (grep-able, alertable).</summary>
internal static partial class Trace
{
    [LoggerMessage(1000, LogLevel.Information, "applianced starting: node {Node} of cluster {Cluster}, boot {Boot}, config {Config}, timers keepalive {KeepaliveMs}ms warntime {WarntimeMs}ms deadtime {DeadtimeMs}ms initdead {InitdeadMs}ms")]
    public static partial void Starting(ILogger log, string node, string cluster, string boot, string config, long keepaliveMs, long warntimeMs, long deadtimeMs, long initdeadMs);

    [LoggerMessage(1001, LogLevel.Information, "ready: control socket {Path}")]
    public static partial void Ready(ILogger log, string path);

    [LoggerMessage(1002, LogLevel.Information, "stopping ({Reason})")]
    public static partial void Stopping(ILogger log, string reason);

    [LoggerMessage(1003, LogLevel.Critical, "cannot start: {Reason}")]
    public static partial void StartFailed(ILogger log, string reason);

    [LoggerMessage(1100, LogLevel.Information, "link {Link} ({Kind}) up{When}")]
    public static partial void LinkUp(ILogger log, string link, string kind, string when);

    [LoggerMessage(1101, LogLevel.Warning, "link {Link} ({Kind}) down: silent for {SilenceMs}ms{When}")]
    public static partial void LinkDown(ILogger log, string link, string kind, long silenceMs, string when);

    [LoggerMessage(1102, LogLevel.Information, "peer {Peer} up{When}")]
    public static partial void PeerUp(ILogger log, string peer, string when);

    [LoggerMessage(1103, LogLevel.Warning, "peer {Peer} late: silent for {SilenceMs}ms (warntime){When}")]
    public static partial void PeerWarn(ILogger log, string peer, long silenceMs, string when);

    [LoggerMessage(1104, LogLevel.Error, "peer {Peer} dead: silent for {SilenceMs}ms (deadtime){When}")]
    public static partial void PeerDead(ILogger log, string peer, long silenceMs, string when);

    [LoggerMessage(1105, LogLevel.Warning, "peer {Peer} restarted (new boot); its old boot's frames are now refused")]
    public static partial void PeerRebooted(ILogger log, string peer);

    [LoggerMessage(1108, LogLevel.Warning, "peer {Peer} stopped cleanly: it said it was leaving and holds nothing, so it is not fenced")]
    public static partial void PeerStopped(ILogger log, string peer);

    [LoggerMessage(1010, LogLevel.Warning, "shutting down ({Signal}): a planned switchover; stopping the resources and handing over to the peer (again to exit at once)")]
    public static partial void Leaving(ILogger log, string signal);

    [LoggerMessage(1011, LogLevel.Information, "left the pair: {Reason}")]
    public static partial void Left(ILogger log, string reason);

    [LoggerMessage(1012, LogLevel.Critical, "shutdown: {Reason}; exiting now")]
    public static partial void ShutdownForced(ILogger log, string reason);

    [LoggerMessage(1013, LogLevel.Error, "background task {Task} failed: {Reason}")]
    public static partial void BackgroundFailed(ILogger log, string task, string reason);

    [LoggerMessage(1106, LogLevel.Critical, "STALL GUARD: this node was not scheduled for {GapMs}ms (deadtime {DeadtimeMs}ms); the peer may have declared it dead: asking it before holding on to anything; the peer is judged against twice deadtime for {GraceS}s{When}")]
    public static partial void Stall(ILogger log, long gapMs, long deadtimeMs, long graceS, string when);

    [LoggerMessage(1109, LogLevel.Warning, "stall guard: {Peer} answered {Ms}ms later as a standby holding nothing: it never moved, nothing to undo")]
    public static partial void StallPeerStayed(ILogger log, string peer, long ms);

    [LoggerMessage(1110, LogLevel.Error, "stall guard: {Peer} claims the resources since this node stalled (it took over or is fencing): this node releases whatever it holds")]
    public static partial void StallPeerMoved(ILogger log, string peer);

    [LoggerMessage(1111, LogLevel.Error, "stall guard: no answer from {Peer} within {Ms}ms: this node releases whatever it holds")]
    public static partial void StallUnanswered(ILogger log, string peer, long ms);

    [LoggerMessage(1107, LogLevel.Information, "arbiter: role {Role}, action {Action}: {Reason}")]
    public static partial void Role(ILogger log, string role, string action, string reason);

    [LoggerMessage(1200, LogLevel.Warning, "link {Link}: cannot open {Device}: {Reason}; retrying every {RetryMs}ms")]
    public static partial void LinkOpenFailed(ILogger log, string link, string device, string reason, long retryMs);

    [LoggerMessage(1201, LogLevel.Warning, "link {Link}: device {Device} gone; reopening")]
    public static partial void LinkLost(ILogger log, string link, string device);

    [LoggerMessage(1202, LogLevel.Information, "link {Link}: opened {Device}")]
    public static partial void LinkOpened(ILogger log, string link, string device);

    [LoggerMessage(1203, LogLevel.Information, "heartbeat thread runs SCHED_FIFO priority {Priority}")]
    public static partial void Realtime(ILogger log, int priority);

    [LoggerMessage(1204, LogLevel.Warning, "heartbeat thread could not get real-time scheduling ({Reason}); under CPU load its keepalives may be late")]
    public static partial void NoRealtime(ILogger log, string reason);

    [LoggerMessage(1205, LogLevel.Critical, "heartbeat worker (pid {Pid}) ended with exit code {Code}; stopping")]
    public static partial void WorkerEnded(ILogger log, int pid, int code);

    [LoggerMessage(1400, LogLevel.Information, "resource {Action} {Name} ({Kind}): {Outcome} in {Ms}ms {Reason}")]
    public static partial void ResourceAction(ILogger log, string action, string name, string kind, string outcome, long ms, string reason);

    [LoggerMessage(1401, LogLevel.Error, "resource {Name} failed to start ({Reason}); rolling back")]
    public static partial void ResourceStartFailed(ILogger log, string name, string reason);

    [LoggerMessage(1402, LogLevel.Error, "resource {Name} failed to finish its start ({Reason}); the others stay up, restarting it in place")]
    public static partial void ResourceFinishFailed(ILogger log, string name, string reason);

    [LoggerMessage(1403, LogLevel.Error, "resource {Name} failed its monitor ({Reason}); restarting it in place")]
    public static partial void ResourceMonitorFailed(ILogger log, string name, string reason);

    [LoggerMessage(1600, LogLevel.Warning, "fencing {Target} in {DelayMs}ms via {Devices}: {Why}")]
    public static partial void FenceStarting(ILogger log, string target, long delayMs, string devices, string why);

    [LoggerMessage(1601, LogLevel.Warning, "fenced {Target}: {Action} via {Device}, verified, in {Ms}ms: {Reason}")]
    public static partial void Fenced(ILogger log, string target, string device, string action, long ms, string reason);

    [LoggerMessage(1602, LogLevel.Critical, "FENCING {Target} FAILED ({Outcome}, {Ms}ms): {Reason}; NOT taking over. Steps: {Trail}")]
    public static partial void FenceFailed(ILogger log, string target, string outcome, long ms, string reason, string trail);

    [LoggerMessage(1603, LogLevel.Information, "fencing {Target} stopped: {Why}")]
    public static partial void FenceCancelled(ILogger log, string target, string why);

    [LoggerMessage(1604, LogLevel.Critical, "OPERATOR INTERVENTION REQUIRED: cut the power of {Target}, then run `appliancectl fence confirm {Target}`")]
    public static partial void OperatorNeeded(ILogger log, string target);

    [LoggerMessage(1605, LogLevel.Warning, "operator confirmed that {Target} is off")]
    public static partial void OperatorConfirmed(ILogger log, string target);

    [LoggerMessage(1606, LogLevel.Error, "cannot write the fence history {Path}: {Reason}")]
    public static partial void FenceHistoryFailed(ILogger log, string path, string reason);

    [LoggerMessage(1500, LogLevel.Warning, "monitor {Name} {State}: {Reason}")]
    public static partial void MonitorChanged(ILogger log, string name, string state, string reason);

    [LoggerMessage(1300, LogLevel.Warning, "control: bad request: {Reason}")]
    public static partial void BadRequest(ILogger log, string reason);

    [LoggerMessage(1301, LogLevel.Error, "control: {Command} failed inside the daemon ({Type}: {Reason}); answered with an error")]
    public static partial void ControlHandlerFailed(ILogger log, string command, string type, string reason, Exception exception);

    [LoggerMessage(1302, LogLevel.Warning, "control: all {Max} connections are in use; new clients wait until one ends")]
    public static partial void ControlBusy(ILogger log, int max);
}
