using System.Buffers.Binary;
using System.Text;

namespace Appliance.Core.ConfigSync;

public enum SyncMessageType : byte
{
    Announce = 1,
    Offer = 2,
    Fragment = 3,
    Ack = 4,
    Request = 5,
    Cancel = 6,
}

/// <summary>What a transfer carries and what the receiver does with it.</summary>
public enum TransferKind : byte
{
    /// <summary>Automatic, after a commit or when a partition heals: applied only if the receiver still runs <see cref="OfferMessage.Expected"/>.</summary>
    Replicate = 1,
    /// <summary>`config push`: replaces the receiver's config even when the two diverged; no change of the pair's identity.</summary>
    Push = 2,
    /// <summary>`config push --force`: like <see cref="Push"/>, and may change the cluster key file, name or node list.</summary>
    ForcePush = 3,
    /// <summary>The answer to the receiver's `config pull` (the receiver's own request says whether it forces).</summary>
    PullReply = 4,
    /// <summary>The answer to `config diff`: the sender's text, shown, never applied.</summary>
    FetchReply = 5,
    /// <summary>The outcome of applying a received config, back to the node that sent it (<see cref="ApplyReport"/>).</summary>
    Result = 6,
}

public enum RequestKind : byte
{
    /// <summary>Send an announce now (the keepalive's config word disagrees with the last one).</summary>
    Announce = 1,
    /// <summary>`config pull`: send me your config (as a <see cref="TransferKind.PullReply"/>) for me to apply.</summary>
    Pull = 2,
    /// <summary>`config diff`: send me your config text (as a <see cref="TransferKind.FetchReply"/>) to compare.</summary>
    Fetch = 3,
}

/// <summary>Why a transfer was refused or abandoned (the text says it for people).</summary>
public enum CancelReason : byte
{
    /// <summary>The offer's size or fragment count is outside the bounds.</summary>
    TooLarge = 1,
    /// <summary>The receiver has too many transfers in progress.</summary>
    Busy = 2,
    /// <summary>The whole did not hash to what the offer said.</summary>
    HashMismatch = 3,
    /// <summary>The sender gave up (timeout, a newer transfer, shutdown).</summary>
    Abandoned = 4,
    /// <summary>Nothing asked for this reply (an unknown request id).</summary>
    Unsolicited = 5,
    /// <summary>The offer is malformed (its kind, its counts).</summary>
    Malformed = 6,
    /// <summary>A replication based on a config the receiver no longer runs: the two diverged.</summary>
    Stale = 7,
}

/// <summary>
/// The payloads of <see cref="SyncEnvelope"/> (the envelope authenticates them and says who sent them
/// in which boot). First byte: <see cref="SyncMessageType"/>; big-endian fields.
/// </summary>
public abstract record SyncMessage
{
    public abstract SyncMessageType Type { get; }

    /// <summary>Writes the payload; returns its length (never more than <see cref="SyncEnvelope.MaxPayloadBytes"/>).</summary>
    public abstract int Write(Span<byte> dst);

    public byte[] ToBytes()
    {
        Span<byte> buffer = stackalloc byte[SyncEnvelope.MaxPayloadBytes];
        int n = Write(buffer);
        return buffer[..n].ToArray();
    }
}

/// <summary>
/// What this node runs and the last version both were seen to run. Sent at start, on every change,
/// when asked, and every <see cref="SyncLimits.AnnounceInterval"/>.
/// </summary>
/// <remarks>1 type, 36 local stamp, 36 agreed stamp, 4 text bytes.</remarks>
public sealed record AnnounceMessage(ConfigStamp Local, ConfigStamp Agreed, uint TextBytes) : SyncMessage
{
    public const int Length = 1 + 36 + 36 + 4;

    public override SyncMessageType Type => SyncMessageType.Announce;

    public override int Write(Span<byte> dst)
    {
        dst[0] = (byte)Type;
        SyncWire.WriteStamp(dst[1..], Local);
        SyncWire.WriteStamp(dst[37..], Agreed);
        BinaryPrimitives.WriteUInt32BigEndian(dst[73..], TextBytes);
        return Length;
    }
}

