using System.Globalization;

namespace Appliance.Core.Config;

/// <summary>
/// Dotted paths of options, as errors print them, for code outside the loader that finds a
/// problem with a valid option later (a key file, a device) and reports it with
/// <see cref="ConfigResult.ErrorAt"/>.
/// </summary>
public static class ConfigPaths
{
    public const string KeyFile = "cluster.key_file";

    /// <summary><c>nodes[1]</c>: the node at <paramref name="nodeIndex"/> in the file.</summary>
    public static string Node(int nodeIndex) => string.Create(CultureInfo.InvariantCulture, $"nodes[{nodeIndex}]");

    /// <summary><c>nodes[1].links[0]</c>, or with <paramref name="option"/> <c>nodes[1].links[0].device</c>.</summary>
    public static string Link(int nodeIndex, int linkIndex, string? option = null) =>
        string.Create(CultureInfo.InvariantCulture, $"{Node(nodeIndex)}.links[{linkIndex}]") + (option is null ? "" : "." + option);
}
