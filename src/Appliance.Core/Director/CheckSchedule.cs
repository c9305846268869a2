using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Text;
using Appliance.Core.Config;
using Appliance.Core.Monitors;

namespace Appliance.Core.Director;

/// <summary>How one probe of a check target ended: a closed set with a human reason.</summary>
public enum CheckVerdict
{
    /// <summary>The real server answered as expected.</summary>
    Pass,
    /// <summary>It answered wrongly or refused (status, body, exit code, connection refused or reset).</summary>
    Fail,
    /// <summary>No complete answer within the check's timeout (a hard deadline on the whole exchange).</summary>
    Timeout,
}

public readonly record struct CheckOutcome(CheckVerdict Verdict, string Reason)
{
    public bool Passed => Verdict == CheckVerdict.Pass;
    public static CheckOutcome Pass(string reason) => new(CheckVerdict.Pass, reason);
    public static CheckOutcome Fail(string reason) => new(CheckVerdict.Fail, reason);
    public static CheckOutcome TimedOut(string reason) => new(CheckVerdict.Timeout, reason);
}

/// <summary>What `services --json` says of a server's check: <c>pass|fail|pending|none</c>.</summary>
public enum CheckResult { None, Pending, Pass, Fail }

/// <summary>
/// One thing to probe: every service whose check has the same kind, address and parameters shares
/// it (keepalived#2111's "checker merge", #1495), so 10 services on one nginx cost one check per
/// interval, not 10. It runs at the shortest <see cref="Interval"/> and <see cref="Timeout"/> of
/// the services sharing it (each service's timeout is below its interval, so the shortest timeout
/// is below the shortest interval); each service judges the results with its own rise, fall and start.
/// </summary>
public sealed record CheckTarget(int Index, DirectorCheckKind Kind, IPEndPoint Address, string? Path, HttpStatusRange Expect,
    string? Host, string? Command, string? Body, TimeSpan Interval, TimeSpan Timeout)
{
    /// <summary>What makes two checks the same target; hashed for the start jitter.</summary>
    public static string KeyOf(DirectorCheckConfig c, IPEndPoint address) =>
        string.Join('\0', c.Kind.ToString(), address.ToString(), c.Path ?? "", c.Expect.ToString(), c.Host ?? "", c.Command ?? "", c.Body ?? "");

    public string Key => string.Join('\0', Kind.ToString(), Address.ToString(), Path ?? "", Expect.ToString(), Host ?? "", Command ?? "", Body ?? "");
}

/// <summary>A real server of a service whose check state changed: it leaves (down) or rejoins (up) the scheduler.</summary>
public readonly record struct CheckFlip(string Service, IPEndPoint Server, bool Up, string Reason);

/// <summary>The check of one (service, server) as shown to the operator; <see cref="Down"/> is what the planner uses.</summary>
public readonly record struct ServerCheck(CheckResult Result, string Reason, bool Down);

/// <summary>
/// The real-server check schedule (issue 9 part 3), pure: no clock, no sockets. The host asks
/// <see cref="Due"/> which targets to probe now, probes them (asynchronously, at the edge), and
/// reports each outcome with <see cref="Report"/>, which returns the (service, server) pairs whose
/// health flipped. Time is a monotonic <see cref="TimeSpan"/> the host passes in.
/// <list type="bullet">
/// <item>Start jitter: a target's first check is at a deterministic offset in [0, interval) from a
/// hash of its key and the seed, so 1000 targets do not fire in the same millisecond (and the two
/// nodes, with different seeds, do not hit a real server at the same instant).</item>
/// <item>No drift (keepalived#2271, #1955): due times advance by the interval from the schedule,
/// never from when a check completed or how late it started.</item>
/// <item>One check per target at a time: a target whose check is still running is not due; a slot
/// it ran over is skipped (counted in <see cref="Skipped"/>), not run late in a burst.</item>
/// <item>A late host (a paused process) starts each overdue target once, then goes back to its
/// cadence; the worst lateness is kept for the benchmark.</item>
/// </list>
/// </summary>
public sealed class CheckSchedule
{
    private sealed class Member(string service, IPEndPoint server, DirectorCheckConfig check)
    {
        public string Service { get; } = service;
        public IPEndPoint Server { get; } = server;
        public int Rise { get; } = check.Rise;
        public int Fall { get; } = check.Fall;
        public MonitorJudge Judge { get; set; } = new(check.Rise, check.Fall, check.Start == CheckStart.Down ? MonitorState.Down : MonitorState.Up);
    }

    private sealed class TargetState(CheckTarget target, TimeSpan due)
    {
        public CheckTarget Target { get; } = target;
        public List<Member> Members { get; } = [];
        public TimeSpan Due { get; set; } = due;
        public bool Running { get; set; }
        public CheckResult Result { get; set; } = CheckResult.Pending;
        public string Reason { get; set; } = "not checked yet";
    }