/// <summary>
/// Starts a transfer: its id (random per transfer), what it is, the request or transfer it answers, its
/// size, fragment count and SHA-256, the config stamp it carries, and (for <see cref="TransferKind.Replicate"/>)
/// the config the sender believes the receiver runs.
/// </summary>
/// <remarks>1 type, 8 id, 1 kind, 8 in-reply-to, 4 total bytes, 2 fragments, 32 hash, 36 stamp, 32 expected.</remarks>
public sealed record OfferMessage(ulong TransferId, TransferKind Kind, ulong InReplyTo, uint TotalBytes, ushort FragmentCount,
    ConfigHash TotalHash, ConfigStamp Stamp, ConfigHash Expected) : SyncMessage
{
    public const int Length = 1 + 8 + 1 + 8 + 4 + 2 + 32 + 36 + 32;

    public override SyncMessageType Type => SyncMessageType.Offer;

    public override int Write(Span<byte> dst)
    {
        dst[0] = (byte)Type;
        BinaryPrimitives.WriteUInt64BigEndian(dst[1..], TransferId);
        dst[9] = (byte)Kind;
        BinaryPrimitives.WriteUInt64BigEndian(dst[10..], InReplyTo);
        BinaryPrimitives.WriteUInt32BigEndian(dst[18..], TotalBytes);
        BinaryPrimitives.WriteUInt16BigEndian(dst[22..], FragmentCount);
        TotalHash.Write(dst[24..]);
        SyncWire.WriteStamp(dst[56..], Stamp);
        Expected.Write(dst[92..]);
        return Length;
    }
}

/// <summary>One piece of a transfer: 1 type, 8 id, 2 index, then up to <see cref="MaxDataBytes"/> bytes.</summary>
public sealed record FragmentMessage(ulong TransferId, ushort Index, ReadOnlyMemory<byte> Data) : SyncMessage
{
    public const int HeaderLength = 1 + 8 + 2;

    /// <summary>Data per fragment: what is left of the envelope's payload (177 bytes).</summary>
    public const int MaxDataBytes = SyncEnvelope.MaxPayloadBytes - HeaderLength;

    public override SyncMessageType Type => SyncMessageType.Fragment;

    public override int Write(Span<byte> dst)
    {
        if (Data.Length > MaxDataBytes)
            throw new ArgumentException($"fragment of {Data.Length} bytes exceeds {MaxDataBytes}");
        dst[0] = (byte)Type;
        BinaryPrimitives.WriteUInt64BigEndian(dst[1..], TransferId);
        BinaryPrimitives.WriteUInt16BigEndian(dst[9..], Index);
        Data.Span.CopyTo(dst[HeaderLength..]);
        return HeaderLength + Data.Length;
    }

    // Records compare memory by reference; compare the bytes.
    public bool Equals(FragmentMessage? other) =>
        other is not null && TransferId == other.TransferId && Index == other.Index && Data.Span.SequenceEqual(other.Data.Span);

    public override int GetHashCode() => HashCode.Combine(TransferId, Index, Data.Length);
}

/// <summary>
/// What the receiver holds of a transfer: every fragment below <see cref="Cumulative"/>, and fragment
/// Cumulative + 1 + i when bit i of <see cref="Selective"/> is set. <see cref="Complete"/>: all of it,
/// and it hashed right. Cumulative 0 with nothing else acknowledges the offer.
/// </summary>
/// <remarks>1 type, 8 id, 2 cumulative, 8 selective, 1 complete.</remarks>
public sealed record AckMessage(ulong TransferId, ushort Cumulative, ulong Selective, bool Complete) : SyncMessage
{
    public const int Length = 1 + 8 + 2 + 8 + 1;

    public override SyncMessageType Type => SyncMessageType.Ack;

    public override int Write(Span<byte> dst)
    {
        dst[0] = (byte)Type;
        BinaryPrimitives.WriteUInt64BigEndian(dst[1..], TransferId);
        BinaryPrimitives.WriteUInt16BigEndian(dst[9..], Cumulative);
        BinaryPrimitives.WriteUInt64BigEndian(dst[11..], Selective);
        dst[19] = Complete ? (byte)1 : (byte)0;
        return Length;
    }
}

/// <summary>Asks the peer for something (<see cref="RequestKind"/>); 1 type, 8 request id, 1 kind.</summary>
public sealed record RequestMessage(ulong RequestId, RequestKind Kind) : SyncMessage
{
    public const int Length = 1 + 8 + 1;

    public override SyncMessageType Type => SyncMessageType.Request;

    public override int Write(Span<byte> dst)
    {
        dst[0] = (byte)Type;
        BinaryPrimitives.WriteUInt64BigEndian(dst[1..], RequestId);
        dst[9] = (byte)Kind;
        return Length;
    }
}

/// <summary>Refuses or abandons a transfer (or a request): 1 type, 8 id, 1 reason, then UTF-8 text (cut to fit).</summary>
public sealed record CancelMessage(ulong Id, CancelReason Reason, string Text) : SyncMessage
{
    public const int HeaderLength = 1 + 8 + 1;

    public const int MaxTextBytes = SyncEnvelope.MaxPayloadBytes - HeaderLength;

    public override SyncMessageType Type => SyncMessageType.Cancel;

    public override int Write(Span<byte> dst)
    {
        dst[0] = (byte)Type;
        BinaryPrimitives.WriteUInt64BigEndian(dst[1..], Id);
        dst[9] = (byte)Reason;
        return HeaderLength + SyncWire.WriteTextCut(Text, dst.Slice(HeaderLength, MaxTextBytes));
    }
}

