using Appliance.Core.Config;
using Appliance.Core.Heartbeat;
using Appliance.Core.Ports;
using Appliance.Linux.Links;
using Appliance.Linux.Serial;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Edge;

/// <summary>SerialHeartbeatLink over a socat null-modem pair of ptys.</summary>
public sealed class SerialHeartbeatLinkTests(ITestOutputHelper output)
{
    private const int Burst = 16; // frames in flight: well under the 4 KiB tty buffers

    [Fact]
    public void Thousand_frames_arrive_intact_and_in_order()
    {
        using SocatPair cable = SocatPair.Start();
        using SerialHeartbeatLink a = SerialHeartbeatLink.Open(new SerialLinkConfig("serial0", cable.PathA, 115200));
        using SerialHeartbeatLink b = SerialHeartbeatLink.Open(new SerialLinkConfig("serial0", cable.PathB, 115200));
        var receiver = new CountingReceiver();
        Span<byte> payload = stackalloc byte[256];

        const int frames = 1000;
        for (uint seq = 0; seq < frames;)
        {
            for (int i = 0; i < Burst && seq < frames; i++, seq++)
                Assert.Equal(LinkSendResult.Sent, a.Send(payload[..Edge.MakePayload(seq, payload)]));
            Assert.True(Edge.PumpUntil(b, receiver, seq), $"received {receiver.Count} of {seq}; socat: {cable.Log}");
        }

        Assert.Equal(frames, receiver.Count);
        Assert.Equal(0, receiver.Mismatches);
        LinkCountersSnapshot tx = a.Counters.Snapshot(), rx = b.Counters.Snapshot();
        // Frames are the node's to count (LinkCounters): a link that counted them too doubled them.
        Assert.Equal(0, tx.TxFrames + tx.TxDropped + rx.RxFrames);
        Assert.Equal(0, rx.RxBadFraming);
        Assert.Equal(0, rx.RxNoiseBytes);
    }

    [Fact]
    public void Garbage_between_frames_is_counted_and_good_frames_still_arrive()
    {
        int seed = Random.Shared.Next();
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);

        using SocatPair cable = SocatPair.Start();
        // The sending side writes raw bytes (frames and garbage) through a plain SerialPort.
        using SerialPort raw = SerialPort.Open(cable.PathA, 115200);
        using SerialHeartbeatLink b = SerialHeartbeatLink.Open(new SerialLinkConfig("serial0", cable.PathB, 115200));
        var receiver = new CountingReceiver();
        byte[] payload = new byte[256], encoded = new byte[SerialFraming.MaxEncodedBytes];

        const int frames = 300;
        long expectedBad = 0, expectedNoise = 0;
        for (uint seq = 0; seq < frames; seq++)
        {
            // Garbage: 1..64 random bytes (zeros included). Each run of non-zero bytes ends, at a zero
            // or at the next frame's leading delimiter, as one bad frame whose bytes are noise.
            byte[] garbage = new byte[random.Next(1, 65)];
            random.NextBytes(garbage);
            int run = 0;
            foreach (byte g in garbage)
            {
                if (g != 0)
                {
                    run++;
                    continue;
                }
                if (run > 0)
                {
                    expectedBad++;
                    expectedNoise += run;
                }
                run = 0;
            }
            if (run > 0)
            {
                expectedBad++;
                expectedNoise += run;
            }

            WriteAll(raw, garbage);
            int length = SerialFraming.Encode(payload.AsSpan(0, Edge.MakePayload(seq, payload)), encoded);
            WriteAll(raw, encoded.AsSpan(0, length));
            if (seq % Burst == Burst - 1 || seq == frames - 1)
                Assert.True(Edge.PumpUntil(b, receiver, seq + 1), $"received {receiver.Count} of {seq + 1}");
        }

        Assert.Equal(frames, receiver.Count);
        Assert.Equal(0, receiver.Mismatches);
        LinkCountersSnapshot rx = b.Counters.Snapshot();
        output.WriteLine($"bad framing {rx.RxBadFraming}, noise bytes {rx.RxNoiseBytes}");
        Assert.Equal(0, rx.RxFrames); // the node's count, not the link's
        Assert.Equal(expectedBad, rx.RxBadFraming);
        Assert.Equal(expectedNoise, rx.RxNoiseBytes);
    }

    [Fact]
    public void Send_and_drain_do_not_allocate()
    {
        using SocatPair cable = SocatPair.Start();
        using SerialHeartbeatLink a = SerialHeartbeatLink.Open(new SerialLinkConfig("serial0", cable.PathA, 115200));
        using SerialHeartbeatLink b = SerialHeartbeatLink.Open(new SerialLinkConfig("serial0", cable.PathB, 115200));
        var receiver = new CountingReceiver();

        Exchange(a, b, receiver, 0, 200); // warm up: JIT, tiering, first-call statics
        long before = GC.GetAllocatedBytesForCurrentThread();
        Exchange(a, b, receiver, 200, 10_000);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        output.WriteLine($"allocated {allocated} bytes for 10000 frames sent and drained");

        Assert.Equal(10_200, receiver.Count);
        Assert.Equal(0, receiver.Mismatches);
        Assert.True(allocated < 10 * 1024, $"Send+Drain of 10000 frames allocated {allocated} bytes");
    }

    /// <summary>Allocation-free send/pump loop (no lambdas, no LINQ, no string formatting on success).</summary>
    private static void Exchange(IHeartbeatLink a, IHeartbeatLink b, CountingReceiver receiver, uint first, int count)
    {
        Span<byte> payload = stackalloc byte[256];
        uint end = first + (uint)count;
        for (uint seq = first; seq < end;)
        {
            for (int i = 0; i < Burst && seq < end; i++, seq++)
            {
                if (a.Send(payload[..Edge.MakePayload(seq, payload)]) != LinkSendResult.Sent)
                    throw new InvalidOperationException("send failed");
            }
            if (!Edge.PumpUntil(b, receiver, seq))
                throw new TimeoutException("frames did not arrive");
        }
    }

    private static void WriteAll(SerialPort port, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            int n = port.Write(data);
            Assert.True(n >= 0, "port gone");
            data = data[n..];
            if (n == 0)
                Thread.Sleep(1);
        }
    }
}
