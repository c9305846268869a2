using System.Security.Cryptography;
using Appliance.Core.Config;
using Appliance.Core.Heartbeat;
using Appliance.Core.Ports;
using Appliance.Integration.Tests.Edge;
using Harness = Appliance.Integration.Tests.Edge.Edge;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Contracts;

/// <summary>
/// The contract of <see cref="IHeartbeatLink"/>, written once and run against every implementation
/// (one derived class each, in HeartbeatLinkImplementations.cs): what the heartbeat thread relies on.
/// <list type="number">
/// <item>Name and Kind are the configured ones.</item>
/// <item>A frame sent on one end arrives intact at the other, through <see cref="IHeartbeatLink.Drain"/>
/// into an <see cref="IFrameReceiver"/>, as one whole frame (zero bytes included), both ways.</item>
/// <item>Each frame arrives once. Serial and in-memory links keep order; UDP does not promise it
/// (<see cref="PreservesOrder"/>): the membership's per-boot sequence check makes a late frame
/// stale, so nothing above relies on order.</item>
/// <item>Every link carries at least the heartbeat frame (<see cref="HeartbeatCodec.FrameBytes"/>);
/// its largest frame (<see cref="MaxFrameBytes"/>) arrives intact; a larger one is refused with
/// <see cref="LinkSendResult.Error"/> (never an exception, never truncated on the wire) and the
/// link keeps working.</item>
/// <item><see cref="IHeartbeatLink.PollFd"/> is quiet while nothing waits, polls readable after the
/// peer sends, is quiet again once drained, and is not woken by the link's own sends.</item>
/// <item>Drain returns true while the link is healthy, with or without frames.</item>
/// <item>Send to a peer that is gone returns a result and Drain does not throw.</item>
/// <item>Dispose closes the polled descriptor and may be called twice.</item>
/// </list>
/// Counters are left out on purpose: who counts what is being changed (double counting of
/// <see cref="LinkCounters"/>), and the contract above is what the heartbeat thread depends on.
/// </summary>
public abstract class HeartbeatLinkContract(ITestOutputHelper output) : IDisposable
{
    protected const string LinkName = "hb-contract";

    /// <summary>Frames in flight at once: well under a 4 KiB tty buffer and any socket buffer.</summary>
    private const int Burst = 16;

    /// <summary>How long a frame may take to cross: generous, for a loaded 2-core CI box.</summary>
    private const int ArriveWithinMs = 10_000;

    /// <summary>How long an fd must stay quiet to count as not readable.</summary>
    private const int QuietForMs = 100;

    private readonly List<IDisposable> _cleanup = [];

    protected ITestOutputHelper Output { get; } = output;

    /// <summary>Two ends of one link, joined (cable, network or memory); the environment is disposed after them.</summary>
    protected sealed record LinkPair(IHeartbeatLink A, IHeartbeatLink B, IDisposable? Environment = null);

    /// <summary>Opens a fresh pair named <see cref="LinkName"/>, both ends ready, nothing in flight.</summary>
    protected abstract LinkPair OpenPair();

    protected abstract LinkKind ExpectedKind { get; }

    /// <summary>The largest frame this kind of link carries.</summary>
    protected abstract int MaxFrameBytes { get; }

    /// <summary>Whether the medium keeps frames in order (a cable, memory) or may not (UDP).</summary>
    protected abstract bool PreservesOrder { get; }

    private LinkPair Open()
    {
        LinkPair pair = OpenPair();
        if (pair.Environment is not null)
            _cleanup.Add(pair.Environment);
        _cleanup.Add(pair.A);
        _cleanup.Add(pair.B);
        return pair;
    }

    public void Dispose()
    {
        // Links first, then what they run on (socat, namespaces).
        for (int i = _cleanup.Count - 1; i >= 0; i--)
        {
            try
            {
                _cleanup[i].Dispose();
            }
            catch (Exception ex)
            {
                Output.WriteLine($"cleanup: {ex.Message}");
            }
        }
        GC.SuppressFinalize(this);
    }

