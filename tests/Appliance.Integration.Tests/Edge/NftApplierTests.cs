using Appliance.Linux.Nft;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// libnftables in process (NftLibraryApplier), each test in a fresh network namespace: its body runs
/// on a thread moved into the namespace, where the context's netlink socket is opened. The real
/// nft(8) is the independent reader (and the writer of a foreign table).
/// </summary>
public sealed class NftApplierTests : IDisposable
{
    private readonly NftNamespace _ns = new();

    public void Dispose() => _ns.Dispose();

    private T InNs<T>(Func<NftLibraryApplier, T> body) where T : class => Edge.InNamespace(_ns.Name, () =>
    {
        using var nft = NftLibraryApplier.Open();
        return body(nft);
    });

    [RootFact]
    public void Applies_a_small_director_table_and_reads_it_back()
    {
        var (applied, listed) = InNs(nft => Tuple.Create(nft.Apply(NftTexts.Small), nft.List(NftTable.Appliance))).ToValueTuple();

        Assert.Equal(NftOutcome.Applied, applied.Outcome);
        Assert.Equal(NftBackend.Library, applied.Backend);
        Assert.True(applied.Elapsed > TimeSpan.Zero);
        Assert.Equal(NftOutcome.Applied, listed.Outcome);
        Assert.Contains("dnat ip to numgen inc mod 2 map { 0 : 10.0.0.1, 1 : 10.0.0.2 }", listed.Output);
        Assert.Contains("vmap @services", listed.Output);
        Assert.Contains("tcp . 192.0.2.10 . 80 : goto svc_web", listed.Output);
        Assert.Equal(_ns.ListOurs(), listed.Output); // what nft(8) sees, byte for byte
    }

    [RootFact]
    public void A_syntax_error_is_rejected_with_its_line_and_changes_nothing()
    {
        InNs(nft => nft.Apply(NftTexts.Small));
        string before = _ns.ListOurs();

        // Line 2 is broken; line 1 (a flush) must not have happened either.
        var r = InNs(nft => nft.Apply("flush chain inet appliance svc_web\nadd rule inet appliance svc_web meta l4proto tcp dnat ip to\n"));

        Assert.Equal(NftOutcome.Rejected, r.Outcome);
        Assert.StartsWith("transaction:2:", r.Message);
        Assert.Contains("syntax error", r.Message);
        Assert.Contains("add rule inet appliance svc_web meta l4proto tcp dnat ip to", r.Message); // the failing line is quoted
        Assert.Equal(before, _ns.ListOurs());
    }

    [RootFact]
    public void A_kernel_rejection_rolls_back_the_whole_transaction_and_names_the_line()
    {
        InNs(nft => nft.Apply(NftTexts.Small));
        string before = _ns.ListOurs();

        // Lines 1 and 2 are fine; line 3 jumps to a chain that does not exist, which only the kernel notices.
        var r = InNs(nft => nft.Apply(
            "flush chain inet appliance svc_web\n" +
            "add rule inet appliance svc_web meta l4proto tcp dnat ip to 10.0.0.9\n" +
            "add rule inet appliance svc_web jump nowhere\n"));

        Assert.Equal(NftOutcome.Rejected, r.Outcome);
        Assert.StartsWith("transaction:3:", r.Message); // the line, and the line quoted is that one
        Assert.Contains("jump nowhere", r.Message);
        Assert.Contains("No such file or directory", r.Message);
        Assert.Equal(before, _ns.ListOurs());
    }

    [RootFact]
    public void Check_only_validates_in_the_kernel_and_changes_nothing()
    {
        InNs(nft => nft.Apply(NftTexts.Small));
        string before = _ns.ListOurs();

        var good = InNs(nft => nft.Apply(NftTexts.RewriteWebChain, checkOnly: true));
        var bad = InNs(nft => nft.Apply("add rule inet appliance svc_web jump nowhere\n", checkOnly: true));
        var after = InNs(nft => nft.Apply(NftTexts.RewriteWebChain)); // dry run switched off again

        Assert.Equal(NftOutcome.Checked, good.Outcome);
        Assert.Equal(NftOutcome.Rejected, bad.Outcome);
        Assert.Contains("nowhere", bad.Message);
        Assert.Equal(NftOutcome.Applied, after.Outcome);
        Assert.NotEqual(before, _ns.ListOurs());
    }

