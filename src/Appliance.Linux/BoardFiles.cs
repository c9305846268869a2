using Appliance.Core.Board;

namespace Appliance.Linux;

/// <summary>
/// Finds board profiles on disk for the config loader: a name is NAME.yaml in
/// <see cref="SystemDirectory"/> (the operator's own), then in the <c>board</c> directory installed
/// next to the binaries (the shipped profiles); an absolute path is read as it is.
/// </summary>
public static class BoardFiles
{
    /// <summary>Where an operator puts profiles of their own; they win over the shipped ones.</summary>
    public const string SystemDirectory = "/etc/appliance/board";

    /// <summary>The profiles installed with the binaries (<c>make bin</c> copies board/*.yaml there).</summary>
    public static string ShippedDirectory => Path.Combine(AppContext.BaseDirectory, "board");

    /// <summary>The catalog; <paramref name="boardOverride"/> is <c>applianced --board</c> (or null).</summary>
    public static BoardCatalog Catalog(string? boardOverride = null) =>
        new(Find, boardOverride, $"{SystemDirectory} and {ShippedDirectory}");

    private static BoardText? Find(string reference)
    {
        if (reference.StartsWith('/'))
            return ReadOrNull(reference);
        foreach (string dir in (string[])[SystemDirectory, ShippedDirectory])
            if (ReadOrNull(Path.Combine(dir, reference + ".yaml")) is { } found)
                return found;
        return null;
    }

    private static BoardText? ReadOrNull(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
                return null;
            // Read one character past the limit at most, so the loader can say the file is too long.
            using var reader = new StreamReader(path);
            var buffer = new char[BoardLoader.MaxProfileChars + 1];
            int n = reader.ReadBlock(buffer, 0, buffer.Length);
            return new BoardText(path, new string(buffer, 0, n));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new BoardText(path, "");
        }
    }
}
