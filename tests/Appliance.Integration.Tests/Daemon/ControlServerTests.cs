using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Appliance.Daemon;
using Appliance.Linux;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>
/// The control socket alone (no daemon): a handler that throws, idle and slow clients, over-long
/// requests, and what it may remove at the socket path when it starts.
/// </summary>
public sealed class ControlServerTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("apl-control-").FullName;

    private string SocketPath => Path.Combine(_dir, "control.sock");

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static Task<byte[]> Echo(string cmd, JsonElement request) => cmd switch
    {
        "status" => Task.FromResult(ControlServer.Ok("fine")),
        "throw" => throw new InvalidOperationException("handler bug"),
        "throw-async" => Task.FromException<byte[]>(new KeyNotFoundException("async handler bug")),
        _ => Task.FromResult(ControlServer.Error($"unknown command '{cmd}'")),
    };

    private ControlServer Start(ListLogger log, TimeSpan? requestTimeout = null)
    {
        var server = new ControlServer(SocketPath, Echo, log, requestTimeout);
        server.Start();
        return server;
    }

    /// <summary>One request, the whole reply (until the server closes), as appliancectl does.</summary>
    private string Request(string line, int timeoutMs = 10_000)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = timeoutMs };
        socket.Connect(new UnixDomainSocketEndPoint(SocketPath));
        socket.Send(Encoding.UTF8.GetBytes(line + "\n"));
        return ReadToEnd(socket);
    }

    private static string ReadToEnd(Socket socket)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16384];
        int n;
        while ((n = socket.Receive(chunk)) > 0)
            buffer.Write(chunk, 0, n);
        return Encoding.UTF8.GetString(buffer.ToArray()).TrimEnd('\n');
    }

    [Fact]
    public async Task A_handler_that_throws_gets_an_error_reply_and_a_log_line()
    {
        var log = new ListLogger(output);
        await using var server = Start(log);

        foreach (string cmd in new[] { "throw", "throw-async" })
        {
            string reply = Request($$"""{"cmd":"{{cmd}}"}""");
            output.WriteLine(reply);
            using var doc = JsonDocument.Parse(reply);
            Assert.Contains("handler bug", doc.RootElement.GetProperty("error").GetString());
        }
        Assert.Equal(2, log.Count(1301));
        Assert.Contains(log.Entries, e => e.Id == 1301 && e.Level == LogLevel.Error && e.Message.Contains("throw-async", StringComparison.Ordinal));
        // The server still serves.
        Assert.Contains("fine", Request("""{"cmd":"status"}"""));
    }

    [Fact]
    public async Task Idle_connections_do_not_delay_another_client()
    {
        var log = new ListLogger(output);
        await using var server = Start(log);
        var idle = new List<Socket>();
        try
        {
            // Twice the old slot count: connected, never a byte sent.
            for (int i = 0; i < 16; i++)
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                s.Connect(new UnixDomainSocketEndPoint(SocketPath));
                idle.Add(s);
            }
            await Task.Delay(100); // let the server accept them all

            var watch = Stopwatch.StartNew();
            string reply = Request("""{"cmd":"status"}""");
            watch.Stop();
            output.WriteLine($"status with 16 idle connections open: {watch.ElapsedMilliseconds} ms");
            Assert.Contains("fine", reply);
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"the request took {watch.ElapsedMilliseconds} ms behind idle connections");
        }
        finally
        {
            idle.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task An_idle_connection_is_answered_and_closed_quickly()
    {
        var log = new ListLogger(output);
        await using var server = Start(log, requestTimeout: TimeSpan.FromMilliseconds(300));
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 10_000 };
        socket.Connect(new UnixDomainSocketEndPoint(SocketPath));
        var watch = Stopwatch.StartNew();
        string reply = ReadToEnd(socket); // returns when the server closes
        output.WriteLine($"{watch.ElapsedMilliseconds} ms: {reply}");
        Assert.Contains("no request line", reply);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3));
        await WaitUntil(() => server.OpenConnections == 0);
    }

    [Fact]
    public async Task Connections_are_bounded_and_a_client_beyond_the_bound_is_served_once_idle_ones_time_out()
    {
        var log = new ListLogger(output);
        await using var server = Start(log, requestTimeout: TimeSpan.FromMilliseconds(500));
        var idle = new List<Socket>();
        try
        {
            for (int i = 0; i < ControlServer.MaxConnections + 8; i++)
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                s.Connect(new UnixDomainSocketEndPoint(SocketPath)); // beyond the bound: queued in the backlog
                idle.Add(s);
            }
            await WaitUntil(() => server.OpenConnections == ControlServer.MaxConnections);
            var watch = Stopwatch.StartNew();
            string reply = Request("""{"cmd":"status"}""");
            output.WriteLine($"{watch.ElapsedMilliseconds} ms: {reply}");
            Assert.Contains("fine", reply);
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3));
            Assert.True(log.Count(1302) >= 1);
        }
        finally
        {
            idle.ForEach(s => s.Dispose());
        }
        await WaitUntil(() => server.OpenConnections == 0);
    }

    [Fact]
    public async Task An_over_long_request_line_gets_an_error_and_a_close_not_a_hang()
    {
        var log = new ListLogger(output);
        await using var server = Start(log);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 10_000 };
        socket.Connect(new UnixDomainSocketEndPoint(SocketPath));
        // The request is megabytes (a config fits in one): the time counted is from the end of the
        // sending (the server has read it) to the close, which a hang would stretch to the request deadline.
        socket.Send(Encoding.ASCII.GetBytes("{\"cmd\":\"" + new string('x', ControlServer.MaxRequestBytes + 1000)));
        var watch = Stopwatch.StartNew();
        string reply = ReadToEnd(socket);
        output.WriteLine($"{watch.ElapsedMilliseconds} ms: {reply}");
        using var doc = JsonDocument.Parse(reply);
        Assert.Contains($"longer than {ControlServer.MaxRequestBytes} bytes", doc.RootElement.GetProperty("error").GetString());
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1.5));
    }

    [Fact]
    public async Task A_stale_socket_of_an_earlier_run_is_replaced()
    {
        MakeStaleSocket(SocketPath);
        Assert.Equal(PathKind.Socket, PathKinds.Of(SocketPath));

        await using var server = Start(new ListLogger(output));
        Assert.Contains("fine", Request("""{"cmd":"status"}"""));
    }

    [Fact]
    public async Task A_live_daemon_on_the_path_is_left_alone()
    {
        await using var first = Start(new ListLogger(output));
        var e = Assert.Throws<IOException>(() => new ControlServer(SocketPath, Echo, new ListLogger(output)));
        output.WriteLine(e.Message);
        Assert.Contains(SocketPath, e.Message);
        Assert.Contains("listening", e.Message);
        Assert.Contains("fine", Request("""{"cmd":"status"}""")); // the first one still answers
    }

    [Fact]
    public void A_file_a_directory_or_a_symlink_at_the_path_is_refused_and_kept()
    {
        File.WriteAllText(SocketPath, "precious");
        var e = Assert.Throws<IOException>(() => new ControlServer(SocketPath, Echo, new ListLogger(output)));
        output.WriteLine(e.Message);
        Assert.Contains(SocketPath, e.Message);
        Assert.Contains("regular file", e.Message);
        Assert.Equal("precious", File.ReadAllText(SocketPath));
        File.Delete(SocketPath);

        Directory.CreateDirectory(SocketPath);
        e = Assert.Throws<IOException>(() => new ControlServer(SocketPath, Echo, new ListLogger(output)));
        Assert.Contains("directory", e.Message);
        Assert.True(Directory.Exists(SocketPath));
        Directory.Delete(SocketPath);

        // A symlink, even to a stale socket, is not ours to remove.
        string target = Path.Combine(_dir, "elsewhere.sock");
        MakeStaleSocket(target);
        File.CreateSymbolicLink(SocketPath, target);
        e = Assert.Throws<IOException>(() => new ControlServer(SocketPath, Echo, new ListLogger(output)));
        Assert.Contains("symlink", e.Message);
        Assert.Equal(PathKind.Symlink, PathKinds.Of(SocketPath));
        Assert.Equal(PathKind.Socket, PathKinds.Of(target));
    }

    /// <summary>
    /// A socket file nobody listens on, as a daemon killed with SIGKILL leaves. .NET unlinks the path
    /// it bound when the socket is closed, so bind elsewhere and rename the file into place first.
    /// </summary>
    private void MakeStaleSocket(string path)
    {
        string bound = Path.Combine(_dir, $"bind-{Guid.NewGuid():N}.sock");
        using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            socket.Bind(new UnixDomainSocketEndPoint(bound));
            socket.Listen(1);
            File.Move(bound, path);
        }
        Assert.Equal(PathKind.Socket, PathKinds.Of(path));
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        long deadline = Environment.TickCount64 + 5_000;
        while (!condition())
        {
            Assert.True(Environment.TickCount64 < deadline, "timed out");
            await Task.Delay(10);
        }
    }
}
