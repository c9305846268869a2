using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Appliance.Core.Values;

namespace Appliance.Core.Heartbeat;

/// <summary>Roles of DESIGN.md section 5, as carried in the state summary.</summary>
public enum NodeRole : byte
{
    Starting = 0,
    Standby = 1,
    Fencing = 2,
    Takeover = 3,
    Active = 4,
    Releasing = 5,
    Failed = 6,
}

[Flags]
public enum HealthFlags : byte
{
    None = 0,
    /// <summary>A local monitor fails: this node should not hold resources.</summary>
    MonitorFailing = 1,
    /// <summary>A resource failed to stop: this node may still hold it and must be fenced before takeover.</summary>
    StopFailed = 2,
    /// <summary>
    /// The stall guard fired and its question to the peer is open, or the node is stepping down
    /// because of it (Membership.CheckStall). A node that sees an active peer announce this does not
    /// release to it: the stalled node releases by itself unless this node says it holds nothing.
    /// </summary>
    Stalled = 4,
    /// <summary>This node will not take resources: an operator put it in standby.</summary>
    Declines = 8,
    /// <summary>An operator asked this node to take over: the active peer releases to it (planned switchover).</summary>
    WantsResources = 16,
    /// <summary>
    /// This node is shutting down cleanly (SIGTERM) and holds nothing; it never takes resources again
    /// in this boot. The peer shows it as <c>stopped</c> and takes over without fencing it.
    /// </summary>
    Leaving = 32,
}

/// <summary>The sender's state summary carried in every frame.</summary>
public readonly record struct StateSummary(
    NodeRole Role, HealthFlags Health, uint ConfigVersion, uint ResourcesHeld, uint ResourcesStarting, byte LinksHeard)
{
    /// <summary>
    /// The sender holds, is starting or stopping resources, is taking over or fencing, or may still
    /// hold something after a failed stop: anything but a node that holds nothing and wants nothing.
    /// </summary>
    public bool ClaimsResources =>
        ResourcesHeld != 0 || ResourcesStarting != 0 || (Health & HealthFlags.StopFailed) != 0 ||
        Role is NodeRole.Active or NodeRole.Takeover or NodeRole.Fencing or NodeRole.Releasing;
}

/// <summary>One heartbeat frame, decoded. See DESIGN.md section 4 and <see cref="HeartbeatCodec"/> for the wire layout.</summary>
public readonly record struct HeartbeatFrame(
    byte LinkIndex,
    NodeId Sender,
    BootId Boot,
    Sequence Seq,
    BootId AckBoot,
    Sequence AckSeq,
    StateSummary State);

public enum DecodeStatus
{
    Ok,
    WrongLength,
    BadMagic,
    UnsupportedVersion,
    WrongCluster,
    BadTag,
    /// <summary>Authentic but a field is out of range (a bug or a newer peer).</summary>
    Malformed,
}

/// <summary>
/// Encodes and decodes heartbeat frames. Fixed 88-byte layout, big-endian:
/// <code>
///  0  2  magic "AP"          16  8  sender boot id
///  2  1  version (1)         24  8  sequence
///  3  1  link index          32  8  ack: peer boot id last heard (0 = none)
///  4  4  cluster name hash   40  8  ack: peer sequence last heard
///  8  1  sender node id      48  4  resources held (bit per resource)
///  9  1  role                52  4  resources starting
/// 10  1  health flags        56 32  HMAC-SHA256 over bytes 0..55
/// 11  1  links heard (bits)
/// 12  4  config version
/// </code>
/// The link index is authenticated so a frame recorded on one link cannot be replayed on another.
/// Decoding never throws and never allocates.
/// </summary>
public sealed class HeartbeatCodec
{
    public const int FrameBytes = 88;
    public const byte Version = 1;
    private const int TagOffset = 56;
    private const int TagBytes = 32;
    private const byte Magic0 = (byte)'A', Magic1 = (byte)'P';

