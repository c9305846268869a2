using System.Xml.Linq;

namespace Appliance.Core.Tests.Architecture;

/// <summary>
/// DESIGN.md section 2: dependencies point inward. Daemon and Ctl use Core and Linux; Linux uses
/// Core's interfaces; Core uses nothing but the base library and YamlDotNet. This reads every
/// project file under src/ (and the Directory.* files that add to all of them) and pins the
/// direction, so a reference that turns an arrow around fails here rather than in review.
/// </summary>
public class DependencyTests
{
    /// <summary>
    /// What each project may reference. Daemon and Ctl may use Core and/or Linux, never each other;
    /// Lab is pinned to what it references today (its simulators use Core's protocol code and
    /// Linux's ptys and GPIO simulation). A new project under src/ must be added here deliberately.
    /// </summary>
    private static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["Appliance.Core"] = [],
        ["Appliance.Linux"] = ["Appliance.Core"],
        ["Appliance.Daemon"] = ["Appliance.Core", "Appliance.Linux"],
        ["Appliance.Ctl"] = ["Appliance.Core", "Appliance.Linux"],
        ["Appliance.Lab"] = ["Appliance.Core", "Appliance.Linux"],
    };

    /// <summary>Lab's references exactly, as they are now: widening them is a design change, not a drive-by.</summary>
    private static readonly string[] LabPinned = ["Appliance.Core", "Appliance.Linux"];

    /// <summary>DESIGN.md section 2: "Core uses nothing but the base library and YamlDotNet" (the config loader).</summary>
    private static readonly string[] CorePackagesAllowed = ["YamlDotNet"];

    private static string Src => Path.Combine(CoreIsSansIoTests.RepoRoot(), "src");

    private static Dictionary<string, XDocument> Projects() =>
        Directory.GetFiles(Src, "*.csproj", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .ToDictionary(f => Path.GetFileNameWithoutExtension(f), f => XDocument.Load(f));

    /// <summary>Items of <paramref name="kind"/> anywhere in the file (in any ItemGroup, conditional or not).</summary>
    private static IEnumerable<string> Items(XDocument project, string kind) =>
        project.Descendants().Where(e => e.Name.LocalName == kind)
            .Select(e => (string?)e.Attribute("Include") ?? (string?)e.Attribute("Update") ?? "")
            .Where(s => s.Length > 0);

    private static string[] ProjectReferences(XDocument project) =>
        Items(project, "ProjectReference").Select(p => Path.GetFileNameWithoutExtension(p.Replace('\\', '/'))).Order().ToArray();

    [Fact]
    public void Every_project_under_src_has_a_declared_place()
    {
        var projects = Projects();
        Assert.NotEmpty(projects);
        var unknown = projects.Keys.Except(Allowed.Keys).ToList();
        Assert.True(unknown.Count == 0,
            $"src/ has projects with no place in the dependency rules: {string.Join(", ", unknown)}. " +
            "Add them to DependencyTests.Allowed (and to DESIGN.md section 2) deliberately.");
    }

    [Fact]
    public void Project_references_point_inward()
    {
        var violations = new List<string>();
        foreach (var (name, project) in Projects())
        {
            if (!Allowed.TryGetValue(name, out string[]? allowed))
                continue; // reported by Every_project_under_src_has_a_declared_place
            foreach (string reference in ProjectReferences(project).Except(allowed))
                violations.Add($"{name} references {reference}; it may reference only [{string.Join(", ", allowed)}]");
        }
        Assert.True(violations.Count == 0, string.Join("\n", violations) +
            "\nDESIGN.md section 2: Daemon and Ctl use Core and Linux; Linux uses Core's interfaces; Core uses nothing.");
    }

    [Fact]
    public void Core_references_no_project()
    {
        Assert.Empty(ProjectReferences(Projects()["Appliance.Core"]));
    }

    [Fact]
    public void Linux_references_only_core()
    {
        Assert.Equal(["Appliance.Core"], ProjectReferences(Projects()["Appliance.Linux"]));
    }

    [Theory]
    [InlineData("Appliance.Daemon", "Appliance.Ctl")]
    [InlineData("Appliance.Ctl", "Appliance.Daemon")]
    public void Daemon_and_ctl_use_core_or_linux_and_not_each_other(string project, string other)
    {
        string[] references = ProjectReferences(Projects()[project]);
        Assert.DoesNotContain(other, references);
        Assert.NotEmpty(references.Intersect(["Appliance.Core", "Appliance.Linux"]));
    }

    [Fact]
    public void Lab_references_are_pinned()
    {
        Assert.Equal(LabPinned, ProjectReferences(Projects()["Appliance.Lab"]));
    }

    [Fact]
    public void Core_uses_only_the_base_library_and_yamldotnet()
    {
        XDocument core = Projects()["Appliance.Core"];
        string[] packages = Items(core, "PackageReference").Order().ToArray();
        var extra = packages.Except(CorePackagesAllowed).ToList();
        Assert.True(extra.Count == 0,
            $"Appliance.Core references packages [{string.Join(", ", extra)}]; DESIGN.md section 2 allows only the base library and YamlDotNet. " +
            "Put the dependency in Linux or Daemon behind a port interface that Core declares.");
        Assert.Equal(CorePackagesAllowed, packages); // pinned: the config loader needs YamlDotNet
        Assert.Empty(Items(core, "FrameworkReference")); // e.g. Microsoft.AspNetCore.App: not the base library
        Assert.Empty(Items(core, "Reference")); // a raw DLL reference sneaks past the package rule
    }

    [Fact]
    public void No_directory_wide_file_adds_references_to_every_project()
    {
        // A PackageReference or ProjectReference in a Directory.Build.* file would reach Core too.
        string root = CoreIsSansIoTests.RepoRoot();
        var files = new[] { root, Src }
            .SelectMany(dir => new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" }
                .Select(f => Path.Combine(dir, f)))
            .Where(File.Exists).ToList();
        foreach (string file in files)
        {
            XDocument doc = XDocument.Load(file);
            foreach (string kind in new[] { "PackageReference", "ProjectReference", "FrameworkReference", "Reference" })
                Assert.True(!Items(doc, kind).Any(),
                    $"{Path.GetRelativePath(root, file)} adds {kind} items to every project, Core included: " +
                    $"{string.Join(", ", Items(doc, kind))}");
        }
    }
}
