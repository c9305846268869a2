using Appliance.Core.Config;
using Appliance.Core.Net;
using Appliance.Linux.Net;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon;

/// <summary>One raised duplicate-VIP alarm, for status: times are wall clock, for people.</summary>
internal sealed record DuplicateVipAlarm(
    string Vip, string Interface, string Mac, DateTimeOffset FirstSeen, DateTimeOffset LastSeen, long Count, string Message);

/// <summary>One watched VIP, for status: whether its interface is being listened to, and who may claim it.</summary>
internal sealed record WatchedVip(string Vip, string Interface, bool Listening, string? SelfMac, string? PeerMac, bool PeerLearned, string Detail,
    long ProbesSent = 0);

/// <summary>
/// Watches ARP and neighbour advertisements for every configured VIP and raises an alarm when a
/// MAC other than this node's and the active peer's claims one: a duplicate VIP is a split brain
/// made visible. One <see cref="ArpListener"/> per interface; each VIP has its own
/// <see cref="DuplicateVipJudge"/> fed with monotonic time. The daemon tells it the roles
/// (<see cref="SetPeerActive"/>, <see cref="SetSelfHolds"/>); until the first
/// <see cref="SetPeerActive"/> nothing is judged. An alarm is logged once per offending MAC and
/// episode, and cleared after <see cref="DuplicateVipJudge.QuietPeriod"/>. A listener that cannot
/// open (no CAP_NET_RAW, interface missing) or fails is logged once and retried every
/// <see cref="RetryInterval"/>; nothing here throws into the daemon.
/// </summary>
/// <remarks>
/// Listening alone hears what is broadcast (gratuitous ARP, ARP requests). On a switched network the
/// holder's replies to other hosts are unicast and never reach this port, so a box that holds the
/// VIP quietly would go unseen. So the watch also asks: every <see cref="ProbeInterval"/> it sends an
/// ARP probe (RFC 5227: sender IP 0.0.0.0, so nobody's cache changes) for each IPv4 VIP and a
/// duplicate-address-detection neighbour solicitation (RFC 4862, from ::) for each IPv6 one, and
/// whoever holds it answers (IPv4: to this node; IPv6: to all nodes); the answer is a claim like
/// any other.
/// </remarks>
internal sealed class DuplicateVipWatch : IAsyncDisposable
{
    /// <summary>Wait before reopening a listener that could not open or stopped: an interface may come back.</summary>
    public static readonly TimeSpan RetryInterval = TimeSpan.FromSeconds(5);

    /// <summary>How often quiet alarms are looked for; a fraction of the quiet period, so clearing is timely.</summary>
    public static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How often each VIP is probed: one frame of 42 (ARP) or 78 (NS) bytes per VIP, well within
    /// <see cref="DuplicateVipJudge.QuietPeriod"/>, so a quiet holder keeps its alarm up.
    /// </summary>
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(2);

    private sealed class Vip(VipResourceConfig config)
    {
        public VipResourceConfig Config { get; } = config;
        public DuplicateVipJudge? Judge { get; set; }
    }

    private sealed class Link(string name, Vip[] vips)
    {
        public string Name { get; } = name;
        public Vip[] Vips { get; } = vips;
        public bool Listening { get; set; }
        public string Detail { get; set; } = "not started";
        public long ProbesSent { get; set; }
    }

    private readonly Link[] _links;
    private readonly ILogger _log;
    private readonly Func<string, ArpListener> _open;
    private readonly Func<string, RawFrameSender> _openSender;
    private readonly TimeSpan _probeInterval;
    private readonly TimeProvider _time;
    private readonly long _origin;
    private readonly object _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private Task[] _loops = [];
    private bool? _peerActive;
    private bool _selfHolds;

    public DuplicateVipWatch(IEnumerable<VipResourceConfig> vips, ILogger log)
        : this(vips, log, ArpListener.Open, RawFrameSender.Open, ProbeInterval, TimeProvider.System)
    {
    }

    /// <param name="open">Opens the listener of an interface (tests open it inside a network namespace).</param>
    /// <param name="openSender">Opens the sender of an interface's probes, likewise.</param>
    internal DuplicateVipWatch(IEnumerable<VipResourceConfig> vips, ILogger log, Func<string, ArpListener> open,
        Func<string, RawFrameSender> openSender, TimeSpan probeInterval, TimeProvider time)
    {
        _links = vips.GroupBy(v => v.Interface, StringComparer.Ordinal)
            .Select(g => new Link(g.Key, g.Select(v => new Vip(v)).ToArray()))
            .ToArray();
        _log = log;
        _open = open;
        _openSender = openSender;
        _probeInterval = probeInterval;
        _time = time;
        _origin = time.GetTimestamp();
    }

