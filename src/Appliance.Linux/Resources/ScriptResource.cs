using System.Diagnostics;
using Appliance.Core.Config;
using Appliance.Core.Ports;

namespace Appliance.Linux.Resources;

/// <summary>
/// exec, lsb and ocf resources: a program does the work, exit 0 is success, each action is bounded
/// by the configured timeout (then the whole process tree is killed and the action fails). OCF
/// agents get OCF_ROOT, OCF_RESKEY_* and the instance variables of the OCF RA API 1.1, and their
/// <c>ocf-exit-reason:</c> line becomes the failure reason.
/// </summary>
public sealed class ScriptResource(ScriptResourceConfig config) : IResource
{
    /// <summary>Debian's OCF root (resource-agents).</summary>
    public const string OcfRoot = "/usr/lib/ocf";

    /// <summary>Most stderr kept for a failure reason.</summary>
    private const int ReasonCharsMax = 300;

    public string Name => config.Name;
    public string Kind => config.ScriptKind.ToString().ToLowerInvariant();

    public Task<ResourceOutcome> StartAsync(CancellationToken ct) => Run("start", ct);

    public Task<ResourceOutcome> StopAsync(CancellationToken ct) => Run("stop", ct);

    public TimeSpan MonitorInterval =>
        config.ScriptKind == ResourceKind.Exec && config.Monitor is null ? TimeSpan.Zero : config.MonitorInterval;

    /// <summary>ocf: monitor (0 running, 7 not running); lsb: status (0 running, 3 not running); exec: its monitor command.</summary>
    public Task<ResourceOutcome> MonitorAsync(CancellationToken ct) =>
        Run(config.ScriptKind switch { ResourceKind.Ocf => "monitor", ResourceKind.Lsb => "status", _ => "monitor" }, ct);

    private async Task<ResourceOutcome> Run(string action, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(config.Timeout);
        var psi = Command(action);
        string file = psi.FileName;
        var r = await ChildProcess.RunAsync(psi, stdin: null, timeout.Token).ConfigureAwait(false);
        return r.Outcome switch
        {
            ChildOutcome.NotStarted => ResourceOutcome.Failed($"cannot run {file}: {r.Why}"),
            ChildOutcome.Killed => ResourceOutcome.Failed($"{action}: no answer within {config.Timeout.TotalSeconds:0.#} s (killed)"),
            _ => r.ExitCode == 0 ? ResourceOutcome.Done($"{action}: exit 0")
                : ResourceOutcome.Failed($"{action}: {Meaning(r.ExitCode)}{Reason(r.Stderr)}"),
        };
    }

    private ProcessStartInfo Command(string action)
    {
        switch (config.ScriptKind)
        {
            case ResourceKind.Exec:
            {
                var psi = new ProcessStartInfo("/bin/sh");
                psi.ArgumentList.Add("-c");
                psi.ArgumentList.Add(action switch { "start" => config.Start!, "stop" => config.Stop!, _ => config.Monitor! });
                psi.Environment["APPLIANCE_RESOURCE"] = config.Name;
                return psi;
            }
            case ResourceKind.Lsb:
            {
                var psi = new ProcessStartInfo(config.Script!);
                psi.ArgumentList.Add(action);
                return psi;
            }
            default:
            {
                var parts = config.Agent!.Split(':');
                var psi = new ProcessStartInfo(Path.Combine(OcfRoot, "resource.d", parts[0], parts[1]));
                psi.ArgumentList.Add(action);
                psi.Environment["OCF_ROOT"] = OcfRoot;
                psi.Environment["OCF_RA_VERSION_MAJOR"] = "1";
                psi.Environment["OCF_RA_VERSION_MINOR"] = "1";
                psi.Environment["OCF_RESOURCE_INSTANCE"] = config.Name;
                psi.Environment["OCF_RESOURCE_TYPE"] = parts[1];
                psi.Environment["OCF_RESOURCE_PROVIDER"] = parts[0];
                psi.Environment["OCF_RESKEY_CRM_meta_timeout"] = ((long)config.Timeout.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
                foreach (var (key, value) in config.Params)
                    psi.Environment["OCF_RESKEY_" + key] = value;
                return psi;
            }
        }
    }

    private string Meaning(int code) => config.ScriptKind != ResourceKind.Ocf
        ? (config.ScriptKind == ResourceKind.Lsb && code == 3 ? "exit 3 (not running)" : $"exit {code}")
        : code switch
    {
        1 => "exit 1 (OCF_ERR_GENERIC)",
        2 => "exit 2 (OCF_ERR_ARGS)",
        3 => "exit 3 (OCF_ERR_UNIMPLEMENTED)",
        4 => "exit 4 (OCF_ERR_PERM)",
        5 => "exit 5 (OCF_ERR_INSTALLED)",
        6 => "exit 6 (OCF_ERR_CONFIGURED)",
        7 => "exit 7 (OCF_NOT_RUNNING)",
        _ => $"exit {code}",
    };

    /// <summary>The agent's own reason (ocf-exit-reason:...), else the last stderr line.</summary>
    private static string Reason(string stderr)
    {
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string? reason = lines.LastOrDefault(l => l.StartsWith("ocf-exit-reason:", StringComparison.Ordinal))?["ocf-exit-reason:".Length..]
                         ?? lines.LastOrDefault();
        if (string.IsNullOrEmpty(reason))
            return "";
        return ": " + (reason.Length > ReasonCharsMax ? reason[..ReasonCharsMax] : reason);
    }
}
