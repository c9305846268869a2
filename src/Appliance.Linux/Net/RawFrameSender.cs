using System.Net.Sockets;
using Appliance.Core.Net;

namespace Appliance.Linux.Net;

/// <summary>
/// Puts whole Ethernet frames (built elsewhere, e.g. by <see cref="AnnounceFrames"/>) on one
/// interface through a packet(7) SOCK_RAW socket bound to it. Only moves bytes: what to send and
/// when is the caller's policy. Send-only: the socket is opened with protocol 0, so the kernel
/// queues no received frames to it. Needs CAP_NET_RAW.
/// </summary>
public sealed class RawFrameSender : IDisposable
{
    /// <summary>Interface names are at most IFNAMSIZ - 1 = 15 bytes. &lt;linux/if.h&gt;</summary>
    public const int InterfaceNameBytesMax = EthernetInterface.NameBytesMax;

    private readonly Socket _socket;
    private readonly byte[] _mac;

    private RawFrameSender(string interfaceName, int interfaceIndex, byte[] mac, Socket socket)
    {
        InterfaceName = interfaceName;
        InterfaceIndex = interfaceIndex;
        _mac = mac;
        _socket = socket;
    }

    /// <summary>The interface the frames go out of.</summary>
    public string InterfaceName { get; }

    /// <summary>Its ifindex, read at open.</summary>
    public int InterfaceIndex { get; }

    /// <summary>The interface's MAC (6 bytes), read at open: the source address for announce frames.</summary>
    public ReadOnlySpan<byte> Mac => _mac;

    /// <summary>
    /// Reads ifindex, type and MAC of <paramref name="interfaceName"/> from /sys/class/net and opens a
    /// packet socket bound to it. Throws <see cref="NativeIoException"/> naming the interface when it
    /// does not exist (ENOENT) or the socket cannot be opened (EPERM without CAP_NET_RAW) or bound;
    /// <see cref="IOException"/> naming it when it is not Ethernet. Nothing stays open on failure.
    /// </summary>
    /// <remarks>
    /// /sys shows the network namespace it was mounted in, not the calling thread's: a caller that
    /// setns(2)'d a thread into another namespace reads that namespace's sysfs through
    /// <see cref="Open(string, string)"/>.
    /// </remarks>
    public static RawFrameSender Open(string interfaceName) => Open(interfaceName, EthernetInterface.SysClassNet);

    /// <summary><see cref="Open(string)"/> reading the interface's attributes under <paramref name="sysClassNet"/>.</summary>
    internal static RawFrameSender Open(string interfaceName, string sysClassNet)
    {
        var link = EthernetInterface.Read(interfaceName, sysClassNet);
        byte[] mac = new byte[AnnounceFrames.MacBytes];
        link.Mac.WriteTo(mac);

        string step = "socket";
        Socket? socket = null;
        try
        {
            // Protocol 0: send-only, nothing is queued to us; the kernel takes skb->protocol from
            // each frame's ethertype (packet_parse_headers).
            socket = new Socket(AddressFamily.Packet, SocketType.Raw, ProtocolType.Unspecified);
            // A full device queue must fail a send at once, not stall the caller's timer.
            socket.Blocking = false;
            step = "bind";
            socket.Bind(new Interop.Packet.LinkLayerEndPoint(link.Index));
            return new RawFrameSender(interfaceName, link.Index, mac, socket);
        }
        catch (SocketException ex)
        {
            socket?.Dispose();
            throw Interop.Sys.CreateIoException(step, interfaceName, ex.NativeErrorCode,
                ex.NativeErrorCode == Interop.Sys.EPERM ? "a packet socket needs CAP_NET_RAW" : null, ex);
        }
        catch
        {
            socket?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sends <paramref name="frame"/> (a whole Ethernet frame, header included) out of the
    /// interface. False when the kernel refuses or would block (interface down or gone, queue full,
    /// frame too long); never throws for those. Does not allocate.
    /// </summary>
    /// <exception cref="ObjectDisposedException">After <see cref="Dispose"/>.</exception>
    public bool Send(ReadOnlySpan<byte> frame)
    {
        if (frame.IsEmpty)
            return false;
        int sent = _socket.Send(frame, SocketFlags.None, out SocketError error);
        return error == SocketError.Success && sent == frame.Length;
    }

    public void Dispose() => _socket.Dispose();

    public override string ToString() => $"raw frames on {InterfaceName} (ifindex {InterfaceIndex})";
}