    /// <summary>Shortest key accepted: HMAC-SHA256's block strength wants at least 32 bytes.</summary>
    public const int MinKeyBytes = 32;

    private readonly byte[] _key;
    private readonly uint _clusterHash;

    public HeartbeatCodec(ReadOnlySpan<byte> key, string clusterName)
    {
        if (key.Length < MinKeyBytes)
            throw new ArgumentException($"key must be at least {MinKeyBytes} bytes, got {key.Length}", nameof(key));
        _key = key.ToArray();
        _clusterHash = ClusterHash(clusterName);
    }

    public static uint ClusterHash(string clusterName)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes("appliance-cluster:" + clusterName), digest);
        return BinaryPrimitives.ReadUInt32BigEndian(digest);
    }

    public int Encode(in HeartbeatFrame f, Span<byte> dst)
    {
        if (dst.Length < FrameBytes)
            throw new ArgumentException("destination too small", nameof(dst));
        dst[0] = Magic0;
        dst[1] = Magic1;
        dst[2] = Version;
        dst[3] = f.LinkIndex;
        BinaryPrimitives.WriteUInt32BigEndian(dst[4..], _clusterHash);
        dst[8] = f.Sender.Value;
        dst[9] = (byte)f.State.Role;
        dst[10] = (byte)f.State.Health;
        dst[11] = f.State.LinksHeard;
        BinaryPrimitives.WriteUInt32BigEndian(dst[12..], f.State.ConfigVersion);
        BinaryPrimitives.WriteUInt64BigEndian(dst[16..], f.Boot.Value);
        BinaryPrimitives.WriteUInt64BigEndian(dst[24..], f.Seq.Value);
        BinaryPrimitives.WriteUInt64BigEndian(dst[32..], f.AckBoot.Value);
        BinaryPrimitives.WriteUInt64BigEndian(dst[40..], f.AckSeq.Value);
        BinaryPrimitives.WriteUInt32BigEndian(dst[48..], f.State.ResourcesHeld);
        BinaryPrimitives.WriteUInt32BigEndian(dst[52..], f.State.ResourcesStarting);
        HMACSHA256.HashData(_key, dst[..TagOffset], dst.Slice(TagOffset, TagBytes));
        return FrameBytes;
    }

    public DecodeStatus TryDecode(ReadOnlySpan<byte> src, out HeartbeatFrame frame)
    {
        frame = default;
        if (src.Length != FrameBytes)
            return DecodeStatus.WrongLength;
        if (src[0] != Magic0 || src[1] != Magic1)
            return DecodeStatus.BadMagic;
        if (src[2] != Version)
            return DecodeStatus.UnsupportedVersion;
        if (BinaryPrimitives.ReadUInt32BigEndian(src[4..]) != _clusterHash)
            return DecodeStatus.WrongCluster;
        Span<byte> tag = stackalloc byte[TagBytes];
        HMACSHA256.HashData(_key, src[..TagOffset], tag);
        if (!CryptographicOperations.FixedTimeEquals(tag, src.Slice(TagOffset, TagBytes)))
            return DecodeStatus.BadTag;
        byte role = src[9];
        if (role > (byte)NodeRole.Failed || src[8] == 0)
            return DecodeStatus.Malformed;
        frame = new HeartbeatFrame(
            src[3],
            new NodeId(src[8]),
            new BootId(BinaryPrimitives.ReadUInt64BigEndian(src[16..])),
            new Sequence(BinaryPrimitives.ReadUInt64BigEndian(src[24..])),
            new BootId(BinaryPrimitives.ReadUInt64BigEndian(src[32..])),
            new Sequence(BinaryPrimitives.ReadUInt64BigEndian(src[40..])),
            new StateSummary((NodeRole)role, (HealthFlags)src[10],
                BinaryPrimitives.ReadUInt32BigEndian(src[12..]),
                BinaryPrimitives.ReadUInt32BigEndian(src[48..]),
                BinaryPrimitives.ReadUInt32BigEndian(src[52..]),
                src[11]));
        return DecodeStatus.Ok;
    }
}
