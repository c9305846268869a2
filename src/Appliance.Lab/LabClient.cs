using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Appliance.Lab;

/// <summary>
/// `appliance-lab client spread|hold`: the lab's director clients, run by `lab client spread N` and
/// `lab client hold SECONDS` in the client namespace, against servers that greet a new connection
/// with their name and echo lines as "NAME: LINE" (`serve --hold`).
/// <list type="bullet">
/// <item>spread ADDR:PORT N: N new connections one after another, each read up to its greeting and
/// closed; prints "NAME COUNT" per server (sorted by name) and "failed COUNT" for connections that
/// got no greeting (refused, reset, timed out). Exit 0 when all N answered, else 1. With
/// <c>--sources K</c> the connections take turns over K source addresses from <c>--source-base</c>
/// on (they must be on the client's interface: `lab client spread N --sources K` adds them), and a
/// line "source ADDR NAME COUNT" follows per source and server that answered it (a source hash
/// scheduler must give each source one server).</item>
/// <item>hold ADDR:PORT SECONDS: one connection; prints "connected NAME" once greeted, then sends a
/// numbered line every 100 ms for SECONDS and expects "NAME: LINE" back within 1 s each (a late answer to
/// a line that already timed out is skipped, so a stalled but living connection counts ok again). Prints
/// "server=NAME sent=S ok=O bad=B worst_ms=W" (W: the worst round trip, ms; a line without an answer
/// counts as bad, and so does every line not sent once the connection is lost) and, if it was lost,
/// "lost after T s: REASON". Exit 0 when every line came back, else 1.</item>
/// </list>
/// </summary>
internal static class LabClient
{
    public const string Summary = "the director's lab clients: spread (who answers N new connections), hold (a held connection's round trips)";

    private const string Usage =
        "usage: appliance-lab client spread ADDR:PORT N [--timeout DURATION] [--sources K --source-base ADDR]\n" +
        "       appliance-lab client hold ADDR:PORT SECONDS [--every DURATION] [--timeout DURATION]\n" +
        "  --timeout   connect and answer deadline (default 1s)      --every   hold: time between lines (default 100ms)\n" +
        "  --sources K, --source-base ADDR   spread: bind the connections in turn to ADDR, ADDR+1, ... ADDR+K-1 (K <= 256)";

    /// <summary>Most source addresses of one spread: a /24's worth.</summary>
    private const int SourcesMax = 256;

