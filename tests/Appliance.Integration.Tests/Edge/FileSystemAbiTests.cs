namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// Pins Interop.Fs (open flags, statx, file types) against native/fs_abi.c compiled with the
/// installed headers: every constant both ways, struct statx's size and the offsets we read, and
/// O_NOFOLLOW, which is per-architecture and so not a C# constant.
/// </summary>
public sealed class FileSystemAbiTests
{
    private const string Source = "fs_abi.c";

    private static readonly Lazy<Dictionary<string, ulong>> Native = new(() => NativeAbi.CompileAndRun(Source));

    [Fact]
    public void Every_file_system_constant_matches_the_headers()
    {
        List<string> problems = NativeAbi.ConstantMismatches(Native.Value, Source, typeof(Interop.Fs));
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
        Assert.Equal(Native.Value["value.O_NOFOLLOW"], (ulong)Interop.Fs.O_NOFOLLOW);
    }

    [Fact]
    public void Statx_matches_the_kernel_layout()
    {
        List<string> problems = NativeAbi.StructMismatches<Interop.Fs.Statx>(Native.Value, Source, "statx");
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }
}
