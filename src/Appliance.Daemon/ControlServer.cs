using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>
/// The control socket: a Unix stream socket (mode 0600), one JSON request line in, one JSON line
/// out, then close. Requests: {"cmd":"status"}. Unknown commands get {"error": ...}.
/// </summary>
internal sealed class ControlServer : IAsyncDisposable
{
    /// <summary>A request line longer than this is refused (no unbounded reads from a client).</summary>
    public const int MaxRequestBytes = 4096;

    /// <summary>Connections served at once; more wait in the listen backlog.</summary>
    public const int MaxConcurrentClients = 8;

    private readonly string _path;
    private readonly Func<string, JsonElement, Task<byte[]>> _handle;
    private readonly ILogger _log;
    private readonly Socket _listener;
    private readonly SemaphoreSlim _slots = new(MaxConcurrentClients);
    private readonly CancellationTokenSource _cts = new();
    private Task? _acceptLoop;

    public ControlServer(string path, Func<string, JsonElement, Task<byte[]>> handle, ILogger log)
    {
        _path = path;
        _handle = handle;
        _log = log;
        string? dir = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(dir))
            Directory.CreateDirectory(dir);
        if (File.Exists(path))
            File.Delete(path); // a stale socket of a previous run; a live daemon would hold the pid lock
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        // Under systemd the unit's UMask=0077 makes the socket 0600 from birth; chmod makes it so everywhere.
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _listener.Listen(16);
    }

    public void Start() => _acceptLoop = AcceptLoop(_cts.Token);

    private async Task AcceptLoop(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(ct).ConfigureAwait(false);
            }
            catch (Exception) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }
            try
            {
                await _slots.WaitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                client.Dispose();
                return; // shutting down while every slot was busy
            }
            _ = Serve(client, ct);
        }
    }

    private async Task Serve(Socket client, CancellationToken ct)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            byte[] response;
            var line = await ReadLine(client, timeout.Token).ConfigureAwait(false);
            if (line is null)
                response = Error($"request line missing or longer than {MaxRequestBytes} bytes");
            else
            {
                try
                {
                    using var doc = JsonDocument.Parse(line);
                    if (doc.RootElement.ValueKind != JsonValueKind.Object ||
                        !doc.RootElement.TryGetProperty("cmd", out var cmd) || cmd.ValueKind != JsonValueKind.String)
                        response = Error("request must be a JSON object with a string \"cmd\"");
                    else
                        response = await _handle(cmd.GetString()!, doc.RootElement).ConfigureAwait(false);
                }
                catch (JsonException e)
                {
                    Trace.BadRequest(_log, e.Message);
                    response = Error("request is not JSON: " + e.Message);
                }
            }
            // The handler may take long (a fence waits for its devices); the send gets its own bound.
            using var sending = CancellationTokenSource.CreateLinkedTokenSource(ct);
            sending.CancelAfter(TimeSpan.FromSeconds(10));
            await client.SendAsync(response, SocketFlags.None, sending.Token).ConfigureAwait(false);
            await client.SendAsync("\n"u8.ToArray(), SocketFlags.None, sending.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
        {
            // client went away or was too slow; nothing to clean up beyond the socket
        }
        finally
        {
            client.Dispose();
            _slots.Release();
        }
    }

    private static async Task<byte[]?> ReadLine(Socket client, CancellationToken ct)
    {
        var buffer = new byte[MaxRequestBytes];
        int length = 0;
        while (length < buffer.Length)
        {
            int n = await client.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0)
                return length > 0 ? buffer[..length] : null;
            int nl = Array.IndexOf(buffer, (byte)'\n', length, n);
            length += n;
            if (nl >= 0)
                return buffer[..nl];
        }
        return null;
    }

    /// <summary>An action done: {"ok": true, "message": ...}.</summary>
    public static byte[] Ok(string message) => Reply(true, message);

    /// <summary>An action refused on purpose (appliancectl exits 1): {"ok": false, "refused": ...}.</summary>
    public static byte[] Refused(string message) => Reply(false, message);

    private static byte[] Reply(bool ok, string message)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteBoolean("ok", ok);
            w.WriteString(ok ? "message" : "refused", message);
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    public static byte[] Error(string message)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("error", message);
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        _cts.Cancel();
        _listener.Dispose();
        if (_acceptLoop is not null)
            await _acceptLoop.ConfigureAwait(false);
        try { File.Delete(_path); } catch (IOException) { }
        _cts.Dispose();
    }
}
