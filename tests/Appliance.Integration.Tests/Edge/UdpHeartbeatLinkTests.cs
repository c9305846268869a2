using System.Net;
using System.Net.Sockets;
using Appliance.Core.Config;
using Appliance.Core.Heartbeat;
using Appliance.Core.Membership;
using Appliance.Core.Ports;
using Appliance.Core.Values;
using Appliance.Linux;
using Appliance.Linux.Links;
using Microsoft.Win32.SafeHandles;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Edge;

/// <summary>UdpHeartbeatLink: unicast on loopback (127.0.0.1 and 127.0.0.2, same port), multicast across two network namespaces.</summary>
public sealed class UdpHeartbeatLinkTests(ITestOutputHelper output)
{
    private static readonly IPAddress Alpha = IPAddress.Parse("127.0.0.1");
    private static readonly IPAddress Beta = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress Stranger = IPAddress.Parse("127.0.0.3");

    [Fact]
    public void Unicast_frames_flow_both_ways()
    {
        (UdpHeartbeatLink a, UdpHeartbeatLink b) = OpenUnicastPair();
        using (a)
        using (b)
        {
            Assert.False(a.IsMulticast);
            var atB = new CountingReceiver();
            var atA = new CountingReceiver();
            Span<byte> payload = stackalloc byte[256];
            for (uint seq = 0; seq < 100; seq++)
            {
                Assert.Equal(LinkSendResult.Sent, a.Send(payload[..Edge.MakePayload(seq, payload)]));
                Assert.Equal(LinkSendResult.Sent, b.Send(payload[..Edge.MakePayload(seq, payload)]));
            }
            Assert.True(Edge.PumpUntil(b, atB, 100));
            Assert.True(Edge.PumpUntil(a, atA, 100));
            Assert.Equal(0, atA.Mismatches + atB.Mismatches);
        }
    }

    /// <summary>
    /// The real node over real UDP links on loopback: N keepalives are counted exactly N times, once
    /// at the sender and once at the receiver (the link and the node both counted them, showing 2N).
    /// </summary>
    [Fact]
    public void Node_counts_each_frame_sent_and_received_exactly_once()
    {
        const int frames = 50;
        var timers = new Timers(TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(60), TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1));
        var key = Enumerable.Repeat((byte)0x42, 32).ToArray();
        TimeSpan now = TimeSpan.FromSeconds(Random.Shared.Next(1, 1_000_000));
        HeartbeatNode Make(NodeId self, NodeId peer, ulong boot) =>
            new(new HeartbeatCodec(key, "edge"), new Membership(timers, self, peer, new BootId(boot), 1, now), self, timers, 1)
            {
                LocalState = new StateSummary(NodeRole.Standby, HealthFlags.None, 0, 0, 0, 0),
            };
        HeartbeatNode alpha = Make(new NodeId(1), new NodeId(2), 0xA1), beta = Make(new NodeId(2), new NodeId(1), 0xB1);

