using Appliance.Core.Config;
using Appliance.Core.Heartbeat;
using Appliance.Core.Membership;
using Appliance.Core.Ports;
using Appliance.Core.Values;
using M = Appliance.Core.Membership.Membership;

namespace Appliance.Core.Tests.Heartbeat;

/// <summary>
/// The node's side of <see cref="LinkCounters"/>: it alone counts frames sent, dropped and received,
/// once each. The fake link counts nothing (as the real adapters now do); Edge/UdpHeartbeatLinkTests
/// runs the same count over a real UDP link.
/// </summary>
public class HeartbeatNodeCountersTests
{
    private static readonly Timers T = new(TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(600),
        TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));

    private static readonly byte[] Key = Enumerable.Repeat((byte)7, 32).ToArray();

    private readonly TimeSpan _start = TimeSpan.FromSeconds(Random.Shared.Next(1, 1_000_000));

    /// <summary>A link in memory: what is sent is kept, what is queued is delivered on Drain.</summary>
    private sealed class FakeLink : IHeartbeatLink
    {
        public List<byte[]> Sent { get; } = [];
        public Queue<byte[]> Inbox { get; } = new();
        public LinkSendResult Next { get; set; } = LinkSendResult.Sent;
        public string Name => "lan0";
        public LinkKind Kind => LinkKind.Udp;
        public int PollFd => -1;
        public LinkCounters Counters { get; } = new();

        public LinkSendResult Send(ReadOnlySpan<byte> frame)
        {
            if (Next == LinkSendResult.Sent)
                Sent.Add(frame.ToArray());
            return Next;
        }

        public bool Drain(IFrameReceiver receiver)
        {
            while (Inbox.TryDequeue(out var f))
                receiver.OnFrame(f);
            return true;
        }

        public void Dispose() { }
    }

    private HeartbeatNode Node(byte self, byte peer) =>
        new(new HeartbeatCodec(Key, "edge"), new M(T, new NodeId(self), new NodeId(peer), new BootId(0xA0UL + self), 2, _start), new NodeId(self), T, 2)
        {
            LocalState = new StateSummary(NodeRole.Standby, HealthFlags.None, 0, 0, 0, 0),
        };

    [Fact]
    public void Each_frame_is_counted_once_at_the_sender_and_once_at_the_receiver()
    {
        HeartbeatNode alpha = Node(1, 2), beta = Node(2, 1);
        var toBeta = new FakeLink();
        var atBeta = new FakeLink();
        alpha.SetLink(0, toBeta);
        beta.SetLink(0, atBeta);
        // Slot 1 of alpha stays empty: every tick is a drop there.

        const int n = 25;
        TimeSpan now = _start;
        for (int i = 0; i < n; i++)
        {
            alpha.Wake(now);
            alpha.Evaluate();
            now += T.Keepalive;
        }
        Assert.Equal(n, toBeta.Sent.Count);
        foreach (var f in toBeta.Sent)
            atBeta.Inbox.Enqueue(f);
        atBeta.Inbox.Enqueue([1, 2, 3]); // garbage: counted received, then rejected
        beta.Wake(now);
        Assert.True(beta.Receive(0));

        LinkCountersSnapshot tx = alpha.LinkCounters[0].Snapshot(), empty = alpha.LinkCounters[1].Snapshot(), rx = beta.LinkCounters[0].Snapshot();
        Assert.Equal((n, 0L), (tx.TxFrames, tx.TxDropped));
        Assert.Equal((0L, n), (empty.TxFrames, empty.TxDropped));
        Assert.Equal(n + 1, rx.RxFrames);
        Assert.Equal(1, rx.RxRejected);
    }

    [Fact]
    public void A_send_the_link_refuses_is_one_drop()
    {
        HeartbeatNode alpha = Node(1, 2);
        var link = new FakeLink { Next = LinkSendResult.WouldBlock };
        alpha.SetLink(0, link);
        alpha.SetLink(1, new FakeLink { Next = LinkSendResult.Error });
        alpha.Wake(_start);
        alpha.Evaluate();
        Assert.Equal((0L, 1L), (alpha.LinkCounters[0].TxFrames, alpha.LinkCounters[0].TxDropped));
        Assert.Equal((0L, 1L), (alpha.LinkCounters[1].TxFrames, alpha.LinkCounters[1].TxDropped));
    }
    [Fact]
    public void Each_link_sends_at_its_own_cadence_and_SendNow_sends_on_all()
    {
        LinkTimers slow = new(3, 3 * T.Keepalive, 3 * T.Warntime, 3 * T.Deadtime, TimeSpan.Zero, 3 * T.Deadtime);
        var m = new M(T, [LinkTimers.Uniform(T), slow], new NodeId(1), new NodeId(2), new BootId(0xA1), _start);
        var alpha = new HeartbeatNode(new HeartbeatCodec(Key, "edge"), m, new NodeId(1), T, 2)
        {
            LocalState = new StateSummary(NodeRole.Standby, HealthFlags.None, 0, 0, 0, 0),
        };
        FakeLink fast = new(), serial = new();
        alpha.SetLink(0, fast);
        alpha.SetLink(1, serial);
        TimeSpan now = _start;
        for (int i = 0; i < 30; i++)
        {
            alpha.Wake(now);
            alpha.Evaluate();
            now += T.Keepalive;
        }
        Assert.Equal(30, fast.Sent.Count);
        Assert.Equal(10, serial.Sent.Count);
        alpha.Wake(now - T.Keepalive / 2);
        alpha.SendNow(); // a new role reaches the peer on every link at once
        Assert.Equal((31, 11), (fast.Sent.Count, serial.Sent.Count));
    }

    [Fact]
    public void A_send_error_is_a_link_fault_to_look_at_and_congestion_is_not()
    {
        HeartbeatNode alpha = Node(1, 2);
        var broken = new FakeLink { Next = LinkSendResult.Error };
        var full = new FakeLink { Next = LinkSendResult.WouldBlock };
        alpha.SetLink(0, broken);
        alpha.SetLink(1, full);
        alpha.Wake(_start);
        alpha.Evaluate();
        Assert.True(alpha.Membership.LinkFaulted(0));
        Assert.False(alpha.Membership.LinkFaulted(1));
        Assert.True(alpha.Membership.TryDequeueEvent(out var e));
        Assert.Equal((MembershipEventKind.LinkFault, 0), (e.Kind, e.LinkIndex));
        broken.Next = LinkSendResult.Sent;
        alpha.Wake(_start + T.Keepalive);
        alpha.Evaluate();
        Assert.False(alpha.Membership.LinkFaulted(0));
        Assert.True(alpha.Membership.TryDequeueEvent(out e));
        Assert.Equal(MembershipEventKind.LinkFaultCleared, e.Kind);
    }
    /// <summary>A wire of one frame in memory that allocates nothing: what one end sends, the other drains.</summary>
    private sealed class WireLink : IHeartbeatLink
    {
        private readonly byte[] _inbox = new byte[2 * HeartbeatCodec.FrameBytes];
        private int _length;
        public WireLink? Peer { get; set; }
        public string Name => "lan0";
        public LinkKind Kind => LinkKind.Udp;
        public int PollFd => -1;
        public LinkCounters Counters { get; } = new();

        public LinkSendResult Send(ReadOnlySpan<byte> frame)
        {
            frame.CopyTo(Peer!._inbox);
            Peer._length = frame.Length;
            return LinkSendResult.Sent;
        }

        public bool Drain(IFrameReceiver receiver)
        {
            if (_length > 0)
                receiver.OnFrame(_inbox.AsSpan(0, _length));
            _length = 0;
            return true;
        }

        public void Dispose() { }
    }

    [Fact]
    public void The_steady_state_heartbeat_allocates_nothing_per_frame()
    {
        // Both nodes' whole per-tick path: wake, receive (decode, authenticate, judge), evaluate, encode, send.
        HeartbeatNode alpha = Node(1, 2), beta = Node(2, 1);
        for (int l = 0; l < 2; l++)
        {
            WireLink ab = new(), ba = new();
            ab.Peer = ba;
            ba.Peer = ab;
            alpha.SetLink(l, ab);
            beta.SetLink(l, ba);
        }
        TimeSpan now = _start;
        void Round()
        {
            now += T.Keepalive;
            foreach (var n in (ReadOnlySpan<HeartbeatNode>)[alpha, beta])
            {
                n.Wake(now);
                n.Receive(0);
                n.Receive(1);
                n.Evaluate();
                while (n.Membership.TryDequeueEvent(out _)) { }
            }
        }
        for (int i = 0; i < 200; i++)
            Round();
        Assert.Equal(Core.Membership.PeerState.Up, alpha.Membership.Peer);
        // A per-frame allocation, even one object of 24 bytes, shows in every attempt as at least
        // 960,000 bytes. The runtime itself may allocate once on this thread while the loop is hot
        // (a method's on-stack replacement or next tier: CI saw 3,736 bytes once); that does not
        // repeat, so the steady state is proven by any one attempt that allocated nothing.
        var attempts = new List<long>();
        for (int attempt = 0; attempt < 3 && (attempts.Count == 0 || attempts[^1] != 0); attempt++)
        {
            long rxBefore = beta.LinkCounters[0].RxFrames;
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10_000; i++)
                Round();
            attempts.Add(GC.GetAllocatedBytesForCurrentThread() - before);
            Assert.Equal(10_000, beta.LinkCounters[0].RxFrames - rxBefore);
            Assert.Equal(Core.Membership.PeerState.Up, beta.Membership.Peer);
        }
        Assert.True(attempts[^1] == 0, $"bytes allocated over 40,000 frames sent and received, per attempt: {string.Join(", ", attempts)}");
    }
}
