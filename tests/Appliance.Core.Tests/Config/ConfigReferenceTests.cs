using System.Runtime.CompilerServices;
using Appliance.Core.Config;

namespace Appliance.Core.Tests.Config;

public class ConfigReferenceTests
{
    /// <summary>Set to 1 to rewrite the golden file from the current output.</summary>
    private const string UpdateSwitch = "APPLIANCE_UPDATE_GOLDEN";

    private static string GoldenPath([CallerFilePath] string here = "") =>
        Path.Combine(Path.GetDirectoryName(here)!, "Golden", "config-reference.md");

    [Fact]
    public void Markdown_MatchesTheGoldenFile()
    {
        string actual = ConfigReference.Markdown();
        string path = GoldenPath();
        if (Environment.GetEnvironmentVariable(UpdateSwitch) == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, actual);
        }
        Assert.True(File.Exists(path), $"no golden file {path}; run with {UpdateSwitch}=1 to create it");
        Assert.Equal(File.ReadAllText(path), actual);
    }

    [Fact]
    public void Markdown_DocumentsEveryOptionOfTheTable()
    {
        string md = ConfigReference.Markdown();
        var schemas = new List<MapSchema>();
        var todo = new Stack<MapSchema>([ConfigSchema.Root]);
        while (todo.TryPop(out var schema))
        {
            schemas.Add(schema);
            foreach (var o in schema.AllOptions)
            {
                Assert.Contains($"| `{o.Name}` |", md);
                Assert.Contains(o.Help.Replace("|", "\\|"), md);
                if (o is SectionOption s) todo.Push(s.Schema);
                if (o is ListOption l) todo.Push(l.Item);
            }
        }
        Assert.All(schemas.Where(s => s != ConfigSchema.Root), s => Assert.Contains($"## `{s.Title}`", md));
        Assert.All(ConfigSchema.TimerRules, r => Assert.Contains($"- {r.Doc}", md));
        Assert.Contains("- deadtime must be more than 2 x keepalive", md);
        Assert.Contains("| `fencing` | `required` \\| `off` | `required` |", md);
        Assert.Contains("| `peer` | IPv4 or IPv6 address | none |", md);
        Assert.Contains("| `keepalive` | duration, 2ms to 30s | `200ms` |", md);
        Assert.Contains("| `keepalive` | duration, 2ms to 30s | none |", md);
    }
}
