using System.Collections.Immutable;
using System.Net;
using System.Text;
using Appliance.Core.Arbiter;
using Appliance.Core.Config;
using Appliance.Core.Fencing;
using Appliance.Core.Heartbeat;
using Appliance.Core.Membership;
using Appliance.Core.Node;
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

    /// <summary>Whether nodes run the shipping host logic (<see cref="ClusterNode"/>, fencing required) on top of the heartbeat.</summary>
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

    /// <summary>The fixed part of fence_delay for a node that holds nothing; longer than the slowest simulated fence.</summary>
    public static readonly TimeSpan FenceDelay = TimeSpan.FromMilliseconds(800);

    /// <summary>Probability that a resource stop fails (the node must then be fenced).</summary>
    public double StopFailure { get; set; }

    /// <summary>Probability that a resource start fails (rolled back; the node is unfit until an operator's takeover).</summary>
    public double StartFailure { get; set; }

    /// <summary>Probability that a monitor finds a started resource gone (restarted in place, else handed over).</summary>
    public double MonitorFailure { get; set; }

    /// <summary>The config both nodes load: two nodes, two links, one relay each, and 1-3 resources.</summary>
    public ApplianceConfig Config { get; }

    private readonly ClusterNode?[] _host = new ClusterNode?[2];

    /// <summary>The real world: node n's resource i is (or may be) in effect. Set when a start is issued, cleared by a stop that succeeds or a power cut.</summary>
    private readonly bool[][] _world;

    /// <summary>Node n has power (a process that exited cleanly leaves a powered, idle box).</summary>
    private readonly bool[] _powered = new bool[2];
    private readonly int[] _generation = new int[2];
    private long _requestIds;

    /// <summary>Node <paramref name="node"/>'s host logic while its daemon runs.</summary>
    public ClusterNode? HostOf(int node) => _host[node];

    /// <summary>Node <paramref name="node"/> may have a resource in effect (started, being started, or a stop that failed).</summary>
    public bool Holds(int node) => _world[node].Any(h => h);

    /// <summary>Resource <paramref name="i"/> may be in effect on <paramref name="node"/>.</summary>
    public bool Holds(int node, int i) => _world[node][i];

    public bool IsPowered(int node) => _powered[node];

    /// <summary>Each node's resources at the previous invariant check (the checker's memory).</summary>
    public LocalResources?[] Seen { get; } = new LocalResources?[2];

    public void Request(int node, OperatorRequest r)
    {
        Log($"operator: {r} on node {node}");
        if (_host[node] is { } h)
        {
            h.Request(r);
            Step(node);
        }
    }

    public void SetHealthy(int node, bool healthy)
    {
        Log($"node {node} local monitor {(healthy ? "passes" : "fails")}");
        if (_host[node] is { } h)
        {
            h.SetHealthy(healthy);
            Step(node);
        }
    }

    /// <summary>An operator's `appliancectl fence PEER` on node <paramref name="node"/>; the refusal, if any.</summary>
    public string? OperatorFence(int node)
    {
        if (_host[node] is not { } h || IsFrozen(node))
            return "not running";
        var refusal = h.RequestFence(Now, NodeName(1 - node), ++_requestIds);
        Log($"operator: fence {NodeName(1 - node)} on node {node}: {refusal ?? "started"}");
        Execute(node);
        return refusal;
    }

    /// <summary>SIGTERM to node <paramref name="node"/>'s daemon: a planned switchover, then it exits.</summary>
    public void Terminate(int node)
    {
        if (_host[node] is not { } h)
            return;
        Log($"node {node}: SIGTERM");
        h.Leave();
        Step(node);
    }

    public static string NodeName(int node) => node == 0 ? "alpha" : "beta";

    /// <summary>Steps node <paramref name="node"/>'s host logic outside a wake-up (an input arrived) and carries out its commands.</summary>
    private void Step(int node)
    {
        if (_host[node] is not { } h || _nodes[node] is not { } hb || IsFrozen(node))
            return;
        bool stalled = hb.Wake(Now);
        h.Tick(hb, Now, stalled, hb.Membership.PeerSummary);
        Execute(node);
    }

    private sealed record SimEvent(int Node, int Generation, Action Run);
    private readonly PriorityQueue<SimEvent, (TimeSpan, long)> _events = new();

    private void Schedule(int node, TimeSpan at, Action run) => _events.Enqueue(new SimEvent(node, _generation[node], run), (at, _order++));

    /// <summary>Carries out what node <paramref name="node"/>'s host logic asked for, as the daemon would.</summary>
    private void Execute(int node)
    {
        var h = _host[node]!;
        var outbox = h.Outbox;
        while (outbox.Count > 0 && _host[node] == h)
        {
            var commands = outbox.ToArray();
            outbox.Clear();
            foreach (var c in commands)
                if (_host[node] == h) // a Left ends the daemon: nothing after it runs
                    Carry(node, h, c);
        }
    }

    private void Carry(int node, ClusterNode h, NodeCommand c)
    {
        switch (c)
        {
            case RunResource r:
            {
                if (r.Verb == ResourceVerb.Start)
                    _world[node][r.Index] = true; // it may take effect at any moment from now
                var took = TimeSpan.FromMilliseconds(_rnd.Next(5, 100));
                double p = r.Verb switch { ResourceVerb.Start => StartFailure, ResourceVerb.Stop => StopFailure, _ => MonitorFailure };
                bool ok = _rnd.NextDouble() >= p;
                Log($"node {node}: {r.Verb} resource {r.Index} ({(ok ? "will work" : "will fail")})");
                Schedule(node, Now + took, () =>
                {
                    if (r.Verb == ResourceVerb.Stop && ok)
                        _world[node][r.Index] = false;
                    Log($"node {node}: {r.Verb} resource {r.Index} {(ok ? "done" : "FAILED")}");
                    h.ResourceDone(Now, r.Index, r.Verb, ok ? ResourceOutcome.Done() : ResourceOutcome.Failed("simulated failure"));
                });
                break;
            }
            case RunFenceDevice f:
            {
                var b = FenceDevice[node];
                var took = b switch
                {
                    FenceBehaviour.Works => TimeSpan.FromMilliseconds(_rnd.Next(5, 50)),
                    FenceBehaviour.Slow => TimeSpan.FromMilliseconds(_rnd.Next(500, 3000)),
                    FenceBehaviour.Fails => TimeSpan.FromMilliseconds(2),
                    FenceBehaviour.Hangs => TimeSpan.MaxValue,
                    _ => TimeSpan.FromMilliseconds(_rnd.Next(5, 50)),
                };
                bool timedOut = took > f.Timeout;
                var at = timedOut ? Now + f.Timeout : Now + took;
                // A switch happens when the device gets to it, whether or not its caller still waits.
                if (f.Action == FenceAction.Off && b is FenceBehaviour.Works or FenceBehaviour.Slow)
                    _lateSwitches.Add((Now + took, node));
                _fenceInFlight[node] = (f.Op, at);
                Log($"node {node}: fence {f.Action} via {b} device, answer at {at.TotalMilliseconds:0} ms");
                Schedule(node, at, () => AnswerFence(node, h, f, timedOut));
                break;
            }
            case CancelFenceDevice cancel:
                Log($"node {node}: fence operation {cancel.Op} cancelled ({cancel.Why})");
                break;
            case FenceEnded e:
                Log($"node {node}: fence of {e.Report.Target} {(e.Report.Verified ? "VERIFIED" : "failed")} ({e.Trigger}): {e.Report.Reason}");
                break;
            case Decided d:
                Log($"node {node}: role {d.Decision.Role}, {d.Decision.Action}: {d.Decision.Reason}");
                break;
            case Left left:
                Log($"node {node}: daemon exits ({(left.Clean ? "clean" : "NOT clean")}: {left.Reason})");
                StopDaemon(node);
                break;
            default:
                Log($"node {node}: {c}");
                break;
        }
    }

    private readonly (long Op, TimeSpan At)?[] _fenceInFlight = new (long, TimeSpan)?[2];

    private void AnswerFence(int node, ClusterNode h, RunFenceDevice f, bool timedOut)
    {
        _fenceInFlight[node] = null;
        var b = FenceDevice[node];
        int peer = 1 - node;
        FenceResult result;
        if (timedOut || b == FenceBehaviour.Hangs)
            result = FenceResult.Timeout("no answer within the timeout");
        else if (b == FenceBehaviour.Fails)
            result = FenceResult.Error("simulated device error");
        else
            result = f.Action switch
            {
                FenceAction.Off when b == FenceBehaviour.Lies => FenceResult.Done(PowerState.Unknown, "acknowledged (but did not switch)"),
                FenceAction.Off => FenceResult.Done(PowerState.Unknown),
                FenceAction.Status => FenceResult.Done(_powered[peer] ? PowerState.On : PowerState.Off),
                FenceAction.On => PowerOn(peer),
                _ => FenceResult.HardError("not simulated"),
            };
        h.FenceDone(Now, f.Op, result);
    }

    private FenceResult PowerOn(int peer)
    {
        _powered[peer] = true;
        return FenceResult.Done(PowerState.On);
    }

    private readonly List<(TimeSpan At, int Fencer)> _lateSwitches = new();

    /// <summary>Carries out the switches of devices that reach them now (a slow one after its caller gave up).</summary>
    private void LateSwitches()
    {
        for (int i = _lateSwitches.Count - 1; i >= 0; i--)
        {
            if (_lateSwitches[i].At > Now)
                continue;
            var (_, fencer) = _lateSwitches[i];
            _lateSwitches.RemoveAt(i);
            PowerCut(1 - fencer, $"node {fencer}'s relay cuts node {1 - fencer}'s power");
        }
    }

    /// <summary>Power off: the daemon dies and nothing is in effect any more.</summary>
    private void PowerCut(int node, string why)
    {
        if (!_powered[node])
            return;
        Log(why);
        _powered[node] = false;
        Array.Clear(_world[node]);
        StopDaemon(node);
    }

    /// <summary>The daemon is gone (crashed, exited, or its box lost power); what it started stays in effect unless the power went too.</summary>
    private void StopDaemon(int node)
    {
        _nodes[node] = null;
        _host[node] = null;
        _generation[node]++;
        _fenceInFlight[node] = null;
    }

    public bool AutoFailback { get; }

    /// <param name="timers">The cluster timers; null draws them from the seed (a quarter of schedules at
    /// the fast timers of DESIGN.md section 4, keepalive 2..19 ms, where the serial link runs at a
    /// multiple of the cluster's cadence; the rest at 20..200 ms).</param>
    public HeartbeatSimulation(int seed, bool trace, bool withArbiter = false, bool autoFailback = false, Timers? timers = null)
    {
        WithArbiter = withArbiter;
        AutoFailback = autoFailback;
        Seed = seed;
        Tracing = trace;
        _rnd = new Random(seed);
        _rnd.NextBytes(_key);
        int keepaliveMs = _rnd.Next(4) == 0 ? _rnd.Next(2, 20) : _rnd.Next(20, 201);
        int deadtimeMs = keepaliveMs * _rnd.Next(3, 11);
        Timers = timers ?? new Timers(TimeSpan.FromMilliseconds(keepaliveMs), TimeSpan.FromMilliseconds((keepaliveMs + deadtimeMs) / 2),
            TimeSpan.FromMilliseconds(deadtimeMs), TimeSpan.FromMilliseconds(Math.Max(deadtimeMs, 2000)));
        Config = BuildConfig(_rnd.Next(1, 4), autoFailback, connectionSync: seed % 3 == 0);
        LinkTimers = LinkCadence.OfNode(Timers, Config.Nodes[0]);
        PeerDeadtime = LinkTimers.Max(l => l.Deadtime);
        MaxAckFreshness = LinkTimers.Max(l => l.AckFreshness);
        int held = Appliance.Core.Director.NodeResources.Of(Config).Length; // with connection sync, its resource first
        _world = [new bool[held], new bool[held]];
        Faults = new Fault[2, 2];
        SetAll(Healthy);
        Now = TimeSpan.FromSeconds(_rnd.Next(1, 100_000)); // a random origin: no code may assume zero
        Boot(0);
        Boot(1);
    }

    /// <param name="connectionSync">
    /// A director that syncs connections: its conntrack resource starts first and finishes (the commit)
    /// after every other resource started, so the order and its failures are in the simulation too.
    /// </param>
    private ApplianceConfig BuildConfig(int resources, bool autoFailback, bool connectionSync)
    {
        var cluster = new ClusterConfig("sim", "/k", autoFailback, FencingMode.Required, Timers)
            { FenceDelay = FenceDelay, FenceDelayRandom = TimeSpan.FromMilliseconds(400) };
        ImmutableArray<LinkConfig> links = [new SerialLinkConfig("serial0", "/dev/null", 115200), new UdpLinkConfig("lan0", IPAddress.Loopback, IPAddress.Loopback, null, 694)];
        var relay = (string name) => new GpioRelayFenceConfig(name, FenceFinalAction.Off, TimeSpan.FromSeconds(2), 2, "/dev/gpiochip0", "17", false);
        return new ApplianceConfig("sim.yaml", cluster,
            [new NodeConfig("alpha", 100, links, ["relay-alpha"]), new NodeConfig("beta", 90, links, ["relay-beta"])])
        {
            FenceDevices = [relay("relay-alpha"), relay("relay-beta")],
            Resources = [.. Enumerable.Range(0, resources).Select(i => (ResourceConfig)new ScriptResourceConfig($"r{i}", ResourceKind.Exec, "true", "true", null, null, [], TimeSpan.FromSeconds(1))
                { MonitorInterval = TimeSpan.FromMilliseconds(_rnd.Next(0, 3) * 500), Monitor = "true" })],
            Director = connectionSync
                ? new DirectorConfig([], new ConntrackSyncConfig("eth2", IPAddress.Parse("10.99.0.1"), IPAddress.Parse("10.99.0.2"), 3780), [])
                : null,
        };
    }

    public int Seed { get; }
    public bool Tracing { get; }
    public Timers Timers { get; }

    /// <summary>Each link's cadence and judging timers, as the daemon derives them (link 0 is serial at 115200 baud).</summary>
    public LinkTimers[] LinkTimers { get; }

    /// <summary>The longest silence after which the peer is surely dead: the slowest link's deadtime.</summary>
    public TimeSpan PeerDeadtime { get; }

    /// <summary>The loosest acknowledgement freshness bound of any link.</summary>
    public TimeSpan MaxAckFreshness { get; }
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
        var m = new Membership(Timers, LinkTimers, self, peer, boot, Now);
        var hb = new HeartbeatNode(codec, m, self, Timers, 2) { LocalState = new StateSummary(NodeRole.Standby, HealthFlags.None, 0, 0, 0, 0) };
        hb.SetLink(0, new SimLink(this, node, 0));
        hb.SetLink(1, new SimLink(this, node, 1));
        _generation[node]++;
        _nodes[node] = hb;
        _powered[node] = true;
        if (WithArbiter)
        {
            _host[node] = new ClusterNode(Config, node, _rnd.NextDouble);
            hb.LocalState = _host[node]!.Summary;
        }
        _startedAt[node] = Now;
        _frozenUntil[node] = TimeSpan.Zero;
        Log($"node {node} boots as {boot}");
        Wake(node);
    }

    /// <summary>Power cut (a crash of the whole box): nothing held any more.</summary>
    public void Crash(int node)
    {
        if (_powered[node])
            PowerCut(node, $"node {node} crashes");
        else
            StopDaemon(node);
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
        var peerBefore = hb.Membership.PeerSummary;
        hb.Receive(0);
        hb.Receive(1);
        if (_host[node] is { } h)
        {
            h.Tick(hb, Now, stalled, peerBefore);
            Execute(node);
        }
        else
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
                TimeSpan aw = _host[n]?.NextWake() ?? TimeSpan.MaxValue;
                if (!IsFrozen(n) && aw < next) next = aw;
            }
            if (_wire.TryPeek(out var p, out _) && p.At < next)
                next = p.At;
            foreach (var late in _lateSwitches)
                if (late.At < next)
                    next = late.At;
            if (_events.TryPeek(out _, out var ev) && ev.Item1 < next)
                next = ev.Item1;
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
            RunDueEvents();
            for (int n = 0; n < 2; n++)
                Wake(n);
            foreach (var q in frozenInbox)
                _wire.Enqueue(q with { At = _frozenUntil[q.To] }, (_frozenUntil[q.To], q.Order));
            check();
        }
    }

    /// <summary>Delivers the reports that are due (a frozen daemon gets them when it thaws; a dead one never).</summary>
    private void RunDueEvents()
    {
        var deferred = new List<(SimEvent, TimeSpan, long)>();
        while (_events.TryPeek(out var e, out var key) && key.Item1 <= Now)
        {
            _events.Dequeue();
            if (e.Generation != _generation[e.Node] || _host[e.Node] is null)
                continue;
            if (IsFrozen(e.Node))
            {
                deferred.Add((e, _frozenUntil[e.Node], key.Item2));
                continue;
            }
            e.Run();
        }
        foreach (var (e, at, order) in deferred)
            _events.Enqueue(e, (at, order));
    }

    public int NextInt(int min, int max) => _rnd.Next(min, max);
    public double NextDouble() => _rnd.NextDouble();
}
