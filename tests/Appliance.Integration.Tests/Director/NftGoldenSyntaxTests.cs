using EdgeRun = Appliance.Integration.Tests.Edge.Edge;

namespace Appliance.Integration.Tests.Director;

/// <summary>
/// The director's golden rulesets (tests/Appliance.Core.Tests/Director/Golden) are what the kernel
/// takes: each full load is checked with <c>nft -c -f</c> (parse and kernel validation, nothing
/// committed), and each change transaction is checked, then applied, on top of its
/// <c>.before</c> load. All inside a fresh network namespace, deleted afterwards, so the host's
/// tables are never touched.
/// </summary>
public class NftGoldenSyntaxTests
{
    private static string GoldenDir()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Appliance.sln")))
            dir = dir.Parent;
        return Path.Combine(dir?.FullName ?? throw new InvalidOperationException("Appliance.sln not found"),
            "tests", "Appliance.Core.Tests", "Director", "Golden");
    }

    internal const string Nft = "/usr/sbin/nft";

    [NftRootFact]
    public void EveryGoldenRuleset_LoadsIntoTheKernel()
    {
        string dir = GoldenDir();
        var full = Directory.GetFiles(dir, "full-*.nft").Order(StringComparer.Ordinal).ToList();
        var changes = Directory.GetFiles(dir, "change-*.nft").Where(f => !f.EndsWith(".before.nft", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(full);
        Assert.NotEmpty(changes);

        string ns = $"apl-nftgold-{Environment.ProcessId}-{Random.Shared.Next(100000)}";
        EdgeRun.Run("ip", "netns", "add", ns);
        try
        {
            var failures = new List<string>();
            foreach (var f in full)
                Try(failures, f, () => EdgeRun.Run("ip", "netns", "exec", ns, Nft, "-c", "-f", f));
            foreach (var c in changes)
            {
                string before = c[..^".nft".Length] + ".before.nft";
                Try(failures, c, () =>
                {
                    EdgeRun.Run("ip", "netns", "exec", ns, Nft, "-f", before);
                    EdgeRun.Run("ip", "netns", "exec", ns, Nft, "-c", "-f", c);
                    EdgeRun.Run("ip", "netns", "exec", ns, Nft, "-f", c);
                });
            }
            Assert.True(failures.Count == 0, string.Join("\n", failures));
        }
        finally
        {
            EdgeRun.Run("ip", "netns", "del", ns);
        }
    }

    private static void Try(List<string> failures, string file, Action run)
    {
        try
        {
            run();
        }
        catch (InvalidOperationException ex)
        {
            failures.Add($"{Path.GetFileName(file)}: {ex.Message}");
        }
    }
}

/// <summary>Needs root (a network namespace) and nft; skipped, saying which, otherwise.</summary>
public sealed class NftRootFactAttribute : FactAttribute
{
    public NftRootFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
            Skip = "needs root (a network namespace for nft); CI runs it as root";
        else if (!File.Exists(NftGoldenSyntaxTests.Nft))
            Skip = $"{NftGoldenSyntaxTests.Nft} not installed (apt-get install nftables); CI has it";
    }
}
