using Appliance.Core.Config;
using Appliance.Core.Heartbeat;
using Appliance.Core.Membership;
using Appliance.Core.Ports;
using Appliance.Core.Values;
using M = Appliance.Core.Membership.Membership;

namespace Appliance.Core.Tests.Heartbeat;

/// <summary>
/// <see cref="KeepaliveCover"/> between two real nodes on a virtual clock at the fastest recommended
/// timers (3 ms keepalive, 15 ms deadtime) over one datagram link with 0.2 ms transit. Alpha's thread
/// is held inside its pass (as a stopped virtual CPU holds it): it runs nothing, reads nothing, sends
/// nothing. The watcher's part is played here as HeartbeatThread plays it: half a keepalive after
/// alpha was due, then every keepalive, read what beta sent (kept for alpha), tick, send.
/// </summary>
public class KeepaliveCoverTests
{
    private static readonly Timers T = new(TimeSpan.FromMilliseconds(3), TimeSpan.FromMilliseconds(9),
        TimeSpan.FromMilliseconds(15), TimeSpan.FromSeconds(1));

    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(0.1);
    private static readonly TimeSpan Transit = TimeSpan.FromMilliseconds(0.2);
    private static readonly byte[] Key = Enumerable.Repeat((byte)9, 32).ToArray();

    /// <summary>One direction of the link: frames in flight, delivered on the receiver's drain once arrived.</summary>
    private sealed class Wire : IHeartbeatLink
    {
        private readonly Pair _pair;
        private readonly int _owner;
        public Wire(Pair pair, int owner) { _pair = pair; _owner = owner; }
        public Queue<(TimeSpan At, byte[] Bytes)> Inbox { get; } = new();
        public string Name => "lan0";
        public LinkKind Kind => LinkKind.Udp;
        public int PollFd => -1;
        public LinkCounters Counters { get; } = new();

        public LinkSendResult Send(ReadOnlySpan<byte> frame)
        {
            _pair.Wires[1 - _owner].Inbox.Enqueue((_pair.Now + Transit, frame.ToArray()));
            return LinkSendResult.Sent;
        }

        public bool Drain(IFrameReceiver receiver)
        {
            while (TryTake(out var bytes))
                receiver.OnFrame(bytes);
            return true;
        }

        public bool TryTake(out byte[] bytes)
        {
            if (Inbox.TryPeek(out var head) && head.At <= _pair.Now)
            {
                bytes = Inbox.Dequeue().Bytes;
                return true;
            }
            bytes = [];
            return false;
        }

        public void Dispose() { }
    }

    private sealed class Pair
    {
        public TimeSpan Now = TimeSpan.FromSeconds(100);
        public readonly HeartbeatNode[] Nodes = new HeartbeatNode[2];
        public readonly Wire[] Wires = new Wire[2];
        public readonly TimeSpan[] Due = new TimeSpan[2];
        /// <summary>Alpha's thread is held until this instant (inside its pass).</summary>
        public TimeSpan HeldUntil = TimeSpan.MinValue;
        public bool Cover;
        /// <summary>
        /// At this instant held alpha runs a moment inside the same pass and announces (its keepalive,
        /// with the time it read before it was stopped), then is held again: a pass stopped twice.
        /// </summary>
        public TimeSpan AnnounceAt = TimeSpan.MaxValue;
        public Action<HeartbeatNode>? BeforeAnnounce;
        /// <summary>
        /// At this instant held alpha runs the start of its pass (takes the cover over, its stall guard,
        /// what the watcher read), then is held again before it announces: a pass stopped twice, the
        /// second time after the cover was taken over.
        /// </summary>
        public TimeSpan AdoptAt = TimeSpan.MaxValue;
        /// <summary>Whether the watcher covers again in the same held pass once alpha is quiet for a keepalive (false: the control).</summary>
        public bool CoverAgain = true;
        public TimeSpan CoverLimit = KeepaliveCover.LongestCover;
        private TimeSpan _nextCover = TimeSpan.MaxValue;
        private bool _covering;
        /// <summary>What the watcher read off alpha's link during a cover, for alpha's next pass.</summary>
        public readonly List<byte[]> Stash = [];
        public readonly List<string> Log = [];