    [RootFact]
    public void A_chain_rewrite_keeps_the_table_and_everything_else_in_it()
    {
        InNs(nft => nft.Apply(NftTexts.Small));
        string handle = _ns.TableHandle();
        string before = _ns.ListOurs();

        var r = InNs(nft => nft.Apply(NftTexts.RewriteWebChain));

        Assert.Equal(NftOutcome.Applied, r.Outcome);
        string after = _ns.ListOurs();
        Assert.Equal(handle, _ns.TableHandle()); // the same table, never deleted and made again
        Assert.Contains("numgen inc mod 3 map { 0 : 10.0.0.1, 1 : 10.0.0.2, 2 : 10.0.0.3 }", after);
        Assert.DoesNotContain("mod 2", after);
        // Only the rule line changed.
        Assert.Equal(before.Replace("numgen inc mod 2 map { 0 : 10.0.0.1, 1 : 10.0.0.2 }", "numgen inc mod 3 map { 0 : 10.0.0.1, 1 : 10.0.0.2, 2 : 10.0.0.3 }"), after);
    }

    [RootFact]
    public void Another_table_stays_byte_identical_across_our_applies()
    {
        _ns.NftLoad(NftTexts.Other);
        string other = _ns.Nft("list", "table", "ip", "other");

        InNs(nft =>
        {
            Assert.Equal(NftOutcome.Applied, nft.Apply(NftTexts.Small).Outcome);
            Assert.Equal(NftOutcome.Applied, nft.Apply(NftTexts.RewriteWebChain).Outcome);
            Assert.Equal(NftOutcome.Rejected, nft.Apply("add rule inet appliance svc_web jump nowhere\n").Outcome);
            Assert.Equal(NftOutcome.Checked, nft.Apply(NftTexts.RewriteWebChain, checkOnly: true).Outcome);
            return "";
        });

        Assert.Equal(other, _ns.Nft("list", "table", "ip", "other"));
        Assert.Contains("198.51.100.7", other);
    }

    [RootFact]
    public void Lists_stateless_and_reads_named_counters()
    {
        var (stateless, counters, missing) = InNs(nft =>
        {
            nft.Apply(NftTexts.Small);
            return Tuple.Create(nft.List(NftTable.Appliance, stateless: true), nft.ListCounters(NftTable.Appliance), nft.List(new NftTable("ip", "absent")));
        }).ToValueTuple();

        Assert.Equal(NftOutcome.Applied, counters.Outcome);
        Assert.Equal(new NftCounter(0, 0), NftCounters.Parse(counters.Output)["web_rs1"]);
        Assert.DoesNotContain("packets", stateless.Output);
        Assert.Equal(NftOutcome.Rejected, missing.Outcome);
        Assert.Contains("No such file or directory", missing.Message);
    }

    [RootFact]
    public void Text_with_a_NUL_or_over_the_bound_is_not_sent()
    {
        var (nul, huge) = InNs(nft => Tuple.Create(
            nft.Apply("flush chain inet appliance svc_web\0add table ip x\n"),
            nft.Apply(new string('#', NftApplier.TransactionBytesMax + 1)))).ToValueTuple();

        Assert.Equal(NftOutcome.Rejected, nul.Outcome);
        Assert.Contains("NUL", nul.Message);
        Assert.Equal(NftOutcome.Rejected, huge.Outcome);
        Assert.Contains("TransactionBytesMax", huge.Message);
        Assert.Equal("", _ns.ListOurs());
    }

    [RootFact]
    public void The_fallback_applies_and_rejects_the_same_way()
    {
        using var nft = new NftCommandApplier("test");
        var (applied, rejected, listed) = Edge.InNamespace(_ns.Name, () => Tuple.Create(
            nft.Apply(NftTexts.Small),
            nft.Apply("flush chain inet appliance svc_web\nadd rule inet appliance svc_web jump nowhere\n"),
            nft.List(NftTable.Appliance))).ToValueTuple();

        Assert.Equal(NftOutcome.Applied, applied.Outcome);
        Assert.Equal(NftBackend.Command, applied.Backend);
        Assert.Equal(NftOutcome.Rejected, rejected.Outcome);
        Assert.StartsWith("transaction:2:", rejected.Message);
        Assert.Equal(_ns.ListOurs(), listed.Output);
        Assert.Contains("mod 2", listed.Output);
    }
}
