using Appliance.Core.Heartbeat;
using Appliance.Core.Values;
using FsCheck;
using FsCheck.Fluent;

namespace Appliance.Core.Tests.Heartbeat;

public class CodecTests
{
    internal static readonly byte[] Key = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
    internal static readonly HeartbeatCodec Codec = new(Key, "edge");

    internal static readonly HeartbeatFrame Sample = new(
        1, new NodeId(2), new BootId(0x0102030405060708), new Sequence(42),
        new BootId(0x1112131415161718), new Sequence(41),
        new StateSummary(NodeRole.Active, HealthFlags.MonitorFailing, 7, 0b101, 0b010, 0b11));

    [Fact]
    public void Encodes_the_documented_layout()
    {
        var buf = new byte[HeartbeatCodec.FrameBytes];
        Assert.Equal(88, Codec.Encode(Sample, buf));
        string head = Convert.ToHexString(buf.AsSpan(0, 56));
        uint hash = HeartbeatCodec.ClusterHash("edge");
        Assert.Equal(
            "415001" + "01" + hash.ToString("X8") + "02" + "04" + "01" + "03" + "00000007" +
            "0102030405060708" + "000000000000002A" + "1112131415161718" + "0000000000000029" +
            "00000005" + "00000002", head);
        // The tag is HMAC-SHA256(key, bytes 0..55).
        var expected = System.Security.Cryptography.HMACSHA256.HashData(Key, buf.AsSpan(0, 56).ToArray());
        Assert.Equal(expected, buf.AsSpan(56).ToArray());
    }

    [Fact]
    public void Round_trips()
    {
        var buf = new byte[HeartbeatCodec.FrameBytes];
        Codec.Encode(Sample, buf);
        Assert.Equal(DecodeStatus.Ok, Codec.TryDecode(buf, out var f));
        Assert.Equal(Sample, f);
    }

    [Fact]
    public void Refuses_wrong_key_wrong_cluster_and_each_header_fault()
    {
        var buf = new byte[HeartbeatCodec.FrameBytes];
        Codec.Encode(Sample, buf);
        var otherKey = new HeartbeatCodec(Enumerable.Repeat((byte)9, 32).ToArray(), "edge");
        Assert.Equal(DecodeStatus.BadTag, otherKey.TryDecode(buf, out _));
        var otherCluster = new HeartbeatCodec(Key, "core");
        Assert.Equal(DecodeStatus.WrongCluster, otherCluster.TryDecode(buf, out _));
        Assert.Equal(DecodeStatus.WrongLength, Codec.TryDecode(buf.AsSpan(0, 87), out _));
        Assert.Equal(DecodeStatus.WrongLength, Codec.TryDecode(ReadOnlySpan<byte>.Empty, out _));
        var bad = (byte[])buf.Clone();
        bad[0] = (byte)'X';
        Assert.Equal(DecodeStatus.BadMagic, Codec.TryDecode(bad, out _));
        bad = (byte[])buf.Clone();
        bad[2] = 2;
        Assert.Equal(DecodeStatus.UnsupportedVersion, Codec.TryDecode(bad, out _));
    }

    [Fact]
    public void Short_keys_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new HeartbeatCodec(new byte[31], "edge"));
    }

    [Fact]
    public void Decoding_does_not_allocate()
    {
        var buf = new byte[HeartbeatCodec.FrameBytes];
        Codec.Encode(Sample, buf);
        Codec.TryDecode(buf, out _);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            Codec.Encode(Sample, buf);
            Codec.TryDecode(buf, out _);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 1024, $"encode+decode of 10000 frames allocated {allocated} bytes");
    }

    private static readonly FsCheck.Config Many = FsCheck.Config.QuickThrowOnFailure.WithMaxTest(2000);

    [Fact]
    public void Random_bytes_never_decode_and_never_throw()
    {
        Check.One(Many, Prop.ForAll<byte[]>(bytes =>
            Codec.TryDecode(bytes ?? Array.Empty<byte>(), out _) != DecodeStatus.Ok));
    }

    [Fact]
    public void Random_bytes_of_frame_length_never_decode()
    {
        var gen = Gen.ArrayOf(ArbMap.Default.GeneratorFor<byte>(), HeartbeatCodec.FrameBytes);
        Check.One(Many, Prop.ForAll(gen.ToArbitrary(), bytes => Codec.TryDecode(bytes, out _) != DecodeStatus.Ok));
    }

    [Fact]
    public void Any_single_mutation_of_an_authentic_frame_is_refused()
    {
        var buf = new byte[HeartbeatCodec.FrameBytes];
        Codec.Encode(Sample, buf);
        var gen = from pos in Gen.Choose(0, HeartbeatCodec.FrameBytes - 1)
                  from flip in Gen.Choose(1, 255)
                  select (pos, (byte)flip);
        Check.One(Many, Prop.ForAll(gen.ToArbitrary(), m =>
        {
            var copy = (byte[])buf.Clone();
            copy[m.pos] ^= m.Item2;
            return Codec.TryDecode(copy, out _) != DecodeStatus.Ok;
        }));
    }

    [Fact]
    public void Truncated_or_extended_frames_are_refused()
    {
        var buf = new byte[HeartbeatCodec.FrameBytes + 8];
        Codec.Encode(Sample, buf);
        Check.One(Many, Prop.ForAll(Gen.Choose(0, buf.Length).ToArbitrary(), n =>
            n == HeartbeatCodec.FrameBytes || Codec.TryDecode(buf.AsSpan(0, n), out _) != DecodeStatus.Ok));
    }

    [Fact]
    public void Every_encodable_frame_round_trips()
    {
        var gen = from link in Gen.Choose(0, 7)
                  from sender in Gen.Choose(1, 255)
                  from boot in ArbMap.Default.GeneratorFor<ulong>()
                  from seq in ArbMap.Default.GeneratorFor<ulong>()
                  from ackBoot in ArbMap.Default.GeneratorFor<ulong>()
                  from ackSeq in ArbMap.Default.GeneratorFor<ulong>()
                  from role in Gen.Choose(0, 6)
                  from held in ArbMap.Default.GeneratorFor<uint>()
                  select new HeartbeatFrame((byte)link, new NodeId((byte)sender), new BootId(boot), new Sequence(seq),
                      new BootId(ackBoot), new Sequence(ackSeq), new StateSummary((NodeRole)role, HealthFlags.None, held, held, ~held, 1));
        var buf = new byte[HeartbeatCodec.FrameBytes];
        Check.One(Many, Prop.ForAll(gen.ToArbitrary(), f =>
        {
            Codec.Encode(f, buf);
            return Codec.TryDecode(buf, out var back) == DecodeStatus.Ok && back == f;
        }));
    }
}
