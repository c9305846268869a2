using System.Globalization;
using System.Text;
using Appliance.Core.Fencing;

namespace Appliance.Ctl;

/// <summary>
/// <c>appliancectl fence-agent KIND [ARGS]</c>: one of our drivers acting as a fence agent for
/// Pacemaker and other fence-agents callers (fence-agents.md). Options from stdin when there are no
/// arguments, else from argv; actions, output lines and exit codes as fencing.py's.
/// </summary>
public static class FenceAgentCommand
{
    /// <summary>
    /// The entry point behind board/fence/fence_appliance_*: picks the agent by kind (gpio, pdu) and
    /// runs it on the console. A driver not passed in answers metadata and manpage only.
    /// </summary>
    public static int RunOnConsole(string kind, string[] args,
        Func<FenceAgents.GpioSettings, IFenceDevice>? gpio = null, Func<FenceAgents.PduSettings, IFenceDevice>? pdu = null)
    {
        (AgentDescription Description, AgentFactory? Factory)? agent = kind switch
        {
            "gpio" => (FenceAgents.Gpio, gpio is null ? null : FenceAgents.GpioFactory(gpio)),
            "pdu" => (FenceAgents.Pdu, pdu is null ? null : FenceAgents.PduFactory(pdu)),
            _ => null,
        };
        if (agent is not { } a)
        {
            Console.Error.WriteLine($"appliancectl: unknown fence agent '{kind}' (gpio, pdu)");
            return 2;
        }
        return Run(a.Description, args, Console.In, Console.Out, Console.Error,
            a.Factory ?? (_ => (null, $"{a.Description.Name}: this build of appliancectl has no driver for it")));
    }

    /// <summary>Runs one agent action; returns the exit code (0, 1, or 2 for status off).</summary>
    public static int Run(AgentDescription description, string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr, AgentFactory factory)
    {
        AgentOptions options;
        if (args.Length == 0)
        {
            string text = ReadBounded(stdin, out bool truncated);
            options = FenceAgentProtocol.ParseStdin(text, description.AllParameters);
            if (truncated)
                stderr.WriteLine($"WARNING: Parse error: input longer than {FenceAgentProtocol.InputCharsMax} characters; the rest is ignored");
        }
        else
            options = FenceAgentProtocol.ParseArgs(args, description.AllParameters);
        foreach (string warning in options.Warnings)
            stderr.WriteLine($"WARNING: {warning}");

        AgentReply reply;
        if (!FenceAgentProtocol.TryParseAction(options.Action, out AgentAction action))
            reply = FenceAgentProtocol.Unrecognised(options.Action);
        else if (action == AgentAction.Metadata)
            reply = new(FenceAgentProtocol.ExitSuccess, FenceAgentProtocol.Metadata(description).TrimEnd('\n'), null);
        else if (action == AgentAction.Manpage)
            reply = new(FenceAgentProtocol.ExitSuccess, FenceAgentProtocol.Manpage(description).TrimEnd('\n'), null);
        else
        {
            try
            {
                reply = WithDevice(action, options, factory, stderr).GetAwaiter().GetResult();
            }
            catch (Exception e)
            {
                // A driver that throws (a bug, or a constructor refusing its arguments) must still
                // answer the cluster in the convention's terms: a failure, exit 1.
                reply = FenceAgentProtocol.Failure(e.Message);
            }
        }
        if (reply.Stdout is not null)
            stdout.WriteLine(reply.Stdout);
        if (reply.Stderr is not null)
            stderr.WriteLine(reply.Stderr);
        return reply.ExitCode;
    }

