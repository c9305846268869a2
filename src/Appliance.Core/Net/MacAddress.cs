using System.Buffers.Binary;

namespace Appliance.Core.Net;

/// <summary>
/// A MAC-48 address (IEEE 802) as a value: the 6 bytes in wire order in the low 48 bits, so it
/// compares, hashes and sits in a dictionary without allocating. Prints as "02:a9:1c:00:00:01",
/// the form of <c>/sys/class/net/IF/address</c> and of tcpdump.
/// </summary>
public readonly record struct MacAddress(ulong Value)
{
    /// <summary>The MAC in the first <see cref="AnnounceFrames.MacBytes"/> bytes of <paramref name="bytes"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="bytes"/> is shorter than 6 bytes.</exception>
    public static MacAddress Read(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < AnnounceFrames.MacBytes)
            throw new ArgumentException($"a MAC needs {AnnounceFrames.MacBytes} bytes, got {bytes.Length}", nameof(bytes));
        return new((ulong)BinaryPrimitives.ReadUInt16BigEndian(bytes) << 32 | BinaryPrimitives.ReadUInt32BigEndian(bytes[2..]));
    }

    /// <summary>Parses "aa:bb:cc:dd:ee:ff" as <see cref="AnnounceFrames.TryParseMac"/> does.</summary>
    public static bool TryParse(string? text, out MacAddress mac)
    {
        Span<byte> bytes = stackalloc byte[AnnounceFrames.MacBytes];
        bool ok = AnnounceFrames.TryParseMac(text, bytes);
        mac = ok ? Read(bytes) : default;
        return ok;
    }

    /// <summary>Writes the 6 bytes in wire order.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than 6 bytes.</exception>
    public void WriteTo(Span<byte> destination)
    {
        if (destination.Length < AnnounceFrames.MacBytes)
            throw new ArgumentException($"a MAC needs {AnnounceFrames.MacBytes} bytes, the buffer has {destination.Length}", nameof(destination));
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)(Value >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(destination[2..], (uint)Value);
    }

    /// <summary>The I/G bit: a group (multicast or broadcast) address, never a frame's source.</summary>
    public bool IsGroup => (Value >> 40 & 0x01) != 0;

    public override string ToString() =>
        string.Create(3 * AnnounceFrames.MacBytes - 1, Value, static (chars, value) =>
        {
            const string Hex = "0123456789abcdef";
            for (int i = 0; i < AnnounceFrames.MacBytes; i++)
            {
                int b = (int)(value >> (8 * (AnnounceFrames.MacBytes - 1 - i))) & 0xFF;
                if (i > 0)
                    chars[3 * i - 1] = ':';
                chars[3 * i] = Hex[b >> 4];
                chars[3 * i + 1] = Hex[b & 0xF];
            }
        });
}
