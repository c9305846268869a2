using System.Text;
using Appliance.Core.Fencing;
using FsCheck;
using FsCheck.Fluent;

namespace Appliance.Core.Tests.Fencing;

public class Rps10Tests
{
    private static readonly FsCheck.Config Many = FsCheck.Config.QuickThrowOnFailure.WithMaxTest(1000);

    private static readonly Rps10Timing Timing = Rps10Timing.Default;

    private static byte[] Ascii(string s) => Encoding.ASCII.GetBytes(s);

    /// <summary>Feeds <paramref name="stream"/> in chunks of <paramref name="chunk"/> bytes and collects the events.</summary>
    private static List<Rps10Reply> Read(Rps10ReplyReader reader, byte[] stream, int chunk = int.MaxValue)
    {
        var replies = new List<Rps10Reply>();
        for (int start = 0; start < stream.Length; start += chunk)
        {
            ReadOnlySpan<byte> input = stream.AsSpan(start, Math.Min(chunk, stream.Length - start));
            while (!input.IsEmpty)
            {
                int used = reader.Push(input, out Rps10Reply? reply);
                Assert.InRange(used, 1, input.Length);
                input = input[used..];
                if (reply is { } r)
                    replies.Add(r);
            }
        }
        return replies;
    }

    private static List<Rps10Reply> Read(string text, int chunk = int.MaxValue) => Read(new Rps10ReplyReader(), Ascii(text), chunk);

    // ---- frames (serial-pdu.md 3.3: observed off, on, reset and all-off frames of the real client) ----

    [Theory]
    [InlineData('0', Rps10Command.Off, "021818021818" + "30" + "30" + "0D")]
    [InlineData('0', Rps10Command.On, "021818021818" + "30" + "31" + "0D")]
    [InlineData('0', Rps10Command.Toggle, "021818021818" + "30" + "54" + "0D")]
    [InlineData('*', Rps10Command.Off, "021818021818" + "2A" + "30" + "0D")]
    [InlineData('9', Rps10Command.Status, "021818021818" + "39" + "3F" + "0D")]
    public void Frames_match_the_bytes_cluster_glue_sends(char outlet, Rps10Command command, string hex)
    {
        Assert.Equal(hex, Convert.ToHexString(Rps10.Frame(outlet, command)));
        Span<byte> big = stackalloc byte[16];
        Assert.Equal(Rps10.FrameBytes, Rps10.WriteFrame(outlet, command, big));
        Assert.Equal(hex, Convert.ToHexString(big[..Rps10.FrameBytes]));
    }