        public Pair(NodeRole alphaRole = NodeRole.Standby)
        {
            for (int i = 0; i < 2; i++)
            {
                byte self = (byte)(i + 1), peer = (byte)(2 - i);
                var membership = new M(T, new NodeId(self), new NodeId(peer), new BootId(0xB0UL + self), 1, Now);
                Nodes[i] = new HeartbeatNode(new HeartbeatCodec(Key, "cover"), membership, new NodeId(self), T, 1)
                {
                    LocalState = new StateSummary(i == 0 ? alphaRole : NodeRole.Standby, HealthFlags.None, 7, i == 0 && alphaRole == NodeRole.Active ? 1u : 0, 0, 0),
                };
                Wires[i] = new Wire(this, i);
                Nodes[i].SetLink(0, Wires[i]);
                Due[i] = Now;
            }
        }

        public PeerState BetaSeesAlpha => Nodes[1].Membership.Peer;

        /// <summary>Runs both nodes for <paramref name="span"/>, noting every change of beta's view of alpha.</summary>
        public void Run(TimeSpan span)
        {
            var end = Now + span;
            PeerState seen = BetaSeesAlpha;
            while (Now < end)
            {
                Now += Step;
                for (int i = 0; i < 2; i++)
                {
                    bool held = i == 0 && Now < HeldUntil;
                    if (held)
                    {
                        if (Now >= AdoptAt)
                        {
                            AdoptAt = TimeSpan.MaxValue;
                            StartPass(Nodes[0]);
                            continue;
                        }
                        if (Now >= AnnounceAt)
                        {
                            AnnounceAt = TimeSpan.MaxValue;
                            BeforeAnnounce?.Invoke(Nodes[0]);
                            Nodes[0].SendNow();
                            continue;
                        }
                        Watch();
                        continue;
                    }
                    if (i == 0 && _covering)
                        _covering = false;
                    if (Now >= Due[i])
                        Pass(i);
                }
                if (BetaSeesAlpha != seen)
                {
                    seen = BetaSeesAlpha;
                    Log.Add($"{Now.TotalMilliseconds:F1} beta sees alpha {seen}");
                }
            }
        }

        private void Pass(int i)
        {
            var node = Nodes[i];
            if (i == 0)
                StartPass(node);
            else
                node.Wake(Now);
            node.Receive(0);
            node.Evaluate();
            Due[i] = node.NextWake();
        }

        /// <summary>Alpha's pass up to its links: takes the cover over, its stall guard, then what the watcher read for it.</summary>
        private void StartPass(HeartbeatNode node)
        {
            node.AdoptCover(Now);
            node.Wake(Now);
            foreach (var bytes in Stash)
                node.Deliver(0, bytes);
            Stash.Clear();
        }

        /// <summary>The watcher for held alpha: from half a keepalive after it was due, a cover tick every keepalive, within the limit.</summary>
        private void Watch()
        {
            var cover = Nodes[0].Cover;
            if (!Cover || Now < Due[0] + T.Keepalive / 2 || Now - Due[0] > CoverLimit)
                return;
            if (!cover.Active)
            {
                // Once per held pass, and again (as HeartbeatThread) when alpha took it over and is quiet for a keepalive.
                if (_covering && !(CoverAgain && cover.QuietFor(Now, T.Keepalive)) || !cover.TryBegin())
                    return;
                if (!_covering)
                    _nextCover = Now;
                _covering = true;
            }
            else if (!cover.OwnerSilent && !cover.TryResume(Now, T.Keepalive))
                return;
            if (Now < _nextCover)
                return;
            _nextCover = Now + T.Keepalive;
            while (Wires[0].TryTake(out var bytes))
            {
                cover.NotePeerFrame(bytes);
                Stash.Add(bytes);
            }
            if (!cover.TryTick(Now))
                return;
            var frame = new byte[HeartbeatCodec.FrameBytes];
            cover.Encode(0, frame);
            Wires[0].Send(frame);
            cover.Sent(0);
        }
    }

