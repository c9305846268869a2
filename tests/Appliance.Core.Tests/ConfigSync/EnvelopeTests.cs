using Appliance.Core.ConfigSync;
using Appliance.Core.Heartbeat;
using Appliance.Core.Values;

namespace Appliance.Core.Tests.ConfigSync;

public class EnvelopeTests
{
    private static readonly byte[] Key = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
    private static readonly BootId AlphaBoot = new(0x0a0a0a0a0a0a0a0a);
    private static readonly BootId BetaBoot = new(0x0b0b0b0b0b0b0b0b);
    private static readonly NodeId Alpha = new(1), Beta = new(2);

    private static SyncGate Gate(NodeId self, NodeId peer, byte[]? key = null, string cluster = "edge") =>
        new(new SyncEnvelope(key ?? Key, cluster), self, peer);

    /// <summary>alpha seals, beta admits (beta's boot, alpha's boot as beta's heartbeat knows it).</summary>
    private static EnvelopeStatus Deliver(SyncGate beta, ReadOnlySpan<byte> message, int link = 0, bool alive = true) =>
        beta.Admit(message, link, BetaBoot, AlphaBoot, alive, out _);

    private static byte[] Seal(SyncGate alpha, byte[] payload, byte link = 0)
    {
        var buffer = new byte[SyncEnvelope.MaxMessageBytes];
        int n = alpha.Seal(link, AlphaBoot, BetaBoot, payload, buffer);
        return buffer[..n];
    }

    [Fact]
    public void Encodes_the_documented_layout()
    {
        var env = new SyncEnvelope(Key, "edge");
        var dst = new byte[SyncEnvelope.MaxMessageBytes];
        int n = env.Encode(3, Alpha, AlphaBoot, BetaBoot, 42, [0xAA, 0xBB], dst);
        Assert.Equal(36 + 2 + 32, n);
        Assert.Equal("415301" + "03" + HeartbeatCodec.ClusterHash("edge").ToString("X8") + "01" + "00" + "0002" +
                     "0A0A0A0A0A0A0A0A" + "0B0B0B0B0B0B0B0B" + "000000000000002A" + "AABB", Convert.ToHexString(dst, 0, 38));
        Assert.Equal(System.Security.Cryptography.HMACSHA256.HashData(Key, dst[..38]), dst[38..70]);
        Assert.True(SyncEnvelope.IsSyncMessage(dst));
        Assert.False(SyncEnvelope.IsSyncMessage("AP"u8));
        // The largest message fits one serial frame.
        Assert.Equal(SerialFraming.MaxPayloadBytes, SyncEnvelope.MessageLength(SyncEnvelope.MaxPayloadBytes));
    }

    [Fact]
    public void Admits_an_authentic_fresh_message_and_hands_over_its_payload()
    {
        var alpha = Gate(Alpha, Beta);
        var beta = Gate(Beta, Alpha);
        var m = Seal(alpha, [1, 2, 3], link: 1);
        Assert.Equal(EnvelopeStatus.Ok, beta.Admit(m, 1, BetaBoot, AlphaBoot, true, out var payload));
        Assert.Equal(new byte[] { 1, 2, 3 }, payload.ToArray());
    }

    [Fact]
    public void Every_single_byte_corruption_is_refused()
    {
        var alpha = Gate(Alpha, Beta);
        var m = Seal(alpha, "some payload"u8.ToArray());
        for (int i = 0; i < m.Length; i++)
        {
            var beta = Gate(Beta, Alpha);
            var bad = (byte[])m.Clone();
            bad[i] ^= 0x40;
            Assert.NotEqual(EnvelopeStatus.Ok, Deliver(beta, bad));
        }
    }

    [Fact]
    public void Refuses_wrong_key_cluster_version_length_and_oversize()
    {
        var alpha = Gate(Alpha, Beta);
        var m = Seal(alpha, [9]);
        Assert.Equal(EnvelopeStatus.BadTag, Deliver(Gate(Beta, Alpha, key: Enumerable.Repeat((byte)7, 32).ToArray()), m));
        Assert.Equal(EnvelopeStatus.WrongCluster, Deliver(Gate(Beta, Alpha, cluster: "core"), m));
        var v2 = (byte[])m.Clone();
        v2[2] = 2;
        Assert.Equal(EnvelopeStatus.UnsupportedVersion, Deliver(Gate(Beta, Alpha), v2));
        Assert.Equal(EnvelopeStatus.WrongLength, Deliver(Gate(Beta, Alpha), m[..^1]));
        Assert.Equal(EnvelopeStatus.WrongLength, Deliver(Gate(Beta, Alpha), m.Concat(new byte[1]).ToArray()));
        Assert.Equal(EnvelopeStatus.WrongLength, Deliver(Gate(Beta, Alpha), new byte[SyncEnvelope.MaxMessageBytes + 1]));
        Assert.Throws<ArgumentException>(() => alpha.Seal(0, AlphaBoot, BetaBoot, new byte[SyncEnvelope.MaxPayloadBytes + 1], new byte[400]));
        // A keepalive frame is no sync message.
        var hb = new byte[HeartbeatCodec.FrameBytes];
        new HeartbeatCodec(Key, "edge").Encode(new HeartbeatFrame(0, Alpha, AlphaBoot, new Sequence(1), BetaBoot, new Sequence(1), default), hb);
        Assert.Equal(EnvelopeStatus.BadMagic, Deliver(Gate(Beta, Alpha), hb));
    }

