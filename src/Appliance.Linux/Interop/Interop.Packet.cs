using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

internal static partial class Interop
{
    /// <summary>
    /// packet(7) sockets. No native calls: the managed <see cref="Socket"/> opens AF_PACKET
    /// sockets; only the address layout is ours. Kept out of <see cref="Sys"/> because these numbers
    /// are pinned by RawFrameSenderTests' own small C program, not by native/termios_abi.c.
    /// </summary>
    internal static class Packet
    {
        /// <summary>Address family of packet sockets. &lt;linux/socket.h&gt; (bits/socket.h in libc)</summary>
        internal const int AF_PACKET = 17;

        /// <summary>Hardware type of Ethernet devices, as in /sys/class/net/IF/type. &lt;linux/if_arp.h&gt;</summary>
        internal const int ARPHRD_ETHER = 1;

        /// <summary>sizeof(struct sockaddr_ll). &lt;linux/if_packet.h&gt;</summary>
        internal const int SockaddrLlSize = 20;
        /// <summary>offsetof(struct sockaddr_ll, sll_protocol): __be16. &lt;linux/if_packet.h&gt;</summary>
        internal const int SllProtocolOffset = 2;
        /// <summary>offsetof(struct sockaddr_ll, sll_ifindex): int. &lt;linux/if_packet.h&gt;</summary>
        internal const int SllIfindexOffset = 4;
        /// <summary>offsetof(struct sockaddr_ll, sll_hatype): unsigned short. &lt;linux/if_packet.h&gt;</summary>
        internal const int SllHatypeOffset = 8;
        /// <summary>offsetof(struct sockaddr_ll, sll_halen): unsigned char (sll_pkttype is at 10). &lt;linux/if_packet.h&gt;</summary>
        internal const int SllHalenOffset = 11;

        /// <summary>
        /// A <c>struct sockaddr_ll</c> for bind(2) on a packet socket (packet(7)): family AF_PACKET,
        /// <paramref name="protocolBigEndianValue"/> (an ethertype, already in network order as the
        /// kernel reads it; 0 = keep the socket's), the interface index; hatype, pkttype, halen
        /// and addr are not used by bind and stay zero.
        /// </summary>
        internal static SocketAddress SockaddrLl(int ifindex, ushort protocolBigEndianValue = 0)
        {
            // The constructor writes sa_family in the platform's numbering (AddressFamily.Packet → 17).
            var address = new SocketAddress(AddressFamily.Packet, SockaddrLlSize);
            Span<byte> raw = address.Buffer.Span;
            raw[2..].Clear();
            BinaryPrimitives.WriteUInt16BigEndian(raw[SllProtocolOffset..], protocolBigEndianValue);
            BitConverter.TryWriteBytes(raw[SllIfindexOffset..], ifindex); // int: host order
            return address;
        }

        /// <summary>
        /// An <see cref="EndPoint"/> that serializes to <see cref="SockaddrLl"/>: what
        /// <see cref="Socket.Bind"/> needs to bind a packet socket to one interface.
        /// </summary>
        internal sealed class LinkLayerEndPoint(int ifindex) : EndPoint
        {
            public int InterfaceIndex { get; } = ifindex;

            public override AddressFamily AddressFamily => AddressFamily.Packet;

            public override SocketAddress Serialize() => SockaddrLl(InterfaceIndex);

            public override EndPoint Create(SocketAddress socketAddress)
                => new LinkLayerEndPoint(BitConverter.ToInt32(socketAddress.Buffer.Span[SllIfindexOffset..]));

            public override string ToString() => $"ifindex {InterfaceIndex}";
        }
    }
}
