using System.Xml.Linq;
using Appliance.Core.Fencing;
using FsCheck;
using FsCheck.Fluent;

namespace Appliance.Core.Tests.Fencing;

/// <summary>The fence agent calling convention (fence-agents.md sections 1-3), as fencing.py implements it.</summary>
public class FenceAgentProtocolTests
{
    private static readonly AgentDescription Agent = new("fence_test", "Test agent", "A test agent.", "https://example.com",
    [
        new("status_file", AgentParameterType.String, "File with status", "file"),
        new("active_low", AgentParameterType.Boolean, "Inverted line"),
    ]);

    private static AgentOptions Stdin(string text) => FenceAgentProtocol.ParseStdin(text, Agent.AllParameters);

    private static AgentOptions Argv(params string[] args) => FenceAgentProtocol.ParseArgs(args, Agent.AllParameters);

    [Theory]
    [InlineData("action=off\nplug=alpha\n", "off", "alpha")]
    [InlineData("option=OFF\nport=3\n", "off", "3")]                       // the deprecated aliases; action case-insensitive
    [InlineData("  action = status \r\n", "status", null)]                 // whitespace trimmed, CRLF
    [InlineData("action=\"on\"\nplug=\"a b\"\n", "on", "a b")]            // surrounding quotes removed
    [InlineData("action=on\naction=off\n", "off", null)]                   // the last one wins
    [InlineData("# action=on\n\n#\naction=monitor\n", "monitor", null)]    // comments and empty lines
    [InlineData("plug=x=y\n", "reboot", "x=y")]                            // value runs to the end of the line; default action
    [InlineData("plug=\"half\n", "reboot", "\"half")]                      // one quote is not a pair
    public void Stdin_lines_give_action_and_plug(string text, string action, string? plug)
    {
        var o = Stdin(text);
        Assert.Equal(action, o.Action);
        Assert.Equal(plug, o.Plug);
        Assert.Empty(o.Warnings);
    }

    [Theory]
    [InlineData("status_file=/tmp/s")]
    [InlineData("status-file=/tmp/s")]
    [InlineData("status_file=\"/tmp/s\"")]
    public void Dashes_and_underscores_are_the_same_name(string line)
        => Assert.Equal("/tmp/s", Stdin(line)["status_file"]);

    [Theory]
    [InlineData("1", "1")]
    [InlineData("yes", "1")]
    [InlineData("On", "1")]
    [InlineData("TRUE", "1")]
    [InlineData("0", "0")]
    [InlineData("no", "0")]
    [InlineData("off", "0")]
    [InlineData("false", "0")]
    public void Booleans_are_fencing_py_words(string text, string stored)
        => Assert.Equal(stored, Stdin($"active_low={text}")["active_low"]);

    [Fact]
    public void A_boolean_without_a_boolean_value_is_ignored_with_a_warning()
    {
        var o = Stdin("active_low=maybe");
        Assert.Null(o["active_low"]);
        Assert.Equal("Parse error: Ignoring option 'active_low' because it does not have value", Assert.Single(o.Warnings));
    }

    [Fact]
    public void Unknown_names_are_warnings_and_nodename_is_accepted_silently()
    {
        var o = Stdin("action=off\nfoo=bar\nnodename=beta\n");
        Assert.Equal("Parse error: Ignoring unknown option 'foo=bar'", Assert.Single(o.Warnings));
        Assert.Equal("beta", o["nodename"]);
        Assert.Null(o["foo"]);
    }

    [Fact]
    public void Lines_and_option_counts_are_bounded()
    {
        var longLine = Stdin("status_file=" + new string('x', FenceAgentProtocol.LineCharsMax));
        Assert.Null(longLine["status_file"]);
        Assert.Contains("longer than", Assert.Single(longLine.Warnings));

        string many = string.Concat(Enumerable.Repeat("status_file=a\n", FenceAgentProtocol.OptionLinesMax)) + "action=off\n";
        var o = Stdin(many);
        Assert.Equal("reboot", o.Action);
        Assert.Contains($"more than {FenceAgentProtocol.OptionLinesMax} option lines", Assert.Single(o.Warnings));
    }

    [Theory]
    [InlineData(new[] { "-o", "status", "-n", "alpha" }, "status", "alpha")]
    [InlineData(new[] { "-ostatus", "-nalpha" }, "status", "alpha")]
    [InlineData(new[] { "--action=off", "--plug=2" }, "off", "2")]
    [InlineData(new[] { "--action", "off", "--port", "2" }, "off", "2")]
    [InlineData(new[] { "--option=on" }, "on", null)]
    public void Argv_gives_action_and_plug(string[] args, string action, string? plug)
    {
        var o = Argv(args);
        Assert.Equal(action, o.Action);
        Assert.Equal(plug, o.Plug);
        Assert.Empty(o.Warnings);
    }

