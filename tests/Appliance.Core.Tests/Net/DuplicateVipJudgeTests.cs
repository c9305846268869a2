using System.Net;
using Appliance.Core.Net;

namespace Appliance.Core.Tests.Net;

/// <summary>
/// DuplicateVipJudge: who may claim the VIP, learning the peer's MAC, the peer's grace after it
/// stops, alarms that count and clear after a quiet period, and the bound on alarms. Time starts at
/// a random instant so that nothing can lean on real time or on zero.
/// </summary>
public class DuplicateVipJudgeTests
{
    private static readonly IPAddress Vip = IPAddress.Parse("192.0.2.100");
    private static readonly MacAddress Self = new(0x020000000001);
    private static readonly MacAddress Peer = new(0x020000000002);
    private static readonly MacAddress Rogue = new(0x020000000003);

    private readonly TimeSpan _t0 = TimeSpan.FromMilliseconds(Random.Shared.NextInt64(1, long.MaxValue / 1_000_000));

    private static ArpClaim Claim(MacAddress mac, IPAddress? address = null, ushort? vlan = null) =>
        new(mac, address ?? Vip, ClaimOp.ArpReply, mac, vlan);

    private TimeSpan At(double seconds) => _t0 + TimeSpan.FromSeconds(seconds);

    private static ClaimVerdict See(DuplicateVipJudge judge, MacAddress mac, TimeSpan now) => judge.Observe(Claim(mac), now, out _);

    [Fact]
    public void Own_mac_is_always_legitimate_and_nothing_is_judged_before_the_peer_role_is_known()
    {
        var judge = new DuplicateVipJudge(Vip, Self);
        Assert.Equal(ClaimVerdict.Legitimate, See(judge, Self, At(0)));
        Assert.Equal(ClaimVerdict.Unjudged, See(judge, Rogue, At(0)));
        Assert.Null(judge.Peer);
        Assert.Empty(judge.Alarms);
        judge.SetSelfHolds(true);
        judge.SetPeerActive(false, At(1));
        Assert.Equal(ClaimVerdict.Legitimate, See(judge, Self, At(2)));
    }

    [Fact]
    public void Other_addresses_and_tagged_claims_are_not_this_vip()
    {
        var judge = new DuplicateVipJudge(Vip, Self);
        judge.SetPeerActive(false, At(0));
        Assert.Equal(ClaimVerdict.NotThisVip, judge.Observe(Claim(Rogue, IPAddress.Parse("192.0.2.101")), At(1), out _));
        Assert.Equal(ClaimVerdict.NotThisVip, judge.Observe(Claim(Rogue, IPAddress.Parse("2001:db8::100")), At(1), out _));
        Assert.Equal(ClaimVerdict.NotThisVip, judge.Observe(Claim(Rogue, vlan: 10), At(1), out _));
        Assert.Empty(judge.Alarms);
    }

    [Fact]
    public void A_known_active_peer_is_legitimate_and_any_other_mac_raises_a_counting_alarm()
    {
        var judge = new DuplicateVipJudge(Vip, Self, Peer);
        judge.SetPeerActive(true, At(0));
        Assert.Equal(ClaimVerdict.Legitimate, See(judge, Peer, At(1)));

        Assert.Equal(ClaimVerdict.Duplicate, judge.Observe(Claim(Rogue), At(2), out VipAlarm first));
        Assert.Equal(new VipAlarm(Rogue, At(2), At(2), 1), first);
        Assert.True(first.IsNew);
        Assert.Equal(ClaimVerdict.Duplicate, judge.Observe(Claim(Rogue), At(3), out VipAlarm second));
        Assert.Equal(new VipAlarm(Rogue, At(2), At(3), 2), second);
        Assert.False(second.IsNew);
        Assert.Equal([second], judge.Alarms);
        Assert.False(judge.PeerLearned);
    }

    [Fact]
    public void The_first_mac_while_the_peer_is_active_is_learned_and_a_second_one_alarms()
    {
        var judge = new DuplicateVipJudge(Vip, Self);
        judge.SetPeerActive(true, At(0));
        Assert.Equal(ClaimVerdict.PeerLearned, See(judge, Peer, At(1)));
        Assert.Equal(Peer, judge.Peer);
        Assert.True(judge.PeerLearned);
        Assert.Equal(ClaimVerdict.Legitimate, See(judge, Peer, At(2)));
        Assert.Equal(ClaimVerdict.Duplicate, See(judge, Rogue, At(3)));
        Assert.Equal(Rogue, Assert.Single(judge.Alarms).Mac);
    }

    [Fact]
    public void Nothing_is_learned_while_this_node_holds_the_vip_and_a_second_mac_is_always_an_alarm()
    {
        // Learning does not wait for the peer's role (heard with a lag): the first claimant while this
        // node holds nothing is taken as the peer; if a rogue got there first, the peer's own claim
        // is the second MAC and raises the alarm, so the conflict is still seen.
        var judge = new DuplicateVipJudge(Vip, Self);
        judge.SetPeerActive(false, At(0));
        Assert.Equal(ClaimVerdict.PeerLearned, See(judge, Rogue, At(1)));
        Assert.Equal(ClaimVerdict.Duplicate, See(judge, Peer, At(2)));

        var holding = new DuplicateVipJudge(Vip, Self);
        holding.SetSelfHolds(true);
        holding.SetPeerActive(true, At(0));
        Assert.Equal(ClaimVerdict.Duplicate, See(holding, Peer, At(1)));
        Assert.Null(holding.Peer);
        holding.SetSelfHolds(false);
        Assert.Equal(ClaimVerdict.PeerLearned, See(holding, Rogue, At(2)));
    }

