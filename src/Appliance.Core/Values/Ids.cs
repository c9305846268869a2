namespace Appliance.Core.Values;

/// <summary>A node's id on the wire: its 1-based position in the config's node list.</summary>
public readonly record struct NodeId(byte Value)
{
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>Random 64-bit id chosen at each daemon start; frames of an older boot prove nothing.</summary>
public readonly record struct BootId(ulong Value)
{
    public static readonly BootId None = new(0);
    public override string ToString() => Value.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>Per-boot heartbeat sequence number, strictly increasing, one per keepalive tick.</summary>
public readonly record struct Sequence(ulong Value) : IComparable<Sequence>
{
    public int CompareTo(Sequence other) => Value.CompareTo(other.Value);
    public static bool operator >(Sequence a, Sequence b) => a.Value > b.Value;
    public static bool operator <(Sequence a, Sequence b) => a.Value < b.Value;
    public static bool operator >=(Sequence a, Sequence b) => a.Value >= b.Value;
    public static bool operator <=(Sequence a, Sequence b) => a.Value <= b.Value;
}
