using System.Globalization;
using System.Text;
using System.Xml.Linq;

namespace Appliance.Core.Fencing;

/// <summary>The actions of the fence agent interface (fence-agents.md section 2).</summary>
public enum AgentAction { On, Off, Reboot, Status, Monitor, List, ListStatus, Metadata, ValidateAll, Manpage }

/// <summary>The value types of metadata.rng (<c>content@type</c>; "select" is not used by our agents).</summary>
public enum AgentParameterType { String, Boolean, Integer, Second }

/// <summary>
/// One option an agent declares: the single table the parser (known names, flags), the metadata
/// XML and the man page come from.
/// </summary>
/// <param name="Name">Canonical name, words joined by <c>_</c> (stdin also accepts <c>-</c>; argv is <c>--words-joined-by-dashes</c>).</param>
/// <param name="ValueHint">What the value is, for <c>getopt@mixed</c> ("--chip=[path]").</param>
/// <param name="Short">The one-letter command-line form fencing.py gives the standard options (-o, -n, -C).</param>
public sealed record AgentParameter(
    string Name, AgentParameterType Type, string ShortDesc, string ValueHint = "value",
    bool Required = false, string? Default = null, char? Short = null)
{
    /// <summary>The <c>getopt@mixed</c> text of the metadata: "-n, --plug=[id]", "--active-low".</summary>
    public string Mixed => (Short is { } s ? $"-{s}, " : "") + "--" + Name.Replace('_', '-')
        + (Type == AgentParameterType.Boolean ? "" : $"=[{ValueHint}]");
}

/// <summary>What an agent tells the cluster about itself (metadata.rng's resource-agent element).</summary>
/// <param name="Parameters">The agent's own options; <see cref="AllParameters"/> adds the standard ones.</param>
public sealed record AgentDescription(string Name, string ShortDesc, string LongDesc, string VendorUrl, IReadOnlyList<AgentParameter> Parameters)
{
    public IReadOnlyList<AgentParameter> AllParameters => [.. FenceAgentProtocol.StandardParameters, .. Parameters];
}

/// <summary>
/// The options of one agent run. <see cref="Values"/> holds every other known option by canonical
/// name (booleans as "1"/"0"), <c>nodename</c> included; <see cref="Warnings"/> are fencing.py's
/// "Parse error: ..." messages (the agent prints them and carries on).
/// </summary>
public sealed record AgentOptions(string Action, string? Plug, IReadOnlyDictionary<string, string> Values, IReadOnlyList<string> Warnings)
{
    public string? this[string name] => Values.TryGetValue(name, out string? v) ? v : null;
}

/// <summary>What our agent prints and exits with (fence-agents.md section 2); null lines print nothing.</summary>
public readonly record struct AgentReply(int ExitCode, string? Stdout, string? Stderr);

/// <summary>
/// The fence agent calling convention (fence-agents.md), pure: parsing an agent's options from stdin
/// or argv, writing the request a cluster sends, the exit codes in both directions, and the metadata
/// XML. The edge runs external agents with it (FenceAgentDevice) and appliancectl acts as one.
/// </summary>
public static class FenceAgentProtocol
{
    /// <summary>Success; for <c>status</c>: the plug is on.</summary>
    public const int ExitSuccess = 0;
    /// <summary>Failed, or the device could not be reached (fencing.py's fail() always exits 1).</summary>
    public const int ExitFailure = 1;
    /// <summary><c>status</c> only: the plug is off.</summary>
    public const int ExitStatusOff = 2;

    /// <summary>Longest option line: far beyond anything a cluster sends (a path, an outlet map); longer lines are ignored with a warning.</summary>
    public const int LineCharsMax = 4096;

    /// <summary>Option lines read per run; fence_dummy's metadata declares 23 options, so 128 is generous. The rest is ignored with a warning.</summary>
    public const int OptionLinesMax = 128;

    /// <summary>Most stdin an agent reads: every allowed line at full length.</summary>
    public const int InputCharsMax = LineCharsMax * OptionLinesMax;

    /// <summary>fencing.py's default action when none is given.</summary>
    public const string DefaultAction = "reboot";

