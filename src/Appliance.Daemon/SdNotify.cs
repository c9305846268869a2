using System.Net.Sockets;
using System.Text;

namespace Appliance.Daemon;

/// <summary>
/// systemd's sd_notify protocol (sd_notify(3)): datagrams like "READY=1" to the Unix socket named by
/// $NOTIFY_SOCKET ('@' = abstract namespace). No-op when not run under systemd.
/// </summary>
internal sealed class SdNotify : IDisposable
{
    private readonly Socket? _socket;
    private readonly UnixDomainSocketEndPoint? _endpoint;

    public SdNotify()
    {
        string? path = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        if (string.IsNullOrEmpty(path))
            return;
        if (path[0] == '@')
            path = "\0" + path[1..];
        _endpoint = new UnixDomainSocketEndPoint(path);
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        if (ulong.TryParse(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), out ulong usec) && usec > 0)
        {
            string? pid = Environment.GetEnvironmentVariable("WATCHDOG_PID");
            if (string.IsNullOrEmpty(pid) || pid == Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture))
                WatchdogInterval = TimeSpan.FromMicroseconds(usec / 2);
        }
    }

    public bool Enabled => _socket is not null;

    /// <summary>How often to send WATCHDOG=1 (half of WatchdogSec), or null when no watchdog is set.</summary>
    public TimeSpan? WatchdogInterval { get; }

    public void Send(string state)
    {
        if (_socket is null || _endpoint is null)
            return;
        try
        {
            _socket.SendTo(Encoding.ASCII.GetBytes(state), _endpoint);
        }
        catch (SocketException)
        {
            // systemd gone or socket full: nothing useful to do, the watchdog will act.
        }
    }

    public void Dispose() => _socket?.Dispose();
}
