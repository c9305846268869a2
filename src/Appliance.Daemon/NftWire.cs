using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Appliance.Linux.Nft;

namespace Appliance.Daemon;

/// <summary>
/// The line-JSON messages between applianced and its nft worker process (one object per line on
/// the worker's stdin and stdout, UTF-8).
/// Parent to worker: {"id":n,"cmd":"apply","text":"...","check":bool},
/// {"id":n,"cmd":"list","table":"inet appliance","stateless":bool}, {"id":n,"cmd":"counters","table":"inet appliance"},
/// and, only when the worker runs with APPLIANCE_TEST_HOOKS=1, {"id":n,"cmd":"crash-for-test"}.
/// Worker to parent: first {"hello":{"pid":n,"backend":"library|command","fallback":str|null}}, then
/// one reply per request: {"id":n,"outcome":"applied|checked|rejected|failed","backend":...,
/// "message":str,"output":str,"us":elapsed}.
/// </summary>
internal static class NftWire
{
    /// <summary>
    /// Longest line either way: a transaction at its bound with every byte escaped as \u00XX (6
    /// bytes), plus the envelope. A listing is about as large as the text that made it.
    /// </summary>
    public const int LineBytesMax = 6 * NftApplier.TransactionBytesMax + 4096;

    /// <summary>Relaxed: the text goes to a pipe, not into HTML; nft text stays readable and small.</summary>
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static byte[] Line(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, Options))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        buffer.GetSpan(1)[0] = (byte)'\n';
        buffer.Advance(1);
        return buffer.WrittenSpan.ToArray();
    }

    public static string OutcomeName(NftOutcome o) => o switch
    {
        NftOutcome.Applied => "applied",
        NftOutcome.Checked => "checked",
        NftOutcome.Rejected => "rejected",
        _ => "failed",
    };

    public static NftOutcome ParseOutcome(string? s) => s switch
    {
        "applied" => NftOutcome.Applied,
        "checked" => NftOutcome.Checked,
        "rejected" => NftOutcome.Rejected,
        _ => NftOutcome.Failed,
    };

    public static string BackendName(NftBackend b) => b switch
    {
        NftBackend.Library => "library",
        NftBackend.Command => "command",
        _ => "none",
    };

    public static NftBackend ParseBackend(string? s) => s switch
    {
        "library" => NftBackend.Library,
        "command" => NftBackend.Command,
        _ => NftBackend.None,
    };

    public static void WriteResult(Utf8JsonWriter w, long id, NftResult r)
    {
        w.WriteNumber("id", id);
        w.WriteString("outcome", OutcomeName(r.Outcome));
        w.WriteString("backend", BackendName(r.Backend));
        w.WriteString("message", r.Message);
        w.WriteString("output", r.Output);
        w.WriteNumber("us", (long)r.Elapsed.TotalMicroseconds);
    }

    public static NftResult ReadResult(JsonElement e) => new(
        ParseOutcome(e.GetProperty("outcome").GetString()),
        e.GetProperty("message").GetString() ?? "",
        e.GetProperty("output").GetString() ?? "",
        ParseBackend(e.GetProperty("backend").GetString()),
        TimeSpan.FromMicroseconds(e.GetProperty("us").GetInt64()));
}

/// <summary>
/// Reads '\n'-terminated lines from a stream with a bound on their length; the buffer grows only
/// as far as the longest line seen. A returned line is valid until the next read.
/// </summary>
internal sealed class BoundedLineReader(Stream stream, int lineBytesMax)
{
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    /// <summary>The next line without its '\n'; null at end of input (a partial last line is dropped). Throws <see cref="InvalidDataException"/> past the bound.</summary>
    public ReadOnlyMemory<byte>? ReadLine() => ReadLineAsync(sync: true, default).GetAwaiter().GetResult();

    /// <inheritdoc cref="ReadLine"/>
    public ValueTask<ReadOnlyMemory<byte>?> ReadLineAsync(CancellationToken ct) => ReadLineAsync(sync: false, ct);

    private async ValueTask<ReadOnlyMemory<byte>?> ReadLineAsync(bool sync, CancellationToken ct)
    {
        int scanned = _start;
        while (true)
        {
            int nl = Array.IndexOf(_buffer, (byte)'\n', scanned, _end - scanned);
            if (nl >= 0)
            {
                var line = new ReadOnlyMemory<byte>(_buffer, _start, nl - _start);
                _start = nl + 1;
                return line;
            }
            if (_end - _start > lineBytesMax)
                throw new InvalidDataException($"a line longer than {lineBytesMax} bytes");
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            scanned = _end;
            if (_end == _buffer.Length)
                Array.Resize(ref _buffer, Math.Min(_buffer.Length * 2, lineBytesMax + 2));
            int n = sync
                ? stream.Read(_buffer, _end, _buffer.Length - _end)
                : await stream.ReadAsync(_buffer.AsMemory(_end), ct).ConfigureAwait(false);
            if (n == 0)
                return null;
            _end += n;
        }
    }
}
