using System.Text;
using Appliance.Core.Arbiter;
using Appliance.Core.Config;
using Appliance.Core.Fencing;
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
        public TimeSpan PeerFencedAt { get; set; } = TimeSpan.MinValue;

        /// <summary>The fencing operation under way (the real Core controller), or null.</summary>
        public FenceController? Fence { get; set; }

        /// <summary>When the controller wants to be stepped again (a wait ends, a device answers).</summary>
        public TimeSpan FenceWakeAt { get; set; } = TimeSpan.MaxValue;

        /// <summary>The device action in flight: its answer and when it arrives.</summary>
        public (FenceAction Action, TimeSpan At, bool TimedOut)? InFlight { get; set; }

        public int FenceRoundsFailed { get; set; }
        public TimeSpan NextRoundAt { get; set; } = TimeSpan.MinValue;
        public OperatorRequest Pending { get; set; }
        public bool Healthy { get; set; } = true;
        public bool StallSeen { get; set; }
        public TimeSpan ActiveSince { get; set; } = TimeSpan.MaxValue;
    }

    private readonly Arbitration?[] _arb = new Arbitration?[2];

    /// <summary>Whether nodes run the arbiter (with fencing required) on top of the heartbeat.</summary>
    public bool WithArbiter { get; }

    /// <summary>How a simulated fence device behaves.</summary>
    public enum FenceBehaviour
    {
        /// <summary>Switches within 5-50 ms and reports truly.</summary>
        Works,
        /// <summary>Switches after 0.5-3 s; past the 2 s timeout the controller gives up, though the switch still happens.</summary>
        Slow,
        /// <summary>Answers an error at once, switches nothing.</summary>
        Fails,
        /// <summary>Never answers: every action times out.</summary>
        Hangs,
        /// <summary>Acknowledges off but switches nothing; status tells the truth.</summary>
        Lies,
    }

    /// <summary>Per node: its fence device for the peer.</summary>
    public FenceBehaviour[] FenceDevice { get; } = { FenceBehaviour.Works, FenceBehaviour.Works };

    /// <summary>Whether node <paramref name="n"/>'s fence device will, given time, confirm a fence.</summary>
    public bool FenceWorks(int n) => FenceDevice[n] is FenceBehaviour.Works or FenceBehaviour.Slow;

    private static readonly FenceLevel SimRelay = new("relay", TimeSpan.FromSeconds(2), 2, FenceFinalAction.Off);

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
        DriveFence(node, a);
        if (_arb[node] is null)
            return; // cannot happen: a node never fences itself
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
            case ArbiterAction.FencePeer when a.Fence is null && Now >= a.NextRoundAt:
                // fence_delay: a node that holds nothing waits, so the holder of the resources fences first.
                var delay = a.FenceRoundsFailed > 0 ? TimeSpan.Zero
                    : FencingLimits.Delay(new ClusterConfig("sim", "/k", false, FencingMode.Required, Timers)
                        { FenceDelay = FenceDelay, FenceDelayRandom = TimeSpan.FromMilliseconds(400) }, a.Resources == LocalResources.Started, _rnd.NextDouble());
                a.Fence = new FenceController("peer", [SimRelay], Now, delay);
                Log($"node {node}: fencing the peer with a {FenceDevice[node]} device (delay {delay.TotalMilliseconds:F0} ms)");
                DriveFence(node, a);
                break;
            case ArbiterAction.FencePeer:
                break;
            default:
                if (a.Fence is not null)
                {
                    Log($"node {node}: fencing stopped ({d.Reason})");
                    (a.Fence, a.InFlight, a.FenceWakeAt) = (null, null, TimeSpan.MaxValue);
                }
                a.FenceRoundsFailed = 0;
                a.NextRoundAt = TimeSpan.MinValue;
                break;
        }
        if (d.Role == NodeRole.Active && a.ActiveSince == TimeSpan.MaxValue) a.ActiveSince = Now;
        if (d.Role != NodeRole.Active) a.ActiveSince = TimeSpan.MaxValue;
        uint held = a.Resources != LocalResources.Stopped ? 1u : 0u;
        uint starting = a.Resources == LocalResources.Starting ? 1u : 0u;
        hb.LocalState = new StateSummary(d.Role, a.Arbiter.Health, 0, held, starting, 0);
    }

    private TimeSpan ArbiterWake(int node)
    {
        if (_arb[node] is not { } a)
            return TimeSpan.MaxValue;
        var next = a.ResourcesDoneAt < a.FenceWakeAt ? a.ResourcesDoneAt : a.FenceWakeAt;
        return a.Fence is null && a.NextRoundAt > Now && a.NextRoundAt < next ? a.NextRoundAt : next;
    }

    /// <summary>
    /// Steps node <paramref name="node"/>'s fencing controller as far as it goes now: delivers a device
    /// answer that is due, carries out the switch of a device that switches, starts the next device
    /// action (deciding its answer and when it comes), and on the end of an operation either records
    /// the verified fence or schedules the next round.
    /// </summary>
    private void DriveFence(int node, Arbitration a)
    {
        while (a.Fence is { } c)
        {
            if (a.InFlight is { } f)
            {
                if (f.At > Now)
                    return;
                a.InFlight = null;
                c.Report(Now, f.TimedOut ? FenceResult.Timeout("no answer within the timeout") : Answer(node, f.Action));
                continue;
            }
            var step = c.Next(Now);
            if (step.Kind == FenceStepKind.Wait)
            {
                a.FenceWakeAt = step.Until;
                return;
            }
            if (step.Kind == FenceStepKind.Invoke)
            {
                var took = FenceDevice[node] switch
                {
                    FenceBehaviour.Works => TimeSpan.FromMilliseconds(_rnd.Next(5, 50)),
                    FenceBehaviour.Slow => TimeSpan.FromMilliseconds(_rnd.Next(500, 3000)),
                    FenceBehaviour.Fails => TimeSpan.FromMilliseconds(2),
                    FenceBehaviour.Hangs => TimeSpan.MaxValue,
                    _ => TimeSpan.FromMilliseconds(_rnd.Next(5, 50)),
                };
                // A slow switch still happens after the caller gave up on it.
                if (step.Action == FenceAction.Off && FenceDevice[node] == FenceBehaviour.Slow && took > step.Timeout)
                    _lateSwitches.Add((Now + took, node));
                bool timedOut = took > step.Timeout;
                var at = timedOut ? Now + step.Timeout : Now + took;
                a.InFlight = (step.Action, at, timedOut);
                a.FenceWakeAt = at;
                Log($"node {node}: fence {step.Action} via {FenceDevice[node]} device, answer at {at.TotalMilliseconds:0} ms");
                return;
            }
            var report = c.Result!;
            (a.Fence, a.FenceWakeAt) = (null, TimeSpan.MaxValue);
            if (report.Verified)
            {
                a.PeerFencedAt = Now;
                a.FenceRoundsFailed = 0;
                Log($"node {node}: peer fenced, verified ({report.Reason})");
            }
            else
            {
                a.FenceRoundsFailed++;
                a.NextRoundAt = Now + FencingLimits.RoundWait(a.FenceRoundsFailed);
                Log($"node {node}: fencing failed ({report.Reason}); next round at {a.NextRoundAt.TotalMilliseconds:0} ms");
            }
        }
    }

    private readonly List<(TimeSpan At, int Fencer)> _lateSwitches = new();

    /// <summary>Carries out the switches of slow devices whose callers gave up on them.</summary>
    private void LateSwitches()
    {
        for (int i = _lateSwitches.Count - 1; i >= 0; i--)
        {
            if (_lateSwitches[i].At > Now)
                continue;
            Log($"node {_lateSwitches[i].Fencer}'s slow device switches at last");
            SwitchOff(1 - _lateSwitches[i].Fencer);
            _lateSwitches.RemoveAt(i);
        }
    }

    /// <summary>The device's answer to <paramref name="action"/>, with the switch carried out if it switches.</summary>
    private FenceResult Answer(int node, FenceAction action)
    {
        var b = FenceDevice[node];
        int peer = 1 - node;
        if (b == FenceBehaviour.Fails)
            return FenceResult.Error("simulated device error");
        if (b == FenceBehaviour.Hangs)
            return FenceResult.Timeout("simulated device hangs");
        return action switch
        {
            FenceAction.Off when b == FenceBehaviour.Lies => FenceResult.Done(PowerState.Unknown, "acknowledged (but did not switch)"),
            FenceAction.Off => SwitchOff(peer),
            FenceAction.Status => FenceResult.Done(_nodes[peer] is null ? PowerState.Off : PowerState.On),
            _ => FenceResult.HardError("not simulated"),
        };
    }

    private FenceResult SwitchOff(int peer)
    {
        if (_nodes[peer] is not null)
        {
            Log($"the relay cuts node {peer}'s power");
            Crash(peer);
        }
        return FenceResult.Done(PowerState.Unknown);
    }

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
            foreach (var late in _lateSwitches)
                if (late.At < next)
                    next = late.At;
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
            LateSwitches();
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