    public static int Command(string[] args)
    {
        var timeout = TimeSpan.FromSeconds(1);
        var every = TimeSpan.FromMilliseconds(100);
        var positional = new List<string>();
        int sources = 0;
        IPAddress? sourceBase = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--sources" && i + 1 < args.Length && int.TryParse(args[i + 1], out int k) && k is > 0 and <= SourcesMax)
            {
                sources = k;
                i++;
            }
            else if (args[i] == "--source-base" && i + 1 < args.Length && IPAddress.TryParse(args[i + 1], out var b) && b.AddressFamily == AddressFamily.InterNetwork)
            {
                sourceBase = b;
                i++;
            }
            else if (args[i] is "--timeout" or "--every" && i + 1 < args.Length && TryDuration(args[i + 1], out var d))
            {
                if (args[i] == "--timeout")
                    timeout = d;
                else
                    every = d;
                i++;
            }
            else if (args[i].StartsWith("--", StringComparison.Ordinal))
            {
                return Bad();
            }
            else
            {
                positional.Add(args[i]);
            }
        }
        if (positional is not [var verb, var target, var count] || !IPEndPoint.TryParse(target, out var ep) || ep.Port == 0)
            return Bad();
        switch (verb)
        {
            case "spread" when int.TryParse(count, out int n) && n is > 0 and <= 100_000 && (sources == 0) == (sourceBase is null):
                return Spread(ep, n, timeout, sourceBase is null ? [] : SourceRange(sourceBase, sources));
            case "hold" when double.TryParse(count, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double s) && s > 0 && s <= 86400:
                return Hold(ep, TimeSpan.FromSeconds(s), every, timeout);
            default:
                return Bad();
        }
    }

    private static int Bad()
    {
        Console.Error.WriteLine(Usage);
        return 2;
    }

    private static bool TryDuration(string text, out TimeSpan value)
    {
        value = default;
        double n;
        if (text.EndsWith("ms", StringComparison.Ordinal) && double.TryParse(text[..^2], System.Globalization.CultureInfo.InvariantCulture, out n))
            value = TimeSpan.FromMilliseconds(n);
        else if (text.EndsWith('s') && double.TryParse(text[..^1], System.Globalization.CultureInfo.InvariantCulture, out n))
            value = TimeSpan.FromSeconds(n);
        else
            return false;
        return value > TimeSpan.Zero;
    }

    /// <summary><paramref name="k"/> consecutive IPv4 addresses from <paramref name="first"/> on.</summary>
    private static IPAddress[] SourceRange(IPAddress first, int k)
    {
        uint b = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(first.GetAddressBytes());
        return [.. Enumerable.Range(0, k).Select(i =>
        {
            var bytes = new byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes, b + (uint)i);
            return new IPAddress(bytes);
        })];
    }

    /// <summary>Connects (from <paramref name="source"/> when given) within <paramref name="timeout"/> and reads the greeting line; the socket is returned open.</summary>
    private static (Socket Socket, string Name) Connect(IPEndPoint ep, TimeSpan timeout, LineReader reader, IPAddress? source = null)
    {
        var s = new Socket(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (source is not null)
                s.Bind(new IPEndPoint(source, 0));
            using (var cts = new CancellationTokenSource(timeout))
                s.ConnectAsync(ep, cts.Token).AsTask().GetAwaiter().GetResult();
            string? name = reader.ReadLine(s, timeout);
            if (string.IsNullOrEmpty(name))
                throw new IOException(name is null ? "no greeting" : "empty greeting");
            return (s, name);
        }
        catch
        {
            s.Dispose();
            throw;
        }
    }

    private static string Reason(Exception e) => e switch
    {
        OperationCanceledException => "connect timed out",
        SocketException se => se.SocketErrorCode.ToString(),
        _ => e.Message,
    };

    private static int Spread(IPEndPoint ep, int n, TimeSpan timeout, IPAddress[] sources)
    {
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var bySource = new SortedDictionary<(int Source, string Name), int>();
        int failed = 0;
        string? lastReason = null;
        for (int i = 0; i < n; i++)
        {
            try
            {
                int from = sources.Length == 0 ? -1 : i % sources.Length;
                var (s, name) = Connect(ep, timeout, new LineReader(), from < 0 ? null : sources[from]);
                s.Dispose();
                counts[name] = counts.GetValueOrDefault(name) + 1;
                if (from >= 0)
                    bySource[(from, name)] = bySource.GetValueOrDefault((from, name)) + 1;
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
            {
                failed++;
                lastReason = Reason(e);
            }
        }
        foreach (var (name, count) in counts)
            Console.WriteLine($"{name} {count}");
        if (failed > 0)
            Console.WriteLine($"failed {failed} ({lastReason})");
        foreach (var ((from, name), count) in bySource)
            Console.WriteLine($"source {sources[from]} {name} {count}");
        return failed == 0 ? 0 : 1;
    }

    private static int Hold(IPEndPoint ep, TimeSpan duration, TimeSpan every, TimeSpan timeout)
    {
        int planned = Math.Max(1, (int)Math.Round(duration / every));
        var reader = new LineReader();
        Socket s;
        string name;
        try
        {
            (s, name) = Connect(ep, timeout, reader);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            Console.WriteLine($"server=- sent=0 ok=0 bad={planned} worst_ms=0");
            Console.WriteLine($"lost after 0.0 s: {Reason(e)}");
            return 1;
        }
        Console.WriteLine($"connected {name}");
        Console.Out.Flush();
        int sent = 0, ok = 0, bad = 0;
        double worst = 0;
        string? lost = null;
        var clock = Stopwatch.StartNew();
        using (s)
        {
            for (int i = 1; i <= planned; i++)
            {
                var due = every * (i - 1);
                if (clock.Elapsed < due)
                    Thread.Sleep(due - clock.Elapsed);
                string line = $"line {i}";
                long t0 = Stopwatch.GetTimestamp();
                try
                {
                    s.Send(Encoding.ASCII.GetBytes(line + "\n"));
                    sent++;
                    string? answer = reader.ReadLine(s, timeout);
                    // A late answer to an earlier line (one that timed out): the connection lives; skip it
                    // within this line's deadline, or every later line would be judged against the wrong answer.
                    while (answer is not null && IsEarlier(answer, name, i))
                        answer = reader.ReadLine(s, timeout - Stopwatch.GetElapsedTime(t0) is { Ticks: > 0 } left ? left : TimeSpan.FromTicks(1));
                    double rtt = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                    worst = Math.Max(worst, rtt);
                    if (answer is null)
                    {
                        lost = "closed by the other end";
                        bad++;
                        break;
                    }
                    if (answer == $"{name}: {line}")
                        ok++;
                    else
                        bad++;
                }
                catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
                {
                    worst = Math.Max(worst, Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                    bad++;
                    if (e is OperationCanceledException)
                        continue; // no answer within the timeout: bad, but the connection may still live
                    lost = Reason(e);
                    break;
                }
            }
        }
        bad += planned - ok - bad; // every line not sent after a loss
        Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"server={name} sent={sent} ok={ok} bad={bad} worst_ms={worst:0.0}"));
        if (lost is not null)
            Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"lost after {clock.Elapsed.TotalSeconds:0.0} s: {lost}"));
        return bad == 0 ? 0 : 1;
    }

    /// <summary>"NAME: line J" with J &lt; <paramref name="current"/>: the answer to a line that already timed out.</summary>
    private static bool IsEarlier(string answer, string name, int current) =>
        answer.StartsWith($"{name}: line ", StringComparison.Ordinal) &&
        int.TryParse(answer.AsSpan(name.Length + 7), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int j) &&
        j < current;

    /// <summary>Reads lines from a socket with a deadline per line; keeps what arrived past a newline.</summary>
    private sealed class LineReader
    {
        private readonly byte[] _buffer = new byte[4096];
        private readonly List<byte> _pending = [];

        /// <summary>The next line without its newline; null when the other end closed. Throws OperationCanceledException after <paramref name="timeout"/>.</summary>
        public string? ReadLine(Socket s, TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            while (true)
            {
                int nl = _pending.IndexOf((byte)'\n');
                if (nl >= 0)
                {
                    string line = Encoding.ASCII.GetString(_pending.GetRange(0, nl).ToArray()).TrimEnd('\r');
                    _pending.RemoveRange(0, nl + 1);
                    return line;
                }
                int n = s.ReceiveAsync(_buffer.AsMemory(), SocketFlags.None, cts.Token).AsTask().GetAwaiter().GetResult();
                if (n == 0)
                    return null;
                _pending.AddRange(_buffer.AsSpan(0, n).ToArray());
            }
        }
    }
}