    private static Pair Settled(NodeRole alphaRole = NodeRole.Standby)
    {
        var pair = new Pair(alphaRole);
        pair.Run(TimeSpan.FromMilliseconds(100));
        Assert.Equal(PeerState.Up, pair.BetaSeesAlpha);
        Assert.Equal(PeerState.Up, pair.Nodes[0].Membership.Peer);
        pair.Log.Clear();
        return pair;
    }

    [Fact]
    public void A_node_held_inside_its_pass_for_twice_deadtime_is_not_declared_dead_while_covered()
    {
        var pair = Settled();
        pair.Cover = true;
        pair.HeldUntil = pair.Now + TimeSpan.FromMilliseconds(1) + TimeSpan.FromMilliseconds(34);
        pair.Run(TimeSpan.FromMilliseconds(200));
        Assert.DoesNotContain(pair.Log, l => l.EndsWith("Dead", StringComparison.Ordinal));
        Assert.Equal(PeerState.Up, pair.BetaSeesAlpha);
        Assert.Equal(PeerState.Up, pair.Nodes[0].Membership.Peer);
        Assert.Equal(1, pair.Nodes[0].Cover.Covers);
        Assert.InRange(pair.Nodes[0].Cover.CoverTicks, 9, 12); // 35 ms held, from 1.5 ms after it was due, every 3 ms
        // Nothing lost either way: what the watcher read for alpha reached alpha, and the cover's frames are counted.
        for (int i = 0; i < 2; i++)
            Assert.Equal(pair.Nodes[i].LinkCounters[0].TxFrames, pair.Nodes[1 - i].LinkCounters[0].RxFrames + pair.Wires[1 - i].Inbox.Count);
    }

    [Fact]
    public void Without_the_cover_the_same_hold_is_a_false_death()
    {
        var pair = Settled();
        pair.HeldUntil = pair.Now + TimeSpan.FromMilliseconds(35);
        pair.Run(TimeSpan.FromMilliseconds(200));
        Assert.Contains(pair.Log, l => l.EndsWith("Dead", StringComparison.Ordinal));
    }

    [Fact]
    public void A_hold_longer_than_the_cover_limit_is_seen_dead_once_the_cover_ends()
    {
        var pair = Settled();
        pair.Cover = true;
        var heldFrom = pair.Now;
        pair.HeldUntil = heldFrom + KeepaliveCover.LongestCover + TimeSpan.FromMilliseconds(100);
        pair.Run(KeepaliveCover.LongestCover + TimeSpan.FromMilliseconds(100));
        string death = Assert.Single(pair.Log, l => l.EndsWith("Dead", StringComparison.Ordinal));
        double at = double.Parse(death.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) - heldFrom.TotalMilliseconds;
        // The last cover tick goes out within the limit (counted from when alpha was due, which is within one
        // keepalive of the hold's start); beta's deadtime runs from it.
        double limit = KeepaliveCover.LongestCover.TotalMilliseconds;
        Assert.InRange(at, limit + T.Deadtime.TotalMilliseconds - T.Keepalive.TotalMilliseconds, limit + T.Deadtime.TotalMilliseconds + 2 * T.Keepalive.TotalMilliseconds);
    }

