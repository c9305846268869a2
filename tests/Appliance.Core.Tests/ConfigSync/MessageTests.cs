using Appliance.Core.ConfigSync;

namespace Appliance.Core.Tests.ConfigSync;

public class MessageTests
{
    private static readonly ConfigStamp S1 = new(3, ConfigHash.Of("one"u8));
    private static readonly ConfigStamp S2 = new(2, ConfigHash.Of("two"u8));

    public static TheoryData<SyncMessage> Samples() =>
    [
        new AnnounceMessage(S1, S2, 1234),
        new OfferMessage(0x1122334455667788, TransferKind.Replicate, 0, 5000, 29, ConfigHash.Of("x"u8), S1, S2.Hash),
        new OfferMessage(9, TransferKind.Result, 0x99, 0, 0, ConfigHash.Of(""u8), S1, ConfigHash.None),
        new FragmentMessage(7, 3, new byte[] { 1, 2, 3 }),
        new FragmentMessage(7, 4, new byte[FragmentMessage.MaxDataBytes]),
        new AckMessage(7, 12, 0b1011, false),
        new AckMessage(7, 29, 0, true),
        new RequestMessage(0xabc, RequestKind.Pull),
        new CancelMessage(0xdef, CancelReason.Stale, "beta runs v6 (12345678)"),
    ];

    [Theory]
    [MemberData(nameof(Samples))]
    public void Round_trips_and_fits_the_envelope(SyncMessage m)
    {
        var bytes = m.ToBytes();
        Assert.InRange(bytes.Length, 1, SyncEnvelope.MaxPayloadBytes);
        Assert.Equal(SyncDecodeStatus.Ok, SyncWire.TryDecode(bytes, out var back));
        Assert.Equal(m, back);
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void A_truncated_message_is_a_status_not_an_exception(SyncMessage m)
    {
        var bytes = m.ToBytes();
        for (int n = 0; n < bytes.Length; n++)
        {
            var status = SyncWire.TryDecode(bytes.AsSpan(0, n), out var back);
            // A cancel's text and a fragment's data may be any length; every other cut is refused.
            if (status == SyncDecodeStatus.Ok)
                Assert.True(m is CancelMessage or FragmentMessage, $"{m.Type} cut to {n} bytes decoded");
        }
    }

    [Fact]
    public void Unknown_types_and_out_of_range_values_are_refused()
    {
        Assert.Equal(SyncDecodeStatus.Empty, SyncWire.TryDecode([], out _));
        Assert.Equal(SyncDecodeStatus.UnknownType, SyncWire.TryDecode([99, 0, 0], out _));
        var offer = new OfferMessage(1, TransferKind.Push, 0, 1, 1, default, S1, default).ToBytes();
        offer[9] = 42;
        Assert.Equal(SyncDecodeStatus.BadValue, SyncWire.TryDecode(offer, out _));
        var request = new RequestMessage(1, RequestKind.Fetch).ToBytes();
        request[9] = 0;
        Assert.Equal(SyncDecodeStatus.BadValue, SyncWire.TryDecode(request, out _));
        var ack = new AckMessage(1, 0, 0, true).ToBytes();
        ack[19] = 2;
        Assert.Equal(SyncDecodeStatus.BadValue, SyncWire.TryDecode(ack, out _));
        Assert.Equal(SyncDecodeStatus.WrongLength, SyncWire.TryDecode(new byte[FragmentMessage.HeaderLength + FragmentMessage.MaxDataBytes + 1].Select((b, i) => i == 0 ? (byte)3 : b).ToArray(), out _));
    }

    [Fact]
    public void A_long_cancel_text_is_cut_on_a_character_boundary()
    {
        var m = new CancelMessage(1, CancelReason.Busy, new string('é', 400));
        var bytes = m.ToBytes();
        Assert.True(bytes.Length <= SyncEnvelope.MaxPayloadBytes);
        Assert.Equal(SyncDecodeStatus.Ok, SyncWire.TryDecode(bytes, out var back));
        Assert.Matches("^é+$", ((CancelMessage)back!).Text);
    }

    [Fact]
    public void Apply_report_round_trips_and_is_bounded()
    {
        var r = new ApplyReport(ApplyOutcome.Refused, S1, "appliance.yaml:3:5: expected a duration");
        Assert.Equal(r, ApplyReport.Decode(r.Encode(1000)));
        var big = new ApplyReport(ApplyOutcome.Refused, S1, new string('x', 5000));
        Assert.Equal(100, big.Encode(100).Length);
        Assert.Null(ApplyReport.Decode(new byte[10]));
        Assert.Null(ApplyReport.Decode(new byte[40]));
    }
}
