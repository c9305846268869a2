using Appliance.Core.Config;

namespace Appliance.Core.Tests.Architecture;

/// <summary>The README's config reference is generated from the option table; this keeps it true.</summary>
public class ReadmeTests
{
    [Fact]
    public void Readme_carries_the_generated_config_reference()
    {
        string readme = File.ReadAllText(Path.Combine(CoreIsSansIoTests.RepoRoot(), "README.md"));
        string reference = ConfigReference.Markdown().Replace("\r\n", "\n").TrimEnd();
        Assert.True(readme.Replace("\r\n", "\n").Contains(reference, StringComparison.Ordinal),
            "README.md's configuration reference is out of date: regenerate it with `appliancectl config reference`");
    }
}