    /// <summary>fencing.py's default <c>power_timeout</c>: how long one power operation may take.</summary>
    public const int PowerTimeoutDefaultSeconds = 20;

    /// <summary>Longest <c>power_timeout</c> we accept: an hour is beyond any cluster's stonith-timeout.</summary>
    public const int PowerTimeoutMaxSeconds = 3600;

    public static readonly AgentParameter ActionParameter = new("action", AgentParameterType.String, "Fencing action",
        "action", Required: true, Default: DefaultAction, Short: 'o');

    public static readonly AgentParameter PlugParameter = new("plug", AgentParameterType.String,
        "Physical plug number on device, UUID or identification of machine", "id", Short: 'n');

    public static readonly AgentParameter SeparatorParameter = new("separator", AgentParameterType.String,
        "Separator for CSV created by 'list' operation", "char", Default: ",", Short: 'C');

    public static readonly AgentParameter PowerTimeoutParameter = new("power_timeout", AgentParameterType.Second,
        "Test X seconds for status change after ON/OFF", "seconds", Default: PowerTimeoutDefaultSeconds.ToString(CultureInfo.InvariantCulture));

    /// <summary>The options every agent of ours takes (fencing.py's names), declared before the agent's own.</summary>
    public static readonly IReadOnlyList<AgentParameter> StandardParameters =
        [ActionParameter, PlugParameter, SeparatorParameter, PowerTimeoutParameter];

    /// <summary>Sent by Pacemaker for every fencing request; fencing.py accepts it silently even when undeclared.</summary>
    public const string NodeName = "nodename";

