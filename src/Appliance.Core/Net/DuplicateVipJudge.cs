using System.Diagnostics;
using System.Net;

namespace Appliance.Core.Net;

/// <summary>What <see cref="DuplicateVipJudge.Observe"/> made of one claim.</summary>
public enum ClaimVerdict
{
    /// <summary>A claim for another address, or one inside an 802.1Q tag (another broadcast domain).</summary>
    NotThisVip,

    /// <summary>The host has not yet said whether the peer is active: there is nothing to judge against.</summary>
    Unjudged,

    /// <summary>This node's own MAC, or the peer's while it is active (or just stopped being).</summary>
    Legitimate,

    /// <summary>The peer's MAC was unknown; this one is now taken as the peer's.</summary>
    PeerLearned,

    /// <summary>Some other MAC claims the VIP: the alarm was raised or counted.</summary>
    Duplicate,

    /// <summary>As <see cref="Duplicate"/>, but <see cref="DuplicateVipJudge.AlarmsMax"/> alarms are already up: counted only.</summary>
    DuplicateUntracked,
}

/// <summary>
/// A MAC that claimed the VIP although it may not: when it was first and last seen (host monotonic
/// time) and how many claims it made since the alarm was raised.
/// </summary>
public readonly record struct VipAlarm(MacAddress Mac, TimeSpan FirstSeen, TimeSpan LastSeen, long Count)
{
    /// <summary>The claim that raised the alarm: the host reports it once per episode.</summary>
    public bool IsNew => Count == 1;
}

/// <summary>
/// Judges the claims seen for one VIP (ARP or neighbour advertisement, from <see cref="ArpClaims"/>):
/// a MAC other than this node's and the active peer's that says it holds the VIP is a duplicate,
/// which in a two-node pair is a split brain made visible. Pure and single-threaded: the host feeds
/// it claims, the peer's role and its own (<see cref="SetPeerActive"/>, <see cref="SetSelfHolds"/>)
/// with its monotonic <c>now</c>, and calls <see cref="Expire"/> now and then to clear quiet alarms.
/// </summary>
/// <remarks>
/// The peer's MAC is not in the configuration. Unless given, it is learned: the first MAC other than
/// this node's that claims the VIP while this node holds nothing (the peer's role is heard with a lag, so it is not required)
/// is taken as the peer's, and is kept for the judge's life. From then on a second, distinct MAC is
/// a duplicate, and so is the peer's own MAC while this node holds the VIP, once the peer has not
/// been active for <see cref="PeerGrace"/>. The trust is in the timing: while this node holds
/// nothing, whoever announces the VIP is almost surely the peer; if a rogue was first, the peer's
/// own claim is the second MAC and the conflict is still reported. A peer whose MAC changes (a new board) reads as a
/// duplicate until this judge is made anew.
/// </remarks>
public sealed class DuplicateVipJudge
{
    /// <summary>
    /// An alarm clears after this long without a claim from its MAC. A holder re-announces at least
    /// every GARP refresh and answers every ARP request for the VIP, so 30 s of silence means it let go.
    /// </summary>
    public static readonly TimeSpan QuietPeriod = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The peer's MAC stays legitimate this long after the host says the peer stopped being active:
    /// a releasing peer may still answer ARP until its `ip addr del`, and the host learns roles with
    /// some lag. A real duplicate from the peer still alarms once the grace is over.
    /// </summary>
    public static readonly TimeSpan PeerGrace = TimeSpan.FromSeconds(10);

    /// <summary>Most alarms kept per VIP: a flood of forged MACs must not grow memory; the rest are counted.</summary>
    public const int AlarmsMax = 16;

    private readonly List<VipAlarm> _alarms = new(AlarmsMax);
    private bool? _peerActive;
    private TimeSpan? _peerStoppedAt;

    /// <param name="vip">The address judged; claims for others are <see cref="ClaimVerdict.NotThisVip"/>.</param>
    /// <param name="self">This node's MAC on the VIP's interface: always legitimate.</param>
    /// <param name="peer">The peer's MAC when known; null: learn it (see remarks).</param>
    public DuplicateVipJudge(IPAddress vip, MacAddress self, MacAddress? peer = null)
    {
        ArgumentNullException.ThrowIfNull(vip);
        Vip = vip;
        Self = self;
        Peer = peer;
    }

