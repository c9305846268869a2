using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Appliance.Linux;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>
/// The control socket: a Unix stream socket (mode 0600), one JSON request line in, one JSON line
/// out, then close. Requests: {"cmd":"status"}. Unknown commands get {"error": ...}, and so does a
/// handler that throws (logged as <see cref="Trace.ControlHandlerFailed"/>).
/// </summary>
/// <remarks>
/// Every connection is read under its own short deadline (<see cref="RequestTimeout"/>) and never
/// waits for another's handler, so an idle or slow client costs a socket for two seconds, not another
/// client's turn. <see cref="MaxConnections"/> bounds them all (reading, handling, replying); at the
/// bound new clients wait in the listen backlog until one ends.
/// </remarks>
internal sealed class ControlServer : IAsyncDisposable
{
    /// <summary>
    /// A request line longer than this is refused (no unbounded reads from a client). It carries a
    /// whole config for `config-commit`: at most <see cref="Core.Config.ConfigLimits.MaxConfigChars"/>
    /// characters, which appliancectl writes as raw UTF-8 with newlines and quotes escaped in two bytes
    /// each, so 4 MiB leaves room for any config the checker takes. The buffer starts at
    /// <see cref="InitialRequestBytes"/> and grows only as a request does.
    /// </summary>
    public const int MaxRequestBytes = 4 * 1024 * 1024;

    /// <summary>What a connection's request buffer starts at: every request but a config fits.</summary>
    private const int InitialRequestBytes = 4096;

    /// <summary>
    /// Connections open at once, in any stage. appliancectl, the console and the lab open one at a
    /// time each; 64 leaves room for scripts polling status while a fence request waits on its devices.
    /// Beyond it, clients wait in the listen backlog (not accepted, not read).
    /// </summary>
    public const int MaxConnections = 64;

    /// <summary>Listen backlog: connections the kernel queues while the accept loop catches up.</summary>
    private const int ListenBacklog = 64;

    /// <summary>
    /// How long a client has, from accept, to send its request line. appliancectl writes it right
    /// after connecting; anything slower is idle or broken and is closed, not waited for.
    /// </summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(2);

    /// <summary>How long the reply may take to go out once the handler answered (a client that does not read).</summary>
    public static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(10);

    private readonly string _path;
    private readonly Func<string, JsonElement, Task<byte[]>> _handle;
    private readonly ILogger _log;
    private readonly Socket _listener;
    private readonly TimeSpan _requestTimeout;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _cts = new();
    private readonly SemaphoreSlim _slots = new(MaxConnections);
    private int _open;
    private Task? _acceptLoop;

