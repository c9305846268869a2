using System.Net;
using System.Threading.Channels;
using Appliance.Core.Net;
using Appliance.Linux;
using Appliance.Linux.Net;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// ArpListener in one network namespace; RawFrameSender in the other puts AnnounceFrames' GARPs and
/// NA "from" foreign MACs on the veth between them, among frames the kernel filter must drop.
/// </summary>
public sealed class ArpListenerTests(ITestOutputHelper output)
{
    private const string MacA = "02:a9:1c:00:01:01";
    private const string MacB = "02:a9:1c:00:01:02";
    private static readonly IPAddress Vip4 = IPAddress.Parse("192.0.2.100");
    private static readonly IPAddress Vip6 = IPAddress.Parse("2001:db8::100");
    private static readonly MacAddress Foreign = new(0x02bad0000001);
    private static readonly MacAddress Tagged = new(0x02bad0000002);

    [RootFact]
    public async Task Claims_from_the_wire_arrive_and_other_frames_are_dropped_in_the_kernel()
    {
        using var veth = VethPair.Create("arp", MacA, MacB, output);
        using ArpListener listener = Edge.InNamespace(veth.NsA, () => ArpListener.Open(veth.IfA, veth.SysA));
        using RawFrameSender sender = Edge.InNamespace(veth.NsB, () => RawFrameSender.Open(veth.IfB, veth.SysB));
        Assert.Equal(MacA, listener.Mac.ToString());
        Assert.Equal(veth.IfA, listener.InterfaceName);

        var claims = Channel.CreateUnbounded<ArpClaim>();
        using var stop = new CancellationTokenSource();
        Task run = listener.RunAsync(c => claims.Writer.TryWrite(c), stop.Token);

        // Dropped by the filter: IPv4, IPv6 UDP, a GARP inside an 802.1Q tag (another VLAN's claim).
        byte[] garp = Frame(mac => AnnounceFrames.BuildGratuitousArp(mac, Vip4, reply: false, _buffer), Tagged);
        byte[] tagged = [.. garp[..12], 0x81, 0x00, 0x00, 0x0A, .. garp[12..]];
        byte[] ipv4 = [.. Convert.FromHexString("ffffffffffff02bad0000003" + "0800" + "4500001c"), .. new byte[46]];
        byte[] na = Frame(mac => AnnounceFrames.BuildUnsolicitedNeighborAdvertisement(mac, Vip6, _buffer), Foreign);
        byte[] udp6 = (byte[])na.Clone();
        udp6[20] = 17;
        foreach (byte[] frame in new[] { ipv4, udp6, tagged })
            Assert.True(sender.Send(frame));

        // Kept: a GARP request and reply and an NA, all for a MAC that is not B's own.
        Assert.True(sender.Send(Frame(mac => AnnounceFrames.BuildGratuitousArp(mac, Vip4, reply: false, _buffer), Foreign)));
        Assert.True(sender.Send(Frame(mac => AnnounceFrames.BuildGratuitousArp(mac, Vip4, reply: true, _buffer), Foreign)));
        Assert.True(sender.Send(na));

        var expected = new[]
        {
            new ArpClaim(Foreign, Vip4, ClaimOp.ArpRequest, Foreign),
            new ArpClaim(Foreign, Vip4, ClaimOp.ArpReply, Foreign),
            new ArpClaim(Foreign, Vip6, ClaimOp.NeighborAdvertisement, Foreign),
        };
        foreach (var want in expected)
        {
            ArpClaim got = await claims.Reader.ReadAsync().AsTask().WaitAsync(Edge.Timeout);
            output.WriteLine(got.ToString());
            Assert.Equal(want, got);
        }
        Assert.Equal(3, listener.Claims);
        Assert.Equal(3, listener.Received); // the other three never left the kernel

        stop.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(Edge.Timeout));

        // Once the interface is gone, a running receive fails naming it.
        Task again = listener.RunAsync(_ => { }, CancellationToken.None);
        Edge.Run("ip", "-n", veth.NsA, "link", "del", veth.IfA);
        var gone = await Assert.ThrowsAsync<NativeIoException>(() => again.WaitAsync(Edge.Timeout));
        output.WriteLine(gone.Message);
        Assert.Equal(veth.IfA, gone.Device);
        Assert.Equal(100, gone.Errno); // ENETDOWN
    }

    [Fact]
    public void Open_fails_naming_a_missing_interface()
    {
        NativeIoException ex = Assert.Throws<NativeIoException>(() => ArpListener.Open("apl-nosuchif"));
        Assert.Equal(2, ex.Errno); // ENOENT
        Assert.Equal("apl-nosuchif", ex.Device);
    }

    [Fact]
    public void Open_refuses_a_non_ethernet_interface_and_bad_names()
    {
        Assert.Contains("lo: not an Ethernet interface", Assert.Throws<IOException>(() => ArpListener.Open("lo")).Message);
        Assert.Throws<ArgumentException>(() => ArpListener.Open("../../etc"));
        Assert.Throws<ArgumentException>(() => ArpListener.Open(""));
    }

    private readonly byte[] _buffer = new byte[128];

    /// <summary>A frame written by <paramref name="build"/> into the scratch buffer for <paramref name="mac"/>, copied out.</summary>
    private byte[] Frame(Func<byte[], int> build, MacAddress mac)
    {
        byte[] bytes = new byte[AnnounceFrames.MacBytes];
        mac.WriteTo(bytes);
        return _buffer[..build(bytes)];
    }
}
