using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Text;
using Appliance.Core.Config;

namespace Appliance.Core.Director;

/// <summary>
/// The id of a real (or sorry) server of one service, carried in the conntrack mark of every
/// connection the director balances to it. conntrackd syncs the mark, so after a failover the new
/// active node must read the same id as the same server: ids are derived from the config only
/// (service name and address), never from list order or run-time state.
/// <para>
/// Mark layout: the id is the <b>high 16 bits</b> of the 32-bit ct mark (<see cref="MarkMask"/>
/// 0xffff0000); the director's rules read only those bits (<c>ct mark and 0xffff0000</c>). When it
/// schedules a new connection it writes the whole mark (low 16 bits zero): the low 16 bits are free
/// for other users of the mark that set them after the director's nat prerouting chain
/// (priority dstnat), e.g. in forward or postrouting. Id 0 means "not balanced"; 0xffff is reserved.
/// </para>
/// </summary>
public readonly record struct RealServerId(ushort Value)
{
    public const uint MarkMask = 0xffff0000;
    public const int MarkShift = 16;

    /// <summary>Ids 1..<see cref="Max"/> are assigned; 0 is "no id" and 0xffff is kept for later use.</summary>
    public const int Max = 0xfffe;

    public uint Mark => (uint)Value << MarkShift;

    /// <summary>The id in a ct mark; null when the mark's high bits carry none.</summary>
    public static RealServerId? FromMark(uint mark) =>
        (mark >> MarkShift) is uint v and > 0 and <= Max ? new RealServerId((ushort)v) : null;

    /// <summary>The mark as nft writes it: <c>0x002a0000</c>.</summary>
    public string MarkHex => "0x" + Mark.ToString("x8", CultureInfo.InvariantCulture);

    /// <summary>The name of the server's named counter in the table: <c>rs_002a</c>.</summary>
    public string CounterName => "rs_" + Value.ToString("x4", CultureInfo.InvariantCulture);

    /// <summary>The name of the server's named counter of new connections: <c>rn_002a</c> (its packets are the connections).</summary>
    public string NewCounterName => "rn_" + Value.ToString("x4", CultureInfo.InvariantCulture);

    public override string ToString() => Value.ToString("x4", CultureInfo.InvariantCulture);
}

/// <summary>What a <see cref="RealServerId"/> stands for: a real server, or the sorry server, of a service.</summary>
public readonly record struct ServerKey(string Service, IPEndPoint Address, bool Sorry)
{
    /// <summary>The text hashed into the id; the same on both nodes for the same config.</summary>
    public string Canonical => Sorry ? $"{Service}\0sorry\0{Address}" : $"{Service}\0{Address}";
}

/// <summary>Assigns <see cref="RealServerId"/>s: a hash of the service name and address, collision-checked.</summary>
public static class RealServerIds
{
    /// <summary>
    /// Every real and sorry server of <paramref name="config"/> and its id. The home id is
    /// FNV-1a-32(<see cref="ServerKey.Canonical"/>) mod 0xfffe + 1; a collision moves the key that
    /// sorts later (ordinal) to the next free id. So ids do not depend on the order of services or
    /// servers in the file, and a key keeps its id unless a new key takes its home first (with at most
    /// <see cref="ConfigLimits.MaxDirectorServers"/> keys in 65534 ids, a collision is rare).
    /// </summary>
    public static ImmutableDictionary<ServerKey, RealServerId> Assign(DirectorConfig config)
    {
        var keys = new List<ServerKey>();
        foreach (var s in config.Services)
        {
            keys.AddRange(s.RealServers.Select(r => new ServerKey(s.Name, r.Address, false)));
            if (s.SorryServer is { } sorry)
                keys.Add(new ServerKey(s.Name, sorry, true));
        }
        if (keys.Count > RealServerId.Max)
            throw new ArgumentException($"{keys.Count} servers do not fit in {RealServerId.Max} ids; the config loader bounds them");
        keys.Sort((a, b) => string.CompareOrdinal(a.Canonical, b.Canonical));
        var taken = new HashSet<int>();
        var result = ImmutableDictionary.CreateBuilder<ServerKey, RealServerId>();
        foreach (var key in keys)
        {
            int id = Home(key);
            while (!taken.Add(id))
                id = id % RealServerId.Max + 1;
            result[key] = new RealServerId((ushort)id);
        }
        return result.ToImmutable();
    }

    /// <summary>The id a key gets when nothing else has it.</summary>
    public static int Home(ServerKey key) => (int)(Fnv1a32(Encoding.UTF8.GetBytes(key.Canonical)) % RealServerId.Max) + 1;

    internal static uint Fnv1a32(ReadOnlySpan<byte> data)
    {
        uint h = 2166136261;
        foreach (byte b in data)
            h = (h ^ b) * 16777619;
        return h;
    }
}

/// <summary>The seed of the source-hash scheduler.</summary>
public static class ShSeed
{
    /// <summary>
    /// The first 32 bits (big-endian) of SHA-256("appliance-director-sh-seed/1\0" + cluster name).
    /// It depends only on the cluster name, so both nodes and every reload hash a client to the same
    /// slot; without an explicit seed nft draws a random one at every load (nat-director.md 3.4).
    /// </summary>
    public static uint FromCluster(string clusterName)
    {
        Span<byte> hash = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes("appliance-director-sh-seed/1\0" + clusterName), hash);
        return (uint)(hash[0] << 24 | hash[1] << 16 | hash[2] << 8 | hash[3]);
    }
}
