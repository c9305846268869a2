using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

internal static partial class Interop
{
    /// <summary>
    /// packet(7) sockets and the classic BPF socket filter they carry (socket(7) SO_ATTACH_FILTER,
    /// the kernel's Documentation/networking/filter.rst). No native calls: the managed
    /// <see cref="Socket"/> opens AF_PACKET sockets and sets options; only numbers and layouts are
    /// ours. Kept out of <see cref="Sys"/>: every constant here is pinned by native/packet_abi.c.
    /// </summary>
    internal static class Packet
    {
        /// <summary>Address family of packet sockets. &lt;linux/socket.h&gt; (bits/socket.h in libc)</summary>
        internal const int AF_PACKET = 17;

        /// <summary>Hardware type of Ethernet devices, as in /sys/class/net/IF/type. &lt;linux/if_arp.h&gt;</summary>
        internal const int ARPHRD_ETHER = 1;

        /// <summary>Every protocol, outgoing frames included: bind(2)'s sll_protocol to see all frames. &lt;linux/if_ether.h&gt;</summary>
        internal const ushort ETH_P_ALL = 0x0003;
        /// <summary>Ethertype of ARP. &lt;linux/if_ether.h&gt;</summary>
        internal const ushort ETH_P_ARP = 0x0806;
        /// <summary>Ethertype of IPv6. &lt;linux/if_ether.h&gt;</summary>
        internal const ushort ETH_P_IPV6 = 0x86DD;

        /// <summary>Protocol level of the generic socket options. &lt;asm-generic/socket.h&gt;</summary>
        internal const int SOL_SOCKET = 1;
        /// <summary>Attach a classic BPF program (struct sock_fprog) that drops frames in the kernel. &lt;asm-generic/socket.h&gt;</summary>
        internal const int SO_ATTACH_FILTER = 26;

        // Classic BPF opcodes: class | size | mode, class | op | source. <linux/bpf_common.h>
        /// <summary>Instruction class: load into the accumulator. &lt;linux/bpf_common.h&gt;</summary>
        internal const ushort BPF_LD = 0x00;
        /// <summary>Instruction class: conditional jump. &lt;linux/bpf_common.h&gt;</summary>
        internal const ushort BPF_JMP = 0x05;
        /// <summary>Instruction class: return how many bytes of the frame to keep (0 drops it). &lt;linux/bpf_common.h&gt;</summary>
        internal const ushort BPF_RET = 0x06;
        /// <summary>Load size: 32-bit word. &lt;linux/bpf_common.h&gt;</summary>
        internal const ushort BPF_W = 0x00;
        /// <summary>Load size: 16-bit half word, network order. &lt;linux/bpf_common.h&gt;</summary>
        internal const ushort BPF_H = 0x08;
        /// <summary>Load size: byte. &lt;linux/bpf_common.h&gt;</summary>
        internal const ushort BPF_B = 0x10;
        /// <summary>Load mode: at a fixed offset from the start of the frame. &lt;linux/bpf_common.h&gt;</summary>
        internal const ushort BPF_ABS = 0x20;
        /// <summary>Jump op: accumulator equals the operand. &lt;linux/bpf_common.h&gt;</summary>
        internal const ushort BPF_JEQ = 0x10;
        /// <summary>Operand source: the instruction's constant k. &lt;linux/bpf_common.h&gt;</summary>
        internal const ushort BPF_K = 0x00;
        /// <summary>Offsets at and above this load kernel metadata of the frame instead of its bytes. &lt;linux/filter.h&gt;</summary>
        internal const int SKF_AD_OFF = -0x1000;
        /// <summary>Metadata: 1 if the frame's 802.1Q tag was taken out of its bytes into the skb. &lt;linux/filter.h&gt;</summary>
        internal const int SKF_AD_VLAN_TAG_PRESENT = 48;

        /// <summary><c>struct sock_filter</c>: one classic BPF instruction, 8 bytes. &lt;linux/filter.h&gt;</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal readonly struct SockFilter(ushort code, byte jt, byte jf, uint k)
        {
            /// <summary>Opcode: class | size | mode, or class | op | source.</summary>
            public readonly ushort Code = code;
            /// <summary>Jumps: instructions to skip when the condition holds.</summary>
            public readonly byte Jt = jt;
            /// <summary>Jumps: instructions to skip when it does not.</summary>
            public readonly byte Jf = jf;
            /// <summary>The operand: an offset, a constant, a length to keep.</summary>
            public readonly uint K = k;
        }

        /// <summary><c>struct sock_fprog</c>: length and address of a program, 16 bytes on 64-bit. &lt;linux/filter.h&gt;</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct SockFprog
        {
            public ushort Len;
            public SockFilter* Filter;
        }

        /// <summary>
        /// Attaches <paramref name="program"/> to <paramref name="socket"/> (SO_ATTACH_FILTER, socket(7)).
        /// The kernel copies the program, so it is pinned only for the call. Throws
        /// <see cref="SocketException"/> when the kernel refuses it (EINVAL: the checker rejected it).
        /// </summary>
        internal static unsafe void AttachFilter(Socket socket, ReadOnlySpan<SockFilter> program)
        {
            fixed (SockFilter* instructions = program)
            {
                var fprog = new SockFprog { Len = checked((ushort)program.Length), Filter = instructions };
                socket.SetRawSocketOption(SOL_SOCKET, SO_ATTACH_FILTER, new ReadOnlySpan<byte>(&fprog, sizeof(SockFprog)));
            }
        }

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
        /// <see cref="Socket.Bind"/> needs to bind a packet socket to one interface and, with a
        /// non-zero <paramref name="protocol"/> (an ethertype or <see cref="ETH_P_ALL"/>), start
        /// receiving that protocol's frames.
        /// </summary>
        internal sealed class LinkLayerEndPoint(int ifindex, ushort protocol = 0) : EndPoint
        {
            public int InterfaceIndex { get; } = ifindex;

            public ushort Protocol { get; } = protocol;

            public override AddressFamily AddressFamily => AddressFamily.Packet;

            public override SocketAddress Serialize() => SockaddrLl(InterfaceIndex, Protocol);

            public override EndPoint Create(SocketAddress socketAddress)
                => new LinkLayerEndPoint(BitConverter.ToInt32(socketAddress.Buffer.Span[SllIfindexOffset..]),
                    BinaryPrimitives.ReadUInt16BigEndian(socketAddress.Buffer.Span[SllProtocolOffset..]));

            public override string ToString() => $"ifindex {InterfaceIndex}";
        }
    }
}