    [ContractFact]
    public void Name_and_kind_are_the_configured_ones()
    {
        LinkPair pair = Open();
        Assert.Equal((LinkName, ExpectedKind), (pair.A.Name, pair.A.Kind));
        Assert.Equal((LinkName, ExpectedKind), (pair.B.Name, pair.B.Kind));
        Assert.True(pair.A.PollFd >= 0 && pair.B.PollFd >= 0, $"PollFd {pair.A.PollFd} / {pair.B.PollFd}");
        Assert.NotEqual(pair.A.PollFd, pair.B.PollFd);
    }

    [ContractFact]
    public void A_frame_sent_on_one_end_arrives_intact_at_the_other_both_ways()
    {
        LinkPair pair = Open();
        // A heartbeat-sized frame with every byte value, zero (the serial delimiter) included.
        byte[] ab = Enumerable.Range(0, HeartbeatCodec.FrameBytes).Select(i => (byte)(i * 3)).ToArray();
        byte[] ba = RandomNumberGenerator.GetBytes(HeartbeatCodec.FrameBytes);
        ba[0] = 0;
        ba[^1] = 0;

        Assert.Equal(LinkSendResult.Sent, pair.A.Send(ab));
        Assert.Equal(LinkSendResult.Sent, pair.B.Send(ba));

        Assert.Equal(ab, Receive(pair.B, 1).Single());
        Assert.Equal(ba, Receive(pair.A, 1).Single());
    }

    [ContractFact]
    public void Each_frame_arrives_once_and_in_order_where_the_medium_keeps_order()
    {
        LinkPair pair = Open();
        const int frames = 200;
        var received = new ListReceiver();
        byte[] payload = new byte[256];
        for (uint seq = 0; seq < frames;)
        {
            for (int i = 0; i < Burst && seq < frames; i++, seq++)
                Assert.Equal(LinkSendResult.Sent, pair.A.Send(payload.AsSpan(0, Harness.MakePayload(seq, payload))));
            Pump(pair.B, received, (int)seq);
        }
        Quiet(pair.B, received);
        Assert.Equal(frames, received.Frames.Count);

        uint[] order = received.Frames.Select(f => BitConverter.ToUInt32(f, 0)).ToArray();
        foreach (byte[] f in received.Frames)
        {
            int length = Harness.MakePayload(BitConverter.ToUInt32(f, 0), payload);
            Assert.Equal(payload.AsSpan(0, length).ToArray(), f); // intact, whatever its length
        }
        if (PreservesOrder)
            Assert.Equal(Enumerable.Range(0, frames).Select(i => (uint)i), order);
        else
            Assert.Equal(Enumerable.Range(0, frames).Select(i => (uint)i), order.Order());
    }

    [ContractFact]
    public void The_largest_frame_arrives_intact_and_the_heartbeat_frame_fits()
    {
        Assert.True(MaxFrameBytes >= HeartbeatCodec.FrameBytes,
            $"{ExpectedKind} carries at most {MaxFrameBytes} bytes, less than a {HeartbeatCodec.FrameBytes}-byte heartbeat frame");
        LinkPair pair = Open();
        byte[] largest = RandomNumberGenerator.GetBytes(MaxFrameBytes);
        Assert.Equal(LinkSendResult.Sent, pair.A.Send(largest));
        Assert.Equal(largest, Receive(pair.B, 1).Single());
    }

    [ContractFact]
    public void An_oversized_frame_is_refused_with_Error_and_the_link_keeps_working()
    {
        LinkPair pair = Open();
        byte[] oversized = RandomNumberGenerator.GetBytes(MaxFrameBytes + 1);
        Assert.Equal(LinkSendResult.Error, pair.A.Send(oversized));

        byte[] next = RandomNumberGenerator.GetBytes(HeartbeatCodec.FrameBytes);
        Assert.Equal(LinkSendResult.Sent, pair.A.Send(next));
        var received = new ListReceiver();
        Pump(pair.B, received, 1);
        Quiet(pair.B, received);
        Assert.Equal(next, Assert.Single(received.Frames)); // nothing of the refused frame went out
    }