    [Fact]
    public void After_the_cover_the_node_goes_on_above_its_sequence_and_takes_the_peers_acknowledgements_of_it()
    {
        var pair = Settled();
        pair.Cover = true;
        var alpha = pair.Nodes[0].Membership;
        var beta = pair.Nodes[1].Membership;
        var before = alpha.SelfSeq;
        pair.HeldUntil = pair.Now + TimeSpan.FromMilliseconds(30);
        pair.Run(TimeSpan.FromMilliseconds(29.9));
        // Beta acknowledges the cover's ticks; alpha has not taken them over yet.
        Assert.True(beta.PeerSeq.Value > before.Value + 5, $"beta heard {beta.PeerSeq}, alpha was at {before}");
        Assert.Equal(before, alpha.SelfSeq);
        long staleBefore = pair.Nodes[1].LinkCounters[0].RxStale;
        pair.Run(TimeSpan.FromMilliseconds(0.2)); // alpha's first pass after the hold
        Assert.True(alpha.SelfSeq > beta.PeerSeq, $"alpha {alpha.SelfSeq} goes on above what beta heard, {beta.PeerSeq}");
        Assert.True(alpha.PeerAckedSelfSeq.Value > before.Value + 5, "an acknowledgement of a cover tick proved beta's life to alpha");
        Assert.Equal(1, alpha.StallCount); // alpha's own silence is still its stall guard's to report
        var covered = new List<MembershipEvent>();
        while (alpha.TryDequeueEvent(out var e))
            if (e.Kind == MembershipEventKind.Covered)
                covered.Add(e);
        var c = Assert.Single(covered);
        Assert.Equal(alpha.SelfSeq.Value - 1 - before.Value, (ulong)c.Count); // every cover tick, and alpha's own one since
        Assert.Equal(T.Keepalive * (c.Count - 1), c.Silence);
        pair.Run(TimeSpan.FromMilliseconds(50));
        Assert.Equal(staleBefore, pair.Nodes[1].LinkCounters[0].RxStale); // alpha's own frames after it were all new
        Assert.Equal(PeerState.Up, pair.Nodes[0].Membership.Peer);
        Assert.Equal(PeerState.Up, pair.BetaSeesAlpha);
    }

    [Fact]
    public void A_pass_stopped_twice_is_covered_both_times_with_what_the_node_announced_in_between()
    {
        foreach (bool resume in new[] { true, false })
        {
            var pair = Settled();
            pair.Cover = true;
            var start = pair.Now;
            pair.HeldUntil = start + TimeSpan.FromMilliseconds(40);
            // 8 ms into the hold alpha runs a moment and announces a new role, then is stopped again for 32 ms.
            pair.AnnounceAt = start + TimeSpan.FromMilliseconds(8);
            pair.BeforeAnnounce = n => n.LocalState = n.LocalState with { Role = NodeRole.Releasing };
            if (!resume)
                pair.CoverLimit = TimeSpan.FromMilliseconds(9); // the cover ends with the first stop: the control
            pair.Run(TimeSpan.FromMilliseconds(200));
            var alpha = pair.Nodes[0];
            if (!resume)
            {
                Assert.Contains(pair.Log, l => l.EndsWith("Dead", StringComparison.Ordinal));
                continue;
            }
            Assert.DoesNotContain(pair.Log, l => l.EndsWith("Dead", StringComparison.Ordinal));
            Assert.Equal(PeerState.Up, pair.BetaSeesAlpha);
            Assert.Equal(1, alpha.Cover.Covers);
            // A few ticks before the announcement, then one per keepalive from a keepalive after it.
            Assert.InRange(alpha.Cover.CoverTicks, 10, 14);
            Assert.Equal(NodeRole.Releasing, pair.Nodes[1].Membership.PeerSummary.Role);
            // The sequence carried on past both runs of ticks and the announcement between them.
            Assert.True(alpha.Membership.SelfSeq.Value >= pair.Nodes[1].Membership.PeerSeq.Value);
        }
    }

