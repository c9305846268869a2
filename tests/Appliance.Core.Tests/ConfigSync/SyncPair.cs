using System.Text;
using Appliance.Core.ConfigSync;

namespace Appliance.Core.Tests.ConfigSync;

/// <summary>
/// Two <see cref="ConfigSyncEngine"/>s joined by a simulated link on fake time: messages take a
/// latency (with jitter, so they reorder), may be lost or duplicated (seeded), and stop while the
/// pair is partitioned; each node's host applies what arrives with a checker the test chooses, the
/// way the daemon does (a refused config stays out). The clock starts at a random instant so a
/// leak of real time would show.
/// </summary>
internal sealed class SyncPair
{
    public sealed class Node(string name, string peer, SyncLimits limits, Func<ulong> random)
    {
        public string Name { get; } = name;
        public ConfigSyncEngine Engine { get; } = new(name, peer, limits, random);
        public byte[] Running { get; set; } = [];
        public uint Word { get; set; }
        public bool Started { get; set; }
        /// <summary>Says why a config is refused, or null to apply it. Default: anything containing "bad:" is refused.</summary>
        public Func<ApplyRequested, string?> Check { get; set; } = r =>
        {
            string text = Encoding.UTF8.GetString(r.Text.Span);
            int bad = text.IndexOf("bad:", StringComparison.Ordinal);
            return bad >= 0 ? $"appliance.yaml:1:{bad + 1}: not a valid value" : null;
        };
        /// <summary>False: the host holds ApplyRequested back (a slow apply); <see cref="SyncPair.ReleaseApplies"/> lets them go.</summary>
        public bool ApplyAtOnce { get; set; } = true;
        public List<ApplyRequested> Held { get; } = [];
        public List<ApplyRequested> Applies { get; } = [];
        public List<OperationEnded> Ended { get; } = [];
        public List<SyncNote> Notes { get; } = [];
        public List<SyncMessage> SentMessages { get; } = [];
        public (ConfigStamp Local, ConfigStamp Agreed) Persisted { get; set; }

        public SyncState State => Engine.State;

        public OperationEnded EndOf(long op) => Ended.Single(e => e.Op == op);
    }

    private readonly Random _rng;
    private readonly List<(TimeSpan At, Node To, byte[] Payload)> _flight = [];
    private TimeSpan _nextPoll;

    public SyncPair(int seed = 1, SyncLimits? limits = null, SyncLimits? limitsB = null)
    {
        _rng = new Random(seed);
        Now = TimeSpan.FromSeconds(1000 + _rng.Next(0, 100000)) + TimeSpan.FromTicks(_rng.Next());
        ulong Id() => (ulong)_rng.NextInt64(1, long.MaxValue);
        A = new Node("alpha", "beta", limits ?? SyncLimits.Default, Id);
        B = new Node("beta", "alpha", limitsB ?? limits ?? SyncLimits.Default, Id);
        _nextPoll = Now;
    }

    public TimeSpan Now { get; private set; }
    public Node A { get; }
    public Node B { get; }
    public bool Connected { get; set; } = true;
    public double Loss { get; set; }
    public double Duplicate { get; set; }
    public TimeSpan Latency { get; set; } = TimeSpan.FromMilliseconds(2);
    public TimeSpan Jitter { get; set; }
    /// <summary>How often the hosts read the heartbeat (the daemon polls status once a second).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(500);
    /// <summary>Every payload delivered, for tests that tamper or count.</summary>
    public List<(Node To, byte[] Payload)> Delivered { get; } = [];
    /// <summary>When set, may replace (or drop, by returning null) a payload about to be delivered.</summary>
    public Func<Node, byte[], byte[]?>? Tamper { get; set; }

    public Node Other(Node n) => n == A ? B : A;