    [Fact]
    public void Argv_long_options_take_values_and_booleans_are_flags()
    {
        var o = Argv("--status-file", "/tmp/s", "--active-low", "-o", "off");
        Assert.Equal("/tmp/s", o["status_file"]);
        Assert.Equal("1", o["active_low"]);
        Assert.Equal("off", o.Action);
        Assert.Equal("0", Argv("--active_low=no")["active_low"]);
        Assert.Equal("/x", Argv("--status_file=/x")["status_file"]);
    }

    [Fact]
    public void Argv_unknown_options_and_stray_words_are_warnings()
    {
        var o = Argv("--frob", "1", "-z", "stray", "-o", "status");
        Assert.Equal("status", o.Action);
        Assert.Equal(["Parse error: Ignoring unknown option '--frob'", "Parse error: Ignoring unknown option '-z'", "Unused arguments on command line: stray"], o.Warnings);
        Assert.Contains("requires an argument", Assert.Single(Argv("--status-file").Warnings));
    }

    [Theory]
    [InlineData("metadata", AgentAction.Metadata)]
    [InlineData("meta-data", AgentAction.Metadata)]
    [InlineData("list-status", AgentAction.ListStatus)]
    [InlineData("validate-all", AgentAction.ValidateAll)]
    [InlineData("REBOOT", AgentAction.Reboot)]
    public void Action_names(string text, AgentAction action)
    {
        Assert.True(FenceAgentProtocol.TryParseAction(text, out var parsed));
        Assert.Equal(action, parsed);
        Assert.False(FenceAgentProtocol.TryParseAction("bogus", out _));
    }

    [Fact]
    public void The_request_is_what_a_cluster_writes_and_parses_back()
    {
        string text = FenceAgentProtocol.Request(FenceAction.Off, "3", "beta", [new("status_file", "/tmp/s"), new("active_low", "yes")]);
        Assert.Equal("action=off\nplug=3\nnodename=beta\nstatus_file=/tmp/s\nactive_low=yes\n", text);
        var o = Stdin(text);
        Assert.Equal(("off", "3", "beta", "/tmp/s", "1"), (o.Action, o.Plug, o["nodename"], o["status_file"], o["active_low"]));
        Assert.Equal("action=status\nnodename=beta\n", FenceAgentProtocol.Request(FenceAction.Status, null, "beta", []));
    }

    [Theory]
    [InlineData("login", "a\nb")]
    [InlineData("x=y", "v")]
    [InlineData("action", "on")]
    [InlineData("port", "1")]
    [InlineData("nodename", "z")]
    public void A_request_refuses_what_the_format_cannot_carry_or_the_fencer_sets(string name, string value)
        => Assert.Throws<ArgumentException>(() => FenceAgentProtocol.Request(FenceAction.Off, null, "beta", [new(name, value)]));

    [Theory]
    [InlineData(AgentAction.Off, 0, FenceOutcome.Done, PowerState.Off)]
    [InlineData(AgentAction.Off, 1, FenceOutcome.Error, PowerState.Unknown)]
    [InlineData(AgentAction.On, 0, FenceOutcome.Done, PowerState.On)]
    [InlineData(AgentAction.On, 1, FenceOutcome.Error, PowerState.Unknown)]
    [InlineData(AgentAction.Reboot, 0, FenceOutcome.Done, PowerState.Unknown)]
    [InlineData(AgentAction.Reboot, 1, FenceOutcome.Error, PowerState.Unknown)]
    [InlineData(AgentAction.Status, 0, FenceOutcome.Done, PowerState.On)]
    [InlineData(AgentAction.Status, 2, FenceOutcome.Done, PowerState.Off)]
    [InlineData(AgentAction.Status, 1, FenceOutcome.Error, PowerState.Unknown)]
    [InlineData(AgentAction.Monitor, 0, FenceOutcome.Done, PowerState.Unknown)]
    [InlineData(AgentAction.Monitor, 1, FenceOutcome.Error, PowerState.Unknown)]
    [InlineData(AgentAction.Off, 2, FenceOutcome.Error, PowerState.Unknown)]   // 2 means off only for status
    [InlineData(AgentAction.Off, 137, FenceOutcome.Error, PowerState.Unknown)]
    public void External_exit_codes_map_to_results(AgentAction action, int exit, FenceOutcome outcome, PowerState power)
    {
        var r = FenceAgentProtocol.ResultOf(action, exit, "Failed: x");
        Assert.Equal((outcome, power), (r.Outcome, r.Power));
        if (outcome != FenceOutcome.Done)
            Assert.Equal($"{FenceAgentProtocol.ActionName(action)}: exit {exit}: Failed: x", r.Reason);
    }