    [Fact]
    public void A_pass_held_again_after_it_took_the_cover_over_is_covered_again()
    {
        foreach (bool again in new[] { true, false })
        {
            var pair = Settled();
            pair.Cover = true;
            pair.CoverAgain = again;
            var start = pair.Now;
            pair.HeldUntil = start + TimeSpan.FromMilliseconds(45);
            // 8 ms into the hold alpha takes the cover over (the start of its pass), and is stopped again
            // for 37 ms before it announces anything.
            pair.AdoptAt = start + TimeSpan.FromMilliseconds(8);
            long staleBefore = pair.Nodes[1].LinkCounters[0].RxStale;
            pair.Run(TimeSpan.FromMilliseconds(200));
            var alpha = pair.Nodes[0];
            if (!again)
            {
                Assert.Contains(pair.Log, l => l.EndsWith("Dead", StringComparison.Ordinal)); // the control
                continue;
            }
            Assert.DoesNotContain(pair.Log, l => l.EndsWith("Dead", StringComparison.Ordinal));
            Assert.Equal(PeerState.Up, pair.BetaSeesAlpha);
            Assert.Equal(2, alpha.Cover.Covers);
            // The second cover numbers after the first one's ticks, which alpha took over: beta found none stale.
            Assert.Equal(staleBefore, pair.Nodes[1].LinkCounters[0].RxStale);
            Assert.True(alpha.Membership.SelfSeq.Value >= pair.Nodes[1].Membership.PeerSeq.Value);
        }
    }

    [Fact]
    public void A_resumed_cover_numbers_after_the_announcement_and_the_ticks_before_it()
    {
        var pair = Settled(NodeRole.Active);
        var alpha = pair.Nodes[0];
        var cover = alpha.Cover;
        var codec = new HeartbeatCodec(Key, "cover");
        var bytes = new byte[HeartbeatCodec.FrameBytes];
        ulong s0 = alpha.Membership.SelfSeq.Value;
        Assert.True(cover.TryBegin());
        Assert.False(cover.TryResume(pair.Now, T.Keepalive)); // nothing announced since it began
        for (int i = 0; i < 3; i++)
            Assert.True(cover.TryTick(pair.Now));
        cover.Encode(0, bytes);
        codec.TryDecode(bytes, out var third);
        Assert.Equal(s0 + 3, third.Seq.Value);

        // The owner, not having taken the cover over, announces four times in the same held pass (a new
        // role): its own numbering, s0+1..s0+4, runs past the cover's s0+3.
        alpha.LocalState = alpha.LocalState with { Role = NodeRole.Releasing };
        for (int i = 0; i < 4; i++)
            alpha.SendNow();
        Assert.False(cover.TryTick(pair.Now));
        Assert.False(cover.TryResume(pair.Now + T.Keepalive / 2, T.Keepalive)); // not yet late again
        Assert.True(cover.TryResume(pair.Now + T.Keepalive, T.Keepalive));
        Assert.True(cover.TryTick(pair.Now + T.Keepalive));
        cover.Encode(0, bytes);
        codec.TryDecode(bytes, out var resumed);
        Assert.Equal(s0 + 5, resumed.Seq.Value); // after the owner's s0+4, which is above the cover's s0+3
        Assert.Equal(NodeRole.Releasing, resumed.State.Role);

        alpha.AdoptCover(pair.Now);
        Assert.Equal(new Sequence(s0 + 5), alpha.Membership.SelfSeq);
        Assert.Equal(4, cover.CoverTicks);
        Assert.Equal(1, cover.Covers);
    }

