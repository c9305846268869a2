using System.Text.RegularExpressions;

namespace Appliance.Core.Tests.Architecture;

/// <summary>
/// STYLE.md "A sans-I/O core": Core never reads a clock, sleeps, starts threads, opens sockets or
/// files, or declares native calls. This scans its sources and names the replacement.
/// </summary>
public class CoreIsSansIoTests
{
    private static readonly (string Pattern, string Instead)[] Banned =
    {
        (@"\bDateTime(Offset)?\.(Now|UtcNow)\b", "take `now` as a TimeSpan argument"),
        (@"\bStopwatch\b", "take `now` as a TimeSpan argument"),
        (@"\bThread\.Sleep\b", "return the next deadline to the host"),
        (@"\bTask\.Delay\b", "return the next deadline to the host"),
        (@"\bTask\.Run\b", "let the host own threads"),
        (@"new Random\(", "take randomness as an input (seed or value)"),
        // AddressFamily (a plain enum in System.Net.Sockets) is fine; socket types are not.
        (@"\b(Socket|UdpClient|TcpClient|TcpListener|NetworkStream)\b", "declare a port interface; the edge implements it"),
        (@"\bFile\.", "let the caller read files and pass the text"),
        (@"\bDllImport\b|\bLibraryImport\b", "put native calls in Appliance.Linux/Interop"),
    };

    internal static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Appliance.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Appliance.sln not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public void Core_sources_use_no_banned_api()
    {
        string core = Path.Combine(RepoRoot(), "src", "Appliance.Core");
        var files = Directory.GetFiles(core, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")).ToList();
        Assert.NotEmpty(files);
        var violations = new List<string>();
        foreach (var f in files)
        {
            var lines = File.ReadAllLines(f);
            for (int i = 0; i < lines.Length; i++)
            {
                string code = Regex.Replace(lines[i], @"//.*$", "");
                foreach (var (pattern, instead) in Banned)
                    if (Regex.IsMatch(code, pattern))
                        violations.Add($"{Path.GetRelativePath(core, f)}:{i + 1}: `{Regex.Match(code, pattern).Value}`: {instead}");
            }
        }
        Assert.True(violations.Count == 0, string.Join("\n", violations));
    }
}
