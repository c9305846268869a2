using System.Diagnostics;
using Appliance.Core.Fencing;

namespace Appliance.Linux.Fencing;

/// <summary>
/// An external fence agent (fence-agents' <c>fence_*</c>, or any program following its convention)
/// as a fence device: run with no arguments, the request on stdin (action, plug, nodename, the
/// configured parameters), exit code mapped by <see cref="FenceAgentProtocol.ResultOf"/>. The
/// caller's cancellation kills the agent and everything it started (telnet, ssh): Timeout.
/// </summary>
public sealed class FenceAgentDevice : IFenceDevice
{
    /// <summary>Most of the agent's own line quoted in a reason (fencing.py messages are one short line).</summary>
    private const int ReasonCharsMax = 300;

    private readonly string _agentPath;
    private readonly IReadOnlyDictionary<string, string>? _plugs;
    private readonly IReadOnlyList<KeyValuePair<string, string>> _parameters;

    /// <param name="plugs">Node name to the agent's plug (Pacemaker's pcmk_host_map); null: the plug is the node name.</param>
    /// <param name="parameters">Device options passed on every request (ipaddr, login, status_file, ...).</param>
    /// <exception cref="ArgumentException">A parameter or plug the request format cannot carry (a config error).</exception>
    public FenceAgentDevice(string name, string agentPath, IReadOnlyDictionary<string, string>? plugs,
        IReadOnlyList<KeyValuePair<string, string>> parameters)
    {
        Name = name;
        _agentPath = agentPath;
        _plugs = plugs;
        _parameters = parameters;
        // Fail at configuration time, not while fencing: the same check the request makes.
        foreach (var (node, plug) in plugs ?? new Dictionary<string, string>())
            _ = FenceAgentProtocol.Request(FenceAction.Status, plug, node, parameters);
        _ = FenceAgentProtocol.Request(FenceAction.Status, null, name, parameters);
    }

    public string Name { get; }
    public string Kind => "fence-agent";

    /// <summary>fencing.py agents implement reboot (off, then on) themselves.</summary>
    public bool CanReboot => true;

    public async Task<FenceResult> RunAsync(FenceAction action, string target, CancellationToken ct)
    {
        if (!Enum.IsDefined(action))
            return FenceResult.HardError($"{Name}: no fence agent action for {action}");
        string? plug = target;
        if (_plugs is not null && !_plugs.TryGetValue(target, out plug))
            return FenceResult.HardError($"{Name}: no plug configured for node {target}");
        string request;
        try
        {
            request = FenceAgentProtocol.Request(action, plug, target, _parameters);
        }
        catch (ArgumentException e)
        {
            return FenceResult.HardError($"{Name}: {e.Message}");
        }
        var agentAction = FenceAgentProtocol.ToAgentAction(action);
        string what = $"{Name} ({_agentPath}) {FenceAgentProtocol.ActionName(agentAction)} {target}";
        // Already cancelled: no agent is started (starting one only to kill it can take longer than the
        // caller's grace on a loaded machine; seen in the contract test).
        if (ct.IsCancellationRequested)
            return FenceResult.Timeout($"{Name}: cancelled before {_agentPath} was started");
        var r = await ChildProcess.RunAsync(new ProcessStartInfo(_agentPath), request, ct).ConfigureAwait(false);
        return r.Outcome switch
        {
            ChildOutcome.NotStarted => FenceResult.HardError($"cannot run fence agent {_agentPath}: {r.Why}"),
            ChildOutcome.Killed => FenceResult.Timeout($"{what}: no answer in time (agent killed)"),
            _ => Prefixed(FenceAgentProtocol.ResultOf(agentAction, r.ExitCode, AgentLine(r.ExitCode, r.Stdout, r.Stderr)), Name),
        };
    }

    private static FenceResult Prefixed(FenceResult result, string name) => result with { Reason = $"{name}: {result.Reason}" };

    /// <summary>
    /// The agent's own words: on failure its last "Failed: ..." line (fencing.py prefixes a timestamp
    /// and follows with "Please use '-h' for usage"), else its last stderr line, else its last
    /// stdout line; on success its last stdout line ("Success: Powered OFF", "Status: OFF").
    /// </summary>
    private static string AgentLine(int exitCode, string stdout, string stderr)
    {
        static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string[] err = Lines(stderr), output = Lines(stdout);
        string? line = exitCode is FenceAgentProtocol.ExitSuccess or FenceAgentProtocol.ExitStatusOff
            ? output.LastOrDefault()
            : err.LastOrDefault(l => l.Contains("Failed:", StringComparison.Ordinal)) is { } failed
                ? failed[failed.IndexOf("Failed:", StringComparison.Ordinal)..]
                : err.LastOrDefault() ?? output.LastOrDefault();
        line ??= "";
        return line.Length > ReasonCharsMax ? line[..ReasonCharsMax] : line;
    }
}
