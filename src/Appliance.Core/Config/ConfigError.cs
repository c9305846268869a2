using System.Collections.Immutable;

namespace Appliance.Core.Config;

/// <summary>A position in the config file, 1-based, as YAML editors and compilers count.</summary>
public readonly record struct SourcePosition(int Line, int Column)
{
    public static readonly SourcePosition Start = new(1, 1);

    public override string ToString() => $"{Line}:{Column}";
}

/// <summary>
/// One problem with a config file. <see cref="Message"/> starts with the dotted path of the option
/// (<c>nodes[1].links[0].baud: ...</c>) and says what was wrong and what was expected.
/// </summary>
public sealed record ConfigError(string File, int Line, int Column, string Message)
{
    public override string ToString() => $"{File}:{Line}:{Column}: {Message}";
}

/// <summary>
/// The outcome of <see cref="ConfigLoader.Load"/>: either a validated <see cref="Config"/> and no
/// errors, or no config and every error found (not just the first).
/// </summary>
public sealed class ConfigResult
{
    private readonly ImmutableDictionary<string, SourcePosition> _positions;

    internal ConfigResult(string sourcePath, ApplianceConfig? config, ImmutableArray<ConfigError> errors,
        ImmutableDictionary<string, SourcePosition> positions)
    {
        if ((config is null) == errors.IsEmpty)
            throw new ArgumentException("a config result has a config or errors, never both or neither");
        SourcePath = sourcePath;
        Config = config;
        Errors = errors;
        _positions = positions;
    }

    public string SourcePath { get; }

    /// <summary>The validated config; null when there are errors.</summary>
    public ApplianceConfig? Config { get; }

    /// <summary>All errors, ordered by position in the file.</summary>
    public ImmutableArray<ConfigError> Errors { get; }

    public bool Ok => Config is not null;

    /// <summary>
    /// Where the option at <paramref name="optionPath"/> (<c>cluster.key_file</c>,
    /// <c>nodes[0].links[1].local</c>) was written, if it was; null for defaulted options.
    /// </summary>
    public SourcePosition? PositionOf(string optionPath) =>
        _positions.TryGetValue(optionPath, out var p) ? p : null;

    /// <summary>
    /// An error about a valid option found later (a key file that cannot be read, a device that
    /// cannot be opened), placed where the option was written, or at the top of the file.
    /// </summary>
    public ConfigError ErrorAt(string optionPath, string message)
    {
        var at = PositionOf(optionPath) ?? SourcePosition.Start;
        return new ConfigError(SourcePath, at.Line, at.Column, $"{optionPath}: {message}");
    }
}