    public static byte[] Text(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>Both nodes start with <paramref name="a"/> and <paramref name="b"/> (and persisted stamps, if any).</summary>
    public void Start(string a, string b, (ConfigStamp, ConfigStamp)? persistedA = null, (ConfigStamp, ConfigStamp)? persistedB = null)
    {
        foreach (var (n, text, p) in new[] { (A, a, persistedA), (B, b, persistedB) })
        {
            n.Running = Text(text);
            n.Engine.Restore(Now, n.Running, p?.Item1 ?? ConfigStamp.None, p?.Item2 ?? ConfigStamp.None);
            n.Started = true;
            Process(n);
        }
    }

    public ReplicationStart Commit(Node n, string text)
    {
        n.Running = Text(text);
        var start = n.Engine.LocalChanged(Now, n.Running);
        Process(n);
        return start;
    }

    public long Push(Node n, bool force = false) => Act(n, e => e.Push(Now, force));

    public long Pull(Node n, bool force = false) => Act(n, e => e.Pull(Now, force));

    public long Fetch(Node n) => Act(n, e => e.Fetch(Now));

    private long Act(Node n, Func<ConfigSyncEngine, long> act)
    {
        long op = act(n.Engine);
        Process(n);
        return op;
    }

    public void ReleaseApplies(Node n)
    {
        var held = n.Held.ToArray();
        n.Held.Clear();
        foreach (var r in held)
            Apply(n, r);
        Process(n);
    }

    /// <summary>Runs the pair for <paramref name="duration"/> of fake time, event by event.</summary>
    public void RunFor(TimeSpan duration)
    {
        var end = Now + duration;
        while (true)
        {
            var next = _nextPoll;
            foreach (var f in _flight)
                if (f.At < next)
                    next = f.At;
            foreach (var n in new[] { A, B })
                if (n.Started && n.Engine.NextWake() is var w && w < next)
                    next = w;
            if (next > end)
                break;
            if (next > Now)
                Now = next;
            Step();
        }
        Now = end;
    }

    /// <summary>Runs until <paramref name="condition"/> holds (fake time, so "generous" costs nothing); fails after <paramref name="limit"/>.</summary>
    public TimeSpan RunUntil(Func<bool> condition, TimeSpan limit, string what)
    {
        var start = Now;
        while (!condition())
        {
            if (Now - start > limit)
                throw new Xunit.Sdk.XunitException($"not within {limit.TotalSeconds} s of fake time: {what}\nalpha: {A.Engine.View()}\nbeta: {B.Engine.View()}");
            RunFor(TimeSpan.FromMilliseconds(10));
        }
        return Now - start;
    }

    private void Step()
    {
        if (Now >= _nextPoll)
        {
            _nextPoll = Now + PollInterval;
            foreach (var n in new[] { A, B })
            {
                if (!n.Started)
                    continue;
                var other = Other(n);
                n.Engine.PeerHeartbeat(Now, Connected && other.Started, other.Word);
                Process(n);
            }
        }
        for (int i = 0; i < _flight.Count; i++)
        {
            var f = _flight[i];
            if (f.At > Now)
                continue;
            _flight.RemoveAt(i--);
            if (!Connected || !f.To.Started)
                continue;
            var payload = Tamper is null ? f.Payload : Tamper(f.To, f.Payload);
            if (payload is null)
                continue;
            Delivered.Add((f.To, payload));
            f.To.Engine.OnPayload(Now, payload);
            Process(f.To);
        }
        foreach (var n in new[] { A, B })
        {
            if (n.Started && n.Engine.NextWake() <= Now)
            {
                n.Engine.Tick(Now);
                Process(n);
            }
        }
    }

    private void Process(Node n)
    {
        while (n.Engine.Outbox.Count > 0)
        {
            var outputs = n.Engine.Outbox.ToArray();
            n.Engine.Outbox.Clear();
            foreach (var o in outputs)
            {
                switch (o)
                {
                    case SendMessage s:
                        n.SentMessages.Add(s.Message);
                        if (!Connected || _rng.NextDouble() < Loss)
                            break;
                        var bytes = s.Message.ToBytes();
                        int copies = _rng.NextDouble() < Duplicate ? 2 : 1;
                        for (int c = 0; c < copies; c++)
                            _flight.Add((Now + Latency + Jitter * _rng.NextDouble(), Other(n), bytes));
                        break;
                    case ApplyRequested r:
                        n.Applies.Add(r);
                        if (n.ApplyAtOnce)
                            Apply(n, r);
                        else
                            n.Held.Add(r);
                        break;
                    case StampsChanged st:
                        n.Word = st.Word;
                        n.Persisted = (st.Local, st.Agreed);
                        break;
                    case OperationEnded e:
                        n.Ended.Add(e);
                        break;
                    case SyncNote note:
                        n.Notes.Add(note);
                        break;
                }
            }
        }
    }

    private void Apply(Node n, ApplyRequested r)
    {
        ApplyReport report;
        if (r.Expected != ConfigHash.None && r.Expected != ConfigHash.Of(n.Running))
            report = new ApplyReport(ApplyOutcome.Refused, n.Engine.Local, "this node's config changed meanwhile");
        else if (n.Check(r) is { } why)
            report = new ApplyReport(ApplyOutcome.Refused, n.Engine.Local, why);
        else if (r.Text.Span.SequenceEqual(n.Running))
            report = new ApplyReport(ApplyOutcome.Unchanged, n.Engine.Local, "");
        else
        {
            n.Running = r.Text.ToArray();
            report = new ApplyReport(ApplyOutcome.Applied, r.Stamp, "");
        }
        n.Engine.ApplyDone(Now, r.TransferId, report);
    }
}
