using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Appliance.Lab;

/// <summary>
/// `appliance-lab serve NAME PORT`: the service the lab's VIP carries. Every TCP connection to PORT
/// (any IPv4 address of the namespace) gets "NAME\n" and is closed, so a client learns which node
/// holds the VIP. One thread, no process per connection: it answers a connection every millisecond
/// (the failover benchmark's client) in microseconds, where socat's fork and shell per connection
/// took tens of milliseconds and became the thing measured.
/// </summary>
internal static class NameService
{
    public const string Summary = "answer every TCP connection on a port with a name, then close it (the lab's VIP service)";

    /// <summary>Longest name served; a node name is far shorter.</summary>
    private const int NameMax = 64;

    public static int Command(string[] args)
    {
        if (args is not [var name, var portText] || !ushort.TryParse(portText, out ushort port) || port == 0 ||
            name.Length is 0 or > NameMax || name.Any(c => c <= ' ' || c > '~'))
        {
            Console.Error.WriteLine($"usage: appliance-lab serve NAME PORT   (NAME: 1-{NameMax} printable ASCII characters, no spaces; PORT: 1-65535)");
            return 2;
        }
        byte[] answer = Encoding.ASCII.GetBytes(name + "\n");
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // A node that was power-cycled binds again at once, as socat's reuseaddr did.
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(new IPEndPoint(IPAddress.Any, port));
            listener.Listen(4096);
        }
        catch (SocketException e)
        {
            Console.Error.WriteLine($"appliance-lab serve: cannot listen on TCP port {port}: {e.Message}");
            return 1;
        }
        while (true)
        {
            Socket connection;
            try
            {
                connection = listener.Accept();
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset or SocketError.Interrupted)
            {
                continue; // the client gave up before we got to it
            }
            using (connection)
            {
                // A few bytes into an empty send buffer never block; a client that vanished costs nothing.
                connection.Blocking = false;
                connection.Send(answer, SocketFlags.None, out _);
            }
        }
    }
}