    /// <summary>Parses stdin mode: one <c>name=value</c> per line (fencing.py's _parse_input_stdin).</summary>
    public static AgentOptions ParseStdin(string text, IReadOnlyCollection<AgentParameter> parameters)
    {
        var parser = new Parser(parameters);
        int lines = 0;
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
                continue;
            if (++lines > OptionLinesMax)
            {
                parser.Warnings.Add($"Parse error: more than {OptionLinesMax} option lines; the rest is ignored");
                break;
            }
            if (line.Length > LineCharsMax)
            {
                parser.Warnings.Add($"Parse error: Ignoring a line longer than {LineCharsMax} characters");
                continue;
            }
            int eq = line.IndexOf('=');
            string name = eq < 0 ? line : line[..eq].Trim();
            string value = eq < 0 ? "" : Unquote(line[(eq + 1)..].Trim());
            parser.Set(name, value, $"Parse error: Ignoring unknown option '{line}'");
        }
        return parser.Result();
    }

    /// <summary>
    /// Parses argv mode: <c>-o/--action X</c>, <c>-n/--plug X</c>, <c>-C X</c>, <c>--name=value</c>,
    /// <c>--name value</c>, boolean flags <c>--name</c>. Unlike fencing.py (getopt errors exit 1), unknown
    /// options are warnings, as in stdin mode.
    /// </summary>
    public static AgentOptions ParseArgs(IReadOnlyList<string> args, IReadOnlyCollection<AgentParameter> parameters)
    {
        var parser = new Parser(parameters);
        for (int i = 0; i < args.Count && i < OptionLinesMax; i++)
        {
            string arg = args[i];
            if (arg.Length > LineCharsMax)
            {
                parser.Warnings.Add($"Parse error: Ignoring an argument longer than {LineCharsMax} characters");
                continue;
            }
            string name, value;
            if (arg.StartsWith("--", StringComparison.Ordinal) && arg.Length > 2)
            {
                int eq = arg.IndexOf('=');
                name = eq < 0 ? arg[2..] : arg[2..eq];
                AgentParameter? known = parser.Find(name);
                bool takesNext = known is null ? i + 1 < args.Count && !args[i + 1].StartsWith('-')
                    : known.Type != AgentParameterType.Boolean;
                if (eq >= 0)
                    value = arg[(eq + 1)..];
                else if (known?.Type == AgentParameterType.Boolean)
                    value = "1";
                else if (takesNext && i + 1 < args.Count)
                    value = args[++i];
                else if (known is null)
                    value = "";
                else
                {
                    parser.Warnings.Add($"Parse error: option --{name} requires an argument");
                    continue;
                }
            }
            else if (arg.Length >= 2 && arg[0] == '-' && parser.FindShort(arg[1]) is { } shortParam)
            {
                name = shortParam.Name;
                if (arg.Length > 2)
                    value = arg[2..];
                else if (i + 1 < args.Count)
                    value = args[++i];
                else
                {
                    parser.Warnings.Add($"Parse error: option -{arg[1]} requires an argument");
                    continue;
                }
            }
            else
            {
                parser.Warnings.Add(arg.StartsWith('-') ? $"Parse error: Ignoring unknown option '{arg}'" : $"Unused arguments on command line: {arg}");
                continue;
            }
            parser.Set(name, value, $"Parse error: Ignoring unknown option '{arg}'");
        }
        if (args.Count > OptionLinesMax)
            parser.Warnings.Add($"Parse error: more than {OptionLinesMax} arguments; the rest is ignored");
        return parser.Result();
    }

    /// <summary>fencing.py's booleans: 1/yes/on/true and 0/no/off/false, any case.</summary>
    public static bool TryParseBoolean(string text, out bool value)
    {
        switch (text.ToLowerInvariant())
        {
            case "1" or "yes" or "on" or "true":
                value = true;
                return true;
            case "0" or "no" or "off" or "false":
                value = false;
                return true;
            default:
                value = false;
                return false;
        }
    }

    /// <summary>An action's name on the wire.</summary>
    public static string ActionName(AgentAction action) => action switch
    {
        AgentAction.ListStatus => "list-status",
        AgentAction.ValidateAll => "validate-all",
        _ => action.ToString().ToLowerInvariant(),
    };

    /// <summary>The agent action of a device primitive.</summary>
    public static AgentAction ToAgentAction(FenceAction action) => action switch
    {
        FenceAction.Off => AgentAction.Off,
        FenceAction.On => AgentAction.On,
        FenceAction.Status => AgentAction.Status,
        FenceAction.Reboot => AgentAction.Reboot,
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "not a fence action"),
    };

    /// <summary>Reads an action name, case-insensitively; <c>meta-data</c> is OCF's spelling of metadata.</summary>
    public static bool TryParseAction(string text, out AgentAction action)
    {
        string name = text.ToLowerInvariant();
        if (name == "meta-data")
            name = "metadata";
        foreach (AgentAction a in Enum.GetValues<AgentAction>())
            if (ActionName(a) == name)
            {
                action = a;
                return true;
            }
        action = default;
        return false;
    }

    /// <summary>
    /// The stdin text a cluster sends an agent: action, plug (when the device has plugs), nodename, then
    /// the device's parameters. The format cannot carry line breaks and the request names are the
    /// fencer's, so either in a parameter is a configuration error (ArgumentException), to be caught
    /// when the device is configured, not when it fences: the config validation calls
    /// <see cref="ParameterError"/>, the very check made here.
    /// </summary>
    public static string Request(FenceAction action, string? plug, string nodename, IEnumerable<KeyValuePair<string, string>> parameters)
    {
        var text = new StringBuilder();
        Line(text, ActionParameter.Name, ActionName(ToAgentAction(action)));
        if (plug is not null)
            Line(text, PlugParameter.Name, plug);
        Line(text, NodeName, nodename);
        foreach (var (name, value) in parameters)
        {
            if (ParameterError(name, value) is { } error)
                throw new ArgumentException(error, nameof(parameters));
            Line(text, name, value);
        }
        return text.ToString();
    }

    /// <summary>
    /// Why a configured device parameter cannot be sent in a <see cref="Request"/>, or null when it
    /// can: a name the fencer sets itself (<c>action</c>, <c>plug</c>, <c>nodename</c>, or their
    /// aliases <c>option</c> and <c>port</c>), a name or value the one-line format cannot carry, or a
    /// line longer than <see cref="LineCharsMax"/> (an agent ignores it).
    /// </summary>
    public static string? ParameterError(string name, string value)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(value);
        if (Canonical(name) is "action" or "plug" or NodeName)
            return $"fence agent parameter '{name}' is set by the fencer, not the configuration";
        return LineError(name, value);
    }

    private static string? LineError(string name, string value)
    {
        if (name.Length == 0 || name.AsSpan().IndexOfAny("=\r\n#") >= 0 || name != name.Trim())
            return $"'{name}' is not a fence agent option name";
        if (value.AsSpan().IndexOfAny('\r', '\n') >= 0)
            return $"fence agent option {name}: a value cannot contain a line break";
        if (name.Length + 1 + value.Length > LineCharsMax)
            return $"fence agent option {name}: longer than {LineCharsMax} characters";
        return null;
    }

    private static void Line(StringBuilder text, string name, string value)
    {
        if (LineError(name, value) is { } error)
            throw new ArgumentException(error);
        text.Append(name).Append('=').Append(value).Append('\n');
    }

    /// <summary>
    /// An external agent's exit code for <paramref name="action"/> as a device result
    /// (fence-agents.md section 2): 0 done; status 0 on, 2 off; monitor 2 off (single-port agents);
    /// anything else an error that may clear on retry. <paramref name="message"/> is the agent's own
    /// line (its last "Failed: ..." or output line), quoted in the reason.
    /// </summary>
    public static FenceResult ResultOf(AgentAction action, int exitCode, string message)
    {
        string said = message.Length == 0 ? "" : ": " + message;
        return (action, exitCode) switch
        {
            (AgentAction.Status, ExitSuccess) => FenceResult.Done(PowerState.On, message),
            (AgentAction.Status or AgentAction.Monitor, ExitStatusOff) => FenceResult.Done(PowerState.Off, message),
            (AgentAction.Off, ExitSuccess) => FenceResult.Done(PowerState.Off, message),
            (AgentAction.On, ExitSuccess) => FenceResult.Done(PowerState.On, message),
            (_, ExitSuccess) => FenceResult.Done(PowerState.Unknown, message),
            _ => FenceResult.Error($"{ActionName(action)}: exit {exitCode}{said}"),
        };
    }

    /// <summary>
    /// What our agent prints and exits with for a device result (fencing.py's strings).
    /// <paramref name="already"/>: off/on found the plug in that state already and did nothing.
    /// </summary>
    public static AgentReply Reply(AgentAction action, FenceResult result, bool already = false)
    {
        if (!result.Ok)
            return Failure(result.Reason);
        return action switch
        {
            AgentAction.Off => new(ExitSuccess, already ? "Success: Already OFF" : "Success: Powered OFF", null),
            AgentAction.On => new(ExitSuccess, already ? "Success: Already ON" : "Success: Powered ON", null),
            AgentAction.Reboot => new(ExitSuccess, "Success: Rebooted", null),
            AgentAction.Status => result.Power switch
            {
                PowerState.On => new(ExitSuccess, "Status: ON", null),
                PowerState.Off => new(ExitStatusOff, "Status: OFF", null),
                _ => Failure("Unable to obtain correct plug status or plug is not available" + (result.Reason.Length > 0 ? $" ({result.Reason})" : "")),
            },
            _ => new(ExitSuccess, null, null),
        };
    }

    /// <summary>A failure as fencing.py logs it: "ERROR: Failed: ..." on stderr, exit 1.</summary>
    public static AgentReply Failure(string reason) => new(ExitFailure, null, $"ERROR: Failed: {reason}");

    /// <summary>fencing.py's answer to an action it does not know.</summary>
    public static AgentReply Unrecognised(string action) => Failure($"Unrecognised action '{action}'");

    /// <summary>The metadata XML (fence-agents.md section 3; validates against fence-agents' metadata.rng).</summary>
    public static string Metadata(AgentDescription agent)
    {
        var root = new XElement("resource-agent",
            new XAttribute("name", agent.Name), new XAttribute("shortdesc", agent.ShortDesc),
            new XElement("longdesc", agent.LongDesc),
            new XElement("vendor-url", agent.VendorUrl),
            new XElement("parameters", agent.AllParameters.Select(p => new XElement("parameter",
                new XAttribute("name", p.Name), new XAttribute("unique", "0"), new XAttribute("required", p.Required ? "1" : "0"),
                new XElement("getopt", new XAttribute("mixed", p.Mixed)),
                new XElement("content", new XAttribute("type", p.Type.ToString().ToLowerInvariant()),
                    p.Default is null ? null : new XAttribute("default", p.Default)),
                new XElement("shortdesc", new XAttribute("lang", "en"), p.ShortDesc)))),
            // on automatic="0": Pacemaker must not unfence a node just because it joins.
            new XElement("actions", Enum.GetValues<AgentAction>().Select(a => new XElement("action",
                new XAttribute("name", ActionName(a)), a == AgentAction.On ? new XAttribute("automatic", "0") : null))));
        return "<?xml version=\"1.0\" ?>\n" + root + "\n";
    }

    /// <summary>A short man page (the <c>manpage</c> action), from the same table as the metadata.</summary>
    public static string Manpage(AgentDescription agent)
    {
        var text = new StringBuilder();
        text.Append($"NAME\n    {agent.Name} - {agent.ShortDesc}\n\n");
        text.Append($"SYNOPSIS\n    {agent.Name} [OPTION]...\n    {agent.Name} < name=value lines\n\n");
        text.Append($"DESCRIPTION\n    {agent.LongDesc}\n\n    With no arguments the options are read from stdin, one name=value per line.\n\n");
        text.Append("OPTIONS\n");
        foreach (AgentParameter p in agent.AllParameters)
            text.Append($"    {p.Mixed,-30} {p.ShortDesc}{(p.Default is null ? "" : $" (default {p.Default})")}{(p.Required ? " (required)" : "")}\n");
        text.Append("\nACTIONS\n    ").AppendJoin(", ", Enum.GetValues<AgentAction>().Select(ActionName)).Append('\n');
        text.Append("\nEXIT STATUS\n    0 success (status: on), 1 failure, 2 status: off\n");
        return text.ToString();
    }

    /// <summary>A name with <c>-</c> read as <c>_</c>, and the aliases option (of action) and port (of plug).</summary>
    private static string Canonical(string name) => name.Replace('-', '_') switch
    {
        "option" => ActionParameter.Name,
        "port" => PlugParameter.Name,
        var n => n,
    };

    /// <summary>Removes one pair of surrounding double quotes, as fencing.py's <c>^"(.*)"$</c>.</summary>
    private static string Unquote(string value)
        => value.Length >= 2 && value[0] == '"' && value[^1] == '"' ? value[1..^1] : value;

    /// <summary>Collects options by canonical name, the last one winning.</summary>
    private sealed class Parser(IReadOnlyCollection<AgentParameter> parameters)
    {
        private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

        public List<string> Warnings { get; } = [];

        public AgentParameter? Find(string name)
        {
            string canonical = Canonical(name);
            return parameters.FirstOrDefault(p => p.Name == canonical);
        }

        public AgentParameter? FindShort(char letter) => parameters.FirstOrDefault(p => p.Short == letter);

        public void Set(string name, string value, string unknownWarning)
        {
            string canonical = Canonical(name);
            AgentParameter? parameter = parameters.FirstOrDefault(p => p.Name == canonical);
            if (parameter is null && canonical != NodeName)
                Warnings.Add(unknownWarning);
            else if (parameter?.Type == AgentParameterType.Boolean)
            {
                if (TryParseBoolean(value, out bool b))
                    _values[canonical] = b ? "1" : "0";
                else
                    Warnings.Add($"Parse error: Ignoring option '{canonical}' because it does not have value");
            }
            else
                _values[canonical] = value;
        }

        public AgentOptions Result()
        {
            string action = (_values.Remove(ActionParameter.Name, out string? a) ? a : DefaultAction).ToLowerInvariant();
            string? plug = _values.Remove(PlugParameter.Name, out string? p) ? p : null;
            return new AgentOptions(action, plug, _values, Warnings);
        }
    }
}
