using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Appliance.Core.Config;
using Appliance.Core.ConfigSync;
using Appliance.Core.Heartbeat;
using Appliance.Core.Membership;
using Appliance.Core.Ports;
using Appliance.Core.Values;
using Appliance.Linux;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>One link as seen by status.</summary>
internal sealed record LinkStatus(
    string Name, LinkKind Kind, string Endpoint, LinkState State, bool Open, TimeSpan? Silence, LinkCountersSnapshot Counters)
{
    /// <summary>The link's own cadence and judging timers.</summary>
    public LinkTimers Timers { get; init; }

    /// <summary>The link reported a fault of its own (a refused send, a lost device) and has not sent since: a signal to look.</summary>
    public bool Fault { get; init; }
}

/// <summary>A consistent picture of the heartbeat, taken on the heartbeat thread.</summary>
internal sealed record HeartbeatStatus(
    PeerState Peer,
    StateSummary PeerSummary,
    TimeSpan? PeerSilence,
    IReadOnlyList<LinkStatus> Links,
    int StallCount,
    TimeSpan LastStall,
    BootId SelfBoot,
    Sequence SelfSeq,
    BootId PeerBoot,
    long WorstGapMicros,
    TimeSpan WorstSendGap,
    bool Realtime,
    int GcCount,
    TimeSpan GcPause,
    NodeRole Role,
    string RoleReason,
    bool StandbyRequested,
    Appliance.Core.Node.NodeView? Node = null)
{
    /// <summary>The heartbeat worker's pages are locked in RAM (mlockall).</summary>
    public bool MemoryLocked { get; init; }

    /// <summary>The CPUs the heartbeat thread may run on, like "0-1" or "1".</summary>
    public string Cpus { get; init; } = "";

    /// <summary>The heartbeat thread's watcher on another CPU.</summary>
    public RescueStatus Rescue { get; init; } = new(-1, 0, 0, TimeSpan.Zero, 0, "not started");
}

/// <summary>
/// The watcher of <see cref="HeartbeatRescue"/>: its CPU (-1: none, <paramref name="Off"/> says why),
/// passes of the loop it ran for a late heartbeat thread, moves of that thread, the latest lateness it
/// found, moves refused.
/// </summary>
internal sealed record RescueStatus(int WatchCpu, long Steps, long Rescues, TimeSpan WorstLate, long Failures, string? Off)
{
    /// <summary>Covers: times one thread sent keepalives for a pass the other was held inside (<see cref="KeepaliveCover"/>; mostly the watcher for the heartbeat thread).</summary>
    public long Covers { get; init; }

    /// <summary>Keepalive ticks those covers sent.</summary>
    public long CoverTicks { get; init; }
}

/// <summary>
/// The dedicated heartbeat thread (DESIGN.md section 3): one poll() over every link and a wake-up
/// eventfd, driving the sans-I/O <see cref="HeartbeatNode"/>. Nothing here allocates per frame; status
/// snapshots and state updates cross threads through a queue serviced between polls.
/// </summary>
internal sealed class HeartbeatThread : IDisposable
{
    /// <summary>How often a link whose device is missing is tried again.</summary>
    private static readonly TimeSpan ReopenInterval = TimeSpan.FromSeconds(1);

    /// <summary>Requests waiting for the thread; bounded by the control socket's own connection limit.</summary>
    private readonly ConcurrentQueue<Action> _requests = new();
    private readonly HeartbeatNode _node;
    private readonly IReadOnlyList<LinkConfig> _linkConfigs;
    private readonly Func<LinkConfig, LinkCounters, IHeartbeatLink> _openLink;
    private readonly TimeProvider _time;
    private readonly long _origin;
    private readonly ILogger _log;
    private readonly Action<MembershipEvent> _onEvent;
    private readonly string _peerName;
    private readonly Timers _timers;
    private readonly Poller _poller;
    private readonly TimeSpan[] _reopenAt;
    private readonly string?[] _openError;
    private readonly int[] _pollIndexOfLink;
    private readonly LinkTimers[] _linkTimers;
    private readonly Thread _thread;
    private volatile bool _stopping;
    private bool _realtime;
    private string? _rescueOff;

    /// <summary>The worker locked its memory before starting this thread (shown in status).</summary>
    public bool MemoryLocked { get; set; }

    /// <summary>CPUs to pin the heartbeat thread to (empty: every CPU but the watcher's, or all when there is no watcher).</summary>
    public IReadOnlyCollection<int> PinCpus { get; set; } = [];

    /// <summary>Watch the heartbeat thread from another CPU and run its loop for it while its CPU is stopped (<see cref="HeartbeatRescue"/>).</summary>
    public bool RescueEnabled { get; set; }

    private HeartbeatRescue? _rescue;