    private TimeSpan Now => _time.GetElapsedTime(_origin);

    /// <summary>The peer holds or is taking the VIPs (its role is active or takeover), as the daemon last heard.</summary>
    public void SetPeerActive(bool peerActive)
    {
        lock (_gate)
        {
            _peerActive = peerActive;
            foreach (var judge in Judges())
                judge.SetPeerActive(peerActive, Now);
        }
    }

    /// <summary>This node holds the VIPs (its resources are started or starting).</summary>
    public void SetSelfHolds(bool selfHolds)
    {
        lock (_gate)
        {
            _selfHolds = selfHolds;
            foreach (var judge in Judges())
                judge.SetSelfHolds(selfHolds);
        }
    }

    /// <summary>Starts one listening loop per interface and the sweep that clears quiet alarms.</summary>
    public void Start()
    {
        if (_loops.Length > 0)
            throw new InvalidOperationException("the duplicate VIP watch is already started");
        _loops = [.. _links.Select(l => ListenLoop(l, _stop.Token)), SweepLoop(_stop.Token)];
    }

    /// <summary>The alarms now raised, oldest first per VIP.</summary>
    public IReadOnlyList<DuplicateVipAlarm> Alarms
    {
        get
        {
            lock (_gate)
            {
                TimeSpan now = Now;
                DateTimeOffset wallNow = _time.GetUtcNow();
                return _links.SelectMany(l => l.Vips.Where(v => v.Judge is not null).SelectMany(v => v.Judge!.Alarms.Select(a =>
                        new DuplicateVipAlarm(v.Config.Address.Address.ToString(), l.Name, a.Mac.ToString(),
                            wallNow - (now - a.FirstSeen), wallNow - (now - a.LastSeen), a.Count, Message(v.Judge, l.Name, a)))))
                    .ToArray();
            }
        }
    }

    /// <summary>Every configured VIP and how it is watched.</summary>
    public IReadOnlyList<WatchedVip> Watched
    {
        get
        {
            lock (_gate)
            {
                return _links.SelectMany(l => l.Vips.Select(v => new WatchedVip(v.Config.Address.Address.ToString(), l.Name, l.Listening,
                        v.Judge?.Self.ToString(), v.Judge?.Peer?.ToString(), v.Judge?.PeerLearned ?? false, l.Detail, l.ProbesSent)))
                    .ToArray();
            }
        }
    }

    private IEnumerable<DuplicateVipJudge> Judges() =>
        _links.SelectMany(l => l.Vips).Select(v => v.Judge).OfType<DuplicateVipJudge>();

