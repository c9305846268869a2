namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// Pins Interop.Netlink (rtnetlink sockets and messages) against native/netlink_abi.c compiled with
/// the installed kernel uapi headers: every constant both ways, the size of nlmsghdr (16),
/// nlmsgerr (20), ifaddrmsg (8), ifinfomsg (16), rtattr (4), sockaddr_nl (12) and every field offset.
/// </summary>
public sealed class NetlinkAbiTests
{
    private const string Source = "netlink_abi.c";

    private static readonly Lazy<Dictionary<string, ulong>> Native = new(() => NativeAbi.CompileAndRun(Source));

    [Fact]
    public void Every_netlink_constant_matches_the_kernel_headers()
    {
        List<string> problems = NativeAbi.ConstantMismatches(Native.Value, Source, typeof(Interop.Netlink));
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void Every_netlink_struct_matches_the_kernel_layout()
    {
        List<string> problems = new[]
        {
            NativeAbi.StructMismatches<Interop.Netlink.SockaddrNl>(Native.Value, Source, "sockaddr_nl"),
            NativeAbi.StructMismatches<Interop.Netlink.NlMsgHdr>(Native.Value, Source, "nlmsghdr"),
            NativeAbi.StructMismatches<Interop.Netlink.NlMsgErr>(Native.Value, Source, "nlmsgerr"),
            NativeAbi.StructMismatches<Interop.Netlink.IfAddrMsg>(Native.Value, Source, "ifaddrmsg"),
            NativeAbi.StructMismatches<Interop.Netlink.IfInfoMsg>(Native.Value, Source, "ifinfomsg"),
            NativeAbi.StructMismatches<Interop.Netlink.RtAttr>(Native.Value, Source, "rtattr"),
        }.SelectMany(p => p).ToList();
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
        // The sizes the message code's layout comments rely on.
        Assert.Equal([16ul, 20ul, 8ul, 16ul, 4ul, 12ul],
            new[] { "nlmsghdr", "nlmsgerr", "ifaddrmsg", "ifinfomsg", "rtattr", "sockaddr_nl" }.Select(s => Native.Value[$"sizeof.{s}"]));
    }
}
