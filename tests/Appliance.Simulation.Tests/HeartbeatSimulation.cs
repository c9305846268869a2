using System.Text;
using Appliance.Core.Arbiter;
using Appliance.Core.Config;
using Appliance.Core.Heartbeat;
using Appliance.Core.Membership;
using Appliance.Core.Ports;
using Appliance.Core.Values;

namespace Appliance.Simulation.Tests;

/// <summary>
/// A deterministic simulation of the heartbeat pair: two real Core nodes (codec, membership,
/// heartbeat node) on a virtual clock, joined by two simulated links with loss, delay, reordering,
/// duplication, byte corruption, one-way and total cuts, plus freezes, restarts and an adversary
/// that replays recorded frames. Everything derives from one seed.
/// </summary>
public sealed class HeartbeatSimulation
{
    private sealed record Pending(TimeSpan At, long Order, int To, int Link, byte[] Bytes);

    /// <summary>One direction of one link's behaviour for a phase of the schedule.</summary>
    public sealed record Fault(string Name, double Loss, bool Cut, double Corrupt, double Duplicate, TimeSpan MaxDelay);

    private sealed class SimLink(HeartbeatSimulation sim, int owner, int index) : IHeartbeatLink
    {
        public string Name => index == 0 ? "serial0" : "lan0";
        public LinkKind Kind => index == 0 ? LinkKind.Serial : LinkKind.Udp;
        public int PollFd => -1;
        public LinkCounters Counters { get; } = new();
        public LinkSendResult Send(ReadOnlySpan<byte> frame) { sim.Transmit(owner, index, frame); return LinkSendResult.Sent; }
        public bool Drain(IFrameReceiver receiver) { sim.Deliver(owner, index, receiver); return true; }
        public void Dispose() { }
    }

    private readonly Random _rnd;
    private readonly byte[] _key = new byte[32];
    private readonly PriorityQueue<Pending, (TimeSpan, long)> _wire = new();
    private readonly List<Pending> _due = new();
    private readonly HeartbeatNode?[] _nodes = new HeartbeatNode?[2];
    private readonly TimeSpan[] _frozenUntil = new TimeSpan[2];
    private readonly TimeSpan[] _lastSent = { TimeSpan.MinValue, TimeSpan.MinValue };
    private readonly TimeSpan[] _startedAt = new TimeSpan[2];
    private readonly List<byte[]> _recorded = new();
    private readonly StringBuilder _trace = new();
    private long _order;
    private ulong _bootCounter;

    /// <summary>The arbiter layer of one node: its arbiter, simulated resources and fencing.</summary>
    public sealed class Arbitration
    {
        public required Arbiter Arbiter { get; init; }
        public LocalResources Resources { get; set; } = LocalResources.Stopped;
        public TimeSpan ResourcesDoneAt { get; set; } = TimeSpan.MaxValue;
        public TimeSpan FenceDoneAt { get; set; } = TimeSpan.MaxValue;
        public TimeSpan PeerFencedAt { get; set; } = TimeSpan.MinValue;
        public OperatorRequest Pending { get; set; }
        public bool Healthy { get; set; } = true;
        public bool StallSeen { get; set; }
        public TimeSpan ActiveSince { get; set; } = TimeSpan.MaxValue;
    }

    private readonly Arbitration?[] _arb = new Arbitration?[2];

    /// <summary>Whether nodes run the arbiter (with fencing required) on top of the heartbeat.</summary>
    public bool WithArbiter { get; }

    /// <summary>Per node: does its fence device for the peer work (a dead one never confirms).</summary>
    public bool[] FenceWorks { get; } = { true, true };

    /// <summary>The fixed part of fence_delay for a node that holds nothing; longer than the slowest simulated fence.</summary>
    public static readonly TimeSpan FenceDelay = TimeSpan.FromMilliseconds(800);

    /// <summary>Probability that a resource stop fails (the node must then be fenced).</summary>
    public double StopFailure { get; set; }

    public Arbitration? ArbitrationOf(int node) => _arb[node];

    /// <summary>A node may hold resources: starting, started, stopping, or a stop that failed.</summary>
    public bool Holds(int node) => _nodes[node] is not null && _arb[node] is { } a && a.Resources != LocalResources.Stopped;

