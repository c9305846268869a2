using Appliance.Core.Config;
using Appliance.Core.ConfigSync;
using Appliance.Core.Heartbeat;
using Appliance.Core.Membership;
using Appliance.Core.Ports;
using Appliance.Core.Values;
using Appliance.Daemon;
using Appliance.Integration.Tests.Contracts;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>
/// The heartbeat worker's side channel for config-sync messages, with two real heartbeat nodes on
/// in-memory links (a UDP and a serial one) on fake time: keepalives still reach the membership
/// through the wrapped links, sync payloads go over UDP while it is up and over serial behind the
/// keepalives when it is not, nothing goes to a peer that is not heard, and the receive path that
/// runs on the heartbeat thread allocates nothing.
/// </summary>
public sealed class SyncSideChannelTests : IDisposable
{
    private static readonly byte[] Key = Enumerable.Range(0, 32).Select(i => (byte)(i + 40)).ToArray();
    private static readonly Timers Timers = new(TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(600), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));

    private sealed class Side
    {
        public required HeartbeatNode Node { get; init; }
        public required SyncSideChannel Channel { get; init; }
        public required IHeartbeatLink[] Links { get; init; }
        public required SyncGate Gate { get; init; }
    }

    private readonly List<IDisposable> _links = [];
    private TimeSpan _now = TimeSpan.FromSeconds(4321);
    private readonly (InMemoryHeartbeatLink A, InMemoryHeartbeatLink B) _udp, _serial;
    private readonly Side _alpha, _beta;

    public SyncSideChannelTests()
    {
        _udp = InMemoryHeartbeatLink.CreatePair("lan0", LinkKind.Udp);
        _serial = InMemoryHeartbeatLink.CreatePair("serial0", LinkKind.Serial);
        _links.AddRange([_udp.A, _udp.B, _serial.A, _serial.B]);
        _alpha = Make(1, 2, 0xa1, _udp.A, _serial.A);
        _beta = Make(2, 1, 0xb2, _udp.B, _serial.B);
    }

    private Side Make(byte self, byte peer, ulong boot, IHeartbeatLink udp, IHeartbeatLink serial)
    {
        LinkConfig[] configs =
        [
            new UdpLinkConfig("lan0", System.Net.IPAddress.Loopback, System.Net.IPAddress.Loopback, null, 694),
            new SerialLinkConfig("serial0", "/dev/null", 115200),
        ];
        var membership = new Membership(Timers, new NodeId(self), new NodeId(peer), new BootId(boot), 2, _now);
        var node = new HeartbeatNode(new HeartbeatCodec(Key, "edge"), membership, new NodeId(self), Timers, 2);
        var gate = new SyncGate(new SyncEnvelope(Key, "edge"), new NodeId(self), new NodeId(peer));
        var channel = new SyncSideChannel(gate, configs, Timers);
        channel.Attach(node);
        var links = new[] { channel.Wrap(0, udp), channel.Wrap(1, serial) };
        node.SetLink(0, links[0]);
        node.SetLink(1, links[1]);
        return new Side { Node = node, Channel = channel, Links = links, Gate = gate };
    }

    /// <summary>One wake-up of both heartbeat threads at <see cref="_now"/>, as HeartbeatThread runs it.</summary>
    private void Step()
    {
        foreach (var s in new[] { _alpha, _beta })
        {
            s.Node.Wake(_now);
            s.Channel.Now = _now;
            for (int i = 0; i < 2; i++)
                s.Node.Receive(i);
            s.Node.Evaluate();
            s.Channel.Pump(_now);
        }
    }

    /// <summary>Runs both for <paramref name="duration"/>, waking when either would (keepalive, timers, the pacer).</summary>
    private void Run(TimeSpan duration)
    {
        var end = _now + duration;
        while (_now < end)
        {
            Step();
            var next = end;
            foreach (var s in new[] { _alpha, _beta })
            {
                var w = s.Node.NextWake();
                if (w < next) next = w;
                var c = s.Channel.NextWake(_now);
                if (c < next) next = c;
            }
            // In-memory frames arrive at once: a millisecond later is the next wake-up that reads them.
            var soon = _now + TimeSpan.FromMilliseconds(1);
            _now = next > soon ? soon : next <= _now ? soon : next;
        }
    }

    private static List<(byte[] Payload, int Link)> Received(Side s)
    {
        var got = new List<(byte[], int)>();
        while (s.Channel.TryTakeIncoming(out var p, out int link))
            got.Add((p, link));
        return got;
    }

    private void BothUp()
    {
        Run(TimeSpan.FromSeconds(2));
        Assert.Equal(PeerState.Up, _alpha.Node.Membership.Peer);
        Assert.Equal(PeerState.Up, _beta.Node.Membership.Peer);
        Assert.Equal(LinkState.Up, _alpha.Node.Membership.LinkStateOf(0));
        Assert.Equal(LinkState.Up, _alpha.Node.Membership.LinkStateOf(1));
    }

    [Fact]
    public void Keepalives_pass_the_wrapped_links_and_sync_payloads_take_udp_while_it_is_up()
    {
        BothUp();
        for (int i = 0; i < 20; i++)
            Assert.True(_alpha.Channel.Enqueue([(byte)i, 1, 2, 3]));
        Run(TimeSpan.FromMilliseconds(50));
        var got = Received(_beta);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => (byte)i), got.Select(g => g.Payload[0]));
        Assert.All(got, g => Assert.Equal(0, g.Link));
        var counters = _beta.Channel.Counters();
        Assert.Equal(20, counters[0].RxMessages);
        Assert.Equal(0, counters[1].RxMessages);
        // Sync messages never count as heartbeat frames the node rejected.
        Assert.Equal(0, _beta.Node.LinkCounters[0].RxRejected);
    }

    [Fact]
    public void Without_udp_sync_payloads_go_over_serial_between_the_keepalives()
    {
        BothUp();
        _udp.A.Dispose(); // alpha's UDP end is gone: beta hears nothing on lan0, alpha's sends there fail
        _udp.B.Dispose();
        Run(TimeSpan.FromSeconds(2));
        Assert.Equal(LinkState.Down, _alpha.Node.Membership.LinkStateOf(0));
        Assert.Equal(PeerState.Up, _alpha.Node.Membership.Peer);
        long keepalivesBefore = _alpha.Node.LinkCounters[1].TxFrames;
        var start = _now;
        for (int i = 0; i < 40; i++)
            Assert.True(_alpha.Channel.Enqueue(new byte[SyncEnvelope.MaxPayloadBytes]));
        var got = new List<(byte[] Payload, int Link)>();
        while (got.Count < 40 && _now - start < TimeSpan.FromSeconds(10))
        {
            Run(TimeSpan.FromMilliseconds(100));
            got.AddRange(Received(_beta));
        }
        Assert.Equal(40, got.Count);
        Assert.All(got, g => Assert.Equal(1, g.Link));
        var took = _now - start;
        // 40 full messages are 10.5 KB: at 115200 baud with a keepalive every 200 ms the pacer lets
        // about eight through per keepalive, so a second or so; never all at once.
        Assert.InRange(took, TimeSpan.FromMilliseconds(600), TimeSpan.FromSeconds(3));
        // The keepalives kept their cadence meanwhile.
        long keepalives = _alpha.Node.LinkCounters[1].TxFrames - keepalivesBefore;
        Assert.InRange(keepalives, (long)(took / Timers.Keepalive) - 1, (long)(took / Timers.Keepalive) + 2);
        Assert.True(_alpha.Node.WorstSendGap <= Timers.Keepalive + TimeSpan.FromMilliseconds(2), $"worst send gap {_alpha.Node.WorstSendGap}");
    }

    [Fact]
    public void Nothing_is_sent_to_a_peer_that_is_not_heard()
    {
        // Before the two met: no peer boot to address, so the payloads are dropped, not queued forever.
        for (int i = 0; i < 5; i++)
            _alpha.Channel.Enqueue([1]);
        Step();
        Assert.Equal(5, _alpha.Channel.Dropped);
        Assert.Equal(0, _alpha.Channel.Queued);
        Assert.All(_alpha.Channel.Counters(), c => Assert.Equal(0, c.TxMessages));
        // A full queue refuses more (the daemon's engine retransmits).
        BothUp();
        for (int i = 0; i < SyncSideChannel.QueueMax; i++)
            Assert.True(_alpha.Channel.Enqueue([2]));
        Assert.False(_alpha.Channel.Enqueue([3]));
        Assert.False(_alpha.Channel.Enqueue(new byte[SyncEnvelope.MaxPayloadBytes + 1]));
    }

    [Fact]
    public void A_replayed_or_foreign_message_is_counted_and_dropped()
    {
        BothUp();
        var m = new byte[SyncEnvelope.MaxMessageBytes];
        var mem = _alpha.Node.Membership;
        int n = _alpha.Gate.Seal(0, mem.SelfBoot, mem.PeerBoot, [7, 7], m);
        var beta = (IFrameReceiver)_beta.Links[0];
        beta.OnFrame(m.AsSpan(0, n));
        beta.OnFrame(m.AsSpan(0, n)); // the same again: a replay
        var foreign = new SyncGate(new SyncEnvelope(Enumerable.Repeat((byte)1, 32).ToArray(), "edge"), new NodeId(1), new NodeId(2));
        int f = foreign.Seal(0, mem.SelfBoot, mem.PeerBoot, [8], m);
        beta.OnFrame(m.AsSpan(0, f));
        Assert.Single(Received(_beta));
        Assert.Equal(2, _beta.Channel.Counters()[0].RxRejected);
    }

    [Fact]
    public void The_receive_path_allocates_nothing()
    {
        BothUp();
        var mem = _alpha.Node.Membership;
        var messages = new byte[2000][];
        for (int i = 0; i < messages.Length; i++)
        {
            var b = new byte[SyncEnvelope.MaxMessageBytes];
            int n = _alpha.Gate.Seal(0, mem.SelfBoot, mem.PeerBoot, new byte[SyncEnvelope.MaxPayloadBytes], b);
            messages[i] = b[..n];
        }
        var beta = (IFrameReceiver)_beta.Links[0];
        for (int i = 0; i < 100; i++)
            beta.OnFrame(messages[i]);
        Received(_beta);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 100; i < messages.Length; i++)
            beta.OnFrame(messages[i]); // the ring fills at 128 and the rest are counted as overflow
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(SyncSideChannel.RingSlots, Received(_beta).Count);
        Assert.Equal(messages.Length - 100 - SyncSideChannel.RingSlots, _beta.Channel.RingOverflow);
    }

    public void Dispose()
    {
        foreach (var l in _links)
            l.Dispose();
    }
}