    /// <summary>The node's host logic, when this heartbeat decides roles (always in the daemon; tests may leave it out).</summary>
    public Appliance.Core.Node.ClusterNode? Node { get; set; }

    /// <summary>
    /// Called on the heartbeat thread when the node emitted commands, which are in
    /// <see cref="Commands"/>. It must only hand them on (wake a writer thread): no I/O, no locks
    /// shared with other threads' work, on this real-time thread.
    /// </summary>
    public Action? CommandsReady { get; set; }

    /// <summary>Config-sync messages beside the keepalives (null: none; tests may leave it out).</summary>
    public SyncSideChannel? Sync { get; set; }

    /// <summary>Called on the heartbeat thread when sync payloads arrived (in <see cref="Sync"/>'s ring); like <see cref="CommandsReady"/>, it must only wake a thread.</summary>
    public Action? SyncReady { get; set; }

    /// <summary>
    /// Tests: runs inside each pass, after the stall guard and before the links are read, with whether
    /// the watcher runs the pass (a test holds the thread there, as a stopped CPU would). Null in the daemon.
    /// </summary>
    internal Action<bool>? InsidePass { get; set; }

    /// <summary>Tests: one pass of the loop as the watcher runs it, from the calling thread; false when the loop is held.</summary>
    internal bool StepAsWatcher() => TryStepForWatcher();

    /// <summary>The node's commands, in order, for the thread that carries them out.</summary>
    public ConcurrentQueue<Appliance.Core.Node.NodeCommand> Commands { get; } = new();
    /// <summary>When the loop said it would run next (a <see cref="Stopwatch"/> timestamp): how late a pass comes is measured from it.</summary>
    private long _loopDue;
    private long _worstGapMicros;

    /// <summary>
    /// 1 while a thread runs the loop's body: the heartbeat thread, except while it sleeps in poll(2),
    /// or its watcher running a pass for it when it is late (<see cref="TryStepForWatcher"/>). Taking it
    /// is a full fence, so each sees what the other did to the node.
    /// </summary>
    private int _loopHeld;
    /// <summary>The watcher's own look at the links (it must not touch the heartbeat thread's poll set).</summary>
    private readonly Poller _watchPoller;
    private readonly int[] _watchIndexOfLink;
    /// <summary>Per link: the watcher's pass found its device gone; the heartbeat thread closes it on its next pass.</summary>
    private readonly bool[] _goneSeenByWatcher;
    /// <summary>
    /// 1 while a cover tick is being sent (by the watcher, or by the heartbeat thread for a held
    /// watcher) or the thread running a pass takes a cover over (the node's <see cref="KeepaliveCover"/>
    /// episode and <see cref="_stash"/> are theirs in turn).
    /// </summary>
    private int _coverHeld;
    /// <summary>Per link: what the covering thread read off it during a cover (null: not a datagram link).</summary>
    private readonly CoverStash?[] _stash;
    private readonly byte[] _coverTx = new byte[HeartbeatCodec.FrameBytes];
    private readonly byte[] _coverRx = new byte[Appliance.Linux.Links.UdpHeartbeatLink.MaxDatagramBytes];
    private readonly long _coverLimitTicks;
    /// <summary>How long the heartbeat thread waits for a watcher's pass before it covers for it (the watcher's slack).</summary>
    private readonly long _holdSlackTicks;
    private readonly long _keepaliveTicks;
    /// <summary>The due (a <see cref="Stopwatch"/> timestamp) the latest cover was for: one cover per late pass.</summary>
    private long _coverDue = long.MinValue;

    public HeartbeatThread(
        HeartbeatNode node,
        IReadOnlyList<LinkConfig> linkConfigs,
        Func<LinkConfig, LinkCounters, IHeartbeatLink> openLink,
        Timers timers,
        string peerName,
        TimeProvider time,
        ILogger log,
        Action<MembershipEvent> onEvent)
    {
        _node = node;
        _linkConfigs = linkConfigs;
        _openLink = openLink;
        _timers = timers;
        _peerName = peerName;
        _time = time;
        _origin = time.GetTimestamp();
        _log = log;
        _onEvent = onEvent;
        _poller = new Poller(linkConfigs.Count);
        _reopenAt = new TimeSpan[linkConfigs.Count];
        _openError = new string?[linkConfigs.Count];
        _pollIndexOfLink = new int[linkConfigs.Count];
        _watchPoller = new Poller(linkConfigs.Count);
        _watchIndexOfLink = new int[linkConfigs.Count];
        _goneSeenByWatcher = new bool[linkConfigs.Count];
        _stash = new CoverStash?[linkConfigs.Count];
        for (int i = 0; i < _stash.Length; i++)
            if (linkConfigs[i].Kind == LinkKind.Udp)
                _stash[i] = new CoverStash();
        _coverLimitTicks = (long)(KeepaliveCover.LongestCover.TotalSeconds * Stopwatch.Frequency);
        _holdSlackTicks = (long)(HeartbeatRescue.SlackOf(timers.Keepalive).TotalSeconds * Stopwatch.Frequency);
        _keepaliveTicks = Math.Max(1, (long)(timers.Keepalive.TotalSeconds * Stopwatch.Frequency));
        _linkTimers = new LinkTimers[linkConfigs.Count];
        for (int i = 0; i < _linkTimers.Length; i++)
            _linkTimers[i] = node.Membership.LinkTimersOf(i);
        _thread = new Thread(Run) { Name = "heartbeat", IsBackground = true, Priority = ThreadPriority.Highest };
    }