    public void Request(int node, OperatorRequest r)
    {
        if (_arb[node] is { } a)
            a.Pending = r;
        Log($"operator: {r} on node {node}");
    }

    public void SetHealthy(int node, bool healthy)
    {
        if (_arb[node] is { } a)
            a.Healthy = healthy;
        Log($"node {node} local monitor {(healthy ? "passes" : "fails")}");
    }

    private void Arbitrate(int node, bool stalled)
    {
        var hb = _nodes[node]!;
        var a = _arb[node]!;
        var m = hb.Membership;
        if (a.ResourcesDoneAt <= Now)
        {
            a.ResourcesDoneAt = TimeSpan.MaxValue;
            if (a.Resources == LocalResources.Starting) a.Resources = LocalResources.Started;
            else if (a.Resources == LocalResources.Stopping)
                a.Resources = _rnd.NextDouble() < StopFailure ? LocalResources.StopFailed : LocalResources.Stopped;
            Log($"node {node}: resources {a.Resources}");
        }
        if (a.FenceDoneAt <= Now)
        {
            a.FenceDoneAt = TimeSpan.MaxValue;
            Crash(1 - node); // the relay cuts the peer's power
            a.PeerFencedAt = Now;
            Log($"node {node}: fenced the peer");
        }
        a.StallSeen |= stalled;
        bool peerFenced = a.PeerFencedAt != TimeSpan.MinValue && (m.LastLife is not { } life || life < a.PeerFencedAt);
        var view = new ArbiterView(Now, m.Peer, m.PeerSummary, m.SelfSeq, m.PeerAckedSelfSeq, a.StallSeen,
            a.Healthy, a.Resources, peerFenced, a.Pending);
        a.Pending = OperatorRequest.None;
        var before = a.Arbiter.Role;
        var d = a.Arbiter.Step(view);
        if (d.Role != before)
        {
            Log($"node {node}: role {before} -> {d.Role}: {d.Reason}");
            if (d.Role == NodeRole.Standby || d.Role == NodeRole.Active)
                a.StallSeen = false;
        }
        switch (d.Action)
        {
            case ArbiterAction.StartResources when a.Resources == LocalResources.Stopped:
                a.Resources = LocalResources.Starting;
                a.ResourcesDoneAt = Now + TimeSpan.FromMilliseconds(_rnd.Next(5, 100));
                Log($"node {node}: starting resources ({d.Reason})");
                break;
            case ArbiterAction.StopResources when a.Resources is LocalResources.Started or LocalResources.Starting:
                a.Resources = LocalResources.Stopping;
                a.ResourcesDoneAt = Now + TimeSpan.FromMilliseconds(_rnd.Next(5, 100));
                Log($"node {node}: stopping resources ({d.Reason})");
                break;
            case ArbiterAction.FencePeer when a.FenceDoneAt == TimeSpan.MaxValue && FenceWorks[node] && _nodes[1 - node] is not null:
                // fence_delay: a node that holds nothing waits, so the holder of the resources fences first.
                var delay = a.Resources == LocalResources.Started ? TimeSpan.Zero : FenceDelay + TimeSpan.FromMilliseconds(_rnd.Next(0, 400));
                a.FenceDoneAt = Now + delay + TimeSpan.FromMilliseconds(_rnd.Next(20, 500));
                Log($"node {node}: fencing the peer (after a delay of {delay.TotalMilliseconds:F0} ms)");
                break;
            case ArbiterAction.FencePeer when _nodes[1 - node] is null && FenceWorks[node]:
                a.PeerFencedAt = Now; // already off: an off verified by the device counts as fenced
                Log($"node {node}: the peer is already off (fence verified)");
                break;
        }
        if (d.Role == NodeRole.Active && a.ActiveSince == TimeSpan.MaxValue) a.ActiveSince = Now;
        if (d.Role != NodeRole.Active) a.ActiveSince = TimeSpan.MaxValue;
        uint held = a.Resources != LocalResources.Stopped ? 1u : 0u;
        uint starting = a.Resources == LocalResources.Starting ? 1u : 0u;
        hb.LocalState = new StateSummary(d.Role, a.Arbiter.Health, 0, held, starting, 0);
    }

