using System.Buffers.Binary;
using System.Security.Cryptography;
using Appliance.Core.Heartbeat;
using Appliance.Core.Values;

namespace Appliance.Core.ConfigSync;

public enum EnvelopeStatus
{
    Ok,
    /// <summary>Shorter than a header and a tag, longer than <see cref="SyncEnvelope.MaxMessageBytes"/>, or its length field disagrees.</summary>
    WrongLength,
    BadMagic,
    UnsupportedVersion,
    WrongCluster,
    BadTag,
    /// <summary>Authentic, but not from the peer, sent on another link, or a field is out of range.</summary>
    Misdirected,
    /// <summary>Authentic, but for another boot of this node or from another boot of the peer than the one the heartbeat proved.</summary>
    WrongBoot,
    /// <summary>Authentic and for this boot, but its sequence was seen already or is too old (a replay or a duplicate).</summary>
    Replayed,
}

/// <summary>One config-sync message as it travels: who sent it to whom, in which boots, its sequence, and its payload.</summary>
public readonly ref struct SyncEnvelopeView(byte linkIndex, NodeId sender, BootId senderBoot, BootId receiverBoot, ulong seq, ReadOnlySpan<byte> payload)
{
    public byte LinkIndex { get; } = linkIndex;
    public NodeId Sender { get; } = sender;
    public BootId SenderBoot { get; } = senderBoot;
    public BootId ReceiverBoot { get; } = receiverBoot;
    public ulong Seq { get; } = seq;
    public ReadOnlySpan<byte> Payload { get; } = payload;
}

/// <summary>
/// The authenticated envelope of config-sync messages on the heartbeat links, beside the keepalives.
/// Layout, big-endian:
/// <code>
///  0  2  magic "AS"                  12  8  sender boot id (its heartbeat's)
///  2  1  version (1)                 20  8  receiver boot id (the peer's boot as the sender's heartbeat knows it)
///  3  1  link index                  28  8  sequence (per sender boot, every sync message)
///  4  4  cluster name hash           36  n  payload (<see cref="SyncMessages"/>)
///  8  1  sender node id            36+n 32  HMAC-SHA256 over bytes 0..36+n-1
///  9  1  zero
/// 10  2  payload length n
/// </code>
/// The magic differs from the keepalive's "AP", so the receiving side tells the two apart by their
/// first two bytes; a firmware that knows no sync counts these as rejected frames and goes on.
/// Freshness comes from the heartbeat: a message counts only if it names this node's current boot and
/// comes from the peer boot the heartbeat is talking to, and its sequence is new
/// (<see cref="ReplayWindow"/>), so recordings of another boot, or replays within one, are dropped.
/// Encode and decode never allocate; decode never throws.
/// </summary>
public sealed class SyncEnvelope
{
    public const byte Version = 1;
    public const int HeaderBytes = 36;
    public const int TagBytes = 32;

    /// <summary>
    /// Largest message: what the serial framing carries in one frame
    /// (<see cref="SerialFraming.MaxPayloadBytes"/>), so every message can take either link.
    /// </summary>
    public const int MaxMessageBytes = SerialFraming.MaxPayloadBytes;

    public const int MaxPayloadBytes = MaxMessageBytes - HeaderBytes - TagBytes;

    private const byte Magic0 = (byte)'A', Magic1 = (byte)'S';

    private readonly byte[] _key;
    private readonly uint _clusterHash;

    public SyncEnvelope(ReadOnlySpan<byte> key, string clusterName)
    {
        if (key.Length < HeartbeatCodec.MinKeyBytes)
            throw new ArgumentException($"key must be at least {HeartbeatCodec.MinKeyBytes} bytes, got {key.Length}", nameof(key));
        _key = key.ToArray();
        _clusterHash = HeartbeatCodec.ClusterHash(clusterName);
    }

    /// <summary>True when <paramref name="frame"/> starts like a sync message (cheap: the receive path's demultiplexer).</summary>
    public static bool IsSyncMessage(ReadOnlySpan<byte> frame) => frame.Length >= 2 && frame[0] == Magic0 && frame[1] == Magic1;

    public static int MessageLength(int payloadLength) => HeaderBytes + payloadLength + TagBytes;

    /// <summary>Writes the envelope around <paramref name="payload"/> into <paramref name="dst"/>; returns its length.</summary>
    public int Encode(byte linkIndex, NodeId sender, BootId senderBoot, BootId receiverBoot, ulong seq, ReadOnlySpan<byte> payload, Span<byte> dst)
    {
        if (payload.Length > MaxPayloadBytes)
            throw new ArgumentException($"payload of {payload.Length} bytes exceeds {MaxPayloadBytes}", nameof(payload));
        int length = MessageLength(payload.Length);
        if (dst.Length < length)
            throw new ArgumentException("destination too small", nameof(dst));
        dst[0] = Magic0;
        dst[1] = Magic1;
        dst[2] = Version;
        dst[3] = linkIndex;
        BinaryPrimitives.WriteUInt32BigEndian(dst[4..], _clusterHash);
        dst[8] = sender.Value;
        dst[9] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(dst[10..], (ushort)payload.Length);
        BinaryPrimitives.WriteUInt64BigEndian(dst[12..], senderBoot.Value);
        BinaryPrimitives.WriteUInt64BigEndian(dst[20..], receiverBoot.Value);
        BinaryPrimitives.WriteUInt64BigEndian(dst[28..], seq);
        payload.CopyTo(dst[HeaderBytes..]);
        int tagAt = HeaderBytes + payload.Length;
        HMACSHA256.HashData(_key, dst[..tagAt], dst.Slice(tagAt, TagBytes));
        return length;
    }

