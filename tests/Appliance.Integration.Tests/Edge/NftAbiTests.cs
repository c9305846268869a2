using System.Reflection;
using System.Runtime.InteropServices;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// Pins Interop.Nftables against the installed libnftables: every constant both ways from
/// native/nft_abi.c compiled with &lt;nftables/libnftables.h&gt; (libnftables-dev, which
/// scripts/install-deps.sh installs), the size of C's bool (the dry-run flag is marshalled as one
/// byte), and every declared entry point exported by libnftables.so.1.
/// </summary>
public sealed class NftAbiTests
{
    private const string Source = "nft_abi.c";

    private static readonly Lazy<Dictionary<string, ulong>> Native = new(() =>
    {
        Assert.True(File.Exists("/usr/include/nftables/libnftables.h"),
            "/usr/include/nftables/libnftables.h missing: apt-get install libnftables-dev (scripts/install-deps.sh does)");
        return NativeAbi.CompileAndRun(Source);
    });

    [Fact]
    public void Every_nftables_constant_matches_the_header()
    {
        List<string> problems = NativeAbi.ConstantMismatches(Native.Value, Source, typeof(Interop.Nftables));
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void C_bool_is_one_byte_as_the_dry_run_flag_is_marshalled()
    {
        Assert.Equal(1ul, Native.Value["sizeof.bool"]);
    }

    [Fact]
    public void Every_declared_entry_point_is_exported_by_the_library()
    {
        Assert.True(NativeLibrary.TryLoad(Interop.Libraries.Nftables, out nint lib),
            $"{Interop.Libraries.Nftables} not loadable: apt-get install libnftables1");
        try
        {
            var names = typeof(Interop.Nftables)
                .GetMethods(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.DeclaredOnly)
                .Select(m => m.GetCustomAttribute<LibraryImportAttribute>())
                .OfType<LibraryImportAttribute>()
                .Select(a => a.EntryPoint!)
                .ToList();
            Assert.True(names.Count >= 10, $"found only {names.Count} [LibraryImport]s on Interop.Nftables");
            var missing = names.Where(n => !NativeLibrary.TryGetExport(lib, n, out _)).ToList();
            Assert.True(missing.Count == 0, "not exported by libnftables.so.1: " + string.Join(", ", missing));
        }
        finally
        {
            NativeLibrary.Free(lib);
        }
    }
}
