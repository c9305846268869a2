using Appliance.Core.Heartbeat;
using FsCheck;
using FsCheck.Fluent;

namespace Appliance.Core.Tests.Heartbeat;

public class SerialFramingTests
{
    private static byte[] Encode(byte[] payload)
    {
        var buf = new byte[SerialFraming.MaxEncodedBytes];
        int n = SerialFraming.Encode(payload, buf);
        return buf[..n];
    }

    /// <summary>Feeds a byte stream and collects every event and good frame.</summary>
    private static (List<byte[]> Frames, List<DeframeEvent> Events) Feed(SerialDeframer d, byte[] stream, int chunk = int.MaxValue)
    {
        var frames = new List<byte[]>();
        var events = new List<DeframeEvent>();
        for (int start = 0; start < stream.Length; start += chunk)
        {
            var input = stream.AsSpan(start, Math.Min(chunk, stream.Length - start));
            while (!input.IsEmpty)
            {
                int used = d.Push(input, out var evt);
                input = input[used..];
                if (evt is { } e)
                {
                    events.Add(e);
                    if (e == DeframeEvent.Frame)
                        frames.Add(d.Frame.ToArray());
                }
            }
        }
        return (frames, events);
    }

    [Fact]
    public void Golden_vector()
    {
        // payload 11 00 22; CRC-32 = 0x37C551B1 (python: zlib.crc32(b'\x11\x00\x22')), appended little-endian;
        // COBS: [02 11] [06 22 B1 51 C5 37]; delimited by 00 on both sides.
        byte[] payload = { 0x11, 0x00, 0x22 };
        Assert.Equal(0x37C551B1u, Crc32.Compute(payload));
        Assert.Equal("000211" + "0622B151C537" + "00", Convert.ToHexString(Encode(payload)));
    }

    [Fact]
    public void Crc32_check_value()
    {
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
    }

    [Fact]
    public void Encoded_frames_contain_no_zero_inside()
    {
        Check.One(FsCheck.Config.QuickThrowOnFailure.WithMaxTest(1000), Prop.ForAll<byte[]>(p =>
        {
            p ??= Array.Empty<byte>();
            if (p.Length > SerialFraming.MaxPayloadBytes)
                p = p[..SerialFraming.MaxPayloadBytes];
            var e = Encode(p);
            return e[0] == 0 && e[^1] == 0 && !e[1..^1].Contains((byte)0) && e.Length <= SerialFraming.EncodedLength(p.Length);
        }));
    }

    [Fact]
    public void Round_trips_any_payload_in_any_chunking()
    {
        var gen = from len in Gen.Choose(0, SerialFraming.MaxPayloadBytes)
                  from bytes in Gen.ArrayOf(Gen.Elements<byte>(0, 0, 1, 0xFE, 0xFF, 7), len)
                  from chunk in Gen.Choose(1, 300)
                  select (bytes, chunk);
        Check.One(FsCheck.Config.QuickThrowOnFailure.WithMaxTest(1000), Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var (frames, events) = Feed(new SerialDeframer(), Encode(t.bytes), t.chunk);
            return events.SequenceEqual(new[] { DeframeEvent.Frame }) && frames[0].SequenceEqual(t.bytes);
        }));
    }

    [Fact]
    public void Concatenated_frames_all_arrive()
    {
        var stream = Encode(new byte[] { 1, 2, 3 }).Concat(Encode(new byte[] { 0, 0 })).Concat(Encode(new byte[254].Select((_, i) => (byte)(i + 1)).ToArray())).ToArray();
        var (frames, events) = Feed(new SerialDeframer(), stream);
        Assert.Equal(3, frames.Count);
        Assert.Equal(new byte[] { 0, 0 }, frames[1]);
        Assert.Equal(254, frames[2].Length);
    }

    [Fact]
    public void Garbage_between_frames_is_dropped_and_counted_and_frames_survive()
    {
        var rnd = new Random(1234);
        var stream = new List<byte>();
        var sent = new List<byte[]>();
        for (int i = 0; i < 200; i++)
        {
            var garbage = new byte[rnd.Next(0, 40)];
            rnd.NextBytes(garbage);
            stream.AddRange(garbage);
            var p = new byte[rnd.Next(1, 100)];
            rnd.NextBytes(p);
            sent.Add(p);
            stream.AddRange(Encode(p));
        }
        var d = new SerialDeframer();
        var (frames, events) = Feed(d, stream.ToArray(), 17);
        // Every frame is preceded by its own delimiter, so garbage never swallows a good frame.
        Assert.Equal(sent.Count, frames.Count);
        for (int i = 0; i < sent.Count; i++)
            Assert.Equal(sent[i], frames[i]);
        Assert.True(d.DiscardedBytes > 0);
        Assert.Contains(events, e => e != DeframeEvent.Frame);
    }

    [Fact]
    public void Bit_flips_are_caught_by_the_crc()
    {
        var gen = from len in Gen.Choose(1, 120)
                  from bytes in Gen.ArrayOf(ArbMap.Default.GeneratorFor<byte>(), len)
                  from pos in Gen.Choose(1, 1000)
                  from bit in Gen.Choose(0, 7)
                  select (bytes, pos, bit);
        Check.One(FsCheck.Config.QuickThrowOnFailure.WithMaxTest(2000), Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var e = Encode(t.bytes);
            int pos = 1 + t.pos % (e.Length - 2);
            e[pos] ^= (byte)(1 << t.bit);
            var (frames, _) = Feed(new SerialDeframer(), e);
            // A flip may turn a byte into a delimiter and split the frame; no corrupted payload is accepted.
            return frames.Count == 0;
        }));
    }

    [Fact]
    public void Truncated_frame_followed_by_a_good_one()
    {
        var good = Encode(new byte[] { 5, 6, 7 });
        var cut = Encode(new byte[] { 9, 9, 9, 9, 9 })[..5];
        var (frames, events) = Feed(new SerialDeframer(), cut.Concat(good).ToArray());
        Assert.Single(frames);
        Assert.Equal(new byte[] { 5, 6, 7 }, frames[0]);
        Assert.Equal(2, events.Count);
    }

    [Fact]
    public void Endless_noise_without_delimiter_is_bounded_and_resyncs()
    {
        var d = new SerialDeframer();
        var noise = Enumerable.Repeat((byte)0x55, 100_000).ToArray();
        var (frames, events) = Feed(d, noise.Concat(Encode(new byte[] { 1 })).ToArray(), 4096);
        Assert.Single(frames);
        Assert.Equal(DeframeEvent.Oversize, events[0]);
        Assert.True(d.DiscardedBytes >= 100_000 - SerialFraming.MaxEncodedBytes);
    }

    [Fact]
    public void Random_streams_never_throw_and_never_yield_an_unauthentic_frame_of_heartbeat_size()
    {
        Check.One(FsCheck.Config.QuickThrowOnFailure.WithMaxTest(1000), Prop.ForAll<byte[]>(bytes =>
        {
            var (frames, _) = Feed(new SerialDeframer(), bytes ?? Array.Empty<byte>(), 13);
            return frames.All(f => CodecTests.Codec.TryDecode(f, out _) != DecodeStatus.Ok);
        }));
    }
}
