namespace Appliance.Linux.Nft;

/// <summary>
/// How one nft transaction ended: a closed set, each with its retry meaning. The kernel applies a
/// transaction (one buffer, one netlink batch) atomically, so in every case the ruleset is either
/// the old one or the new one entirely, never a mix.
/// </summary>
public enum NftOutcome
{
    /// <summary>The kernel took the whole transaction.</summary>
    Applied,

    /// <summary>Check only (dry run): parsed, evaluated and validated by the kernel, then aborted; nothing changed.</summary>
    Checked,

    /// <summary>
    /// nft refused the text (syntax, types) or the kernel refused the transaction (a jump to a
    /// missing chain, a busy object), or we did not send it (larger than
    /// <see cref="NftApplier.TransactionBytesMax"/>, a NUL inside): nothing changed, the previous
    /// ruleset is in force. The same text will be refused again: do not retry it;
    /// <see cref="NftResult.Message"/> names the line.
    /// </summary>
    Rejected,

    /// <summary>
    /// No verdict: the applier could not run it or did not answer (worker crashed, exited or timed
    /// out, `nft` missing, too many requests queued). Whether the transaction took effect is unknown (but
    /// atomic): read the table back or apply the full state again.
    /// </summary>
    Failed,
}

/// <summary>What applied a transaction.</summary>
public enum NftBackend
{
    /// <summary>libnftables (libnftables.so.1), in the calling process.</summary>
    Library,

    /// <summary>The fallback: `nft -f -`, a new process per transaction (only when libnftables cannot be loaded).</summary>
    Command,

    /// <summary>Nothing ran (the request failed before reaching an applier).</summary>
    None,
}

/// <summary>
/// The result of one nft transaction or read. <paramref name="Message"/>: for
/// <see cref="NftOutcome.Rejected"/> nft's error text (each error with its input line and column,
/// the offending line and a caret line); for <see cref="NftOutcome.Failed"/> why; otherwise any
/// warnings, usually empty. <paramref name="Output"/>: what a read printed (a listing), else empty.
/// <paramref name="Elapsed"/>: time inside the applier (parse, evaluation and the kernel's commit).
/// <paramref name="RoundTrip"/>: for a request through the nft worker, the whole time the caller
/// waited (including the pipe both ways); null in process.
/// </summary>
public sealed record NftResult(NftOutcome Outcome, string Message, string Output, NftBackend Backend, TimeSpan Elapsed, TimeSpan? RoundTrip = null)
{
    /// <summary>Applied or Checked: the kernel accepted it.</summary>
    public bool Ok => Outcome is NftOutcome.Applied or NftOutcome.Checked;

    public static NftResult Fail(string reason, NftBackend backend = NftBackend.None, TimeSpan elapsed = default)
        => new(NftOutcome.Failed, reason, "", backend, elapsed);

    public override string ToString() => Outcome switch
    {
        NftOutcome.Applied or NftOutcome.Checked => $"{Outcome} in {Elapsed.TotalMilliseconds:0.###}ms ({Backend})",
        _ => $"{Outcome} ({Backend}): {Message}",
    };
}