    /// <summary>Builds the heartbeat of this node: codec, membership and links from the config.</summary>
    public static HeartbeatThread Create(NodeSetup setup, TimeProvider time, ILogger log, Action<MembershipEvent> onEvent)
    {
        var config = setup.Config;
        var self = setup.Self;
        var peer = config.PeerOf(self.Name);
        var selfId = new NodeId((byte)(setup.SelfIndex + 1));
        var peerId = new NodeId((byte)(config.Nodes.IndexOf(peer) + 1));
        var boot = new BootId(BitConverter.ToUInt64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)) | 1);
        var timers = config.Cluster.Timers;
        var membership = new Membership(timers, LinkCadence.OfNode(timers, self), selfId, peerId, boot, TimeSpan.Zero);
        var node = new HeartbeatNode(new HeartbeatCodec(setup.Key, config.Cluster.Name), membership, selfId, timers, self.Links.Length)
        {
            LocalState = new StateSummary(NodeRole.Starting, HealthFlags.None, 0, 0, 0, 0),
        };
        Trace.Starting(log, self.Name, config.Cluster.Name, boot.ToString(), config.SourcePath,
            (long)timers.Keepalive.TotalMilliseconds, (long)timers.Warntime.TotalMilliseconds,
            (long)timers.Deadtime.TotalMilliseconds, (long)timers.Initdead.TotalMilliseconds);
        foreach (var link in self.Links)
            Trace.LinkCadence(log, link.Name, KindName(link.Kind), Core.Heartbeat.LinkCadence.Of(timers, link).Explanation);
        var sync = new SyncSideChannel(new Core.ConfigSync.SyncGate(new Core.ConfigSync.SyncEnvelope(setup.Key, config.Cluster.Name), selfId, peerId), self.Links, timers);
        sync.Attach(node);
        return new HeartbeatThread(node, self.Links, LinkFactory.Open, timers, peer.Name, time, log, onEvent) { Sync = sync };
    }

    /// <summary>Any thread: queues a config-sync payload for the peer and wakes the heartbeat thread to send it.</summary>
    public bool SendSync(byte[] payload)
    {
        if (Sync?.Enqueue(payload) != true)
            return false;
        _poller.Wake();
        return true;
    }

    /// <summary>Monotonic time since the daemon started; the only clock the heartbeat uses.</summary>
    public TimeSpan Now() => _time.GetElapsedTime(_origin);

    public void Start() => _thread.Start();

    /// <summary>Runs <paramref name="action"/> on the heartbeat thread between two polls.</summary>
    public Task<T> InvokeAsync<T>(Func<HeartbeatNode, T> action)
    {
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _requests.Enqueue(() =>
        {
            try { tcs.SetResult(action(_node)); }
            catch (Exception e) { tcs.SetException(e); }
        });
        _poller.Wake();
        return tcs.Task;
    }

    /// <summary>Forgets the worst-case cadence figures (benchmarks reset them before a measurement).</summary>
    public Task<bool> ResetCadenceAsync() => InvokeAsync(n =>
    {
        n.ResetWorstSendGap();
        _worstGapMicros = 0;
        return true;
    });

    public Task<HeartbeatStatus> GetStatusAsync() => InvokeAsync(_ => Snapshot());

    /// <summary>Waits until the heartbeat thread has ended (it only ends on Dispose or a fatal error).</summary>
    public bool Join(TimeSpan timeout) => _thread.Join(timeout);


    private void Run()
    {
        // Load on the other threads or cores must not delay keepalives (DESIGN.md section 3).
        if (RealtimeThread.TryMakeCurrentThreadRealtime(RealtimeThread.HeartbeatPriority) is { } why)
            Trace.NoRealtime(_log, why);
        else
        {
            _realtime = true;
            Trace.Realtime(_log, RealtimeThread.HeartbeatPriority);
        }
        if (RealtimeThread.TrySetCurrentThreadTimerSlack(RealtimeThread.HeartbeatTimerSlackNs) is { } slackWhy)
            Trace.NoTimerSlack(_log, slackWhy);
        // The loop is held from here on except while this thread sleeps in poll(2) (see TryStepForWatcher).
        Volatile.Write(ref _loopHeld, 1);
        StartRescue();
        TimeSpan now = Now();
        bool stalled = _node.Wake(now);
        if (Sync is { } sync0)
            sync0.Now = now;
        for (int i = 0; i < _linkConfigs.Count; i++)
            TryOpen(i, now);
        if (Node is { } first)
            first.Tick(_node, now, stalled, _node.Membership.PeerSummary);
        else
            _node.Evaluate();
        HandOnCommands();
        DrainEvents();
        _loopDue = Stopwatch.GetTimestamp();

        while (!_stopping)
        {
            now = Now();
            TimeSpan wake = NextWake(now);
            // To the nanosecond (ppoll): at a 2 ms keepalive, poll(2)'s rounding up to whole
            // milliseconds was up to half a period late.
            TimeSpan timeout = Timeout(wake, now);

            _poller.Clear();
            for (int i = 0; i < _linkConfigs.Count; i++)
            {
                var link = _node.LinkAt(i);
                _pollIndexOfLink[i] = link is null ? -1 : _poller.Add(link.PollFd);
            }
            ExpectAfter(timeout);
            Volatile.Write(ref _loopHeld, 0);
            _poller.Wait(timeout);
            HoldLoop();
            Step(_poller, _pollIndexOfLink, byWatcher: false);
        }
        _rescue?.Expect(long.MaxValue);
        for (int i = 0; i < _linkConfigs.Count; i++)
            _node.SetLink(i, null)?.Dispose();
    }

    /// <summary>When the loop must run next: keepalive, a membership or node timer, a link to reopen, config sync.</summary>
    private TimeSpan NextWake(TimeSpan now)
    {
        TimeSpan wake = _node.NextWake();
        for (int i = 0; i < _reopenAt.Length; i++)
            if (_node.LinkAt(i) is null && _reopenAt[i] < wake)
                wake = _reopenAt[i];
        if (Node?.NextWake() is { } nodeWake && nodeWake < wake)
            wake = nodeWake;
        if (Sync?.NextWake(now) is { } syncWake && syncWake < wake)
            wake = syncWake;
        return wake;
    }

    /// <summary>How long the loop may sleep at <paramref name="now"/> to be back at <paramref name="wake"/>.</summary>
    private static TimeSpan Timeout(TimeSpan wake, TimeSpan now) =>
        wake <= now ? TimeSpan.Zero : wake == TimeSpan.MaxValue ? MaxSleep : Min(wake - now, MaxSleep);

    /// <summary>Tells the watcher (and the wake-delay figure) that the loop is due again <paramref name="timeout"/> from now.</summary>
    private void ExpectAfter(TimeSpan timeout)
    {
        _loopDue = Stopwatch.GetTimestamp() + timeout.Ticks * Stopwatch.Frequency / TimeSpan.TicksPerSecond;
        _rescue?.Expect(_loopDue);
    }

    /// <summary>
    /// The heartbeat thread, back from poll(2): takes the loop, waiting out a pass the watcher is
    /// running for it (tens of microseconds, on the other CPU). When the host stopped the watcher's CPU
    /// in the middle of that pass, the watcher is the held one: after the watcher's slack this thread
    /// covers for it, a keepalive at a time, as the watcher covers for this thread, until the pass ends.
    /// </summary>
    private void HoldLoop()
    {
        if (Interlocked.CompareExchange(ref _loopHeld, 1, 0) == 0)
            return;
        long waitingSince = Stopwatch.GetTimestamp();
        long next = waitingSince + _holdSlackTicks;
        var spin = new SpinWait();
        while (Interlocked.CompareExchange(ref _loopHeld, 1, 0) != 0)
        {
            long now = Stopwatch.GetTimestamp();
            if (now >= next)
                next = now + (TryCover(waitingSince) ? _keepaliveTicks : _holdSlackTicks);
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>
    /// The watcher's pass of the loop for a heartbeat thread that is late and not inside the loop (its
    /// CPU stopped while it slept or woke, <see cref="HeartbeatRescue"/>): look at the links without
    /// waiting, then the same pass as the heartbeat thread's, minus what only it does (reopening
    /// devices, control requests, config sync's sending), and the next due. False when the heartbeat
    /// thread holds the loop (it is late inside it) or the loop is ending.
    /// </summary>
    private bool TryStepForWatcher()
    {
        if (Interlocked.CompareExchange(ref _loopHeld, 1, 0) != 0)
            return false;
        try
        {
            if (_stopping)
                return false;
            _watchPoller.Clear();
            for (int i = 0; i < _linkConfigs.Count; i++)
            {
                var link = _node.LinkAt(i);
                _watchIndexOfLink[i] = link is null ? -1 : _watchPoller.Add(link.PollFd);
            }
            _watchPoller.Wait(TimeSpan.Zero);
            Step(_watchPoller, _watchIndexOfLink, byWatcher: true);
            TimeSpan now = Now();
            ExpectAfter(Timeout(NextWake(now), now));
            return true;
        }
        finally
        {
            Volatile.Write(ref _loopHeld, 0);
        }
    }

    /// <summary>
    /// The watcher, when the heartbeat thread is late inside the loop's body (<see cref="HeartbeatRescue"/>),
    /// or the heartbeat thread, when the watcher is late inside a pass it runs (<see cref="HoldLoop"/>):
    /// one tick of <see cref="KeepaliveCover"/> on every datagram link: read what the peer sent (kept
    /// for the heartbeat thread, in order), then send what the node last announced with a fresh sequence
    /// and the peer's newest tick acknowledged. False when there is nothing to do: the loop was due
    /// (<paramref name="due"/>) longer ago than the cover's limit, the thread took this cover over and
    /// announced or took it over within the last keepalive (it runs again), the node announced nothing
    /// yet, or no datagram link is open.
    /// </summary>
    private bool TryCover(long due)
    {
        if (Stopwatch.GetTimestamp() - due > _coverLimitTicks || _stopping)
            return false;
        if (Interlocked.CompareExchange(ref _coverHeld, 1, 0) != 0)
            return false; // the heartbeat thread is taking the cover over: it runs again
        try
        {
            var cover = _node.Cover;
            if (!cover.Active)
            {
                // Once per late pass, and again in the same pass only when the thread, having taken the
                // cover over, is held again before its next keepalive (its CPU stopped twice in one pass).
                if (_coverDue == due && !cover.QuietFor(Now(), _timers.Keepalive) || !cover.TryBegin())
                    return false;
                _coverDue = due;
            }
            else if (!cover.OwnerSilent && !cover.TryResume(Now(), _timers.Keepalive))
                return false; // the held thread announced, and is not yet a keepalive late again
            bool any = false;
            for (int i = 0; i < _stash.Length; i++)
            {
                if (_stash[i] is { } stash && _node.LinkAt(i)?.Shared is { } shared)
                {
                    ReadForCover(stash, shared, cover);
                    any = true;
                }
            }
            if (!any || !cover.TryTick(Now()))
                return false;
            for (int i = 0; i < _stash.Length; i++)
            {
                if (_stash[i] is null || _node.LinkAt(i)?.Shared is not { } shared || !cover.OwnerSilent)
                    continue;
                int n = cover.Encode(i, _coverTx);
                if (shared.Send(_coverTx.AsSpan(0, n)) == LinkSendResult.Sent)
                    cover.Sent(i);
            }
            return true;
        }
        finally
        {
            Volatile.Write(ref _coverHeld, 0);
        }
    }

    /// <summary>The watcher: takes the link's waiting datagrams into its stash (until full), noting the peer's newest tick.</summary>
    private void ReadForCover(CoverStash stash, ISharedDatagramLink shared, KeepaliveCover cover)
    {
        while (!stash.Full && shared.TryReceive(_coverRx, out int n))
        {
            var bytes = _coverRx.AsSpan(0, n);
            if (n == HeartbeatCodec.FrameBytes && !SyncEnvelope.IsSyncMessage(bytes))
            {
                cover.NotePeerFrame(bytes);
                bytes.CopyTo(stash.Frames[stash.Count++]);
            }
            else
            {
                bytes.CopyTo(stash.Other);
                stash.OtherLength = n; // whatever comes after it stays in the socket for the heartbeat thread
            }
        }
    }

    /// <summary>The thread running a pass: waits out a cover tick being sent (microseconds, on the other CPU).</summary>
    private void EnterCover()
    {
        var spin = new SpinWait();
        while (Interlocked.CompareExchange(ref _coverHeld, 1, 0) != 0)
            spin.SpinOnce(sleep1Threshold: -1);
    }

    /// <summary>The thread running a pass: what the covering thread read off the links during a cover, in the order it arrived.</summary>
    private void ReplayStash()
    {
        for (int i = 0; i < _stash.Length; i++)
        {
            if (_stash[i] is not { } stash)
                continue;
            for (int k = 0; k < stash.Count; k++)
                Deliver(i, stash.Frames[k]);
            if (stash.OtherLength >= 0)
                Deliver(i, stash.Other.AsSpan(0, stash.OtherLength));
            stash.Count = 0;
            stash.OtherLength = -1;
        }
    }

    /// <summary>A datagram of link <paramref name="i"/> as its demultiplexer would have handed it on.</summary>
    private void Deliver(int i, ReadOnlySpan<byte> bytes)
    {
        if (Sync is { } sync && SyncEnvelope.IsSyncMessage(bytes))
            sync.OnSyncFrame(i, bytes);
        else
            _node.Deliver(i, bytes);
    }

    /// <summary>What the covering thread read off one datagram link during a cover, kept for the next pass.</summary>
    private sealed class CoverStash
    {
        /// <summary>Heartbeat frames kept: a cover of the longest (KeepaliveCover.LongestCover) of a peer at the 2 ms floor is 250; the peer's frames beyond stay in the socket.</summary>
        public const int MaxFrames = 256;
        public readonly byte[][] Frames = CreateFrames();
        public int Count;
        /// <summary>One datagram of another size or kind (a config-sync message); the watcher reads no further after it.</summary>
        public readonly byte[] Other = new byte[Appliance.Linux.Links.UdpHeartbeatLink.MaxDatagramBytes];
        public int OtherLength = -1;

        public bool Full => Count == MaxFrames || OtherLength >= 0;

        private static byte[][] CreateFrames()
        {
            var frames = new byte[MaxFrames][];
            for (int i = 0; i < frames.Length; i++)
                frames[i] = new byte[HeartbeatCodec.FrameBytes];
            return frames;
        }
    }

    /// <summary>
    /// One pass of the loop after a wake-up, by whichever thread holds it: the stall guard first, before
    /// any frame is read or sent (DESIGN.md section 3), then the links <paramref name="ready"/> says are
    /// readable, the node's decision and the keepalive that announces it.
    /// </summary>
    private void Step(Poller ready, int[] pollIndexOfLink, bool byWatcher)
    {
        long ts = Stopwatch.GetTimestamp();
        TimeSpan now = Now();
        // A cover sent while the loop was held: its ticks first (the stall guard's question
        // is about ticks after them), then what it read off the links, before the links' newer frames.
        EnterCover();
        _node.AdoptCover(now);
        bool stalled = _node.Wake(now);
        ReplayStash();
        Volatile.Write(ref _coverHeld, 0);
        InsidePass?.Invoke(byWatcher);
        if (Sync is { } sync)
            sync.Now = now;
        long sinceScheduled = (long)Stopwatch.GetElapsedTime(_loopDue, ts).TotalMicroseconds;
        if (sinceScheduled > _worstGapMicros)
            _worstGapMicros = sinceScheduled;

        var peerBefore = _node.Membership.PeerSummary;
        for (int i = 0; i < _linkConfigs.Count; i++)
        {
            // A device gone is the heartbeat thread's to close and reopen, also when the watcher's
            // pass was the one that found it (and took the readiness that would have told it).
            if (!byWatcher && _goneSeenByWatcher[i])
            {
                _goneSeenByWatcher[i] = false;
                if (_node.LinkAt(i) is not null)
                    LoseLink(i, now);
                continue;
            }
            int p = pollIndexOfLink[i];
            if (p < 0 || !ready.IsReady(p) || _node.Receive(i))
                continue;
            if (byWatcher)
                _goneSeenByWatcher[i] = true;
            else
                LoseLink(i, now);
        }
        // Stall guard and frames first, then the node's decision, then the keepalive that announces it.
        if (Node is { } node)
            node.Tick(_node, now, stalled, peerBefore);
        else
            _node.Evaluate();

        if (!byWatcher)
        {
            for (int i = 0; i < _linkConfigs.Count; i++)
                if (_node.LinkAt(i) is null && now >= _reopenAt[i])
                    TryOpen(i, now);

            bool requests = false;
            while (_requests.TryDequeue(out var request))
            {
                request();
                requests = true;
            }
            // A request may change the node's inputs (a resource done, a device answer, an operator): decide now.
            if (requests && Node is { } n2)
                n2.Tick(_node, now, stalled: false, _node.Membership.PeerSummary);
            // Config sync after the keepalive of this step has gone: on a serial link it waits its turn behind it.
            if (Sync is { } side)
            {
                side.Pump(now);
                if (side.TakeReady())
                    SyncReady?.Invoke();
            }
        }
        HandOnCommands();
        DrainEvents();
    }

    /// <summary>
    /// Pins the heartbeat thread as <see cref="RescuePlan"/> says and starts its watcher on another CPU
    /// (<see cref="HeartbeatRescue"/>), or logs why there is none.
    /// </summary>
    private void StartRescue()
    {
        var allowed = RealtimeThread.CurrentThreadCpus();
        var plan = RescuePlan.Of(allowed, PinCpus, RescueEnabled);
        if (plan.Off is null || PinCpus.Count > 0)
        {
            string cpus = DescribeCpus(plan.HeartbeatCpus);
            if (RealtimeThread.TryPinCurrentThread(plan.HeartbeatCpus) is { } pinWhy)
            {
                Trace.NotPinned(_log, cpus, pinWhy);
                plan = plan with { WatchCpu = -1, Off = "the heartbeat thread could not be pinned" };
            }
            else
                Trace.Pinned(_log, cpus);
        }
        if (plan.Off is { } off)
        {
            _rescueOff = off;
            Trace.NoRescue(_log, off);
            return;
        }
        _rescue = new HeartbeatRescue(plan, allowed, _timers.Keepalive, _poller.Wake, TryStepForWatcher, TryCover);
        _rescue.Attach();
        Trace.Rescue(_log, plan.WatchCpu, (long)HeartbeatRescue.SlackOf(_timers.Keepalive).TotalMicroseconds);
    }

    private void HandOnCommands()
    {
        if (Node is not { } node || node.Outbox.Count == 0)
            return;
        foreach (var c in node.Outbox)
            Commands.Enqueue(c);
        node.Outbox.Clear();
        CommandsReady?.Invoke();
    }

    private void TryOpen(int i, TimeSpan now)
    {
        var config = _linkConfigs[i];
        try
        {
            var link = _openLink(config, _node.LinkCounters[i]);
            _node.SetLink(i, Sync is { } sync ? sync.Wrap(i, link) : link);
            if (_openError[i] is not null)
                Trace.LinkOpened(_log, config.Name, Describe(config));
            _openError[i] = null;
        }
        catch (Exception e) when (e is NativeIoException or System.Net.Sockets.SocketException or IOException or UnauthorizedAccessException)
        {
            if (_openError[i] != e.Message)
                Trace.LinkOpenFailed(_log, config.Name, Describe(config), e.Message, (long)ReopenInterval.TotalMilliseconds);
            _openError[i] = e.Message;
            _reopenAt[i] = now + ReopenInterval;
        }
    }

    private void LoseLink(int i, TimeSpan now)
    {
        var config = _linkConfigs[i];
        Trace.LinkLost(_log, config.Name, Describe(config));
        _node.Membership.OnLinkFault(i, now, faulted: true);
        _node.SetLink(i, null)?.Dispose();
        _openError[i] = "device gone";
        _reopenAt[i] = now + ReopenInterval;
    }

    /// <summary>
    /// Called on the heartbeat thread when membership events wait in the log queue. When set, the
    /// events are logged by <see cref="WritePendingLogs"/> on the caller's (ordinary) thread: the
    /// console logger formats strings (allocation, so garbage collections) and takes a lock that its
    /// own ordinary-priority writer thread holds while it works, which a real-time thread must never
    /// wait for. Null (tests): logged on the heartbeat thread.
    /// </summary>
    public Action? LogsReady { get; set; }

    /// <summary>Events waiting to be logged, with what the log line needs of the heartbeat's state at the time.</summary>
    private readonly ConcurrentQueue<(MembershipEvent Event, LinkState LinkState)> _logQueue = new();

    private void DrainEvents()
    {
        bool queued = false;
        while (_node.Membership.TryDequeueEvent(out var e))
        {
            var state = e.LinkIndex >= 0 ? _node.Membership.LinkStateOf(e.LinkIndex) : LinkState.Down;
            if (LogsReady is null)
                Log(e, state);
            else
            {
                _logQueue.Enqueue((e, state));
                queued = true;
            }
            _onEvent(e);
        }
        if (queued)
            LogsReady!.Invoke();
    }

    /// <summary>Logs the queued membership events (on the thread <see cref="LogsReady"/> woke).</summary>
    public void WritePendingLogs()
    {
        while (_logQueue.TryDequeue(out var item))
            Log(item.Event, item.LinkState);
    }

    private void Log(MembershipEvent e, LinkState linkState)
    {
        long silenceMs = (long)e.Silence.TotalMilliseconds;
        string linkName = e.LinkIndex >= 0 ? _linkConfigs[e.LinkIndex].Name : "";
        string kind = e.LinkIndex >= 0 ? KindName(_linkConfigs[e.LinkIndex].Kind) : "";
        switch (e.Kind)
        {
            case MembershipEventKind.LinkUp: Trace.LinkUp(_log, linkName, kind, When(e)); break;
            case MembershipEventKind.LinkDown: Trace.LinkDown(_log, linkName, kind, silenceMs, When(e)); break;
            case MembershipEventKind.PeerUp: Trace.PeerUp(_log, _peerName, When(e)); break;
            case MembershipEventKind.PeerWarn: Trace.PeerWarn(_log, _peerName, silenceMs, When(e)); break;
            case MembershipEventKind.PeerDead: Trace.PeerDead(_log, _peerName, silenceMs, When(e)); break;
            case MembershipEventKind.PeerRebooted: Trace.PeerRebooted(_log, _peerName); break;
            case MembershipEventKind.PeerStopped: Trace.PeerStopped(_log, _peerName); break;
            case MembershipEventKind.Stall: Trace.Stall(_log, silenceMs, (long)_timers.Deadtime.TotalMilliseconds, (long)Membership.StallGraceWindow.TotalSeconds, When(e)); break;
            case MembershipEventKind.StallPeerStayed: Trace.StallPeerStayed(_log, _peerName, silenceMs); break;
            case MembershipEventKind.StallPeerMoved: Trace.StallPeerMoved(_log, _peerName); break;
            case MembershipEventKind.StallUnanswered: Trace.StallUnanswered(_log, _peerName, silenceMs); break;
            case MembershipEventKind.LinkFault:
                Trace.LinkFault(_log, linkName, kind, linkState == LinkState.Up ? "up" : "down",
                    (long)_linkTimers[e.LinkIndex].Deadtime.TotalMilliseconds);
                break;
            case MembershipEventKind.LinkFaultCleared: Trace.LinkFaultCleared(_log, linkName, kind); break;
            case MembershipEventKind.Covered: Trace.Covered(_log, e.Count, (long)e.Silence.TotalMilliseconds, When(e)); break;
        }
    }

    /// <summary>A line this much later than its event says when the event happened (below it, the line's own time is as good).</summary>
    private static readonly TimeSpan LateLine = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// For a line written later than its event: when the event happened. The line's own time is when
    /// the worker's writer thread logged it, which can be long after, when the host stopped a CPU; the
    /// event's is the heartbeat's, so the lines of two nodes on one host can be put in order.
    /// </summary>
    private string When(in MembershipEvent e)
    {
        TimeSpan lag = Now() - e.At;
        if (lag < LateLine)
            return "";
        DateTime at = _time.GetUtcNow().UtcDateTime - lag;
        return string.Create(CultureInfo.InvariantCulture, $" (at {at:HH:mm:ss.fff}, {(long)lag.TotalMilliseconds}ms before this line)");
    }

    private HeartbeatStatus Snapshot()
    {
        TimeSpan now = Now();
        var view = Node?.Snapshot();
        var m = _node.Membership;
        var links = new LinkStatus[_linkConfigs.Count];
        for (int i = 0; i < links.Length; i++)
        {
            var c = _linkConfigs[i];
            TimeSpan? last = m.LinkLastLife(i);
            links[i] = new LinkStatus(c.Name, c.Kind, Describe(c), m.LinkStateOf(i), _node.LinkAt(i) is not null,
                last is null ? null : now - last.Value, _node.LinkCounters[i].Snapshot())
            { Timers = m.LinkTimersOf(i), Fault = m.LinkFaulted(i) };
        }
        return new HeartbeatStatus(m.Peer, m.PeerSummary, m.LastLife is { } l ? now - l : null, links,
            m.StallCount, m.LastStall, m.SelfBoot, m.SelfSeq, m.PeerBoot, Interlocked.Read(ref _worstGapMicros), _node.WorstSendGap, _realtime,
            GC.CollectionCount(0), GC.GetTotalPauseDuration(),
            Node?.Role ?? _node.LocalState.Role, Node?.Last.Reason ?? "", view?.StandbyRequested ?? false, view)
        {
            MemoryLocked = MemoryLocked,
            Cpus = DescribeCpus(RealtimeThread.CurrentThreadCpus()),
            Rescue = (_rescue is { } r ? new RescueStatus(r.WatchCpu, r.Steps, r.Rescues, r.WorstLate, r.Failures, null) : new RescueStatus(-1, 0, 0, TimeSpan.Zero, 0, _rescueOff))
                with { Covers = _node.Cover.Covers, CoverTicks = _node.Cover.CoverTicks },
        };
    }

    /// <summary>Longest single sleep when nothing is due (a guard: a timer always falls due sooner).</summary>
    private static readonly TimeSpan MaxSleep = TimeSpan.FromSeconds(1);

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>CPU list as ranges, like taskset prints it: "0-3,6".</summary>
    internal static string DescribeCpus(IReadOnlyList<int> cpus)
    {
        var parts = new List<string>();
        for (int i = 0; i < cpus.Count;)
        {
            int j = i;
            while (j + 1 < cpus.Count && cpus[j + 1] == cpus[j] + 1)
                j++;
            parts.Add(i == j ? $"{cpus[i]}" : $"{cpus[i]}-{cpus[j]}");
            i = j + 1;
        }
        return string.Join(',', parts);
    }

    public static string KindName(LinkKind kind) => kind == LinkKind.Serial ? "serial" : "udp";

    public static string Describe(LinkConfig c) => c switch
    {
        SerialLinkConfig s => $"{s.Device}@{s.Baud}",
        UdpLinkConfig { Group: { } g } u => $"{u.Local}->{g}:{u.Port}",
        UdpLinkConfig u => $"{u.Local}->{u.Peer}:{u.Port}",
        _ => c.Name,
    };

    public void Dispose()
    {
        _stopping = true;
        _poller.Wake();
        if (_thread.IsAlive)
            _thread.Join(TimeSpan.FromSeconds(2));
        _rescue?.Dispose();
        _poller.Dispose();
        _watchPoller.Dispose();
    }
}