    private TimeSpan ArbiterWake(int node) =>
        _arb[node] is { } a ? (a.ResourcesDoneAt < a.FenceDoneAt ? a.ResourcesDoneAt : a.FenceDoneAt) : TimeSpan.MaxValue;

    public bool AutoFailback { get; }

    public HeartbeatSimulation(int seed, bool trace, bool withArbiter = false, bool autoFailback = false)
    {
        WithArbiter = withArbiter;
        AutoFailback = autoFailback;
        Seed = seed;
        Tracing = trace;
        _rnd = new Random(seed);
        _rnd.NextBytes(_key);
        int keepaliveMs = _rnd.Next(20, 201);
        int deadtimeMs = keepaliveMs * _rnd.Next(3, 11);
        Timers = new Timers(TimeSpan.FromMilliseconds(keepaliveMs), TimeSpan.FromMilliseconds((keepaliveMs + deadtimeMs) / 2),
            TimeSpan.FromMilliseconds(deadtimeMs), TimeSpan.FromMilliseconds(Math.Max(deadtimeMs, 2000)));
        Faults = new Fault[2, 2];
        SetAll(Healthy);
        Now = TimeSpan.FromSeconds(_rnd.Next(1, 100_000)); // a random origin: no code may assume zero
        Boot(0);
        Boot(1);
    }

    public int Seed { get; }
    public bool Tracing { get; }
    public Timers Timers { get; }
    public TimeSpan Now { get; private set; }
    public string Trace => _trace.ToString();

    /// <summary>Faults[from, link] applies to frames sent by node <c>from</c> on that link.</summary>
    public Fault[,] Faults { get; }

    public static readonly Fault Healthy = new("healthy", 0, false, 0, 0, TimeSpan.FromMilliseconds(2));

    /// <summary>The most a healthy link may delay a frame; detection bounds add it.</summary>
    public TimeSpan MaxHealthyDelay => Healthy.MaxDelay;

    public Membership? MembershipOf(int node) => _nodes[node]?.Membership;

    public bool IsFrozen(int node) => Now < _frozenUntil[node];

    /// <summary>When the node's last freeze ended (zero if never frozen).</summary>
    public TimeSpan ThawedAt(int node) => _frozenUntil[node];

    public bool IsRunning(int node) => _nodes[node] is not null;

    /// <summary>When node <paramref name="node"/> last put a frame on any link (its last real sign of life).</summary>
    public TimeSpan LastSent(int node) => _lastSent[node];

    public TimeSpan StartedAt(int node) => _startedAt[node];

    public void SetAll(Fault f)
    {
        for (int a = 0; a < 2; a++)
            for (int l = 0; l < 2; l++)
                Faults[a, l] = f;
    }

    public void Log(string line)
    {
        if (Tracing)
            _trace.Append(System.Globalization.CultureInfo.InvariantCulture, $"{Now.TotalMilliseconds,12:0.000} ms  {line}\n");
    }

    public void Boot(int node)
    {
        var codec = new HeartbeatCodec(_key, "sim");
        var self = new NodeId((byte)(node + 1));
        var peer = new NodeId((byte)(2 - node));
        var boot = new BootId(((ulong)Seed << 32) ^ (++_bootCounter * 0x9E3779B97F4A7C15UL) | 1);
        var m = new Membership(Timers, self, peer, boot, 2, Now);
        var hb = new HeartbeatNode(codec, m, self, Timers, 2) { LocalState = new StateSummary(NodeRole.Standby, HealthFlags.None, 0, 0, 0, 0) };
        hb.SetLink(0, new SimLink(this, node, 0));
        hb.SetLink(1, new SimLink(this, node, 1));
        _nodes[node] = hb;
        if (WithArbiter)
            _arb[node] = new Arbitration
            {
                Arbiter = new Arbiter(selfPreferred: node == 0, autoFailback: AutoFailback, FencingMode.Required),
                FenceDoneAt = TimeSpan.MaxValue,
            };
        _startedAt[node] = Now;
        _frozenUntil[node] = TimeSpan.Zero;
        Log($"node {node} boots as {boot}");
        Wake(node);
    }

    public void Crash(int node)
    {
        _nodes[node] = null;
        _arb[node] = null; // power off: nothing held any more
        Log($"node {node} crashes");
    }