    private readonly TargetState[] _targets;
    private readonly PriorityQueue<int, TimeSpan> _queue = new();
    private readonly Dictionary<(string Service, IPEndPoint Server), (int Target, Member Member)> _byServer = [];

    /// <param name="config">The director's services; a service whose check is <c>none</c> adds no target.</param>
    /// <param name="now">The host's monotonic now: first checks fall in [now, now + interval).</param>
    /// <param name="seed">Spreads the first checks; derive it from the cluster and node names so it is stable across restarts.</param>
    public CheckSchedule(DirectorConfig config, TimeSpan now, ulong seed)
    {
        var byKey = new Dictionary<string, (DirectorCheckConfig First, IPEndPoint Address, TimeSpan Interval, TimeSpan Timeout, List<(string, IPEndPoint, DirectorCheckConfig)> Members)>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var s in config.Services)
        {
            if (s.Check.Kind == DirectorCheckKind.None)
                continue;
            foreach (var r in s.RealServers)
            {
                string key = CheckTarget.KeyOf(s.Check, r.Address);
                if (byKey.TryGetValue(key, out var t))
                {
                    t.Members.Add((s.Name, r.Address, s.Check));
                    byKey[key] = t with { Interval = Min(t.Interval, s.Check.Interval), Timeout = Min(t.Timeout, s.Check.Timeout) };
                }
                else
                {
                    byKey[key] = (s.Check, r.Address, s.Check.Interval, s.Check.Timeout, [(s.Name, r.Address, s.Check)]);
                    order.Add(key);
                }
            }
        }
        _targets = new TargetState[order.Count];
        for (int i = 0; i < order.Count; i++)
        {
            var (c, address, interval, timeout, members) = byKey[order[i]];
            var target = new CheckTarget(i, c.Kind, address, c.Path, c.Expect, c.Host, c.Command, c.Body, interval, timeout);
            var state = new TargetState(target, now + Jitter(order[i], seed, interval));
            foreach (var (service, server, check) in members)
            {
                var m = new Member(service, server, check);
                state.Members.Add(m);
                _byServer[(service, server)] = (i, m);
            }
            _targets[i] = state;
            _queue.Enqueue(i, state.Due);
        }
        Targets = [.. _targets.Select(t => t.Target)];
    }

    public ImmutableArray<CheckTarget> Targets { get; }

    /// <summary>Checks started so far.</summary>
    public long Started { get; private set; }

    /// <summary>Slots not run because the target's previous check was still running or the host was late by more than an interval.</summary>
    public long Skipped { get; private set; }

    /// <summary>The most any check started after its due time.</summary>
    public TimeSpan WorstLateness { get; private set; }

    /// <summary>The earliest due time of a target not running now; null when there is none (all running, or no targets).</summary>
    public TimeSpan? NextDue => _queue.TryPeek(out _, out var due) ? due : null;

    /// <summary>
    /// The start jitter of a target: FNV-1a-64 of its key mixed with <paramref name="seed"/>
    /// (splitmix64's finalizer), reduced into [0, <paramref name="interval"/>).
    /// </summary>
    public static TimeSpan Jitter(string key, ulong seed, TimeSpan interval)
    {
        ulong h = 14695981039346656037UL ^ seed;
        foreach (byte b in Encoding.UTF8.GetBytes(key))
            h = (h ^ b) * 1099511628211UL;
        h ^= h >> 30;
        h *= 0xbf58476d1ce4e5b9UL;
        h ^= h >> 27;
        h *= 0x94d049bb133111ebUL;
        h ^= h >> 31;
        return interval.Ticks <= 0 ? TimeSpan.Zero : TimeSpan.FromTicks((long)(h % (ulong)interval.Ticks));
    }

    /// <summary>
    /// The targets to probe now (their due time has come), each marked running until its
    /// <see cref="Report"/>; appended to <paramref name="into"/>. Their next due time is already set:
    /// the due time plus the interval, or the first slot after <paramref name="now"/> when the host
    /// is more than an interval late.
    /// </summary>
    public int Due(TimeSpan now, List<CheckTarget> into)
    {
        int n = 0;
        while (_queue.TryPeek(out int i, out var due) && due <= now)
        {
            _queue.Dequeue();
            var t = _targets[i];
            var late = now - due;
            if (late > WorstLateness)
                WorstLateness = late;
            t.Due = NextSlotAfter(due, t.Target.Interval, now, countSkipped: true);
            t.Running = true;
            Started++;
            into.Add(t.Target);
            n++;
        }
        return n;
    }

    /// <summary>
    /// One probe of <paramref name="target"/> ended: every service sharing it judges the outcome with
    /// its own rise and fall; returns the (service, server) pairs whose state flipped.
    /// </summary>
    public IReadOnlyList<CheckFlip> Report(int target, TimeSpan now, CheckOutcome outcome)
    {
        var t = _targets[target];
        if (!t.Running)
            throw new InvalidOperationException($"check target {target} ({t.Target.Address}) reported without having been started");
        t.Running = false;
        t.Result = outcome.Passed ? CheckResult.Pass : CheckResult.Fail;
        t.Reason = outcome.Reason;
        if (t.Due <= now) // it ran over its next slot: skip to the cadence, never start it twice or drift
            t.Due = NextSlotAfter(t.Due - t.Target.Interval, t.Target.Interval, now, countSkipped: true);
        _queue.Enqueue(target, t.Due);
        List<CheckFlip>? flips = null;
        foreach (var m in t.Members)
        {
            if (m.Judge.Record(outcome.Passed))
                (flips ??= []).Add(new CheckFlip(m.Service, m.Server, m.Judge.State == MonitorState.Up, outcome.Reason));
        }
        return flips ?? (IReadOnlyList<CheckFlip>)[];
    }

    /// <summary>
    /// A reload: this schedule (built from the new config) takes over <paramref name="previous"/>'s
    /// state for every target with the same key (its due time, whether a probe is in flight, its last
    /// result) and every (service, server) judged by the same target (its up/down state, kept even
    /// if rise or fall changed; the counts in a row start again). New targets keep their jittered
    /// first check and new members their <c>start:</c>; targets gone are simply not here. Counters
    /// carry over. A probe in flight reports to this schedule with <see cref="IndexOf"/>.
    /// </summary>
    public void Adopt(CheckSchedule previous)
    {
        var old = previous._targets.ToDictionary(t => t.Target.Key, StringComparer.Ordinal);
        _queue.Clear();
        foreach (var t in _targets)
        {
            if (old.TryGetValue(t.Target.Key, out var o))
            {
                t.Due = o.Due;
                t.Running = o.Running;
                t.Result = o.Result;
                t.Reason = o.Reason;
                foreach (var m in t.Members)
                {
                    if (previous._byServer.TryGetValue((m.Service, m.Server), out var p) && ReferenceEquals(previous._targets[p.Target], o))
                        m.Judge = new MonitorJudge(m.Rise, m.Fall, p.Member.Judge.State);
                }
            }
            if (!t.Running)
                _queue.Enqueue(t.Target.Index, t.Due);
        }
        Started += previous.Started;
        Skipped += previous.Skipped;
        if (previous.WorstLateness > WorstLateness)
            WorstLateness = previous.WorstLateness;
    }

    /// <summary>The index in this schedule of the target with <paramref name="key"/> (<see cref="CheckTarget.Key"/>) whose probe is in flight; null when there is none.</summary>
    public int? IndexOf(string key)
    {
        foreach (var t in _targets)
            if (t.Running && t.Target.Key == key)
                return t.Target.Index;
        return null;
    }

    /// <summary>The first slot of the cadence (<paramref name="due"/> + k × interval, k ≥ 1) later than <paramref name="now"/>.</summary>
    private TimeSpan NextSlotAfter(TimeSpan due, TimeSpan interval, TimeSpan now, bool countSkipped)
    {
        var next = due + interval;
        if (next > now)
            return next;
        long k = (now - next).Ticks / interval.Ticks + 1;
        if (countSkipped)
            Skipped += k;
        return next + TimeSpan.FromTicks(k * interval.Ticks);
    }

    /// <summary>The check of <paramref name="server"/> in <paramref name="service"/>; <see cref="CheckResult.None"/> when it has none.</summary>
    public ServerCheck Status(string service, IPEndPoint server)
    {
        if (!_byServer.TryGetValue((service, server), out var found))
            return new ServerCheck(CheckResult.None, "check kind none: the operator decides", false);
        var t = _targets[found.Target];
        var m = found.Member;
        var j = m.Judge;
        bool down = j.State == MonitorState.Down;
        string progress = t.Result switch
        {
            CheckResult.Pending => down ? $"start: down until {m.Rise} passes" : "start: up",
            CheckResult.Fail when !down => $"failure {j.Failures} of {m.Fall} before down",
            CheckResult.Pass when down => $"pass {j.Passes} of {m.Rise} before up",
            _ => "",
        };
        return new ServerCheck(t.Result, progress.Length > 0 ? $"{t.Reason} ({progress})" : t.Reason, down);
    }

    /// <summary>Every (service, server) whose check says down now (at the start: those with <c>start: down</c>).</summary>
    public IEnumerable<(string Service, IPEndPoint Server)> Down =>
        _byServer.Where(kv => kv.Value.Member.Judge.State == MonitorState.Down).Select(kv => kv.Key);

    /// <summary>A seed for the jitter from the cluster and node names: stable across restarts, different on the two nodes.</summary>
    public static ulong SeedFor(string cluster, string node)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in Encoding.UTF8.GetBytes(cluster + "\0" + node))
            h = (h ^ b) * 1099511628211UL;
        return h;
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{_targets.Length} targets, {Started} started, {Skipped} skipped");
}
