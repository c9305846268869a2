using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Appliance.Core.ConfigSync;

/// <summary>SHA-256 of a config file's bytes, as a value (equality, hex, prefixes) that costs no allocation to compare.</summary>
public readonly record struct ConfigHash(ulong A, ulong B, ulong C, ulong D)
{
    public const int Bytes = 32;

    public static readonly ConfigHash None = default;

    public static ConfigHash Of(ReadOnlySpan<byte> text)
    {
        Span<byte> digest = stackalloc byte[Bytes];
        SHA256.HashData(text, digest);
        return Read(digest);
    }

    public static ConfigHash Read(ReadOnlySpan<byte> src) => new(
        BinaryPrimitives.ReadUInt64BigEndian(src),
        BinaryPrimitives.ReadUInt64BigEndian(src[8..]),
        BinaryPrimitives.ReadUInt64BigEndian(src[16..]),
        BinaryPrimitives.ReadUInt64BigEndian(src[24..]));

    public void Write(Span<byte> dst)
    {
        BinaryPrimitives.WriteUInt64BigEndian(dst, A);
        BinaryPrimitives.WriteUInt64BigEndian(dst[8..], B);
        BinaryPrimitives.WriteUInt64BigEndian(dst[16..], C);
        BinaryPrimitives.WriteUInt64BigEndian(dst[24..], D);
    }

    /// <summary>The first 16 bits, what a keepalive carries (<see cref="KeepaliveWord"/>).</summary>
    public ushort Prefix16 => (ushort)(A >> 48);

    /// <summary>The first 8 hex digits, what people read in status and logs.</summary>
    public string Short => (A >> 32).ToString("x8", System.Globalization.CultureInfo.InvariantCulture);

    public string Hex
    {
        get
        {
            Span<byte> b = stackalloc byte[Bytes];
            Write(b);
            return Convert.ToHexStringLower(b);
        }
    }

    public static bool TryParseHex(string hex, out ConfigHash hash)
    {
        hash = None;
        if (hex.Length != 2 * Bytes)
            return false;
        Span<byte> b = stackalloc byte[Bytes];
        if (Convert.FromHexString(hex, b, out _, out int written) != System.Buffers.OperationStatus.Done || written != Bytes)
            return false;
        hash = Read(b);
        return true;
    }

    public override string ToString() => Short;
}

/// <summary>
/// The version of the pair's config that one node runs: a counter the pair shares (a commit takes the
/// higher of both nodes' counters plus one; a config received from the peer keeps the peer's) and the
/// SHA-256 of the file's bytes. The hash decides sameness; the counter is for people and for the
/// keepalive's short form.
/// </summary>
public readonly record struct ConfigStamp(uint Counter, ConfigHash Hash)
{
    public static readonly ConfigStamp None = default;

    public bool IsNone => Counter == 0 && Hash == ConfigHash.None;

    /// <summary>"v7 (1a2b3c4d)".</summary>
    public override string ToString() => IsNone ? "none" : $"v{Counter} ({Hash.Short})";
}

/// <summary>
/// The 32-bit config version field of the heartbeat frame (<see cref="Heartbeat.StateSummary.ConfigVersion"/>),
/// which firmware before config sync always sent as 0: high 16 bits the counter (1..65535, wrapping
/// past 0), low 16 bits the first 16 bits of the hash. 0 means "not reported" (an older peer, or a
/// daemon that has not read its config yet); a real word is never 0 since the counter half never is.
/// The word only tells that something changed; the sync messages carry the whole stamp.
/// </summary>
public static class KeepaliveWord
{
    public const uint NotReported = 0;

    public static uint Of(ConfigStamp stamp)
    {
        if (stamp.IsNone)
            return NotReported;
        uint counter16 = (stamp.Counter - 1) % 0xFFFF + 1; // 1..65535, never 0
        return counter16 << 16 | stamp.Hash.Prefix16;
    }

    /// <summary>The counter's short form in a word (1..65535), for display.</summary>
    public static uint Counter16(uint word) => word >> 16;
}

/// <summary>How two nodes' configs stand, as status, the console and the panel show it.</summary>
public enum SyncState
{
    /// <summary>Not judged: the peer is not heard, reports no config version (older firmware), or has not announced yet.</summary>
    Unknown,
    InSync,
    /// <summary>The peer changed its config since the two last agreed; this node did not.</summary>
    PeerNewer,
    /// <summary>This node changed its config since the two last agreed; the peer did not.</summary>
    LocalNewer,
    /// <summary>Both changed since they last agreed (a partition with a commit on each side), or they never agreed.</summary>
    Diverged,
}

/// <summary>The rule that says which config is newer (README "Keeping the pair's config in sync").</summary>
public static class SyncJudge
{
    /// <summary>
    /// Three-way comparison against the base, the last version both nodes were seen to run. Counters
    /// never decide: after a partition both sides may have counted to the same number with different
    /// content. Without a base (the two never agreed), different configs are diverged.
    /// </summary>
    public static SyncState Judge(ConfigStamp local, ConfigStamp? peer, ConfigStamp? agreed)
    {
        if (peer is not { } p || local.IsNone || p.IsNone)
            return SyncState.Unknown;
        if (p.Hash == local.Hash)
            return SyncState.InSync;
        if (agreed is not { } b || b.IsNone)
            return SyncState.Diverged;
        bool localMoved = local.Hash != b.Hash;
        bool peerMoved = p.Hash != b.Hash;
        return (localMoved, peerMoved) switch
        {
            (false, true) => SyncState.PeerNewer,
            (true, false) => SyncState.LocalNewer,
            _ => SyncState.Diverged,
        };
    }

    /// <summary>The words status and the console print: "in sync", "peer newer", "local newer", "diverged", "unknown".</summary>
    public static string Name(SyncState s) => s switch
    {
        SyncState.InSync => "in sync",
        SyncState.PeerNewer => "peer newer",
        SyncState.LocalNewer => "local newer",
        SyncState.Diverged => "diverged",
        _ => "unknown",
    };
}