    [Fact]
    public void The_peer_keeps_a_grace_after_it_stops_then_its_claims_are_duplicates()
    {
        var judge = new DuplicateVipJudge(Vip, Self, Peer);
        judge.SetSelfHolds(true); // this node took over: the peer must let go
        judge.SetPeerActive(true, At(0));
        judge.SetPeerActive(false, At(10));
        judge.SetPeerActive(false, At(15)); // repeated reports do not move the start of the grace
        Assert.Equal(ClaimVerdict.Legitimate, See(judge, Peer, At(10) + DuplicateVipJudge.PeerGrace - TimeSpan.FromTicks(1)));
        Assert.Equal(ClaimVerdict.Duplicate, See(judge, Peer, At(10) + DuplicateVipJudge.PeerGrace));
    }

    [Fact]
    public void A_peer_never_seen_active_has_no_grace()
    {
        var judge = new DuplicateVipJudge(Vip, Self, Peer);
        judge.SetSelfHolds(true);
        judge.SetPeerActive(false, At(0));
        Assert.Equal(ClaimVerdict.Duplicate, See(judge, Peer, At(0)));
    }

    [Fact]
    public void While_this_node_holds_nothing_the_known_peer_may_claim_whatever_role_was_last_heard()
    {
        // The peer's role arrives with lag; a takeover announces at once. Only a third MAC is a duplicate here.
        var judge = new DuplicateVipJudge(Vip, Self, Peer);
        judge.SetPeerActive(false, At(0));
        Assert.Equal(ClaimVerdict.Legitimate, See(judge, Peer, At(100)));
        Assert.Equal(ClaimVerdict.Duplicate, See(judge, Rogue, At(101)));
    }

    [Fact]
    public void An_alarm_clears_after_a_quiet_period_and_is_new_again_when_the_mac_returns()
    {
        var judge = new DuplicateVipJudge(Vip, Self, Peer);
        judge.SetPeerActive(true, At(0));
        See(judge, Rogue, At(1));
        See(judge, Rogue, At(20));
        Assert.Empty(judge.Expire(At(20) + DuplicateVipJudge.QuietPeriod - TimeSpan.FromTicks(1)));
        Assert.Single(judge.Alarms);

        var cleared = judge.Expire(At(20) + DuplicateVipJudge.QuietPeriod);
        Assert.Equal([new VipAlarm(Rogue, At(1), At(20), 2)], cleared);
        Assert.Empty(judge.Alarms);
        Assert.Empty(judge.Expire(At(100)));

        Assert.Equal(ClaimVerdict.Duplicate, judge.Observe(Claim(Rogue), At(200), out VipAlarm again));
        Assert.True(again.IsNew);
        Assert.Equal(At(200), again.FirstSeen);
    }

    [Fact]
    public void Alarms_are_bounded_and_the_rest_counted()
    {
        var judge = new DuplicateVipJudge(Vip, Self, Peer);
        judge.SetPeerActive(true, At(0));
        for (int i = 0; i < DuplicateVipJudge.AlarmsMax; i++)
            Assert.Equal(ClaimVerdict.Duplicate, See(judge, new MacAddress(0x0A0000000000u + (ulong)i), At(1)));
        Assert.Equal(ClaimVerdict.DuplicateUntracked, See(judge, new MacAddress(0x0B0000000000), At(2)));
        Assert.Equal(ClaimVerdict.Duplicate, See(judge, new MacAddress(0x0A0000000000), At(2)));
        Assert.Equal(DuplicateVipJudge.AlarmsMax, judge.Alarms.Count);
        Assert.Equal(1, judge.UntrackedClaims);
    }

    [Fact]
    public void Arp_claims_parsed_from_frames_drive_the_judge()
    {
        byte[] frame = new byte[AnnounceFrames.NeighborAdvertisementFrameBytes];
        var vip6 = IPAddress.Parse("2001:db8::100");
        var judge = new DuplicateVipJudge(vip6, Self);
        judge.SetPeerActive(true, At(0));
        foreach (var (mac, verdict) in new[] { (Self, ClaimVerdict.Legitimate), (Peer, ClaimVerdict.PeerLearned), (Rogue, ClaimVerdict.Duplicate) })
        {
            byte[] bytes = new byte[6];
            mac.WriteTo(bytes);
            int n = AnnounceFrames.BuildUnsolicitedNeighborAdvertisement(bytes, vip6, frame);
            Assert.True(ArpClaims.TryParseClaim(frame.AsSpan(0, n), out ArpClaim claim));
            Assert.Equal(verdict, judge.Observe(claim, At(1), out _));
        }
    }
}
