using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Appliance.Lab;

/// <summary>
/// `appliance-lab serve NAME PORT --hold [--health HPORT --health-file FILE]`: a real server of the
/// lab's director. A new connection gets "NAME\n" at once and then stays open: every line the client
/// sends comes back as "NAME: LINE\n" until the client closes, so a client can tell who answered a
/// new connection and whether a held one still reaches the same server. The health endpoint on
/// HPORT answers every request (an HTTP GET /health, say) as FILE says at that moment:
/// <c>ok</c> (or no file) 200, <c>fail</c> 500, <c>slow</c> a 200 trickled one byte a second,
/// <c>close</c> the connection closed at once without a byte. The file is read per request, so
/// `lab rs fail|heal|slow` switch it without touching the process. All asynchronous on sockets:
/// no thread or process per connection, so hundreds of held connections cost nothing.
/// </summary>
internal static class RealServer
{
    public const string Usage =
        "usage: appliance-lab serve NAME PORT --hold [--health HPORT --health-file FILE]\n" +
        "  --hold              greet each connection with NAME and a newline, then echo every line as \"NAME: LINE\" until the client closes\n" +
        "  --health HPORT      an HTTP endpoint on HPORT (any path) answering as --health-file says, read per request:\n" +
        "  --health-file FILE  ok (or no file): 200; fail: 500; slow: a 200 trickled 1 byte/s; close: closed at once";

    private const int NameMax = 64;

    /// <summary>A longer line is cut there (a lab client sends short lines).</summary>
    private const int LineMax = 4096;

    /// <summary>"slow": one byte of the answer this often.</summary>
    private static readonly TimeSpan TrickleEvery = TimeSpan.FromSeconds(1);

    public static int Command(string[] args)
    {
        string? name = null, healthFile = null;
        ushort port = 0, healthPort = 0;
        bool hold = false;
        var positional = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--hold":
                    hold = true;
                    break;
                case "--health" when i + 1 < args.Length && ushort.TryParse(args[i + 1], out healthPort) && healthPort != 0:
                    i++;
                    break;
                case "--health-file" when i + 1 < args.Length:
                    healthFile = args[++i];
                    break;
                default:
                    if (args[i].StartsWith("--", StringComparison.Ordinal))
                        return Bad();
                    positional.Add(args[i]);
                    break;
            }
        }
        if (!hold || positional is not [var n, var p] || !ushort.TryParse(p, out port) || port == 0 ||
            n.Length is 0 or > NameMax || n.Any(c => c <= ' ' || c > '~') || (healthPort != 0) != (healthFile is not null) || healthPort == port)
            return Bad();
        name = n;

        Socket service, health = null!;
        try
        {
            service = Listen(port);
            if (healthPort != 0)
                health = Listen(healthPort);
        }
        catch (SocketException e)
        {
            Console.Error.WriteLine($"appliance-lab serve: cannot listen: {e.Message}");
            return 1;
        }
        byte[] greeting = Encoding.ASCII.GetBytes(name + "\n");
        var loops = new List<Task> { AcceptLoop(service, s => Echo(s, name, greeting)) };
        if (healthPort != 0)
            loops.Add(AcceptLoop(health, s => Health(s, name, healthFile!)));
        Console.Error.WriteLine($"appliance-lab serve: {name} on tcp {port}" + (healthPort != 0 ? $", health on tcp {healthPort} ({healthFile})" : ""));
        Task.WaitAny([.. loops]);
        return 1;
    }

    private static int Bad()
    {
        Console.Error.WriteLine(Usage);
        return 2;
    }

    private static Socket Listen(ushort port)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        s.Bind(new IPEndPoint(IPAddress.Any, port));
        s.Listen(4096);
        return s;
    }

    private static async Task AcceptLoop(Socket listener, Func<Socket, Task> serve)
    {
        while (true)
        {
            Socket connection;
            try
            {
                connection = await listener.AcceptAsync();
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset or SocketError.Interrupted)
            {
                continue;
            }
            connection.NoDelay = true;
            _ = Task.Run(async () =>
            {
                using (connection)
                {
                    try
                    {
                        await serve(connection);
                    }
                    catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
                    {
                        // the client went away: nothing to do
                    }
                }
            });
        }
    }

    /// <summary>The greeting, then "NAME: LINE\n" for every line until the client closes.</summary>
    private static async Task Echo(Socket s, string name, byte[] greeting)
    {
        await s.SendAsync(greeting, SocketFlags.None);
        var buffer = new byte[LineMax];
        var line = new List<byte>(128);
        byte[] prefix = Encoding.ASCII.GetBytes(name + ": ");
        while (true)
        {
            int n = await s.ReceiveAsync(buffer, SocketFlags.None);
            if (n == 0)
                return;
            for (int i = 0; i < n; i++)
            {
                byte b = buffer[i];
                if (b == (byte)'\n' || line.Count >= LineMax)
                {
                    byte[] answer = [.. prefix, .. line, (byte)'\n'];
                    line.Clear();
                    await s.SendAsync(answer, SocketFlags.None);
                    if (b == (byte)'\n')
                        continue;
                }
                if (b != (byte)'\r')
                    line.Add(b);
            }
        }
    }

    private static string HealthWord(string file)
    {
        try
        {
            return File.ReadAllText(file).Trim() switch
            {
                "" => "ok",
                var w => w,
            };
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return "ok";
        }
    }

    /// <summary>One answer per connection, as the health file says when the connection arrives.</summary>
    private static async Task Health(Socket s, string name, string file)
    {
        string word = HealthWord(file);
        if (word == "close")
            return; // closed at once, without reading the request or sending a byte
        // Read the request head (up to a blank line, or what arrives within a second): a client
        // that sees its request unread may get a reset instead of the answer.
        var head = new byte[4096];
        int got = 0;
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1)))
        {
            try
            {
                while (got < head.Length && !Encoding.ASCII.GetString(head, 0, got).Contains("\r\n\r\n", StringComparison.Ordinal) &&
                       !Encoding.ASCII.GetString(head, 0, got).Contains("\n\n", StringComparison.Ordinal))
                {
                    int n = await s.ReceiveAsync(head.AsMemory(got), SocketFlags.None, cts.Token);
                    if (n == 0)
                        break;
                    got += n;
                }
            }
            catch (OperationCanceledException)
            {
            }
        }
        (int code, string reason) = word == "fail" ? (500, "Internal Server Error") : (200, "OK");
        string body = $"{name} {word}\n";
        byte[] answer = Encoding.ASCII.GetBytes(
            $"HTTP/1.0 {code} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}");
        if (word != "slow")
        {
            await s.SendAsync(answer, SocketFlags.None);
        }
        else
        {
            for (int i = 0; i < answer.Length; i++)
            {
                await s.SendAsync(answer.AsMemory(i, 1), SocketFlags.None);
                await Task.Delay(TrickleEvery);
            }
        }
        s.Shutdown(SocketShutdown.Send);
    }
}
