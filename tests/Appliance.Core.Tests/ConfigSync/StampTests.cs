using Appliance.Core.ConfigSync;

namespace Appliance.Core.Tests.ConfigSync;

public class StampTests
{
    private static ConfigStamp S(uint counter, string text) => new(counter, ConfigHash.Of(System.Text.Encoding.UTF8.GetBytes(text)));

    [Fact]
    public void Keepalive_word_is_counter_then_hash_prefix_and_never_zero()
    {
        var s = S(7, "a");
        uint word = KeepaliveWord.Of(s);
        Assert.Equal(7u, word >> 16);
        Assert.Equal(s.Hash.Prefix16, (ushort)word);
        Assert.Equal(KeepaliveWord.NotReported, KeepaliveWord.Of(ConfigStamp.None));
        // The counter half wraps 65535 -> 1, skipping 0, so a real word is never "not reported".
        Assert.Equal(65535u, KeepaliveWord.Counter16(KeepaliveWord.Of(S(65535, "a"))));
        Assert.Equal(1u, KeepaliveWord.Counter16(KeepaliveWord.Of(S(65536, "a"))));
        for (uint c = 1; c < 200_000; c += 997)
            Assert.NotEqual(0u, KeepaliveWord.Of(new ConfigStamp(c, ConfigHash.None)));
    }

    [Fact]
    public void Hash_hex_round_trips_and_short_is_its_first_eight_digits()
    {
        var h = ConfigHash.Of("cluster: {}"u8);
        Assert.True(ConfigHash.TryParseHex(h.Hex, out var back));
        Assert.Equal(h, back);
        Assert.Equal(h.Hex[..8], h.Short);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("cluster: {}"u8)), h.Hex);
        Assert.False(ConfigHash.TryParseHex("xyz", out _));
    }

    [Fact]
    public void Judge_compares_both_sides_with_the_version_they_last_agreed_on()
    {
        var v5 = S(5, "five");
        var v6a = S(6, "six on alpha");
        var v6b = S(6, "six on beta");
        Assert.Equal(SyncState.InSync, SyncJudge.Judge(v5, v5, v5));
        Assert.Equal(SyncState.InSync, SyncJudge.Judge(v5, v5, null));
        Assert.Equal(SyncState.LocalNewer, SyncJudge.Judge(v6a, v5, v5));
        Assert.Equal(SyncState.PeerNewer, SyncJudge.Judge(v5, v6b, v5));
        // A partition with a commit on each side: same counter, different content, neither wins.
        Assert.Equal(SyncState.Diverged, SyncJudge.Judge(v6a, v6b, v5));
        // Never agreed (a new board with its own file): different configs are diverged, whatever the counters.
        Assert.Equal(SyncState.Diverged, SyncJudge.Judge(S(9, "x"), S(1, "y"), null));
        // Counters never decide: a higher counter on the peer with the base on our side is still "peer newer" only by content.
        Assert.Equal(SyncState.LocalNewer, SyncJudge.Judge(S(2, "new"), S(40, "base"), S(40, "base")));
        Assert.Equal(SyncState.Unknown, SyncJudge.Judge(v5, null, v5));
        Assert.Equal(SyncState.Unknown, SyncJudge.Judge(v5, ConfigStamp.None, v5));
        Assert.Equal("in sync", SyncJudge.Name(SyncState.InSync));
        Assert.Equal("peer newer", SyncJudge.Name(SyncState.PeerNewer));
        Assert.Equal("local newer", SyncJudge.Name(SyncState.LocalNewer));
        Assert.Equal("diverged", SyncJudge.Name(SyncState.Diverged));
    }
}
