using System.Collections.Immutable;

namespace Appliance.Core.Config;

/// <summary>Collects the errors of one load, and where each valid option was written.</summary>
internal sealed class Diagnostics(string file)
{
    private readonly List<ConfigError> _errors = [];
    private readonly ImmutableDictionary<string, SourcePosition>.Builder _positions =
        ImmutableDictionary.CreateBuilder<string, SourcePosition>(StringComparer.Ordinal);
    private bool _truncated;

    public string File { get; } = file;

    public int Count => _errors.Count;

    /// <summary>Reports <paramref name="message"/> about the option at <paramref name="path"/>.</summary>
    public void Add(SourcePosition at, string path, string message)
    {
        if (_errors.Count >= ConfigLimits.MaxErrors)
        {
            _truncated = true;
            return;
        }
        _errors.Add(new ConfigError(File, at.Line, at.Column, path.Length == 0 ? message : $"{path}: {message}"));
    }

    /// <summary>An error found in another file (a board profile the config names), kept as it is.</summary>
    public void AddForeign(ConfigError error)
    {
        if (_errors.Count >= ConfigLimits.MaxErrors)
        {
            _truncated = true;
            return;
        }
        _errors.Add(error);
    }

    /// <summary>The errors so far, in the order found.</summary>
    public IReadOnlyList<ConfigError> Errors => _errors;

    public void RecordPosition(string path, SourcePosition at) => _positions[path] = at;

    public ConfigResult ToResult(ApplianceConfig? config)
    {
        if (_errors.Count > 0)
            config = null;
        else if (config is null)
            throw new InvalidOperationException("no config and no error: a validation path forgot to report");

        // Stable: errors at the same position keep the order they were found in.
        var errors = _errors.OrderBy(e => e.File != File).ThenBy(e => e.Line).ThenBy(e => e.Column).ToImmutableArray();
        if (_truncated)
        {
            var last = errors[^1];
            errors = errors.Add(new ConfigError(File, last.Line, last.Column,
                $"too many errors; stopped after {ConfigLimits.MaxErrors}"));
        }
        return new ConfigResult(File, config, errors, config is null ? ImmutableDictionary<string, SourcePosition>.Empty : _positions.ToImmutable());
    }
}