    [Theory]
    [InlineData(AgentAction.Off, PowerState.Off, false, 0, "Success: Powered OFF")]
    [InlineData(AgentAction.Off, PowerState.Off, true, 0, "Success: Already OFF")]
    [InlineData(AgentAction.On, PowerState.On, false, 0, "Success: Powered ON")]
    [InlineData(AgentAction.Reboot, PowerState.Unknown, false, 0, "Success: Rebooted")]
    [InlineData(AgentAction.Status, PowerState.On, false, 0, "Status: ON")]
    [InlineData(AgentAction.Status, PowerState.Off, false, 2, "Status: OFF")]
    [InlineData(AgentAction.Monitor, PowerState.Off, false, 0, null)]
    public void Our_results_become_fencing_py_lines_and_exit_codes(AgentAction action, PowerState power, bool already, int exit, string? line)
    {
        var reply = FenceAgentProtocol.Reply(action, FenceResult.Done(power), already);
        Assert.Equal(new AgentReply(exit, line, null), reply);
    }

    [Fact]
    public void Failures_and_unknown_status_exit_1_with_a_reason_on_stderr()
    {
        Assert.Equal(new AgentReply(1, null, "ERROR: Failed: relay stuck"), FenceAgentProtocol.Reply(AgentAction.Off, FenceResult.Timeout("relay stuck")));
        var unknown = FenceAgentProtocol.Reply(AgentAction.Status, FenceResult.Done(PowerState.Unknown));
        Assert.Equal(1, unknown.ExitCode);
        Assert.StartsWith("ERROR: Failed: Unable to obtain correct plug status", unknown.Stderr);
        Assert.Equal("ERROR: Failed: Unrecognised action 'x'", FenceAgentProtocol.Unrecognised("x").Stderr);
    }

    [Fact]
    public void Metadata_declares_plug_the_agents_options_and_every_action()
    {
        var root = XDocument.Parse(FenceAgentProtocol.Metadata(Agent)).Root!;
        Assert.Equal(("resource-agent", "fence_test"), (root.Name.LocalName, (string?)root.Attribute("name")));
        var parameters = root.Element("parameters")!.Elements("parameter").ToDictionary(p => (string)p.Attribute("name")!);
        Assert.Equal(["action", "plug", "separator", "power_timeout", "status_file", "active_low"], parameters.Keys);
        Assert.Equal("-n, --plug=[id]", (string?)parameters["plug"].Element("getopt")!.Attribute("mixed"));
        Assert.Equal("--active-low", (string?)parameters["active_low"].Element("getopt")!.Attribute("mixed"));
        Assert.Equal("boolean", (string?)parameters["active_low"].Element("content")!.Attribute("type"));
        Assert.Equal("second", (string?)parameters["power_timeout"].Element("content")!.Attribute("type"));
        var actions = root.Element("actions")!.Elements("action").ToList();
        Assert.Equal(["on", "off", "reboot", "status", "monitor", "list", "list-status", "metadata", "validate-all", "manpage"],
            actions.Select(a => (string)a.Attribute("name")!));
        Assert.Equal("0", (string?)actions[0].Attribute("automatic"));
    }

    private static readonly char[] Alphabet = "=\"#-_ \t\r\n\\acnoprtuxyz01\u00e9\u0000\ufeff".ToCharArray();

    [Fact]
    public void Random_text_and_arguments_never_throw()
    {
        var text = Gen.ArrayOf(Gen.Elements(Alphabet)).Select(cs => new string(cs));
        Prop.ForAll(text.ToArbitrary(), t =>
        {
            var o = Stdin(t);
            return o.Action.Length >= 0 && o.Warnings.Count <= FenceAgentProtocol.OptionLinesMax + 1;
        }).Check(FsCheck.Config.QuickThrowOnFailure.WithMaxTest(1000));
        var words = Gen.ArrayOf(Gen.OneOf(text, Gen.Elements("-o", "-n", "--", "-", "--plug", "--active-low", "--status-file=")));
        Prop.ForAll(words.ToArbitrary(), a => Argv(a).Action.Length >= 0).Check(FsCheck.Config.QuickThrowOnFailure.WithMaxTest(1000));
    }
}
