using System.Text.RegularExpressions;

namespace Appliance.Linux.Nft;

/// <summary>
/// Applies nft text transactions and reads tables back. One transaction = one text buffer = one
/// kernel batch, applied atomically. Never throws for a refusal or an operating failure: those are
/// <see cref="NftResult"/> values. Not for concurrent use: one request at a time.
/// </summary>
public interface INftApplier : IDisposable
{
    /// <summary>What runs the transactions: libnftables in process, or the `nft -f -` fallback.</summary>
    NftBackend Backend { get; }

    /// <summary>Why the fallback is in use (libnftables could not be loaded), else null.</summary>
    string? FallbackReason { get; }

    /// <summary>Applies <paramref name="text"/> (nft syntax) as one transaction; with <paramref name="checkOnly"/> validates it and changes nothing.</summary>
    NftResult Apply(string text, bool checkOnly = false);

    /// <summary>
    /// `list table FAMILY NAME`: the table as nft prints it (in <see cref="NftResult.Output"/>); with
    /// <paramref name="stateless"/> without counter values, so traffic does not change the text.
    /// Rejected when the table does not exist.
    /// </summary>
    NftResult List(NftTable table, bool stateless = false);

    /// <summary>`list counters table FAMILY NAME`: the named counters (parse with <see cref="NftCounters.Parse"/>).</summary>
    NftResult ListCounters(NftTable table);
}

/// <summary>An nft table: family and name, validated so that it can be put in a command line unquoted.</summary>
public readonly record struct NftTable
{
    private static readonly string[] Families = ["ip", "ip6", "inet", "arp", "bridge", "netdev"];

    /// <summary>Longest table name we accept (the kernel allows 255: NFT_TABLE_MAXNAMELEN, &lt;linux/netfilter/nf_tables.h&gt;).</summary>
    public const int NameCharsMax = 64;

    /// <summary>The director's table (DESIGN.md section 1): the only one the appliance owns.</summary>
    public static readonly NftTable Appliance = new("inet", "appliance");

    public NftTable(string family, string name)
    {
        if (!Families.Contains(family))
            throw new ArgumentException($"nft family '{family}' is not one of {string.Join(", ", Families)}", nameof(family));
        if (name.Length is 0 or > NameCharsMax || !(char.IsAsciiLetter(name[0]) || name[0] == '_')
            || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
            throw new ArgumentException($"nft table name '{name}': 1 to {NameCharsMax} of A-Z a-z 0-9 _ - . starting with a letter or _", nameof(name));
        Family = family;
        Name = name;
    }

    public string Family { get; }
    public string Name { get; }

    /// <summary>"inet appliance" into a table; throws <see cref="ArgumentException"/> on anything else.</summary>
    public static NftTable Parse(string familyAndName)
    {
        string[] parts = familyAndName.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 2)
            throw new ArgumentException($"'{familyAndName}' is not 'FAMILY NAME'", nameof(familyAndName));
        return new NftTable(parts[0], parts[1]);
    }

    public override string ToString() => $"{Family} {Name}";
}

/// <summary>One named counter's values.</summary>
public readonly record struct NftCounter(long Packets, long Bytes);

/// <summary>Reads `list counters` text.</summary>
public static partial class NftCounters
{
    /// <summary>The named counters of a `list counters table ...` listing, by name.</summary>
    public static IReadOnlyDictionary<string, NftCounter> Parse(string listing)
    {
        var result = new Dictionary<string, NftCounter>(StringComparer.Ordinal);
        foreach (Match m in CounterPattern().Matches(listing))
            result[m.Groups[1].Value] = new NftCounter(long.Parse(m.Groups[2].ValueSpan), long.Parse(m.Groups[3].ValueSpan));
        return result;
    }

    [GeneratedRegex(@"counter (\S+) \{\s*packets (\d+) bytes (\d+)")]
    private static partial Regex CounterPattern();
}

/// <summary>Opens the applier this machine can run, and the limits shared by every applier.</summary>
public static class NftApplier
{
    /// <summary>
    /// Largest transaction we send, in UTF-8 bytes. The whole 5000-real-server ruleset with a named
    /// counter per server is a few hundred KB (reference/nat-director.md section 4); 8 MiB is
    /// far above anything the compiler makes and small enough that a runaway text cannot exhaust
    /// the nft worker.
    /// </summary>
    public const int TransactionBytesMax = 8 << 20;

    /// <summary>
    /// libnftables in process if it loads, else the `nft -f -` fallback (with
    /// <see cref="INftApplier.FallbackReason"/> saying why). The library's netlink socket is opened
    /// here, in the calling thread's network namespace.
    /// </summary>
    public static INftApplier Open()
    {
        try
        {
            return NftLibraryApplier.Open();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or NativeIoException)
        {
            return new NftCommandApplier($"libnftables unavailable ({e.GetType().Name}: {e.Message})");
        }
    }

    /// <summary>
    /// Test hook only (the nft worker's crash-for-test, behind APPLIANCE_TEST_HOOKS=1): crashes this
    /// process the way a bug in libnftables would, with SIGSEGV inside the library
    /// (nft_run_cmd_from_buffer on NULL), or by sending itself SIGSEGV when the fallback is in use.
    /// </summary>
    public static void CrashForTest(INftApplier applier)
    {
        if (applier is NftLibraryApplier library)
            library.CrashInsideLibrary();
        _ = Interop.Sys.Kill(Environment.ProcessId, Interop.Sys.SIGSEGV);
    }

    /// <summary>Why <paramref name="text"/> is not sent at all (too large, a NUL that would cut it short), else null.</summary>
    public static string? RefuseText(string text)
    {
        int nul = text.IndexOf('\0');
        if (nul >= 0)
            return $"not sent: the text has a NUL character at offset {nul} (nft would silently stop reading there)";
        if (text.Length > TransactionBytesMax || System.Text.Encoding.UTF8.GetByteCount(text) > TransactionBytesMax)
            return $"not sent: the text is larger than {TransactionBytesMax} bytes (NftApplier.TransactionBytesMax)";
        return null;
    }
}
