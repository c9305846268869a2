using System.Net;
using System.Net.Sockets;
using Appliance.Core.Config;
using Appliance.Core.Heartbeat;
using Appliance.Core.Ports;
using Appliance.Integration.Tests.Edge;
using Appliance.Linux;
using Appliance.Linux.Links;
using Xunit.Abstractions;
using Harness = Appliance.Integration.Tests.Edge.Edge;

namespace Appliance.Integration.Tests.Contracts;

/// <summary>The contract against the in-memory pair the simulation-style tests use: the fake must behave like the real links.</summary>
public sealed class InMemoryHeartbeatLinkContract(ITestOutputHelper output) : HeartbeatLinkContract(output)
{
    protected override LinkKind ExpectedKind => LinkKind.Udp;
    protected override int MaxFrameBytes => InMemoryHeartbeatLink.MaxFrameBytes;
    protected override bool PreservesOrder => true;

    protected override LinkPair OpenPair()
    {
        var (a, b) = InMemoryHeartbeatLink.CreatePair(LinkName, LinkKind.Udp);
        return new LinkPair(a, b);
    }
}

/// <summary>UdpHeartbeatLink unicast on loopback: 127.0.0.1 and 127.0.0.2, one port, each connected to the other.</summary>
public sealed class UdpUnicastHeartbeatLinkContract(ITestOutputHelper output) : HeartbeatLinkContract(output)
{
    private static readonly IPAddress Alpha = IPAddress.Parse("127.0.0.1");
    private static readonly IPAddress Beta = IPAddress.Parse("127.0.0.2");

    protected override LinkKind ExpectedKind => LinkKind.Udp;
    protected override int MaxFrameBytes => UdpHeartbeatLink.MaxDatagramBytes;
    protected override bool PreservesOrder => false;

    protected override LinkPair OpenPair()
    {
        for (int attempt = 0; ; attempt++)
        {
            int port = FreePort();
            UdpHeartbeatLink? a = null;
            try
            {
                a = UdpHeartbeatLink.Open(new UdpLinkConfig(LinkName, Alpha, Beta, null, port));
                return new LinkPair(a, UdpHeartbeatLink.Open(new UdpLinkConfig(LinkName, Beta, Alpha, null, port)));
            }
            catch (NativeIoException) when (attempt < 5)
            {
                a?.Dispose(); // another test took the port on one of the addresses meanwhile
            }
        }
    }

    private static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(Alpha, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }
}

/// <summary>
/// UdpHeartbeatLink multicast (the SendTo path) between two network namespaces joined by a veth
/// pair, as two boards on one segment.
/// </summary>
[ContractNeedsRoot("network namespaces and a veth pair")]
public sealed class UdpMulticastHeartbeatLinkContract(ITestOutputHelper output) : HeartbeatLinkContract(output)
{
    private static readonly IPAddress LocalA = IPAddress.Parse("10.213.9.1");
    private static readonly IPAddress LocalB = IPAddress.Parse("10.213.9.2");
    private static readonly IPAddress Group = IPAddress.Parse("239.255.77.9");
    private const int Port = 694;

    protected override LinkKind ExpectedKind => LinkKind.Udp;
    protected override int MaxFrameBytes => UdpHeartbeatLink.MaxDatagramBytes;
    protected override bool PreservesOrder => false;

    protected override LinkPair OpenPair()
    {
        VethPair veth = VethPair.Create("hbc", "02:00:00:00:09:01", "02:00:00:00:09:02", Output);
        UdpHeartbeatLink? a = null, b = null;
        try
        {
            Harness.Run("ip", "-n", veth.NsA, "addr", "add", $"{LocalA}/24", "dev", veth.IfA);
            Harness.Run("ip", "-n", veth.NsB, "addr", "add", $"{LocalB}/24", "dev", veth.IfB);
            a = Harness.InNamespace(veth.NsA, () => UdpHeartbeatLink.Open(new UdpLinkConfig(LinkName, LocalA, null, Group, Port)));
            b = Harness.InNamespace(veth.NsB, () => UdpHeartbeatLink.Open(new UdpLinkConfig(LinkName, LocalB, null, Group, Port)));
            // Group membership and the carrier settle asynchronously: probe each way until one crosses,
            // then drain every probe so the clause starts with nothing in flight.
            Probe(a, b);
            Probe(b, a);
            Thread.Sleep(100);
            var sink = new ListReceiver();
            Assert.True(a.Drain(sink) && b.Drain(sink));
            return new LinkPair(a, b, veth);
        }
        catch
        {
            a?.Dispose();
            b?.Dispose();
            veth.Dispose();
            throw;
        }
    }

    private static void Probe(UdpHeartbeatLink from, UdpHeartbeatLink to)
    {
        var probes = new ListReceiver();
        long deadline = Environment.TickCount64 + 10_000;
        while (probes.Frames.Count == 0)
        {
            Assert.True(Environment.TickCount64 < deadline, "no multicast probe crossed the veth in 10 s");
            from.Send([0xEE]);
            if (Harness.WaitReadable(to.PollFd, 100))
                Assert.True(to.Drain(probes));
        }
    }
}

/// <summary>SerialHeartbeatLink at both ends of a socat null-modem cable of two ptys.</summary>
public sealed class SerialHeartbeatLinkContract(ITestOutputHelper output) : HeartbeatLinkContract(output)
{
    protected override LinkKind ExpectedKind => LinkKind.Serial;
    protected override int MaxFrameBytes => SerialFraming.MaxPayloadBytes;
    protected override bool PreservesOrder => true;

    protected override LinkPair OpenPair()
    {
        SocatPair cable = SocatPair.Start();
        SerialHeartbeatLink? a = null;
        try
        {
            a = SerialHeartbeatLink.Open(new SerialLinkConfig(LinkName, cable.PathA, 115200));
            return new LinkPair(a, SerialHeartbeatLink.Open(new SerialLinkConfig(LinkName, cable.PathB, 115200)), cable);
        }
        catch
        {
            a?.Dispose();
            cable.Dispose();
            throw;
        }
    }
}
