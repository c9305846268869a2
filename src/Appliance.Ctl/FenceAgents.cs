using Appliance.Core.Fencing;

namespace Appliance.Ctl;

/// <summary>One plug of the device an agent's options configure: what the cluster may pass as plug, and the node it powers.</summary>
public readonly record struct AgentPlug(string Plug, string Node);

/// <summary>The device an agent's options configure, and its plugs (for list, and to turn a plug into the device's target).</summary>
public sealed record AgentSetup(IFenceDevice Device, IReadOnlyList<AgentPlug> Plugs);

/// <summary>Builds the device from one run's options; returns an error (the options are wrong) instead of throwing.</summary>
public delegate (AgentSetup? Setup, string? Error) AgentFactory(AgentOptions options);

/// <summary>
/// Our drivers as fence agents (fence-agents.md section 5b): their descriptions (metadata) and how
/// their options become the driver's constructor arguments. The drivers themselves are supplied by
/// the caller (<see cref="FenceAgentCommand.RunOnConsole"/>), so this file does not depend on them.
/// </summary>
public static class FenceAgents
{
    public const string GpioName = "fence_appliance_gpio";
    public const string PduName = "fence_appliance_pdu";

    /// <summary>WTI RPS-10: outlets 0-9 and * (serial-pdu.md 3.1: at most 10 node/outlet pairs).</summary>
    public const int OutletsMax = 10;

    public static readonly AgentDescription Gpio = new(GpioName,
        "Fence agent for a relay on a GPIO line of the appliance board",
        "fence_appliance_gpio cuts a node's power with a relay driven by one GPIO line of this board " +
        "(Linux GPIO character device, uAPI v2). One relay powers one node: the plug is that node's name.",
        "https://docs.kernel.org/userspace-api/gpio/chardev.html",
        [
            new("chip", AgentParameterType.String, "GPIO chip device (/dev/gpiochip0) or simulator (sim:/dir)", "path", Required: true),
            new("line", AgentParameterType.String, "Line offset or line name of the relay", "line", Required: true),
            new("active_low", AgentParameterType.Boolean, "The relay cuts power when the line is low", Default: "0"),
        ]);

    public static readonly AgentDescription Pdu = new(PduName,
        "Fence agent for a serial power switch (WTI RPS-10 protocol)",
        "fence_appliance_pdu switches the outlets of a power distribution unit attached to a serial port " +
        "of this board. The plug is an outlet or the name of the node on it.",
        "https://www.wti.com",
        [
            new("serial_port", AgentParameterType.String, "Serial device of the power switch", "path", Required: true),
            new("outlets", AgentParameterType.String, "Node to outlet map, e.g. alpha=1,beta=2", "node=outlet,...", Required: true),
        ]);

    /// <summary>What a fence_appliance_gpio run configures (the GPIO relay driver's constructor arguments).</summary>
    public sealed record GpioSettings(string Chip, string Line, bool ActiveLow);

    /// <summary>What a fence_appliance_pdu run configures (the serial PDU driver's constructor arguments).</summary>
    public sealed record PduSettings(string SerialPort, IReadOnlyDictionary<string, char> Outlets);

    /// <summary>
    /// The fence_appliance_gpio factory over a driver constructor. One relay, one node: the plug is
    /// the node's name (plug, else nodename), listed when given.
    /// </summary>
    public static AgentFactory GpioFactory(Func<GpioSettings, IFenceDevice> create) => options =>
    {
        if (Missing(options, "chip", "line") is { } missing)
            return (null, missing);
        bool activeLow = options["active_low"] == "1";
        string? node = options[FenceAgentProtocol.NodeName] ?? options.Plug;
        AgentPlug[] plugs = node is null ? [] : [new AgentPlug(options.Plug ?? node, node)];
        return (new AgentSetup(create(new GpioSettings(options["chip"]!, options["line"]!, activeLow)), plugs), null);
    };

    /// <summary>The fence_appliance_pdu factory over a driver constructor; the plugs are the outlets.</summary>
    public static AgentFactory PduFactory(Func<PduSettings, IFenceDevice> create) => options =>
    {
        if (Missing(options, "serial_port", "outlets") is { } missing)
            return (null, missing);
        var (outlets, error) = ParseOutlets(options["outlets"]!);
        if (outlets is null)
            return (null, error);
        var plugs = outlets.Select(o => new AgentPlug(o.Value.ToString(), o.Key)).ToArray();
        return (new AgentSetup(create(new PduSettings(options["serial_port"]!, outlets)), plugs), null);
    };

    /// <summary>Parses "alpha=1,beta=2" (commas, semicolons or spaces between pairs); an outlet is one character.</summary>
    public static (IReadOnlyDictionary<string, char>? Outlets, string? Error) ParseOutlets(string text)
    {
        var outlets = new Dictionary<string, char>(StringComparer.OrdinalIgnoreCase);
        foreach (string pair in text.Split([',', ';', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=');
            if (eq <= 0 || pair.Length - eq - 1 != 1 || char.IsWhiteSpace(pair[^1]))
                return (null, $"outlets: '{pair}' is not node=outlet (one character, e.g. alpha=1)");
            if (!outlets.TryAdd(pair[..eq], pair[^1]))
                return (null, $"outlets: node {pair[..eq]} appears twice");
            if (outlets.Count > OutletsMax)
                return (null, $"outlets: more than {OutletsMax} nodes");
        }
        if (outlets.Count == 0)
            return (null, "outlets: no node=outlet pair");
        if (outlets.Values.GroupBy(c => c).FirstOrDefault(g => g.Count() > 1) is { } shared)
            return (null, $"outlets: outlet {shared.Key} is given to {string.Join(" and ", outlets.Where(o => o.Value == shared.Key).Select(o => o.Key))}");
        return (outlets, null);
    }

    private static string? Missing(AgentOptions options, params string[] names)
        => names.FirstOrDefault(n => string.IsNullOrEmpty(options[n])) is { } name ? $"You have to set {name}" : null;
}
