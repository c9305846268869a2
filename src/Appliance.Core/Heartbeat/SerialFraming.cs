using System.Buffers.Binary;

namespace Appliance.Core.Heartbeat;

/// <summary>
/// Self-synchronising framing for the serial link: COBS (consistent overhead byte stuffing) over
/// payload + CRC-32 (IEEE, little-endian), delimited by 0x00 on both sides. A zero byte never
/// appears inside an encoded frame, so a receiver that joins mid-stream or sees garbage resyncs at
/// the next zero; the CRC rejects what the line corrupted.
/// </summary>
public static class SerialFraming
{
    /// <summary>Largest payload a frame may carry; the heartbeat frame is far below it.</summary>
    public const int MaxPayloadBytes = 256;

    /// <summary>Worst-case encoded size of a frame: payload + CRC, one COBS overhead byte per 254, two delimiters.</summary>
    public const int MaxEncodedBytes = MaxPayloadBytes + 4 + (MaxPayloadBytes + 4) / 254 + 1 + 2;

    public static int EncodedLength(int payloadLength) => payloadLength + 4 + (payloadLength + 4) / 254 + 1 + 2;

    /// <summary>Encodes <paramref name="payload"/> into <paramref name="destination"/>; returns bytes written.</summary>
    public static int Encode(ReadOnlySpan<byte> payload, Span<byte> destination)
    {
        if (payload.Length > MaxPayloadBytes)
            throw new ArgumentException($"payload of {payload.Length} bytes exceeds {MaxPayloadBytes}", nameof(payload));
        if (destination.Length < EncodedLength(payload.Length))
            throw new ArgumentException("destination too small", nameof(destination));

        Span<byte> crc = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(crc, Crc32.Compute(payload));

        int w = 0;
        destination[w++] = 0;
        int codeIndex = w++;
        byte code = 1;
        int total = payload.Length + 4;
        for (int i = 0; i < total; i++)
        {
            byte b = i < payload.Length ? payload[i] : crc[i - payload.Length];
            if (b == 0)
            {
                destination[codeIndex] = code;
                codeIndex = w++;
                code = 1;
            }
            else
            {
                destination[w++] = b;
                code++;
                if (code == 0xFF)
                {
                    destination[codeIndex] = code;
                    codeIndex = w++;
                    code = 1;
                }
            }
        }
        destination[codeIndex] = code;
        destination[w++] = 0;
        return w;
    }
}

public enum DeframeEvent
{
    /// <summary>A frame with a valid CRC is in <see cref="SerialDeframer.Frame"/>.</summary>
    Frame,
    /// <summary>The frame's CRC did not match.</summary>
    BadCrc,
    /// <summary>The COBS structure was invalid (a code byte pointed past the end).</summary>
    BadEncoding,
    /// <summary>More than <see cref="SerialFraming.MaxEncodedBytes"/> without a delimiter; dropped until the next one.</summary>
    Oversize,
}

/// <summary>
/// Streaming decoder for <see cref="SerialFraming"/>. Feed it bytes as they arrive; it never throws
/// and never grows: its buffer is fixed at the maximum frame size.
/// </summary>
public sealed class SerialDeframer
{
    private readonly byte[] _raw = new byte[SerialFraming.MaxEncodedBytes];
    private readonly byte[] _decoded = new byte[SerialFraming.MaxEncodedBytes];
    private int _rawLength;
    private bool _overflowed;
    private int _frameLength;

    /// <summary>The payload of the last <see cref="DeframeEvent.Frame"/>; valid until the next call.</summary>
    public ReadOnlySpan<byte> Frame => _decoded.AsSpan(0, _frameLength);

    /// <summary>Bytes that were discarded (bad frames, overflow), for the noise counter.</summary>
    public long DiscardedBytes { get; private set; }

    /// <summary>
    /// Consumes bytes from <paramref name="input"/> up to and including the next delimiter that ends
    /// a non-empty frame. Returns the number of bytes consumed and, if a frame ended, its event.
    /// </summary>
    public int Push(ReadOnlySpan<byte> input, out DeframeEvent? evt)
    {
        evt = null;
        for (int i = 0; i < input.Length; i++)
        {
            byte b = input[i];
            if (b != 0)
            {
                if (_rawLength < _raw.Length)
                    _raw[_rawLength++] = b;
                else
                {
                    _overflowed = true;
                    DiscardedBytes++;
                }
                continue;
            }
            if (_rawLength == 0 && !_overflowed)
                continue; // back-to-back delimiters: idle line
            evt = Finish();
            return i + 1;
        }
        return input.Length;
    }

    private DeframeEvent Finish()
    {
        int rawLength = _rawLength;
        _rawLength = 0;
        if (_overflowed)
        {
            _overflowed = false;
            DiscardedBytes += rawLength;
            return DeframeEvent.Oversize;
        }
        int decodedLength = CobsDecode(_raw.AsSpan(0, rawLength), _decoded);
        if (decodedLength < 0)
        {
            DiscardedBytes += rawLength;
            return DeframeEvent.BadEncoding;
        }
        if (decodedLength < 4)
        {
            DiscardedBytes += rawLength;
            return DeframeEvent.BadCrc;
        }
        int payloadLength = decodedLength - 4;
        uint expected = BinaryPrimitives.ReadUInt32LittleEndian(_decoded.AsSpan(payloadLength, 4));
        if (Crc32.Compute(_decoded.AsSpan(0, payloadLength)) != expected)
        {
            DiscardedBytes += rawLength;
            return DeframeEvent.BadCrc;
        }
        _frameLength = payloadLength;
        return DeframeEvent.Frame;
    }

    private static int CobsDecode(ReadOnlySpan<byte> src, Span<byte> dst)
    {
        int r = 0, w = 0;
        while (r < src.Length)
        {
            int code = src[r++];
            if (code == 0 || r + code - 1 > src.Length)
                return -1;
            for (int k = 1; k < code; k++)
                dst[w++] = src[r++];
            if (code < 0xFF && r < src.Length)
                dst[w++] = 0;
        }
        return w;
    }
}

/// <summary>CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320), table-driven.</summary>
public static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    private static uint[] BuildTable()
    {
        var t = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }

    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFFu;
        foreach (byte b in data)
            c = Table[(c ^ b) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }
}
