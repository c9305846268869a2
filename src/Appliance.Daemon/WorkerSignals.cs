using System.Runtime.InteropServices;

namespace Appliance.Daemon;

/// <summary>
/// The signals a worker process (the heartbeat's, libnftables') ignores: they are meant for the
/// node, and reach the worker too when sent to the whole process group (systemd without
/// KillMode=mixed, a Ctrl-C on a terminal, a `kill -HUP -PGID` meant as a reload). SIGTERM and
/// SIGINT start the daemon's planned switchover, in which the heartbeat must go on; SIGHUP is the
/// daemon's reload. A worker ends when the daemon closes its stdin.
/// </summary>
internal sealed class WorkerSignals : IDisposable
{
    private readonly PosixSignalRegistration[] _registrations =
        [.. new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGHUP }
            .Select(s => PosixSignalRegistration.Create(s, ctx => ctx.Cancel = true))];

    public void Dispose()
    {
        foreach (var r in _registrations)
            r.Dispose();
    }
}