    [Fact]
    public void Refuses_a_message_of_another_boot_on_either_side_or_while_the_peer_is_not_alive()
    {
        var alpha = Gate(Alpha, Beta);
        var m = Seal(alpha, [1]);
        // Beta restarted since: the message names its old boot.
        Assert.Equal(EnvelopeStatus.WrongBoot, Gate(Beta, Alpha).Admit(m, 0, new BootId(77), AlphaBoot, true, out _));
        // Alpha restarted since: the heartbeat talks to its new boot; a recording of the old is refused.
        Assert.Equal(EnvelopeStatus.WrongBoot, Gate(Beta, Alpha).Admit(m, 0, BetaBoot, new BootId(78), true, out _));
        Assert.Equal(EnvelopeStatus.WrongBoot, Deliver(Gate(Beta, Alpha), m, alive: false));
    }

    [Fact]
    public void Refuses_a_message_moved_to_another_link_or_not_from_the_peer()
    {
        var m = Seal(Gate(Alpha, Beta), [1], link: 0);
        Assert.Equal(EnvelopeStatus.Misdirected, Deliver(Gate(Beta, Alpha), m, link: 1));
        // Our own message reflected back (a looped cable): the sender is not the peer.
        Assert.Equal(EnvelopeStatus.Misdirected, Gate(Alpha, Beta).Admit(m, 0, AlphaBoot, BetaBoot, true, out _));
    }

    [Fact]
    public void A_replay_is_refused_and_a_late_message_within_the_window_is_admitted_once()
    {
        var alpha = Gate(Alpha, Beta);
        var beta = Gate(Beta, Alpha);
        var messages = Enumerable.Range(0, 100).Select(i => Seal(alpha, [(byte)i])).ToArray();
        Assert.Equal(EnvelopeStatus.Ok, Deliver(beta, messages[0]));
        Assert.Equal(EnvelopeStatus.Replayed, Deliver(beta, messages[0]));
        // Out of order (one link faster than the other): 10 before 5, then 5 once.
        Assert.Equal(EnvelopeStatus.Ok, Deliver(beta, messages[10]));
        Assert.Equal(EnvelopeStatus.Ok, Deliver(beta, messages[5]));
        Assert.Equal(EnvelopeStatus.Replayed, Deliver(beta, messages[5]));
        Assert.Equal(EnvelopeStatus.Replayed, Deliver(beta, messages[10]));
        // Far behind the newest: refused even if never seen.
        Assert.Equal(EnvelopeStatus.Ok, Deliver(beta, messages[99]));
        Assert.Equal(EnvelopeStatus.Replayed, Deliver(beta, messages[20]));
        Assert.Equal(EnvelopeStatus.Ok, Deliver(beta, messages[99 - ReplayWindow.WindowSize + 1]));
    }

    [Fact]
    public void Replay_window_against_a_model()
    {
        var rng = new Random(12);
        for (int run = 0; run < 50; run++)
        {
            var window = new ReplayWindow();
            var seen = new HashSet<ulong>();
            ulong highest = 0;
            var boot = new BootId(5);
            for (int i = 0; i < 500; i++)
            {
                ulong seq = (ulong)rng.Next(1, 400);
                bool expected = !seen.Contains(seq) && (highest == 0 || seq > highest || highest - seq < ReplayWindow.WindowSize);
                Assert.Equal(expected, window.Accept(boot, seq));
                if (expected)
                {
                    seen.Add(seq);
                    highest = Math.Max(highest, seq);
                }
            }
        }
        Assert.False(new ReplayWindow().Accept(new BootId(1), 0));
    }

    [Fact]
    public void Sealing_and_admitting_allocate_nothing()
    {
        var alpha = Gate(Alpha, Beta);
        var beta = Gate(Beta, Alpha);
        var payload = new byte[SyncEnvelope.MaxPayloadBytes];
        var buffer = new byte[SyncEnvelope.MaxMessageBytes];
        for (int i = 0; i < 10; i++)
        {
            int n = alpha.Seal(0, AlphaBoot, BetaBoot, payload, buffer);
            beta.Admit(buffer.AsSpan(0, n), 0, BetaBoot, AlphaBoot, true, out _);
        }
        int admitted = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            int n = alpha.Seal(0, AlphaBoot, BetaBoot, payload, buffer);
            if (beta.Admit(buffer.AsSpan(0, n), 0, BetaBoot, AlphaBoot, true, out _) == EnvelopeStatus.Ok)
                admitted++;
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(1000, admitted);
        Assert.Equal(0, allocated);
    }
}