    [Fact]
    public void A_cover_repeats_what_the_node_announced_and_stops_once_the_node_announces_again()
    {
        var pair = Settled(NodeRole.Active);
        var alpha = pair.Nodes[0];
        var cover = alpha.Cover;
        Assert.True(cover.TryBegin());
        Assert.True(cover.TryTick(pair.Now));
        var bytes = new byte[HeartbeatCodec.FrameBytes];
        cover.Encode(0, bytes);
        Assert.Equal(DecodeStatus.Ok, new HeartbeatCodec(Key, "cover").TryDecode(bytes, out var f));
        Assert.Equal(NodeRole.Active, f.State.Role);
        Assert.Equal(1u, f.State.ResourcesHeld);
        Assert.Equal(7u, f.State.ConfigVersion);
        Assert.Equal(alpha.Membership.SelfSeq.Value + 1, f.Seq.Value);
        Assert.Equal(alpha.Membership.PeerBoot, f.AckBoot);
        Assert.InRange(f.AckSeq.Value, alpha.Membership.PeerSeq.Value - 1, alpha.Membership.PeerSeq.Value); // as of its last tick

        // The node runs and announces (a new role): the cover sends nothing more, and its tick is taken over.
        alpha.LocalState = alpha.LocalState with { Role = NodeRole.Releasing };
        alpha.Wake(pair.Now);
        alpha.SendNow();
        Assert.False(cover.OwnerSilent);
        Assert.False(cover.TryTick(pair.Now));
        var seq = alpha.Membership.SelfSeq;
        alpha.AdoptCover(pair.Now);
        Assert.False(cover.Active);
        Assert.Equal(seq, alpha.Membership.SelfSeq); // the cover's one tick had the number the node then used
        Assert.Equal(1, cover.Covers);
    }

    [Fact]
    public void Frames_that_are_not_the_peers_current_boot_do_not_move_the_acknowledgement()
    {
        var pair = Settled();
        var cover = pair.Nodes[0].Cover;
        Assert.True(cover.TryBegin());
        Assert.True(cover.TryTick(pair.Now));
        var bytes = new byte[HeartbeatCodec.FrameBytes];
        cover.Encode(0, bytes);
        var codec = new HeartbeatCodec(Key, "cover");
        codec.TryDecode(bytes, out var mine);
        var other = new byte[HeartbeatCodec.FrameBytes];
        // Another boot of the peer, a forged tag, and a frame of this node itself: none is acknowledged.
        codec.Encode(new HeartbeatFrame(0, new NodeId(2), new BootId(0xDEAD), new Sequence(mine.AckSeq.Value + 50), default, default, default), other);
        cover.NotePeerFrame(other);
        codec.Encode(new HeartbeatFrame(0, new NodeId(2), mine.AckBoot, new Sequence(mine.AckSeq.Value + 50), default, default, default), other);
        other[60] ^= 1;
        cover.NotePeerFrame(other);
        codec.Encode(new HeartbeatFrame(0, new NodeId(1), mine.AckBoot, new Sequence(mine.AckSeq.Value + 50), default, default, default), other);
        cover.NotePeerFrame(other);
        Assert.True(cover.TryTick(pair.Now));
        cover.Encode(0, bytes);
        codec.TryDecode(bytes, out var next);
        Assert.Equal(mine.AckSeq, next.AckSeq);
        Assert.Equal(mine.Seq.Value + 1, next.Seq.Value);

        // The peer's own newer tick does.
        codec.Encode(new HeartbeatFrame(0, new NodeId(2), mine.AckBoot, new Sequence(mine.AckSeq.Value + 50), default, default, default), other);
        cover.NotePeerFrame(other);
        Assert.True(cover.TryTick(pair.Now));
        cover.Encode(0, bytes);
        codec.TryDecode(bytes, out var acked);
        Assert.Equal(mine.AckSeq.Value + 50, acked.AckSeq.Value);
    }

    [Fact]
    public void Adopted_ticks_must_continue_the_sequence()
    {
        var m = new M(T, new NodeId(1), new NodeId(2), new BootId(0xB1), 1, TimeSpan.Zero);
        m.NextTick(TimeSpan.FromMilliseconds(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.AdoptTicks(new Sequence(5), [TimeSpan.FromMilliseconds(2)]));
        m.AdoptTicks(new Sequence(2), [TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(5)]);
        Assert.Equal(new Sequence(3), m.SelfSeq);
    }
}