    private static async Task<AgentReply> WithDevice(AgentAction action, AgentOptions options, AgentFactory factory, TextWriter stderr)
    {
        if (!int.TryParse(options[FenceAgentProtocol.PowerTimeoutParameter.Name] ?? FenceAgentProtocol.PowerTimeoutParameter.Default,
                NumberStyles.None, CultureInfo.InvariantCulture, out int timeoutSeconds) || timeoutSeconds is 0 or > FenceAgentProtocol.PowerTimeoutMaxSeconds)
            return FenceAgentProtocol.Failure("The value you have entered for power_timeout is not a valid time in seconds");
        var (setup, error) = factory(options);
        if (setup is null)
            return FenceAgentProtocol.Failure(error ?? "the options configure no device");
        try
        {
            var agent = new Agent(setup, TimeSpan.FromSeconds(timeoutSeconds), stderr);
            string separator = options[FenceAgentProtocol.SeparatorParameter.Name] ?? FenceAgentProtocol.SeparatorParameter.Default!;
            switch (action)
            {
                case AgentAction.ValidateAll:
                    return new(FenceAgentProtocol.ExitSuccess, null, null);
                case AgentAction.List:
                    return new(FenceAgentProtocol.ExitSuccess, Lines(setup.Plugs.Select(p => p.Plug + separator + p.Node)), null);
                case AgentAction.ListStatus:
                {
                    var lines = new List<string>();
                    foreach (AgentPlug p in setup.Plugs)
                    {
                        var r = await agent.Do(FenceAction.Status, p.Node).ConfigureAwait(false);
                        lines.Add(p.Plug + separator + p.Node + separator + (r.Ok && r.Power != PowerState.Unknown ? r.Power.ToString().ToUpperInvariant() : "UNKNOWN"));
                    }
                    return new(FenceAgentProtocol.ExitSuccess, Lines(lines), null);
                }
                case AgentAction.Monitor:
                {
                    // Reachability: a status read of the plug asked for, else the first one; a single
                    // relay without a configured node has no target to name.
                    string? plug = options.Plug ?? options[FenceAgentProtocol.NodeName];
                    string? target = plug is not null ? Resolve(setup, plug) : setup.Plugs.Count > 0 ? setup.Plugs[0].Node : "";
                    if (target is null)
                        return UnknownPlug(setup, plug!);
                    return FenceAgentProtocol.Reply(action, await agent.Do(FenceAction.Status, target).ConfigureAwait(false));
                }
                default:
                {
                    string? plug = options.Plug ?? options[FenceAgentProtocol.NodeName];
                    if (plug is null)
                        return FenceAgentProtocol.Failure("You have to enter plug number or machine identification");
                    if (Resolve(setup, plug) is not { } target)
                        return UnknownPlug(setup, plug);
                    return await agent.Power(action, target).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            if (setup.Device is IAsyncDisposable asyncDisposable)
                await asyncDisposable.DisposeAsync().ConfigureAwait(false);
            else if (setup.Device is IDisposable disposable)
                disposable.Dispose();
        }
    }

    /// <summary>The node a plug names: a configured plug, or a configured node's own name.</summary>
    private static string? Resolve(AgentSetup setup, string plug)
    {
        foreach (AgentPlug p in setup.Plugs)
            if (p.Plug == plug)
                return p.Node;
        foreach (AgentPlug p in setup.Plugs)
            if (string.Equals(p.Node, plug, StringComparison.OrdinalIgnoreCase))
                return p.Node;
        return null;
    }

    private static AgentReply UnknownPlug(AgentSetup setup, string plug) => FenceAgentProtocol.Failure(
        $"plug '{plug}' is not one of this device's plugs ({(setup.Plugs.Count == 0 ? "none configured" : string.Join(", ", setup.Plugs.Select(p => $"{p.Plug}={p.Node}")))})");

    private static string? Lines(IEnumerable<string> lines) => string.Join('\n', lines) is { Length: > 0 } text ? text : null;

    /// <summary>Reads stdin up to <see cref="FenceAgentProtocol.InputCharsMax"/> characters.</summary>
    private static string ReadBounded(TextReader reader, out bool truncated)
    {
        var text = new StringBuilder();
        var chunk = new char[4096];
        int n;
        while (text.Length <= FenceAgentProtocol.InputCharsMax && (n = reader.Read(chunk, 0, chunk.Length)) > 0)
            text.Append(chunk, 0, n);
        truncated = text.Length > FenceAgentProtocol.InputCharsMax;
        return truncated ? text.ToString(0, FenceAgentProtocol.InputCharsMax) : text.ToString();
    }

    /// <summary>The fencing.py sequences over one device's primitives, each call bounded by power_timeout.</summary>
    private sealed class Agent(AgentSetup setup, TimeSpan timeout, TextWriter stderr)
    {
        public async Task<FenceResult> Do(FenceAction action, string target)
        {
            using var cts = new CancellationTokenSource(timeout);
            return await setup.Device.RunAsync(action, target, cts.Token).ConfigureAwait(false);
        }

        public async Task<AgentReply> Power(AgentAction action, string target)
        {
            switch (action)
            {
                case AgentAction.Status:
                    return FenceAgentProtocol.Reply(action, await Do(FenceAction.Status, target).ConfigureAwait(false));
                case AgentAction.Off or AgentAction.On:
                {
                    var (reply, _) = await Switch(action == AgentAction.Off ? FenceAction.Off : FenceAction.On, target).ConfigureAwait(false);
                    return reply;
                }
                case AgentAction.Reboot when setup.Device.CanReboot:
                    return FenceAgentProtocol.Reply(action, await Do(FenceAction.Reboot, target).ConfigureAwait(false));
                case AgentAction.Reboot:
                {
                    var (off, ok) = await Switch(FenceAction.Off, target).ConfigureAwait(false);
                    if (!ok)
                        return off;
                    // fencing.py: the node is fenced once it is off; a failed power-on is only logged.
                    var (on, _) = await Switch(FenceAction.On, target).ConfigureAwait(false);
                    if (on.Stderr is not null)
                        stderr.WriteLine(on.Stderr);
                    return FenceAgentProtocol.Reply(action, FenceResult.Done(PowerState.Unknown));
                }
                default:
                    throw new ArgumentOutOfRangeException(nameof(action), action, "not a power action");
            }
        }

        /// <summary>
        /// fencing.py's off/on: status first (already there: nothing to do), then the switch, then a
        /// status to verify. A device that acknowledges but does not switch fails here.
        /// </summary>
        private async Task<(AgentReply Reply, bool Ok)> Switch(FenceAction action, string target)
        {
            var agentAction = FenceAgentProtocol.ToAgentAction(action);
            var want = action == FenceAction.Off ? PowerState.Off : PowerState.On;
            var before = await Do(FenceAction.Status, target).ConfigureAwait(false);
            if (!before.Ok || before.Power == PowerState.Unknown)
                return (FenceAgentProtocol.Reply(AgentAction.Status, before), false);
            if (before.Power == want)
                return (FenceAgentProtocol.Reply(agentAction, before, already: true), true);
            var done = await Do(action, target).ConfigureAwait(false);
            if (!done.Ok)
                return (FenceAgentProtocol.Reply(agentAction, done), false);
            var after = await Do(FenceAction.Status, target).ConfigureAwait(false);
            if (!after.Ok || after.Power != want)
            {
                string seen = after.Ok ? $"status reads {after.Power.ToString().ToUpperInvariant()}" : $"status: {after.Reason}";
                return (FenceAgentProtocol.Failure($"Timed out waiting to power {want.ToString().ToUpperInvariant()} ({target}: the device acknowledged, {seen})"), false);
            }
            return (FenceAgentProtocol.Reply(agentAction, done), true);
        }
    }
}