    [ContractFact]
    public void PollFd_is_readable_after_the_peer_sends_and_quiet_otherwise()
    {
        LinkPair pair = Open();
        Assert.False(Harness.WaitReadable(pair.A.PollFd, QuietForMs), "A polls readable with nothing sent");
        Assert.False(Harness.WaitReadable(pair.B.PollFd, QuietForMs), "B polls readable with nothing sent");

        byte[] frame = RandomNumberGenerator.GetBytes(HeartbeatCodec.FrameBytes);
        Assert.Equal(LinkSendResult.Sent, pair.B.Send(frame));
        Assert.True(Harness.WaitReadable(pair.A.PollFd, ArriveWithinMs), "A did not poll readable after B sent");
        var received = new ListReceiver();
        Pump(pair.A, received, 1);
        Assert.Equal(frame, Assert.Single(received.Frames));
        Assert.False(Harness.WaitReadable(pair.A.PollFd, QuietForMs), "A still polls readable after everything was drained");

        // A link's own sends never wake its own poll (no echo, no multicast loopback): the thread would spin.
        Assert.Equal(LinkSendResult.Sent, pair.A.Send(frame));
        Pump(pair.B, new ListReceiver(), 1);
        Assert.False(Harness.WaitReadable(pair.A.PollFd, QuietForMs), "A polls readable after its own send");
    }

    [ContractFact]
    public void Drain_returns_true_while_the_link_is_healthy()
    {
        LinkPair pair = Open();
        var received = new ListReceiver();
        Assert.True(pair.A.Drain(received), "Drain of an idle healthy link returned false");
        Assert.Empty(received.Frames);

        Assert.Equal(LinkSendResult.Sent, pair.B.Send(new byte[HeartbeatCodec.FrameBytes]));
        Pump(pair.A, received, 1); // fails if any Drain on the way returns false
        Assert.True(pair.A.Drain(received));
        Assert.Single(received.Frames);
    }

    [ContractFact]
    public void Send_to_a_peer_that_is_gone_returns_a_result_and_drain_does_not_throw()
    {
        LinkPair pair = Open();
        pair.B.Dispose();
        for (int i = 0; i < 3; i++)
        {
            LinkSendResult result = pair.A.Send(new byte[HeartbeatCodec.FrameBytes]);
            Assert.True(Enum.IsDefined(result), $"Send returned {result}");
            Thread.Sleep(20); // let an ICMP error or a hang-up come back
            // True (a UDP peer's daemon is just down) or false (the cable's other end hung up): either, no exception.
            pair.A.Drain(new ListReceiver());
        }
    }

    [ContractFact]
    public void Dispose_closes_the_polled_descriptor_and_is_idempotent()
    {
        LinkPair pair = Open();
        int fd = pair.A.PollFd;
        string? before = FdTarget(fd);
        Assert.NotNull(before);
        Output.WriteLine($"fd {fd} -> {before}");
        pair.A.Dispose();
        pair.A.Dispose();
        // The number may already be reused by another test's open: then it names another file.
        string? after = FdTarget(fd);
        Assert.True(after is null || after != before, $"fd {fd} still open on {before} after Dispose");
    }

    /// <summary>What /proc/self/fd/N points at ("socket:[1234]", "/dev/pts/7", "pipe:[99]"), or null when closed.</summary>
    private static string? FdTarget(int fd)
    {
        try
        {
            return new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Polls and drains <paramref name="link"/> until <paramref name="count"/> frames in all arrived; returns them.</summary>
    private static List<byte[]> Receive(IHeartbeatLink link, int count)
    {
        var received = new ListReceiver();
        Pump(link, received, count);
        return received.Frames;
    }

    /// <summary>The heartbeat thread's loop in small: poll the fd, drain, until enough frames; a false Drain fails.</summary>
    private static void Pump(IHeartbeatLink link, ListReceiver received, int count)
    {
        long deadline = Environment.TickCount64 + ArriveWithinMs;
        while (received.Frames.Count < count)
        {
            long remaining = deadline - Environment.TickCount64;
            Assert.True(remaining > 0, $"{link.Name}: {received.Frames.Count} of {count} frames arrived within {ArriveWithinMs} ms");
            if (Harness.WaitReadable(link.PollFd, (int)remaining))
                Assert.True(link.Drain(received), $"{link.Name}: Drain returned false (device gone) on a healthy link");
        }
    }

    /// <summary>Waits a little longer for anything extra (a duplicate, a refused frame that went out after all) and takes it.</summary>
    private static void Quiet(IHeartbeatLink link, ListReceiver received)
    {
        if (Harness.WaitReadable(link.PollFd, QuietForMs))
            Assert.True(link.Drain(received));
    }
}