    private async Task ListenLoop(Link link, CancellationToken ct)
    {
        string vips = string.Join(", ", link.Vips.Select(v => v.Config.Address.Address));
        bool openFailureLogged = false;
        while (!ct.IsCancellationRequested)
        {
            ArpListener? listener = null;
            try
            {
                listener = _open(link.Name);
                Attach(link, listener);
                Trace.ArpWatching(_log, link.Name, listener.Mac.ToString(), vips);
                openFailureLogged = false;
                await ListenAndProbe(link, listener, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // Whatever went wrong (no CAP_NET_RAW, no such interface, it went away, a bug in a
                // callback) costs this interface's watch, not the daemon: say so and try again.
                lock (_gate)
                {
                    link.Listening = false;
                    link.Detail = e.Message;
                }
                if (listener is not null)
                    Trace.ArpWatchLost(_log, link.Name, e.Message, (long)RetryInterval.TotalMilliseconds);
                else if (!openFailureLogged)
                {
                    Trace.ArpWatchOpenFailed(_log, link.Name, e.Message, (long)RetryInterval.TotalMilliseconds);
                    openFailureLogged = true;
                }
            }
            finally
            {
                listener?.Dispose();
            }
            try
            {
                await Task.Delay(RetryInterval, _time, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>
    /// Receives claims until the listener fails or the watch stops, probing the link's VIPs
    /// meanwhile. Probing is best effort: a sender that cannot open costs the probes, not the listening.
    /// </summary>
    private async Task ListenAndProbe(Link link, ArpListener listener, CancellationToken ct)
    {
        RawFrameSender? sender = null;
        var vips = link.Vips.Select(v => v.Config.Address.Address).ToArray();
        try
        {
            sender = _openSender(link.Name);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException)
        {
            lock (_gate)
                link.Detail += $"; not probing: {e.Message}";
        }
        if (sender is not null)
        {
            lock (_gate)
                link.Detail += $"; probing every {_probeInterval.TotalSeconds:0.#} s";
        }
        using var probing = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Task probes = sender is null ? Task.CompletedTask : ProbeLoop(link, sender, vips, probing.Token);
        try
        {
            await listener.RunAsync(claim => OnClaim(link, claim), ct).ConfigureAwait(false);
        }
        finally
        {
            probing.Cancel();
            await probes.ConfigureAwait(false);
            sender?.Dispose();
        }
    }

    /// <summary>One probe per VIP (ARP or neighbour solicitation) at once, then every probe interval, until cancelled.</summary>
    private async Task ProbeLoop(Link link, RawFrameSender sender, System.Net.IPAddress[] vips, CancellationToken ct)
    {
        byte[] frame = new byte[Math.Max(AnnounceFrames.ArpFrameBytes, AnnounceFrames.NeighborSolicitationProbeFrameBytes)];
        using var timer = new PeriodicTimer(_probeInterval, _time);
        try
        {
            do
            {
                foreach (var vip in vips)
                {
                    int n = vip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
                        ? AnnounceFrames.BuildArpProbe(sender.Mac, vip, frame)
                        : AnnounceFrames.BuildNeighborSolicitationProbe(sender.Mac, vip, frame);
                    if (sender.Send(frame.AsSpan(0, n)))
                        lock (_gate)
                            link.ProbesSent++;
                }
            }
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>A listener is open: make (or keep) each VIP's judge for this interface's MAC and tell it the roles.</summary>
    private void Attach(Link link, ArpListener listener)
    {
        lock (_gate)
        {
            foreach (var vip in link.Vips)
            {
                // Alarms and a learned peer survive a reopen unless the interface has another MAC now.
                if (vip.Judge?.Self == listener.Mac)
                    continue;
                vip.Judge = new DuplicateVipJudge(vip.Config.Address.Address, listener.Mac);
                vip.Judge.SetSelfHolds(_selfHolds);
                if (_peerActive is { } peerActive)
                    vip.Judge.SetPeerActive(peerActive, Now);
            }
            link.Listening = true;
            link.Detail = $"listening as {listener.Mac}";
        }
    }

    private void OnClaim(Link link, ArpClaim claim)
    {
        lock (_gate)
        {
            TimeSpan now = Now;
            foreach (var vip in link.Vips)
            {
                var judge = vip.Judge!;
                switch (judge.Observe(claim, now, out VipAlarm alarm))
                {
                    case ClaimVerdict.PeerLearned:
                        Trace.ArpPeerLearned(_log, judge.Vip.ToString(), link.Name, claim.Mac.ToString());
                        break;
                    case ClaimVerdict.Duplicate when alarm.IsNew:
                        Trace.DuplicateVip(_log, judge.Vip.ToString(), link.Name, alarm.Mac.ToString(), Who(judge, alarm));
                        break;
                }
            }
        }
    }

    private async Task SweepLoop(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(SweepInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                lock (_gate)
                {
                    TimeSpan now = Now;
                    foreach (var link in _links)
                        foreach (var vip in link.Vips)
                            foreach (var cleared in vip.Judge?.Expire(now) ?? [])
                                Trace.DuplicateVipCleared(_log, vip.Judge!.Vip.ToString(), link.Name, cleared.Mac.ToString(), cleared.Count,
                                    (long)DuplicateVipJudge.QuietPeriod.TotalSeconds);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The status line of an alarm; the log says the same through <see cref="Trace.DuplicateVip"/>.</summary>
    private static string Message(DuplicateVipJudge judge, string interfaceName, VipAlarm alarm) =>
        $"DUPLICATE VIP {judge.Vip} on {interfaceName}: claimed by {alarm.Mac} ({Who(judge, alarm)}) — two nodes may hold it";

    /// <summary>Why the claimer may not claim the VIP, in words.</summary>
    private static string Who(DuplicateVipJudge judge, VipAlarm alarm) => judge.Peer switch
    {
        { } peer when peer == alarm.Mac => "the peer, which is not active",
        { } peer when judge.SelfHolds => $"not the peer {peer}, and this node holds it",
        { } peer when judge.PeerActive == true => $"not the active peer {peer}",
        { } peer => $"not the peer {peer}, which is not active either",
        null when judge.SelfHolds => "this node holds it",
        null => "the peer is not active and its MAC not known",
    };

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await Task.WhenAll(_loops).ConfigureAwait(false);
        _stop.Dispose();
    }
}
