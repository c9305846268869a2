using System.Net;
using System.Threading.Channels;
using Appliance.Core.Config;
using Appliance.Core.Net;
using Appliance.Core.Ports;
using Appliance.Linux.Net;
using Appliance.Linux.Resources;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// VipResource's announcements on the wire. It keeps one packet socket for its life (closing one
/// costs a network RCU grace period inside every start); every start announces, and after the
/// interface is recreated under the kept socket, the stale socket is replaced and the burst still
/// goes out. An ArpListener in the peer namespace is the witness.
/// </summary>
public sealed class VipAnnouncementTests(ITestOutputHelper output)
{
    private const string MacA = "02:a9:1c:00:02:01";
    private const string MacB = "02:a9:1c:00:02:02";
    private static readonly IpPrefix Vip = new(IPAddress.Parse("192.0.2.110"), 24);

    [RootFact]
    public async Task Every_start_announces_on_the_kept_socket_and_a_recreated_interface_gets_a_new_one()
    {
        using var veth = VethPair.Create("vip", MacA, MacB, output);
        // No repeats: each start sends exactly its immediate burst, a GARP request and a reply.
        var config = new VipResourceConfig("vip", Vip, veth.IfA) { Garp = new GarpSchedule(0, TimeSpan.FromMilliseconds(200), TimeSpan.Zero) };
        var vip = new VipResource(config, veth.SysA);
        var mac = new MacAddress(0x02a91c000201); // MacA
        ArpClaim[] burst = [new(mac, Vip.Address, ClaimOp.ArpRequest, mac), new(mac, Vip.Address, ClaimOp.ArpReply, mac)];

        for (int round = 1; round <= 3; round++)
        {
            if (round == 3)
                veth.Recreate(); // the address and both old ends are gone; the kept socket is bound to a dead ifindex
            using ArpListener listener = Edge.InNamespace(veth.NsB, () => ArpListener.Open(veth.IfB, veth.SysB));
            var claims = Channel.CreateUnbounded<ArpClaim>();
            using var stop = new CancellationTokenSource();
            Task run = listener.RunAsync(c => claims.Writer.TryWrite(c), stop.Token);

            ResourceOutcome started = Edge.InNamespace(veth.NsA, () => new[] { vip.StartAsync(default).Result })[0];
            output.WriteLine($"round {round}: start {started.Ok}: {started.Reason}");
            Assert.True(started.Ok);
            Assert.Equal($"{Vip} on {veth.IfA}, announced (2 frames)", started.Reason);
            foreach (ArpClaim want in burst)
                Assert.Equal(want, await claims.Reader.ReadAsync().AsTask().WaitAsync(Edge.Timeout));

            ResourceOutcome stopped = Edge.InNamespace(veth.NsA, () => new[] { vip.StopAsync(default).Result })[0];
            Assert.Equal(ResourceOutcome.Done(), stopped);
            stop.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(Edge.Timeout));
        }
    }
}