    /// <summary>
    /// Binds the socket at <paramref name="path"/>. Removes only a stale socket of an earlier run (a
    /// socket nobody listens on); throws <see cref="IOException"/> naming the path when a live daemon
    /// answers there or the path is anything but a socket (a file, a directory, a symlink).
    /// </summary>
    public ControlServer(string path, Func<string, JsonElement, Task<byte[]>> handle, ILogger log, TimeSpan? requestTimeout = null,
        TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _path = path;
        _handle = handle;
        _log = log;
        _requestTimeout = requestTimeout ?? RequestTimeout;
        string? dir = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(dir))
            Directory.CreateDirectory(dir);
        RemoveStaleSocket(path);
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            // Under systemd the unit's UMask=0077 makes the socket 0600 from birth; chmod makes it so everywhere.
            _listener.Bind(new UnixDomainSocketEndPoint(path));
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            _listener.Listen(ListenBacklog);
        }
        catch
        {
            _listener.Dispose();
            throw;
        }
    }

    /// <summary>Connections open now (for tests and status).</summary>
    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>
    /// Clears <paramref name="path"/> for bind: nothing there is fine; a socket whose connect is refused
    /// (ECONNREFUSED: no listener) is a stale one of ours and is removed; anything else is refused.
    /// </summary>
    internal static void RemoveStaleSocket(string path)
    {
        PathKind kind = PathKinds.Of(path);
        if (kind == PathKind.Missing)
            return;
        if (kind != PathKind.Socket)
        {
            throw new IOException($"control socket path {path} is a {Describe(kind)}, not a socket; refusing to remove it " +
                "(move it away or pass another --control)");
        }
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false };
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            File.Delete(path); // nobody listens: the socket of a run that ended without cleaning up
            return;
        }
        catch (SocketException e) when (e.SocketErrorCode is not (SocketError.WouldBlock or SocketError.TryAgain or SocketError.InProgress))
        {
            throw new IOException($"control socket {path}: cannot tell whether a daemon listens on it ({e.Message}); refusing to remove it", e);
        }
        // Connected, or queued on a full backlog: a live daemon owns it.
        throw new IOException($"control socket {path}: another daemon is listening on it; refusing to start a second one");
    }

    private static string Describe(PathKind kind) => kind switch
    {
        PathKind.RegularFile => "regular file",
        PathKind.Directory => "directory",
        PathKind.Symlink => "symlink",
        _ => "special file",
    };

    public void Start() => _acceptLoop = AcceptLoop(_cts.Token);

    private async Task AcceptLoop(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                // A slot before accept: at the bound, new clients wait in the kernel's backlog (each
                // open connection ends within its deadlines), never on an accepted socket of ours.
                if (!_slots.Wait(0))
                {
                    Trace.ControlBusy(_log, MaxConnections);
                    await _slots.WaitAsync(ct).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
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
                _slots.Release();
                continue;
            }
            Interlocked.Increment(ref _open);
            _ = Serve(client, ct);
        }
    }

    private async Task Serve(Socket client, CancellationToken ct)
    {
        try
        {
            byte[] response;
            var (line, status) = await ReadRequest(client, ct).ConfigureAwait(false);
            switch (status)
            {
                case ReadStatus.Line:
                    response = await Dispatch(line!).ConfigureAwait(false);
                    break;
                case ReadStatus.TooLong:
                    Trace.BadRequest(_log, $"request line longer than {MaxRequestBytes} bytes");
                    response = Error($"request line longer than {MaxRequestBytes} bytes");
                    break;
                case ReadStatus.TimedOut:
                    response = Error($"no request line within {_requestTimeout.TotalSeconds:0.#} s");
                    break;
                default:
                    return; // closed without a request: nothing to answer
            }
            using var sending = Deadline(ReplyTimeout, ct);
            await client.SendAsync(response, SocketFlags.None, sending.Token).ConfigureAwait(false);
            await client.SendAsync("\n"u8.ToArray(), SocketFlags.None, sending.Token).ConfigureAwait(false);
            if (status == ReadStatus.TooLong)
                await DiscardRest(client, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // client went away or was too slow; nothing to clean up beyond the socket
        }
        catch (Exception e)
        {
            Trace.BackgroundFailed(_log, "control connection", e.ToString()); // a bug: logged, never silent
        }
        finally
        {
            client.Dispose();
            Interlocked.Decrement(ref _open);
            _slots.Release();
        }
    }

    /// <summary>Most bytes read and dropped after an over-long request, so the close is a clean EOF for the client.</summary>
    private const int DiscardBytesMax = 64 * 1024;

    /// <summary>
    /// After the error reply to an over-long line: says EOF, then reads and drops what the client still
    /// sends (bounded in bytes and by the request deadline). Closing with unread input would make the
    /// kernel report ECONNRESET to the client instead of EOF after our reply.
    /// </summary>
    private async Task DiscardRest(Socket client, CancellationToken ct)
    {
        client.Shutdown(SocketShutdown.Send);
        using var deadline = Deadline(_requestTimeout, ct);
        var sink = new byte[4096];
        for (int total = 0; total < DiscardBytesMax;)
        {
            int n = await client.ReceiveAsync(sink, SocketFlags.None, deadline.Token).ConfigureAwait(false);
            if (n == 0)
                return;
            total += n;
        }
    }

    /// <summary>Parses the request and runs its handler; every failure becomes an error reply, never an exception.</summary>
    private async Task<byte[]> Dispatch(byte[] line)
    {
        string cmd = "";
        try
        {
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.ValueKind != JsonValueKind.Object ||
                !doc.RootElement.TryGetProperty("cmd", out var cmdElement) || cmdElement.ValueKind != JsonValueKind.String)
                return Error("request must be a JSON object with a string \"cmd\"");
            cmd = cmdElement.GetString()!;
            return await _handle(cmd, doc.RootElement).ConfigureAwait(false);
        }
        catch (JsonException e) when (cmd.Length == 0)
        {
            Trace.BadRequest(_log, e.Message);
            return Error("request is not JSON: " + e.Message);
        }
#pragma warning disable CA1031 // a handler's bug must cost one error reply, not the daemon: any exception
        catch (Exception e)
#pragma warning restore CA1031
        {
            Trace.ControlHandlerFailed(_log, cmd, e.GetType().Name, e.Message, e);
            return Error($"{cmd} failed inside the daemon: {e.GetType().Name}: {e.Message}");
        }
    }

    private enum ReadStatus { Line, TooLong, TimedOut, Closed }

    /// <summary>A token cancelled by <paramref name="ct"/> or after <paramref name="after"/> on the daemon's clock.</summary>
    private DeadlineScope Deadline(TimeSpan after, CancellationToken ct) => new(after, _time, ct);

    private sealed class DeadlineScope : IDisposable
    {
        private readonly CancellationTokenSource _timed;
        private readonly CancellationTokenSource _both;

        public DeadlineScope(TimeSpan after, TimeProvider time, CancellationToken ct)
        {
            _timed = new CancellationTokenSource(after, time);
            _both = CancellationTokenSource.CreateLinkedTokenSource(ct, _timed.Token);
        }

        public CancellationToken Token => _both.Token;

        public void Dispose()
        {
            _both.Dispose();
            _timed.Dispose();
        }
    }

    /// <summary>Reads one request line under this connection's own deadline.</summary>
    private async Task<(byte[]? Line, ReadStatus Status)> ReadRequest(Socket client, CancellationToken ct)
    {
        using var deadline = Deadline(_requestTimeout, ct);
        var buffer = new byte[InitialRequestBytes];
        int length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (buffer.Length >= MaxRequestBytes)
                        break;
                    Array.Resize(ref buffer, Math.Min(MaxRequestBytes, buffer.Length * 2));
                }
                int n = await client.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, deadline.Token).ConfigureAwait(false);
                if (n == 0)
                    return length > 0 ? (buffer[..length], ReadStatus.Line) : (null, ReadStatus.Closed);
                int nl = Array.IndexOf(buffer, (byte)'\n', length, n);
                length += n;
                if (nl >= 0)
                    return (buffer[..nl], ReadStatus.Line);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return (null, ReadStatus.TimedOut);
        }
        return (null, ReadStatus.TooLong);
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
        try
        {
            if (PathKinds.Of(_path) == PathKind.Socket)
                File.Delete(_path); // ours; never whatever someone put there meanwhile
        }
        catch (IOException)
        {
        }
        _cts.Dispose();
        _slots.Dispose();
    }
}
