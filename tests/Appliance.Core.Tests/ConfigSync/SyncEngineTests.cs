using System.Text;
using Appliance.Core.ConfigSync;

namespace Appliance.Core.Tests.ConfigSync;

public class SyncEngineTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromMinutes(5);

    private const string V1 = "cluster: {name: edge}\n# v1\n";

    private static SyncPair InSync(int seed = 1, SyncLimits? limits = null)
    {
        var p = new SyncPair(seed, limits);
        p.Start(V1, V1);
        p.RunUntil(() => p.A.State == SyncState.InSync && p.B.State == SyncState.InSync, Generous, "both in sync at start");
        return p;
    }

    private static string Big(int bytes, string tag)
    {
        var sb = new StringBuilder($"# {tag}\n");
        int i = 0;
        while (sb.Length < bytes)
            sb.Append($"      - {{address: 10.0.{i / 250}.{i++ % 250 + 1}:8080, weight: {i % 7 + 1}}}\n");
        return sb.ToString()[..bytes];
    }

    [Fact]
    public void Two_nodes_with_the_same_file_agree_on_it_and_put_it_in_their_keepalives()
    {
        var p = InSync();
        Assert.Equal(p.A.Engine.Local, p.B.Engine.Local);
        Assert.Equal(p.A.Engine.Local, p.A.Engine.Agreed);
        Assert.Equal(p.B.Engine.Local, p.B.Persisted.Agreed);
        Assert.NotEqual(KeepaliveWord.NotReported, p.A.Word);
        Assert.Equal(p.A.Word, p.B.Word);
        Assert.Equal("both run v1 (" + p.A.Engine.Local.Hash.Short + ")", p.A.Engine.View().Detail);
        Assert.Empty(p.A.Applies);
        Assert.Empty(p.B.Applies);
    }

    [Fact]
    public void A_commit_is_replicated_applied_by_the_peer_and_its_report_ends_the_commit()
    {
        var p = InSync();
        var start = p.Commit(p.A, V1 + "timers: changed\n");
        Assert.NotNull(start.Op);
        Assert.Equal(SyncState.LocalNewer, p.A.State);
        p.RunUntil(() => p.A.Ended.Count == 1, Generous, "the replication ends");
        var end = p.A.EndOf(start.Op!.Value);
        Assert.True(end.Ok, end.Message);
        Assert.Equal(ApplyOutcome.Applied, end.Report!.Outcome);
        Assert.Equal(p.A.Running, p.B.Running);
        Assert.Single(p.B.Applies);
        Assert.Equal(TransferKind.Replicate, p.B.Applies[0].Kind);
        Assert.False(p.B.Applies[0].Force);
        p.RunFor(TimeSpan.FromSeconds(2));
        Assert.Equal(SyncState.InSync, p.A.State);
        Assert.Equal(SyncState.InSync, p.B.State);
        // The pair's counter: alpha counted one up, beta keeps alpha's number.
        Assert.Equal(2u, p.A.Engine.Local.Counter);
        Assert.Equal(p.A.Engine.Local, p.B.Engine.Local);
        Assert.Equal(p.A.Engine.Local, p.B.Engine.Agreed);
        Assert.Equal(p.A.Engine.Local, p.A.Engine.Agreed);
    }

    [Fact]
    public void A_config_the_peer_refuses_leaves_the_peer_on_its_own_and_both_say_why()
    {
        var p = InSync();
        var before = p.B.Running;
        var start = p.Commit(p.A, V1 + "timers: {keepalive: bad:}\n");
        p.RunUntil(() => p.A.Ended.Count == 1, Generous, "the replication ends");
        var end = p.A.EndOf(start.Op!.Value);
        Assert.False(end.Ok);
        Assert.Contains("to beta: refused", end.Message);
        Assert.Contains("appliance.yaml:1:", end.Message);
        Assert.Equal(before, p.B.Running);
        Assert.Contains(p.B.Notes, n => n.Kind == SyncNoteKind.Reported && n.Message.Contains("refused") && n.Message.Contains("appliance.yaml:1:"));
        Assert.Contains("appliance.yaml:1:", p.B.Engine.View().LastOutcome);
        Assert.Contains("appliance.yaml:1:", p.A.Engine.View().LastOutcome);
        // alpha stays "local newer" and does not retry the same config by itself.
        int offers = p.A.SentMessages.OfType<OfferMessage>().Count();
        p.RunFor(TimeSpan.FromMinutes(2));
        Assert.Equal(SyncState.LocalNewer, p.A.State);
        Assert.Equal(SyncState.PeerNewer, p.B.State);
        Assert.Equal(offers, p.A.SentMessages.OfType<OfferMessage>().Count());
        Assert.Contains("refused", p.A.Engine.View().Detail);
    }

    [Fact]
    public void A_commit_during_a_partition_is_replicated_when_it_heals()
    {
        var p = InSync();
        p.Connected = false;
        p.RunFor(TimeSpan.FromSeconds(2));
        Assert.Equal(SyncState.Unknown, p.A.State);
        var start = p.Commit(p.A, V1 + "# during the partition\n");
        Assert.Null(start.Op);
        Assert.Contains("not heard", start.Note);
        p.RunFor(TimeSpan.FromSeconds(30));
        Assert.Empty(p.B.Applies);
        p.Connected = true;
        p.RunUntil(() => p.A.State == SyncState.InSync && p.B.State == SyncState.InSync, Generous, "in sync after the heal");
        Assert.Equal(p.A.Running, p.B.Running);
        Assert.Single(p.B.Applies);
    }

    [Fact]
    public void A_commit_on_each_side_of_a_partition_diverges_and_neither_wins_by_itself()
    {
        var p = InSync();
        p.Connected = false;
        p.RunFor(TimeSpan.FromSeconds(2));
        p.Commit(p.A, V1 + "# alpha's change\n");
        p.Commit(p.B, V1 + "# beta's change\n");
        Assert.Equal(p.A.Engine.Local.Counter, p.B.Engine.Local.Counter); // same number, different content
        p.Connected = true;
        p.RunUntil(() => p.A.State == SyncState.Diverged && p.B.State == SyncState.Diverged, Generous, "both see the divergence");
        p.RunFor(TimeSpan.FromMinutes(3));
        Assert.Empty(p.A.Applies);
        Assert.Empty(p.B.Applies);
        Assert.Equal(SyncState.Diverged, p.A.State);
        Assert.Contains("config push", p.A.Engine.View().Detail);
        Assert.Contains(p.A.Notes, n => n.Kind == SyncNoteKind.StateChanged && n.Message.StartsWith("config diverged"));
        // A commit on one side while diverged is not replicated either.
        var again = p.Commit(p.A, V1 + "# alpha's second change\n");
        Assert.Null(again.Op);
        Assert.Contains("not replicated", again.Note);
        // The operator chooses: push from alpha.
        long push = p.Push(p.A);
        p.RunUntil(() => p.A.Ended.Any(e => e.Op == push), Generous, "the push ends");
        Assert.True(p.A.EndOf(push).Ok, p.A.EndOf(push).Message);
        Assert.Equal(p.A.Running, p.B.Running);
        p.RunUntil(() => p.A.State == SyncState.InSync && p.B.State == SyncState.InSync, Generous, "in sync after the push");
        Assert.True(p.B.Engine.Local.Counter > 2);
    }

    [Fact]
    public void Commits_crossing_on_both_nodes_at_once_are_both_refused_as_stale()
    {
        var p = InSync();
        var a = p.Commit(p.A, V1 + "# alpha\n");
        var b = p.Commit(p.B, V1 + "# beta\n");
        p.RunUntil(() => p.A.Ended.Count == 1 && p.B.Ended.Count == 1, Generous, "both replications end");
        Assert.False(p.A.EndOf(a.Op!.Value).Ok);
        Assert.False(p.B.EndOf(b.Op!.Value).Ok);
        Assert.Contains("diverged", p.A.EndOf(a.Op!.Value).Message);
        Assert.Empty(p.A.Applies);
        Assert.Empty(p.B.Applies);
        p.RunFor(TimeSpan.FromSeconds(2));
        Assert.Equal(SyncState.Diverged, p.A.State);
        Assert.Equal(SyncState.Diverged, p.B.State);
    }

    [Fact]
    public void Pull_applies_the_peer_config_here_and_reports_to_both()
    {
        var p = InSync();
        p.Connected = false;
        p.RunFor(TimeSpan.FromSeconds(2));
        p.Commit(p.A, V1 + "# alpha\n");
        p.Commit(p.B, V1 + "# beta\n");
        p.Connected = true;
        p.RunUntil(() => p.B.State == SyncState.Diverged, Generous, "diverged");
        long pull = p.Pull(p.B);
        p.RunUntil(() => p.B.Ended.Any(e => e.Op == pull), Generous, "the pull ends");
        var end = p.B.EndOf(pull);
        Assert.True(end.Ok, end.Message);
        Assert.Equal(TransferKind.PullReply, p.B.Applies.Single().Kind);
        Assert.Equal(p.A.Running, p.B.Running);
        p.RunUntil(() => p.A.State == SyncState.InSync && p.B.State == SyncState.InSync, Generous, "in sync after the pull");
        p.RunUntil(() => p.A.Notes.Any(n => n.Kind == SyncNoteKind.Reported && n.Message.Contains("to beta: applied")), Generous,
            "alpha hears beta's report too");
    }

    [Fact]
    public void Fetch_returns_the_peer_text_and_applies_nothing()
    {
        var p = InSync();
        p.Connected = false;
        p.RunFor(TimeSpan.FromSeconds(2));
        string beta = Big(20_000, "beta");
        p.Commit(p.B, beta);
        p.Connected = true;
        p.RunFor(TimeSpan.FromSeconds(2));
        long fetch = p.Fetch(p.A);
        p.RunUntil(() => p.A.Ended.Any(e => e.Op == fetch), Generous, "the fetch ends");
        var end = p.A.EndOf(fetch);
        Assert.True(end.Ok, end.Message);
        Assert.Equal(beta, Encoding.UTF8.GetString(end.Text!.Value.Span));
        Assert.DoesNotContain(p.A.Applies, a => a.Kind == TransferKind.FetchReply);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void A_large_config_crosses_a_lossy_reordering_duplicating_link(int seed)
    {
        var p = InSync(seed);
        p.Loss = 0.3;
        p.Duplicate = 0.1;
        p.Jitter = TimeSpan.FromMilliseconds(40);
        string big = Big(200_000, "big");
        var start = p.Commit(p.A, big);
        p.RunUntil(() => p.A.Ended.Count == 1, TimeSpan.FromMinutes(30), "the replication ends");
        var end = p.A.EndOf(start.Op!.Value);
        Assert.True(end.Ok, end.Message);
        Assert.Equal(big, Encoding.UTF8.GetString(p.B.Running));
        Assert.Single(p.B.Applies);
        Assert.True(p.A.Engine.View().Retransmissions > 0);
        Assert.True(p.Delivered.Count(d => d.To == p.B && d.Payload[0] == (byte)SyncMessageType.Fragment) > SyncLimits.FragmentCount(big.Length));
    }

    [Fact]
    public void Every_message_delivered_twice_still_applies_once()
    {
        var p = InSync();
        p.Duplicate = 1.0;
        var start = p.Commit(p.A, Big(5000, "dup"));
        p.RunUntil(() => p.A.Ended.Count == 1, Generous, "the replication ends");
        Assert.True(p.A.EndOf(start.Op!.Value).Ok);
        Assert.Single(p.B.Applies);
        p.RunFor(TimeSpan.FromSeconds(30));
        Assert.Single(p.B.Applies);
    }

    [Fact]
    public void The_receiver_refuses_an_offer_above_its_bound_before_any_fragment()
    {
        var big = SyncLimits.Default with { MaxConfigBytes = 1024 * 1024 };
        var p = new SyncPair(1, limits: big, limitsB: SyncLimits.Default);
        p.Start(V1, V1);
        p.RunUntil(() => p.A.State == SyncState.InSync, Generous, "in sync");
        var start = p.Commit(p.A, Big(300 * 1024, "huge"));
        p.RunUntil(() => p.A.Ended.Count == 1, Generous, "ends");
        var end = p.A.EndOf(start.Op!.Value);
        Assert.False(end.Ok);
        Assert.Contains("above the limit of 262144 bytes", end.Message);
        Assert.DoesNotContain(p.A.SentMessages, m => m is FragmentMessage);
        // And a sender does not even offer what its own bound forbids.
        var q = InSync();
        var s2 = q.Commit(q.A, Big(300 * 1024, "huge"));
        Assert.Null(s2.Op);
        Assert.Contains("above the 262144 bytes", s2.Note);
        long push = q.Push(q.A);
        Assert.False(q.A.EndOf(push).Ok);
    }

    [Fact]
    public void A_whole_that_does_not_hash_to_the_offer_is_refused_and_not_applied()
    {
        var p = InSync();
        // A sender bug (or memory corruption): the fragments are authentic but are not what the offer hashed.
        p.Tamper = (to, payload) =>
        {
            if (to == p.B && payload[0] == (byte)SyncMessageType.Fragment)
            {
                var copy = (byte[])payload.Clone();
                copy[^1] ^= 1;
                return copy;
            }
            return payload;
        };
        var start = p.Commit(p.A, V1 + "# tampered\n");
        p.RunUntil(() => p.A.Ended.Count == 1, Generous, "ends");
        Assert.False(p.A.EndOf(start.Op!.Value).Ok);
        Assert.Contains("do not hash", p.A.EndOf(start.Op!.Value).Message);
        Assert.Empty(p.B.Applies);
    }

    [Fact]
    public void Losing_the_peer_in_the_middle_ends_the_transfer_and_says_so()
    {
        var p = InSync();
        var start = p.Commit(p.A, Big(100_000, "big"));
        p.RunFor(TimeSpan.FromMilliseconds(30));
        p.Connected = false;
        p.RunUntil(() => p.A.Ended.Count == 1, Generous, "ends");
        Assert.False(p.A.EndOf(start.Op!.Value).Ok);
        Assert.Contains("no longer heard", p.A.EndOf(start.Op!.Value).Message);
        Assert.Null(p.A.Engine.View().Sending);
        p.RunFor(TimeSpan.FromMinutes(1));
        Assert.Null(p.B.Engine.View().Receiving);
        Assert.Empty(p.B.Applies);
        // Healed: alpha is still newer and replicates again by itself.
        p.Connected = true;
        p.RunUntil(() => p.B.State == SyncState.InSync, Generous, "in sync after the heal");
        Assert.Equal(p.A.Running, p.B.Running);
    }

    [Fact]
    public void A_peer_without_config_sync_gets_no_messages_and_the_state_says_why()
    {
        var e = new ConfigSyncEngine("alpha", "beta", SyncLimits.Default, () => 7);
        var now = TimeSpan.FromSeconds(5000);
        e.Restore(now, SyncPair.Text(V1), ConfigStamp.None, ConfigStamp.None);
        e.Outbox.Clear();
        // An older firmware: its keepalives carry 0 in the config version field.
        for (int i = 0; i < 100; i++)
        {
            now += TimeSpan.FromSeconds(1);
            e.PeerHeartbeat(now, true, KeepaliveWord.NotReported);
            e.Tick(now);
        }
        Assert.DoesNotContain(e.Outbox, o => o is SendMessage);
        Assert.Equal(SyncState.Unknown, e.State);
        Assert.Contains("reports no config version", e.View().Detail);
        var start = e.LocalChanged(now, SyncPair.Text(V1 + "# changed\n"));
        Assert.Null(start.Op);
        long push = e.Push(now, false);
        Assert.Contains(e.Outbox, o => o is OperationEnded x && x.Op == push && !x.Ok && x.Message.Contains("without config sync"));
        Assert.DoesNotContain(e.Outbox, o => o is SendMessage);
    }

    [Fact]
    public void A_file_changed_while_the_daemon_was_down_is_a_local_change()
    {
        var p = InSync();
        var agreed = p.A.Persisted;
        // alpha restarts with an edited file; beta kept running.
        var q = new SyncPair(2);
        q.Start(V1 + "# edited by hand\n", V1, persistedA: agreed, persistedB: agreed);
        Assert.Equal(agreed.Local.Counter + 1, q.A.Engine.Local.Counter);
        q.RunUntil(() => q.B.State == SyncState.InSync, Generous, "the edit replicates");
        Assert.Equal(q.A.Running, q.B.Running);
    }

    [Fact]
    public void A_new_board_with_a_different_file_and_no_history_is_diverged_until_it_pulls()
    {
        var p = new SyncPair();
        p.Start(V1, V1 + "# the new board's file\n");
        p.RunUntil(() => p.A.State == SyncState.Diverged && p.B.State == SyncState.Diverged, Generous, "diverged");
        p.RunFor(TimeSpan.FromMinutes(1));
        Assert.Empty(p.A.Applies);
        Assert.Empty(p.B.Applies);
        long pull = p.Pull(p.B);
        p.RunUntil(() => p.B.Ended.Any(e => e.Op == pull), Generous, "pull ends");
        Assert.True(p.B.EndOf(pull).Ok);
        p.RunUntil(() => p.A.State == SyncState.InSync && p.B.State == SyncState.InSync, Generous, "in sync");
    }

    [Fact]
    public void Force_travels_only_with_an_explicit_push_or_pull()
    {
        var p = InSync();
        p.Connected = false;
        p.RunFor(TimeSpan.FromSeconds(2));
        p.Commit(p.A, V1 + "# a\n");
        p.Commit(p.B, V1 + "# b\n");
        p.Connected = true;
        p.RunUntil(() => p.A.State == SyncState.Diverged, Generous, "diverged");
        long push = p.Push(p.A, force: true);
        p.RunUntil(() => p.A.Ended.Any(e => e.Op == push), Generous, "push ends");
        Assert.Equal(TransferKind.ForcePush, p.B.Applies.Single().Kind);
        Assert.True(p.B.Applies.Single().Force);
        p.Commit(p.B, V1 + "# b again\n");
        p.RunUntil(() => p.A.Applies.Count == 1, Generous, "replicated to alpha");
        Assert.False(p.A.Applies.Single().Force);
        Assert.Equal(TransferKind.Replicate, p.A.Applies.Single().Kind);
    }

    [Fact]
    public void A_slow_apply_keeps_the_commit_waiting_and_then_reports()
    {
        var p = InSync();
        p.B.ApplyAtOnce = false;
        var start = p.Commit(p.A, V1 + "# slow\n");
        p.RunFor(TimeSpan.FromSeconds(30));
        Assert.Empty(p.A.Ended);
        Assert.Single(p.B.Held);
        p.ReleaseApplies(p.B);
        p.RunUntil(() => p.A.Ended.Count == 1, Generous, "ends");
        Assert.True(p.A.EndOf(start.Op!.Value).Ok);
    }

    [Fact]
    public void An_apply_that_never_reports_ends_the_commit_after_the_apply_timeout()
    {
        var p = InSync();
        p.B.ApplyAtOnce = false;
        var start = p.Commit(p.A, V1 + "# stuck\n");
        p.RunUntil(() => p.A.Ended.Count == 1, Generous, "ends");
        var end = p.A.EndOf(start.Op!.Value);
        Assert.False(end.Ok);
        Assert.Contains("no report within 90 s", end.Message);
    }
}