    /// <summary>Checks the magic, version, cluster, length and tag; on <see cref="EnvelopeStatus.Ok"/> the view is the message.</summary>
    public EnvelopeStatus TryOpen(ReadOnlySpan<byte> src, out SyncEnvelopeView view)
    {
        view = default;
        if (src.Length < HeaderBytes + TagBytes || src.Length > MaxMessageBytes)
            return EnvelopeStatus.WrongLength;
        if (src[0] != Magic0 || src[1] != Magic1)
            return EnvelopeStatus.BadMagic;
        if (src[2] != Version)
            return EnvelopeStatus.UnsupportedVersion;
        if (BinaryPrimitives.ReadUInt32BigEndian(src[4..]) != _clusterHash)
            return EnvelopeStatus.WrongCluster;
        int payloadLength = BinaryPrimitives.ReadUInt16BigEndian(src[10..]);
        if (MessageLength(payloadLength) != src.Length)
            return EnvelopeStatus.WrongLength;
        int tagAt = HeaderBytes + payloadLength;
        Span<byte> tag = stackalloc byte[TagBytes];
        HMACSHA256.HashData(_key, src[..tagAt], tag);
        if (!CryptographicOperations.FixedTimeEquals(tag, src.Slice(tagAt, TagBytes)))
            return EnvelopeStatus.BadTag;
        if (src[8] == 0 || src[9] != 0)
            return EnvelopeStatus.Misdirected;
        view = new SyncEnvelopeView(src[3], new NodeId(src[8]),
            new BootId(BinaryPrimitives.ReadUInt64BigEndian(src[12..])),
            new BootId(BinaryPrimitives.ReadUInt64BigEndian(src[20..])),
            BinaryPrimitives.ReadUInt64BigEndian(src[28..]),
            src.Slice(HeaderBytes, payloadLength));
        return EnvelopeStatus.Ok;
    }
}

/// <summary>
/// The receiving end's freshness rule for sync messages of one peer boot: a sliding window over
/// sequence numbers (as IPsec's anti-replay window, RFC 4303 section 3.4.3). Messages may arrive out of
/// order (they take whichever link is up), so a sequence below the highest is still accepted once if
/// it is within <see cref="WindowSize"/> of it; a duplicate, or anything older, is a replay.
/// </summary>
public sealed class ReplayWindow
{
    /// <summary>How far behind the newest sequence a late message may be: more than the sender ever has in flight.</summary>
    public const int WindowSize = 64;

    private BootId _boot;
    private ulong _highest;
    private ulong _seen; // bit i: _highest - i was seen

    /// <summary>Accepts <paramref name="seq"/> of <paramref name="boot"/> once; a new boot starts a new window.</summary>
    public bool Accept(BootId boot, ulong seq)
    {
        if (seq == 0)
            return false;
        if (boot != _boot)
        {
            _boot = boot;
            _highest = seq;
            _seen = 1;
            return true;
        }
        if (seq > _highest)
        {
            ulong shift = seq - _highest;
            _seen = shift >= WindowSize ? 1 : (_seen << (int)shift) | 1;
            _highest = seq;
            return true;
        }
        ulong behind = _highest - seq;
        if (behind >= WindowSize)
            return false;
        ulong bit = 1UL << (int)behind;
        if ((_seen & bit) != 0)
            return false;
        _seen |= bit;
        return true;
    }
}

/// <summary>
/// Both ends of the envelope for one node, as the heartbeat's owner uses them: <see cref="Seal"/> stamps
/// an outgoing payload with this boot, the peer's boot and the next sequence; <see cref="Admit"/> lets
/// an incoming message through only if it is authentic, from the peer, on the link it names, between
/// the boots the heartbeat proved, and new. Single-threaded (the heartbeat thread); no allocation.
/// </summary>
public sealed class SyncGate(SyncEnvelope envelope, NodeId self, NodeId peer)
{
    private readonly ReplayWindow _window = new();
    private ulong _seq;

    public SyncEnvelope Envelope => envelope;

    /// <summary>Wraps <paramref name="payload"/> for link <paramref name="linkIndex"/>; returns the message length.</summary>
    public int Seal(byte linkIndex, BootId selfBoot, BootId peerBoot, ReadOnlySpan<byte> payload, Span<byte> dst) =>
        envelope.Encode(linkIndex, self, selfBoot, peerBoot, ++_seq, payload, dst);

    /// <param name="selfBoot">This node's boot (what the message must be addressed to).</param>
    /// <param name="peerBoot">The peer's boot the heartbeat is talking to.</param>
    /// <param name="peerAlive">The heartbeat judges the peer up: its boot is proven, not a replayed hello.</param>
    public EnvelopeStatus Admit(ReadOnlySpan<byte> frame, int linkIndex, BootId selfBoot, BootId peerBoot, bool peerAlive, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        var status = envelope.TryOpen(frame, out var view);
        if (status != EnvelopeStatus.Ok)
            return status;
        if (view.Sender != peer || view.Sender == self || view.LinkIndex != linkIndex)
            return EnvelopeStatus.Misdirected;
        if (!peerAlive || view.ReceiverBoot != selfBoot || view.SenderBoot != peerBoot || peerBoot == BootId.None)
            return EnvelopeStatus.WrongBoot;
        if (!_window.Accept(view.SenderBoot, view.Seq))
            return EnvelopeStatus.Replayed;
        payload = view.Payload;
        return EnvelopeStatus.Ok;
    }
}
