namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// Pins Interop.Ctnetlink (conntrack over nfnetlink) against native/ctnetlink_abi.c compiled with the
/// installed kernel uapi headers: every constant both ways, the size of nfgenmsg (4) and nlattr (4)
/// and every field offset.
/// </summary>
public sealed class CtnetlinkAbiTests
{
    private const string Source = "ctnetlink_abi.c";

    private static readonly Lazy<Dictionary<string, ulong>> Native = new(() => NativeAbi.CompileAndRun(Source));

    [Fact]
    public void Every_ctnetlink_constant_matches_the_kernel_headers()
    {
        List<string> problems = NativeAbi.ConstantMismatches(Native.Value, Source, typeof(Interop.Ctnetlink));
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void Every_ctnetlink_struct_matches_the_kernel_layout()
    {
        List<string> problems = new[]
        {
            NativeAbi.StructMismatches<Interop.Ctnetlink.NfGenMsg>(Native.Value, Source, "nfgenmsg"),
            NativeAbi.StructMismatches<Interop.Ctnetlink.NlAttr>(Native.Value, Source, "nlattr"),
        }.SelectMany(p => p).ToList();
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
        Assert.Equal([4ul, 4ul], new[] { "nfgenmsg", "nlattr" }.Select(s => Native.Value[$"sizeof.{s}"]));
    }
}