    public void Freeze(int node, TimeSpan duration)
    {
        _frozenUntil[node] = Now + duration;
        Log($"node {node} frozen for {duration.TotalMilliseconds:0} ms");
    }

    /// <summary>Replays up to <paramref name="count"/> recorded genuine frames of <paramref name="from"/>'s past towards the other node.</summary>
    public void Replay(int count)
    {
        for (int i = 0; i < count && _recorded.Count > 0; i++)
        {
            var bytes = _recorded[_rnd.Next(_recorded.Count)];
            int link = bytes[3] & 1;
            int to = bytes[8] == 1 ? 1 : 0;
            _wire.Enqueue(new Pending(Now, _order, to, link, bytes), (Now, _order++));
        }
        Log($"adversary replays {count} recorded frames");
    }

    private void Transmit(int from, int link, ReadOnlySpan<byte> frame)
    {
        _lastSent[from] = Now;
        if (_recorded.Count < 500 && _rnd.NextDouble() < 0.05)
            _recorded.Add(frame.ToArray());
        var f = Faults[from, link];
        if (f.Cut || _rnd.NextDouble() < f.Loss)
            return;
        int copies = _rnd.NextDouble() < f.Duplicate ? 2 : 1;
        for (int c = 0; c < copies; c++)
        {
            var bytes = frame.ToArray();
            if (_rnd.NextDouble() < f.Corrupt)
                bytes[_rnd.Next(bytes.Length)] ^= (byte)_rnd.Next(1, 256);
            var delay = TimeSpan.FromTicks((long)(_rnd.NextDouble() * f.MaxDelay.Ticks));
            _wire.Enqueue(new Pending(Now + delay, _order, 1 - from, link, bytes), (Now + delay, _order++));
        }
    }

    private void Deliver(int to, int link, IFrameReceiver receiver)
    {
        foreach (var p in _due)
            if (p.To == to && p.Link == link)
                receiver.OnFrame(p.Bytes);
    }

    private void Wake(int node)
    {
        var hb = _nodes[node];
        if (hb is null || IsFrozen(node))
            return;
        bool stalled = hb.Wake(Now);
        hb.Receive(0);
        hb.Receive(1);
        if (WithArbiter)
        {
            hb.Membership.Evaluate(Now);
            Arbitrate(node, stalled);
        }
        hb.Evaluate();
        while (hb.Membership.TryDequeueEvent(out var e))
            Log($"node {node} (peer boot {hb.Membership.PeerBoot}): {e.Kind}{(e.LinkIndex >= 0 ? $" link {e.LinkIndex}" : "")}{(e.Silence > TimeSpan.Zero ? $" after {e.Silence.TotalMilliseconds:0} ms" : "")}");
    }

    /// <summary>Runs the pair until <paramref name="until"/>, calling <paramref name="check"/> after every step.</summary>
    public void RunUntil(TimeSpan until, Action check)
    {
        while (true)
        {
            TimeSpan next = until;
            for (int n = 0; n < 2; n++)
            {
                var hb = _nodes[n];
                if (hb is null)
                    continue;
                TimeSpan w = IsFrozen(n) ? _frozenUntil[n] : hb.NextWake();
                if (w < next) next = w;
                TimeSpan aw = ArbiterWake(n);
                if (!IsFrozen(n) && aw < next) next = aw;
            }
            if (_wire.TryPeek(out var p, out _) && p.At < next)
                next = p.At;
            if (next >= until)
            {
                Now = until;
                return;
            }
            Now = next < Now ? Now : next;
            _due.Clear();
            var frozenInbox = new List<Pending>();
            while (_wire.TryPeek(out var q, out _) && q.At <= Now)
            {
                _wire.Dequeue();
                if (IsFrozen(q.To)) frozenInbox.Add(q); // the kernel queues it for the frozen process
                else _due.Add(q);
            }
            for (int n = 0; n < 2; n++)
                Wake(n);
            foreach (var q in frozenInbox)
                _wire.Enqueue(q with { At = _frozenUntil[q.To] }, (_frozenUntil[q.To], q.Order));
            check();
        }
    }

    public int NextInt(int min, int max) => _rnd.Next(min, max);
    public double NextDouble() => _rnd.NextDouble();
}
