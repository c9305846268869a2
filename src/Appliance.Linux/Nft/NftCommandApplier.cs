using System.Diagnostics;

namespace Appliance.Linux.Nft;

/// <summary>
/// The fallback applier: `nft -f -` (nft(8) from Debian's nftables), a new process per
/// transaction, used only when libnftables cannot be loaded. Same atomicity (nft sends the file as
/// one batch), but every call pays a process start and a cold cache: measured here ~20 ms at 10
/// servers and ~70 ms at 5000 vs 0.3 and 42 in process (reference/nat-director.md section 4).
/// Listings longer than <see cref="ChildProcess.OutputCharsMax"/> are refused (the child runner
/// keeps only that tail).
/// </summary>
public sealed class NftCommandApplier : INftApplier
{
    /// <summary>nft(8) as Debian installs it.</summary>
    public const string NftPath = "/usr/sbin/nft";

    /// <summary>A whole 5000-server ruleset loads in ~0.3 s with nft (reference section 4); beyond this it is hung.</summary>
    public static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(30);

    public NftCommandApplier(string? fallbackReason = null) => FallbackReason = fallbackReason;

    public NftBackend Backend => NftBackend.Command;

    public string? FallbackReason { get; }

    public NftResult Apply(string text, bool checkOnly = false)
    {
        if (NftApplier.RefuseText(text) is { } why)
            return new NftResult(NftOutcome.Rejected, why, "", NftBackend.Command, TimeSpan.Zero);
        return checkOnly
            ? Run(text, NftOutcome.Checked, "-c", "-f", "-")
            : Run(text, NftOutcome.Applied, "-f", "-");
    }

    public NftResult List(NftTable table, bool stateless = false) => stateless
        ? Run(null, NftOutcome.Applied, "-s", "list", "table", table.Family, table.Name)
        : Run(null, NftOutcome.Applied, "list", "table", table.Family, table.Name);

    public NftResult ListCounters(NftTable table) => Run(null, NftOutcome.Applied, "list", "counters", "table", table.Family, table.Name);

    private static NftResult Run(string? stdin, NftOutcome success, params string[] args)
    {
        var psi = new ProcessStartInfo(NftPath);
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        long start = Stopwatch.GetTimestamp();
        using var timeout = new CancellationTokenSource(RunTimeout);
        // Blocking: appliers are synchronous and run on the nft worker's own thread.
        ChildResult r = ChildProcess.RunAsync(psi, stdin, timeout.Token).GetAwaiter().GetResult();
        var elapsed = Stopwatch.GetElapsedTime(start);
        return r.Outcome switch
        {
            ChildOutcome.NotStarted => NftResult.Fail($"cannot run {NftPath}: {r.Why}", NftBackend.Command, elapsed),
            ChildOutcome.Killed => NftResult.Fail($"{NftPath} did not finish within {RunTimeout.TotalSeconds:0}s; killed", NftBackend.Command, elapsed),
            _ when r.ExitCode == 0 && r.Stdout.Length >= ChildProcess.OutputCharsMax
                => NftResult.Fail($"{NftPath} printed more than {ChildProcess.OutputCharsMax} characters; the fallback keeps only that much", NftBackend.Command, elapsed),
            _ when r.ExitCode == 0 => new NftResult(success, r.Stderr.TrimEnd('\n'), r.Stdout, NftBackend.Command, elapsed),
            // nft exits 1 for a refused command; 2 (no memory) and 3 (no netlink) are not verdicts on the text.
            _ when r.ExitCode == 1 => new NftResult(NftOutcome.Rejected,
                r.Stderr.TrimEnd('\n').Replace("/dev/stdin:", NftLibraryApplier.TransactionName + ":", StringComparison.Ordinal), r.Stdout, NftBackend.Command, elapsed),
            _ => NftResult.Fail($"{NftPath} exited {r.ExitCode}: {r.Stderr.TrimEnd('\n')}", NftBackend.Command, elapsed),
        };
    }

    public void Dispose()
    {
    }
}