        (UdpHeartbeatLink a, UdpHeartbeatLink b) = OpenUnicastPair(alpha.LinkCounters[0], beta.LinkCounters[0]);
        using (a)
        using (b)
        {
            alpha.SetLink(0, a);
            beta.SetLink(0, b);
            for (int i = 0; i < frames; i++)
            {
                alpha.Wake(now);
                alpha.Evaluate(); // due every keepalive: exactly one frame per step
                now += timers.Keepalive;
            }
            long deadline = Environment.TickCount64 + 10_000;
            while (Volatile.Read(ref beta.LinkCounters[0].RxFrames) < frames && Environment.TickCount64 < deadline)
            {
                if (Edge.WaitReadable(b.PollFd, 100))
                {
                    beta.Wake(now);
                    Assert.True(beta.Receive(0));
                }
            }
            Thread.Sleep(50); // anything extra would be here by now
            beta.Wake(now);
            Assert.True(beta.Receive(0));

            LinkCountersSnapshot tx = alpha.LinkCounters[0].Snapshot(), rx = beta.LinkCounters[0].Snapshot();
            output.WriteLine($"alpha {tx}; beta {rx}");
            Assert.Equal(frames, tx.TxFrames);
            Assert.Equal(0, tx.TxDropped);
            Assert.Equal(frames, rx.RxFrames);
            Assert.Equal(0, rx.RxRejected);
        }
    }

    [Fact]
    public void Unicast_drops_datagrams_from_anyone_but_the_peer()
    {
        (UdpHeartbeatLink a, UdpHeartbeatLink b) = OpenUnicastPair();
        using (a)
        using (b)
        {
            int port = ((IPEndPoint)a.LocalEndPoint!).Port;
            using var stranger = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            stranger.Bind(new IPEndPoint(Stranger, 0));
            stranger.SendTo(new byte[] { 0xBA, 0xD0 }, new IPEndPoint(Alpha, port));
            // Right address, wrong source port: also not the peer.
            using var wrongPort = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            wrongPort.Bind(new IPEndPoint(Beta, 0));
            wrongPort.SendTo(new byte[] { 0xBA, 0xD1 }, new IPEndPoint(Alpha, port));

            Span<byte> payload = stackalloc byte[256];
            Assert.Equal(LinkSendResult.Sent, b.Send(payload[..Edge.MakePayload(0, payload)]));
            var atA = new CountingReceiver();
            Assert.True(Edge.PumpUntil(a, atA, 1));
            Thread.Sleep(50);
            Assert.True(a.Drain(atA));
            Assert.Equal(1, atA.Count); // only the peer's frame
            Assert.Equal(0, atA.Mismatches);
        }
    }

    [Fact]
    public void Unicast_port_cannot_be_shared_while_the_link_is_open()
    {
        (UdpHeartbeatLink a, UdpHeartbeatLink b) = OpenUnicastPair();
        using (a)
        using (b)
        {
            int port = ((IPEndPoint)a.LocalEndPoint!).Port;
            // What any local user can try: SO_REUSEADDR on its own socket, then the daemon's address
            // (or the wildcard) and port. Linux lets UDP sockets share a port when all set it.
            foreach (IPAddress address in new[] { Alpha, IPAddress.Any })
            {
                using var thief = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                thief.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                SocketException ex = Assert.Throws<SocketException>(() => thief.Bind(new IPEndPoint(address, port)));
                Assert.Equal(SocketError.AddressAlreadyInUse, ex.SocketErrorCode);
            }

            Span<byte> payload = stackalloc byte[256];
            Assert.Equal(LinkSendResult.Sent, b.Send(payload[..Edge.MakePayload(0, payload)]));
            Assert.True(Edge.PumpUntil(a, new CountingReceiver(), 1)); // still ours
        }
    }

    [Fact]
    public void Connection_refused_from_a_down_peer_is_ignored()
    {
        int port = FreePort();
        // Prove the scenario is real: a plain connected UDP socket sees ECONNREFUSED.
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            probe.Bind(new IPEndPoint(Alpha, 0));
            probe.Connect(new IPEndPoint(Beta, port));
            probe.Send(new byte[] { 1 });
            Thread.Sleep(50);
            probe.Blocking = false;
            probe.Receive(new byte[16], SocketFlags.None, out SocketError probeError);
            Assert.Equal(SocketError.ConnectionRefused, probeError);
        }

        using UdpHeartbeatLink a = UdpHeartbeatLink.Open(new UdpLinkConfig("lan1", Alpha, Beta, null, port));
        var atA = new CountingReceiver();
        for (int i = 0; i < 5; i++)
        {
            // Nobody listens on Beta:port: each datagram earns an ICMP port unreachable.
            Assert.Equal(LinkSendResult.Sent, a.Send([1, 2, 3]));
            Thread.Sleep(20);
            Assert.Equal(LinkSendResult.Sent, a.Send([4, 5, 6])); // the pending error must not fail this send
            Thread.Sleep(20);
            Assert.True(a.Drain(atA)); // nor make the link look gone
        }
        Assert.Equal(0, atA.Count);

        // The peer's daemon starts: frames flow on the same link.
        using UdpHeartbeatLink b = UdpHeartbeatLink.Open(new UdpLinkConfig("lan1", Beta, Alpha, null, port));
        Span<byte> payload = stackalloc byte[256];
        Assert.Equal(LinkSendResult.Sent, b.Send(payload[..Edge.MakePayload(0, payload)]));
        Assert.True(Edge.PumpUntil(a, atA, 1));
    }

    [Fact]
    public void Open_failure_names_the_link_and_leaves_nothing_open()
    {
        // 192.0.2.1 (TEST-NET-1) is on no interface here: bind fails with EADDRNOTAVAIL.
        var config = new UdpLinkConfig("lan9", IPAddress.Parse("192.0.2.1"), IPAddress.Parse("192.0.2.2"), null, FreePort());
        NativeIoException ex = Assert.Throws<NativeIoException>(() => UdpHeartbeatLink.Open(config));
        Assert.Equal("bind", ex.Operation);
        Assert.Equal(99, ex.Errno); // EADDRNOTAVAIL <asm-generic/errno.h>
        Assert.Contains("lan9", ex.Message);
        Assert.Contains("192.0.2.1", ex.Message);

        Assert.Throws<ArgumentException>(() => UdpHeartbeatLink.Open(new UdpLinkConfig("lan9", Alpha, null, null, 694)));
        Assert.Throws<ArgumentException>(() => UdpHeartbeatLink.Open(new UdpLinkConfig("lan9", Alpha, null, Beta, 694)));
    }

    [Fact]
    public void Send_and_drain_do_not_allocate()
    {
        (UdpHeartbeatLink a, UdpHeartbeatLink b) = OpenUnicastPair();
        using (a)
        using (b)
        {
            var atA = new CountingReceiver();
            var atB = new CountingReceiver();
            PingPong(a, b, atA, atB, 0, 200); // warm up
            long before = GC.GetAllocatedBytesForCurrentThread();
            PingPong(a, b, atA, atB, 200, 10_000);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            output.WriteLine($"allocated {allocated} bytes for 2 x 10000 frames sent and drained");
            Assert.Equal(10_200, atA.Count);
            Assert.Equal(10_200, atB.Count);
            Assert.Equal(0, atA.Mismatches + atB.Mismatches);
            Assert.True(allocated < 10 * 1024, $"Send+Drain of 2 x 10000 frames allocated {allocated} bytes");
        }
    }

    [RootFact]
    public void Multicast_frames_cross_a_veth_between_two_namespaces()
    {
        string id = Random.Shared.Next(0x100000, 0xFFFFFF).ToString("x6");
        string nsA = $"apl-edge-{id}-a", nsB = $"apl-edge-{id}-b";
        string vethA = $"apl{id}a", vethB = $"apl{id}b";
        IPAddress localA = IPAddress.Parse("10.213.7.1"), localB = IPAddress.Parse("10.213.7.2");
        IPAddress group = IPAddress.Parse("239.255.77.1");
        const int port = 694;
        output.WriteLine($"namespaces {nsA} {nsB}");
        try
        {
            Edge.Run("ip", "netns", "add", nsA);
            Edge.Run("ip", "netns", "add", nsB);
            Edge.Run("ip", "-n", nsA, "link", "add", vethA, "type", "veth", "peer", "name", vethB, "netns", nsB);
            Edge.Run("ip", "-n", nsA, "addr", "add", $"{localA}/24", "dev", vethA);
            Edge.Run("ip", "-n", nsB, "addr", "add", $"{localB}/24", "dev", vethB);
            Edge.Run("ip", "-n", nsA, "link", "set", vethA, "up");
            Edge.Run("ip", "-n", nsB, "link", "set", vethB, "up");

            using UdpHeartbeatLink a = Edge.InNamespace(nsA, () => UdpHeartbeatLink.Open(new UdpLinkConfig("mcast", localA, null, group, port)));
            using UdpHeartbeatLink b = Edge.InNamespace(nsB, () => UdpHeartbeatLink.Open(new UdpLinkConfig("mcast", localB, null, group, port)));
            Assert.True(a.IsMulticast);

            // The veth carrier comes up asynchronously: send a probe until one crosses.
            var probes = new ListReceiver();
            int probesSent = 0;
            long deadline = Environment.TickCount64 + 10_000;
            while (probes.Frames.Count == 0)
            {
                Assert.True(Environment.TickCount64 < deadline, "no multicast frame crossed the veth in 10 s");
                Assert.Equal(LinkSendResult.Sent, a.Send([0xEE]));
                probesSent++;
                if (Edge.WaitReadable(b.PollFd, 100))
                    Assert.True(b.Drain(probes));
            }
            Thread.Sleep(100);
            Assert.True(b.Drain(probes));
            Assert.True(a.Drain(probes)); // a hears nothing of its own (loopback off)
            Assert.All(probes.Frames, f => Assert.Equal(new byte[] { 0xEE }, f));
            Assert.True(probes.Frames.Count <= probesSent);

            var atA = new CountingReceiver();
            var atB = new CountingReceiver();
            PingPong(a, b, atA, atB, 0, 200); // also warms up the SendTo path
            long before = GC.GetAllocatedBytesForCurrentThread();
            PingPong(a, b, atA, atB, 200, 5000);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            output.WriteLine($"multicast: allocated {allocated} bytes for 2 x 5000 frames sent and drained");
            Thread.Sleep(50);
            Assert.True(a.Drain(atA));
            Assert.True(b.Drain(atB));
            Assert.Equal(5200, atA.Count); // exactly the peer's frames: not our own looped back
            Assert.Equal(5200, atB.Count);
            Assert.Equal(0, atA.Mismatches + atB.Mismatches);
            Assert.True(allocated < 10 * 1024, $"multicast Send+Drain of 2 x 5000 frames allocated {allocated} bytes");
        }
        finally
        {
            TryRun("ip", "netns", "del", nsA);
            TryRun("ip", "netns", "del", nsB);
        }
    }

    /// <summary>Sends one burst each way and waits for both; allocation-free.</summary>
    private static void PingPong(IHeartbeatLink a, IHeartbeatLink b, CountingReceiver atA, CountingReceiver atB, uint first, int count)
    {
        Span<byte> payload = stackalloc byte[256];
        const int burst = 16;
        uint end = first + (uint)count;
        for (uint seq = first; seq < end;)
        {
            for (int i = 0; i < burst && seq < end; i++, seq++)
            {
                int length = Edge.MakePayload(seq, payload);
                if (a.Send(payload[..length]) != LinkSendResult.Sent || b.Send(payload[..length]) != LinkSendResult.Sent)
                    throw new InvalidOperationException("send failed");
            }
            if (!Edge.PumpUntil(b, atB, seq) || !Edge.PumpUntil(a, atA, seq))
                throw new TimeoutException("frames did not arrive");
        }
    }

    private static (UdpHeartbeatLink A, UdpHeartbeatLink B) OpenUnicastPair(LinkCounters? countersA = null, LinkCounters? countersB = null)
    {
        for (int attempt = 0; ; attempt++)
        {
            int port = FreePort();
            UdpHeartbeatLink? a = null;
            try
            {
                a = UdpHeartbeatLink.Open(new UdpLinkConfig("lan1", Alpha, Beta, null, port), countersA);
                return (a, UdpHeartbeatLink.Open(new UdpLinkConfig("lan1", Beta, Alpha, null, port), countersB));
            }
            catch (NativeIoException) when (attempt < 5)
            {
                a?.Dispose(); // the port was taken on one of the addresses meanwhile: try another
            }
        }
    }

    private static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(Alpha, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    private void TryRun(string file, params string[] args)
    {
        try
        {
            Edge.Run(file, args);
        }
        catch (Exception ex)
        {
            output.WriteLine($"cleanup: {ex.Message}");
        }
    }
}