public enum SyncDecodeStatus { Ok, Empty, UnknownType, WrongLength, BadValue }

public static class SyncWire
{
    public static void WriteStamp(Span<byte> dst, ConfigStamp s)
    {
        BinaryPrimitives.WriteUInt32BigEndian(dst, s.Counter);
        s.Hash.Write(dst[4..]);
    }

    public static ConfigStamp ReadStamp(ReadOnlySpan<byte> src) =>
        new(BinaryPrimitives.ReadUInt32BigEndian(src), ConfigHash.Read(src[4..]));

    /// <summary>Writes as much of <paramref name="text"/> as fits, cut on a character boundary.</summary>
    public static int WriteTextCut(string text, Span<byte> dst)
    {
        var encoder = Encoding.UTF8.GetEncoder();
        encoder.Convert(text.AsSpan(), dst, flush: true, out _, out int written, out _);
        return written;
    }

    /// <summary>Decodes one payload. Never throws: a bad payload is a status (the envelope was authentic, so it is a bug or a newer peer).</summary>
    public static SyncDecodeStatus TryDecode(ReadOnlySpan<byte> src, out SyncMessage? message)
    {
        message = null;
        if (src.IsEmpty)
            return SyncDecodeStatus.Empty;
        switch ((SyncMessageType)src[0])
        {
            case SyncMessageType.Announce:
                if (src.Length != AnnounceMessage.Length)
                    return SyncDecodeStatus.WrongLength;
                message = new AnnounceMessage(ReadStamp(src[1..]), ReadStamp(src[37..]), BinaryPrimitives.ReadUInt32BigEndian(src[73..]));
                return SyncDecodeStatus.Ok;
            case SyncMessageType.Offer:
                if (src.Length != OfferMessage.Length)
                    return SyncDecodeStatus.WrongLength;
                var kind = (TransferKind)src[9];
                if (kind is < TransferKind.Replicate or > TransferKind.Result)
                    return SyncDecodeStatus.BadValue;
                message = new OfferMessage(BinaryPrimitives.ReadUInt64BigEndian(src[1..]), kind,
                    BinaryPrimitives.ReadUInt64BigEndian(src[10..]), BinaryPrimitives.ReadUInt32BigEndian(src[18..]),
                    BinaryPrimitives.ReadUInt16BigEndian(src[22..]), ConfigHash.Read(src[24..]), ReadStamp(src[56..]), ConfigHash.Read(src[92..]));
                return SyncDecodeStatus.Ok;
            case SyncMessageType.Fragment:
                if (src.Length < FragmentMessage.HeaderLength || src.Length > FragmentMessage.HeaderLength + FragmentMessage.MaxDataBytes)
                    return SyncDecodeStatus.WrongLength;
                message = new FragmentMessage(BinaryPrimitives.ReadUInt64BigEndian(src[1..]), BinaryPrimitives.ReadUInt16BigEndian(src[9..]),
                    src[FragmentMessage.HeaderLength..].ToArray());
                return SyncDecodeStatus.Ok;
            case SyncMessageType.Ack:
                if (src.Length != AckMessage.Length)
                    return SyncDecodeStatus.WrongLength;
                if (src[19] > 1)
                    return SyncDecodeStatus.BadValue;
                message = new AckMessage(BinaryPrimitives.ReadUInt64BigEndian(src[1..]), BinaryPrimitives.ReadUInt16BigEndian(src[9..]),
                    BinaryPrimitives.ReadUInt64BigEndian(src[11..]), src[19] == 1);
                return SyncDecodeStatus.Ok;
            case SyncMessageType.Request:
                if (src.Length != RequestMessage.Length)
                    return SyncDecodeStatus.WrongLength;
                var rk = (RequestKind)src[9];
                if (rk is < RequestKind.Announce or > RequestKind.Fetch)
                    return SyncDecodeStatus.BadValue;
                message = new RequestMessage(BinaryPrimitives.ReadUInt64BigEndian(src[1..]), rk);
                return SyncDecodeStatus.Ok;
            case SyncMessageType.Cancel:
                if (src.Length < CancelMessage.HeaderLength)
                    return SyncDecodeStatus.WrongLength;
                var reason = (CancelReason)src[9];
                if (reason is < CancelReason.TooLarge or > CancelReason.Stale)
                    return SyncDecodeStatus.BadValue;
                message = new CancelMessage(BinaryPrimitives.ReadUInt64BigEndian(src[1..]), reason,
                    Encoding.UTF8.GetString(src[CancelMessage.HeaderLength..]));
                return SyncDecodeStatus.Ok;
            default:
                return SyncDecodeStatus.UnknownType;
        }
    }
}