    public IPAddress Vip { get; }

    public MacAddress Self { get; }

    /// <summary>The peer's MAC, given or learned; null while unknown.</summary>
    public MacAddress? Peer { get; private set; }

    /// <summary>Whether <see cref="Peer"/> was learned from a claim rather than given.</summary>
    public bool PeerLearned { get; private set; }

    /// <summary>Whether the peer is active, as the host last said; null until it has.</summary>
    public bool? PeerActive => _peerActive;

    /// <summary>Whether this node holds the VIP, as the host last said.</summary>
    public bool SelfHolds { get; private set; }

    /// <summary>Claims counted as <see cref="ClaimVerdict.DuplicateUntracked"/>.</summary>
    public long UntrackedClaims { get; private set; }

    /// <summary>The alarms raised and not yet cleared, oldest first.</summary>
    public IReadOnlyList<VipAlarm> Alarms => _alarms;

    /// <summary>The peer is (or is no longer) active, i.e. holding or taking the VIP.</summary>
    public void SetPeerActive(bool active, TimeSpan now)
    {
        if (_peerActive == true && !active)
            _peerStoppedAt = now;
        _peerActive = active;
    }

    /// <summary>This node holds (or no longer holds) the VIP. While it does, no peer MAC is learned.</summary>
    public void SetSelfHolds(bool holds) => SelfHolds = holds;

    /// <summary>Judges one claim seen at <paramref name="now"/>; <paramref name="alarm"/> is the alarm's state after a <see cref="ClaimVerdict.Duplicate"/>.</summary>
    public ClaimVerdict Observe(in ArpClaim claim, TimeSpan now, out VipAlarm alarm)
    {
        alarm = default;
        if (claim.Vlan is not null || !Vip.Equals(claim.Address))
            return ClaimVerdict.NotThisVip;
        if (claim.Mac == Self)
            return ClaimVerdict.Legitimate;
        if (_peerActive is not { } peerActive)
            return ClaimVerdict.Unjudged;
        // Learned from the first other MAC while this node holds nothing: then only the peer may
        // hold the VIP (its role, heard with a lag, is not required: a takeover announces at once).
        if (Peer is null && !SelfHolds)
        {
            Peer = claim.Mac;
            PeerLearned = true;
            return ClaimVerdict.PeerLearned;
        }
        // While this node holds nothing, the peer is the one that may hold the VIP: its claims are
        // legitimate whatever role this node last heard (the role arrives with some lag, and a
        // takeover announces at once). While this node holds it, only a peer that is active (a
        // switchover under way) or stopped within PeerGrace may still claim it.
        // _peerStoppedAt is null (the comparison false) if the peer was never seen active.
        if (claim.Mac == Peer && (!SelfHolds || peerActive || now - _peerStoppedAt < PeerGrace))
            return ClaimVerdict.Legitimate;

        MacAddress offender = claim.Mac;
        int i = _alarms.FindIndex(a => a.Mac == offender);
        if (i >= 0)
        {
            alarm = _alarms[i] with { LastSeen = now, Count = _alarms[i].Count + 1 };
            _alarms[i] = alarm;
            return ClaimVerdict.Duplicate;
        }
        if (_alarms.Count >= AlarmsMax)
        {
            UntrackedClaims++;
            return ClaimVerdict.DuplicateUntracked;
        }
        alarm = new VipAlarm(offender, now, now, 1);
        _alarms.Add(alarm);
        Debug.Assert(_alarms.Count <= AlarmsMax);
        return ClaimVerdict.Duplicate;
    }

    /// <summary>Clears and returns the alarms whose MAC has been silent for <see cref="QuietPeriod"/> at <paramref name="now"/>.</summary>
    public IReadOnlyList<VipAlarm> Expire(TimeSpan now)
    {
        bool Quiet(VipAlarm a) => now - a.LastSeen >= QuietPeriod;
        List<VipAlarm> cleared = _alarms.FindAll(Quiet);
        _alarms.RemoveAll(Quiet);
        return cleared;
    }
}