    [Theory]
    [InlineData('A')]
    [InlineData('a')]
    [InlineData(':')]
    [InlineData(' ')]
    [InlineData('\0')]
    public void Frame_refuses_a_bad_address(char outlet)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Rps10.Frame(outlet, Rps10Command.Off));
    }

    [Fact]
    public void Frame_refuses_a_bad_command_and_a_short_buffer()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Rps10.Frame('0', (Rps10Command)'t'));
        Assert.Throws<ArgumentException>(() => Rps10.WriteFrame('0', Rps10Command.Off, new byte[8]));
    }

    [Theory]
    [InlineData('0', '0')]
    [InlineData('9', '9')]
    [InlineData('*', '*')]
    [InlineData('A', '*')]
    [InlineData('a', '*')]
    public void Config_outlets_accept_cluster_glues_alias(char spelled, char expected)
    {
        Assert.True(Rps10.TryParseOutlet(spelled, out char outlet));
        Assert.Equal(expected, outlet);
    }

    [Fact]
    public void Config_outlets_refuse_the_rest()
    {
        Assert.False(Rps10.TryParseOutlet('B', out _));
        Assert.False(Rps10.TryParseOutlet('/', out _));
    }

    [Fact]
    public void Device_lines_end_with_cr_lf()
    {
        Assert.Equal("Plug 3 On\r\n", Rps10.PlugLine('3', on: true));
        Assert.Equal("Plug 0 Off\r\n", Rps10.PlugLine('0', on: false));
    }

    // ---- reply reader ----

    [Fact]
    public void Reads_the_replies_of_a_session()
    {
        var replies = Read("RPS-10 Ready\r\nPlug 0 Off\r\nComplete\r\nPlug 1 On\r\nComplete\r\n");
        Assert.Equal(
            [Rps10Reply.Ready, Rps10Reply.Plug('0', false), Rps10Reply.Complete, Rps10Reply.Plug('1', true), Rps10Reply.Complete],
            replies);
    }

    [Theory]
    [InlineData("\r\n")]
    [InlineData("\n\r")]
    [InlineData("\n")]
    [InlineData("\r")]
    [InlineData("\r\r\n\n")]
    public void Any_line_end_works_and_empty_lines_are_skipped(string eol)
    {
        var replies = Read($"{eol}Plug 7 On{eol}{eol}Complete{eol}");
        Assert.Equal([Rps10Reply.Plug('7', true), Rps10Reply.Complete], replies);
    }

    [Fact]
    public void A_line_without_its_end_is_not_a_reply_yet()
    {
        var reader = new Rps10ReplyReader();
        Assert.Empty(Read(reader, Ascii("Plug 0 Off")));
        Assert.Equal([Rps10Reply.Plug('0', false)], Read(reader, Ascii("\r\n")));
    }

    [Fact]
    public void Reset_forgets_a_partial_line()
    {
        var reader = new Rps10ReplyReader();
        Assert.Empty(Read(reader, Ascii("Plug 0 O")));
        reader.Reset();
        Assert.Equal([Rps10Reply.Complete], Read(reader, Ascii("Complete\r\n")));
    }

    [Fact]
    public void Split_at_every_byte_reads_the_same()
    {
        const string session = "RPS-10 Ready\r\nPlug 0 Off\r\nPlug 0 On\r\nComplete\r\n";
        Assert.Equal(Read(session), Read(session, chunk: 1));
        Assert.Equal(Read(session), Read(session, chunk: 5));
    }

    [Fact]
    public void Tokens_are_found_after_noise_on_the_same_line()
    {
        var replies = Read("\x01\x7f~xyz RPS-10 Ready\r\n##Plug 2 Off\r\n\0Complete\r\n");
        Assert.Equal([Rps10Reply.Ready, Rps10Reply.Plug('2', false), Rps10Reply.Complete], replies);
    }

    [Theory]
    [InlineData("Plug")]
    [InlineData("Plug 0")]
    [InlineData("Plug X On")]
    [InlineData("Plug 0 Offline")]
    [InlineData("Plug 0 Onward")]
    [InlineData("Plug0 On")]
    [InlineData("Plug 0On")]
    [InlineData("Plug * On")]
    [InlineData("plug 0 on")]
    [InlineData("hello")]
    [InlineData("RPS-10 Rea")]
    public void Malformed_lines_are_noise_counted_and_escaped(string line)
    {
        var reader = new Rps10ReplyReader();
        var replies = Read(reader, Ascii(line + "\r\n"));
        Rps10Reply noise = Assert.Single(replies);
        Assert.Equal(Rps10ReplyKind.Noise, noise.Kind);
        Assert.Equal(line, noise.Text);
        Assert.Equal(1, reader.NoiseLines);
    }

    [Fact]
    public void Noise_text_escapes_control_bytes()
    {
        var replies = Read(new Rps10ReplyReader(), [0x01, (byte)'a', 0xFF, (byte)'\\', (byte)'\n']);
        Assert.Equal("\\x01a\\xff\\\\", Assert.Single(replies).Text);
    }

    [Fact]
    public void An_endless_line_is_bounded_dropped_and_the_reader_resyncs()
    {
        var reader = new Rps10ReplyReader();
        byte[] flood = Enumerable.Repeat((byte)'x', 100_000).Concat(Ascii("Complete\r\nComplete\r\n")).ToArray();
        var replies = Read(reader, flood, chunk: 4096);
        Assert.Equal(2, replies.Count);
        Assert.Equal(Rps10ReplyKind.Noise, replies[0].Kind); // the flood, with "Complete" glued to its end: dropped
        Assert.Contains($"longer than {Rps10.MaxLineBytes} bytes", replies[0].Text);
        Assert.Equal(Rps10Reply.Complete, replies[1]);
        Assert.Equal(100_000 + "Complete".Length - Rps10.MaxLineBytes, reader.DiscardedBytes);
    }

    [Fact]
    public void Random_bytes_never_throw_and_events_stay_bounded()
    {
        Check.One(Many, Prop.ForAll<byte[]>(bytes =>
        {
            bytes ??= [];
            var reader = new Rps10ReplyReader();
            var replies = Read(reader, bytes, chunk: 7);
            // One event per line end at most, noise text bounded by the line buffer (4 chars per escaped byte).
            int lineEnds = bytes.Count(b => b is (byte)'\r' or (byte)'\n');
            return replies.Count <= lineEnds
                && replies.All(r => r.Text.Length <= 4 * Rps10.MaxLineBytes + 40)
                && reader.NoiseLines == replies.Count(r => r.Kind == Rps10ReplyKind.Noise);
        }));
    }

    [Fact]
    public void Valid_replies_survive_random_noise_lines_between_them()
    {
        // Noise without line ends or token letters, on its own lines, never hides a reply.
        var noise = Gen.ArrayOf(Gen.Elements("abdefxyz0123 \t\x01\x7f~!".ToCharArray()));
        var gen = from a in noise from b in noise from chunk in Gen.Choose(1, 40) select (a, b, chunk);
        Check.One(Many, Prop.ForAll(gen.ToArbitrary(), t =>
        {
            string stream = $"{new string(t.a)}\r\nPlug 4 On\r\n{new string(t.b)}\nComplete\r\n";
            var replies = Read(stream, t.chunk).Where(r => r.Kind != Rps10ReplyKind.Noise).ToList();
            return replies.SequenceEqual([Rps10Reply.Plug('4', true), Rps10Reply.Complete]);
        }));
    }

    // ---- command reader (device side) ----

    private static List<Rps10Frame> Frames(Rps10CommandReader reader, byte[] stream, int chunk = int.MaxValue)
    {
        var frames = new List<Rps10Frame>();
        for (int start = 0; start < stream.Length; start += chunk)
        {
            ReadOnlySpan<byte> input = stream.AsSpan(start, Math.Min(chunk, stream.Length - start));
            while (!input.IsEmpty)
            {
                int used = reader.Push(input, out Rps10Frame? frame);
                input = input[used..];
                if (frame is { } f)
                    frames.Add(f);
            }
        }
        return frames;
    }

    [Fact]
    public void Device_side_reads_frames_whole_split_and_concatenated()
    {
        byte[] stream = [.. Rps10.Frame('0', Rps10Command.Off), .. Rps10.Frame('*', Rps10Command.Toggle), .. Rps10.Frame('3', Rps10Command.Status)];
        Rps10Frame[] expected = [new('0', Rps10Command.Off), new('*', Rps10Command.Toggle), new('3', Rps10Command.Status)];
        foreach (int chunk in new[] { 1, 2, 9, 100 })
            Assert.Equal(expected, Frames(new Rps10CommandReader(), stream, chunk));
    }

    [Fact]
    public void Device_side_drops_noise_and_truncated_frames_but_keeps_the_next_good_one()
    {
        byte[] good = Rps10.Frame('1', Rps10Command.On);
        byte[] stream = [.. "junk\r\n"u8, .. good[..7], .. good, 0x02, 0x18, .. good, .. good[..8], 0x0A, .. good];
        var reader = new Rps10CommandReader();
        var frames = Frames(reader, stream);
        Assert.Equal(3, frames.Count);
        Assert.All(frames, f => Assert.Equal(new Rps10Frame('1', Rps10Command.On), f));
        Assert.Equal(6 + 7 + 2 + 9, reader.DiscardedBytes);
    }

    [Fact]
    public void Device_side_never_throws_on_random_bytes()
    {
        Check.One(Many, Prop.ForAll<byte[]>(bytes =>
        {
            bytes ??= [];
            var reader = new Rps10CommandReader();
            var frames = Frames(reader, bytes, 3);
            return frames.Count <= bytes.Length / Rps10.FrameBytes
                && reader.DiscardedBytes <= bytes.Length
                && frames.All(f => Rps10.IsAddress(f.Address) && Rps10.IsCommand((byte)f.Command));
        }));
    }

    // ---- exchanges ----

    private static readonly TimeSpan T0 = TimeSpan.FromSeconds(1234.5);

    private static Rps10Verdict Run(Rps10Exchange exchange, params Rps10Reply[] replies)
    {
        TimeSpan now = T0;
        foreach (Rps10Reply r in replies)
        {
            now += TimeSpan.FromMilliseconds(10);
            if (exchange.OnReply(r, now) is { } verdict)
                return verdict;
        }
        return exchange.OnTimeout();
    }

    [Fact]
    public void Off_acknowledged_for_the_right_outlet_is_done()
    {
        var v = Run(new Rps10Exchange('0', Rps10Command.Off, Timing, T0), Rps10Reply.Plug('0', false), Rps10Reply.Complete);
        Assert.Equal(FenceOutcome.Done, v.Result.Outcome);
        Assert.Equal(PowerState.Off, v.Result.Power);
        Assert.False(v.SessionLost);
    }

    [Fact]
    public void On_for_all_units_needs_every_line_on()
    {
        var ok = Run(new Rps10Exchange('*', Rps10Command.On, Timing, T0), Rps10Reply.Plug('0', true), Rps10Reply.Plug('1', true), Rps10Reply.Complete);
        Assert.Equal(PowerState.On, ok.Result.Power);
        var bad = Run(new Rps10Exchange('*', Rps10Command.On, Timing, T0), Rps10Reply.Plug('0', true), Rps10Reply.Plug('1', false), Rps10Reply.Complete);
        Assert.Equal(FenceOutcome.Error, bad.Result.Outcome);
    }

    [Fact]
    public void A_reply_for_another_outlet_is_an_error_that_says_so()
    {
        var v = Run(new Rps10Exchange('0', Rps10Command.Off, Timing, T0), Rps10Reply.Plug('1', false), Rps10Reply.Complete);
        Assert.Equal(FenceOutcome.Error, v.Result.Outcome);
        Assert.Contains("'Plug 1 Off'", v.Result.Reason);
        Assert.Contains("wrong outlet", v.Result.Reason);
        Assert.False(v.SessionLost); // Complete came: the line is in step
    }

    [Fact]
    public void A_reply_with_the_other_state_is_an_error()
    {
        var v = Run(new Rps10Exchange('0', Rps10Command.Off, Timing, T0), Rps10Reply.Plug('0', true), Rps10Reply.Complete);
        Assert.Equal(FenceOutcome.Error, v.Result.Outcome);
        Assert.Contains("wrong state", v.Result.Reason);
    }

    [Fact]
    public void Complete_without_a_plug_line_is_an_error()
    {
        var v = Run(new Rps10Exchange('0', Rps10Command.On, Timing, T0), Rps10Reply.Complete);
        Assert.Equal(FenceOutcome.Error, v.Result.Outcome);
    }

    [Theory]
    [InlineData(true, PowerState.On)]
    [InlineData(false, PowerState.Off)]
    public void Status_reads_the_power(bool on, PowerState power)
    {
        var v = Run(new Rps10Exchange('5', Rps10Command.Status, Timing, T0), Rps10Reply.Plug('5', on), Rps10Reply.Complete);
        Assert.Equal(FenceOutcome.Done, v.Result.Outcome);
        Assert.Equal(power, v.Result.Power);
    }

    [Fact]
    public void Status_of_all_units_is_on_while_any_is()
    {
        var v = Run(new Rps10Exchange('*', Rps10Command.Status, Timing, T0), Rps10Reply.Plug('0', false), Rps10Reply.Plug('1', true), Rps10Reply.Complete);
        Assert.Equal(PowerState.On, v.Result.Power);
    }

    [Fact]
    public void Toggle_waits_the_long_timeout_after_its_off_line()
    {
        var x = new Rps10Exchange('0', Rps10Command.Toggle, Timing, T0);
        Assert.Equal(T0 + Timing.ReplyTimeout, x.Deadline);
        Assert.Null(x.OnReply(Rps10Reply.Plug('0', false), T0 + TimeSpan.FromSeconds(1)));
        Assert.Equal(T0 + TimeSpan.FromSeconds(1) + Timing.ToggleTimeout, x.Deadline);
        Assert.Null(x.OnReply(Rps10Reply.Plug('0', true), T0 + TimeSpan.FromSeconds(5)));
        Assert.Equal(T0 + TimeSpan.FromSeconds(5) + Timing.ReplyTimeout, x.Deadline);
        var v = x.OnReply(Rps10Reply.Complete, T0 + TimeSpan.FromSeconds(5));
        Assert.Equal(FenceResult.Done(PowerState.On).Outcome, v!.Value.Result.Outcome);
        Assert.Equal(PowerState.On, v.Value.Result.Power);
    }

    [Fact]
    public void Toggle_that_starts_with_on_is_an_error()
    {
        var v = Run(new Rps10Exchange('0', Rps10Command.Toggle, Timing, T0), Rps10Reply.Plug('0', true), Rps10Reply.Complete);
        Assert.Equal(FenceOutcome.Error, v.Result.Outcome);
    }

    [Fact]
    public void Silence_is_a_timeout_that_loses_the_session()
    {
        var v = new Rps10Exchange('0', Rps10Command.Off, Timing, T0).OnTimeout();
        Assert.Equal(FenceOutcome.Timeout, v.Result.Outcome);
        Assert.True(v.SessionLost);
        Assert.Equal("no answer to off of outlet 0 within 2 s", v.Result.Reason);
    }

    [Fact]
    public void A_partial_answer_then_silence_says_what_came()
    {
        var v = Run(new Rps10Exchange('0', Rps10Command.Off, Timing, T0), Rps10Reply.Plug('0', false));
        Assert.Equal(FenceOutcome.Timeout, v.Result.Outcome);
        Assert.Equal("'Plug 0 Off' but no Complete to off of outlet 0 within 2 s", v.Result.Reason);
    }

    [Fact]
    public void Noise_does_not_move_the_deadline_and_a_streak_of_it_is_an_error()
    {
        var x = new Rps10Exchange('0', Rps10Command.Off, Timing, T0);
        var noise = new Rps10Reply(Rps10ReplyKind.Noise, Text: "~~");
        for (int i = 1; i < Rps10Exchange.GarbageStreakMax; i++)
            Assert.Null(x.OnReply(noise, T0 + TimeSpan.FromMilliseconds(i)));
        Assert.Equal(T0 + Timing.ReplyTimeout, x.Deadline);
        var v = x.OnReply(noise, T0 + TimeSpan.FromSeconds(1))!.Value;
        Assert.Equal(FenceOutcome.Error, v.Result.Outcome);
        Assert.True(v.SessionLost);
        Assert.Contains("unreadable", v.Result.Reason);
    }

    [Fact]
    public void Unprompted_ready_banners_are_ignored()
    {
        var v = Run(new Rps10Exchange('0', Rps10Command.On, Timing, T0), Rps10Reply.Ready, Rps10Reply.Plug('0', true), Rps10Reply.Ready, Rps10Reply.Complete);
        Assert.Equal(FenceOutcome.Done, v.Result.Outcome);
    }

    [Fact]
    public void More_plug_lines_than_units_is_an_error()
    {
        var lines = Enumerable.Repeat(Rps10Reply.Plug('0', false), Rps10.MaxUnits + 1).ToArray();
        var v = Run(new Rps10Exchange('*', Rps10Command.Off, Timing, T0), lines);
        Assert.Equal(FenceOutcome.Error, v.Result.Outcome);
        Assert.True(v.SessionLost);
    }

    [Fact]
    public void Any_reply_sequence_ends_in_one_verdict_without_throwing()
    {
        var reply = Gen.OneOf(
            Gen.Constant(Rps10Reply.Ready), Gen.Constant(Rps10Reply.Complete),
            Gen.Constant(new Rps10Reply(Rps10ReplyKind.Noise, Text: "?")),
            from u in Gen.Elements('0', '1', '9') from isOn in ArbMap.Default.GeneratorFor<bool>() select Rps10Reply.Plug(u, isOn));
        var gen = from cmd in Gen.Elements(Rps10Command.Off, Rps10Command.On, Rps10Command.Toggle, Rps10Command.Status)
                  from outlet in Gen.Elements('0', '1', '*')
                  from replies in Gen.ArrayOf(reply)
                  select (cmd, outlet, replies);
        Check.One(Many, Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var v = Run(new Rps10Exchange(t.outlet, t.cmd, Timing, T0), t.replies);
            // Done only after an acknowledgement for the right outlet; a lost session is never Done.
            return v.Result.Reason.Length > 0 && !(v.SessionLost && v.Result.Ok)
                && (!v.Result.Ok || t.replies.Any(r => r.Kind == Rps10ReplyKind.Complete));
        }));
    }

    [Fact]
    public void Timings_must_be_positive()
    {
        Rps10Timing.Default.Validate();
        Assert.Throws<ArgumentOutOfRangeException>(() => (Rps10Timing.Default with { ReplyTimeout = TimeSpan.Zero }).Validate());
    }
}
