using Appliance.Core.Config;
using Appliance.Core.Console;
using Appliance.Core.Tests.Config;
using FsCheck;
using FsCheck.Fluent;

namespace Appliance.Core.Tests.Console;

/// <summary>
/// The candidate: a config read into a tree, written back as YAML that the checker reads as the same
/// config, and edited by path with the option table's types and the checker's messages.
/// </summary>
public class CandidateTests
{
    private static readonly string[] Samples = [ConfigSamples.DesignExample, ConfigSamples.Base, ConfigSamples.WithDirector, ConsoleSamples.Lab];

    internal static Candidate From(string text, long version = 7)
    {
        var c = Candidate.From(new ConfigSnapshot(text, version, "ab" + new string('0', 62)), out string error);
        Assert.True(c is not null, error);
        return c;
    }

    private static ApplianceConfig Load(string text)
    {
        var r = ConfigLoader.Load("candidate", text);
        Assert.True(r.Ok, string.Join("\n", r.Errors) + "\n" + text);
        return r.Config!;
    }

    private static IReadOnlyList<Word> Words(string line) => CommandLine.Split(line, out _, out _);

    private static void Set(Candidate c, string args)
    {
        string line = "set " + args;
        string? error = c.Set(CommandLine.Split(line, out _, out _).Skip(1).ToList(), line);
        Assert.True(error is null, error);
    }

    private static string SetError(Candidate c, string args)
    {
        string line = "set " + args;
        string before = c.Text;
        string? error = c.Set(CommandLine.Split(line, out _, out _).Skip(1).ToList(), line);
        Assert.NotNull(error);
        Assert.Equal(before, c.Text); // a refused edit changes nothing
        return error;
    }

    [Fact]
    public void Written_back_every_sample_is_the_same_config_and_writing_is_stable()
    {
        foreach (string sample in Samples)
        {
            var c = From(sample);
            string text = c.Text;
            var plan = ConfigReload.Plan(Load(sample), Load(text));
            Assert.True(plan.Live.IsEmpty && plan.RestartNeeded.IsEmpty, string.Join(", ", plan.Live.Concat(plan.RestartNeeded)) + "\n" + text);
            Assert.Equal(text, From(text).Text);
            Assert.False(c.Changed);
        }
    }

    [Fact]
    public void The_written_form_is_block_yaml_with_flow_lists_of_scalars()
    {
        string text = From(ConfigSamples.DesignExample).Text;
        Assert.StartsWith("cluster:\n  name: edge\n  key_file: /etc/appliance/authkey\n", text);
        Assert.Contains("nodes:\n  - name: alpha\n    priority: 100\n    links:\n      - name: serial0\n        kind: serial\n", text);
        Assert.Contains("    fence: [relay-alpha, pdu]\n", text);
        Assert.Contains("    outlets:\n      alpha: 1\n      beta: 2\n", text);
        Assert.DoesNotContain("#", text); // comments are not kept
    }

    [Fact]
    public void Quoted_strings_that_look_typed_stay_quoted_and_plain_ones_stay_plain()
    {
        var c = From(ConfigSamples.WithDirector);
        string text = c.Text;
        Assert.Contains("listen: '[2001:db8::10]:53/udp'", text); // a leading '[' would start a flow list
        Assert.Contains("- address: '[2001:db8:1::11]:53'", text);
        Set(c, "cluster name \"true\"");
        Assert.Contains("name: 'true'", c.Text);
        Set(c, "cluster name edge2");
        Assert.Contains("  name: edge2\n", c.Text);
    }

    [Fact]
    public void Any_string_value_reads_back_as_the_same_string()
    {
        Prop.ForAll(ArbMap.Default.ArbFor<string>(), s =>
        {
            if (s is null)
                return true;
            var tree = new TreeMap();
            tree.Entries.Add(new("k", new TreeScalar(s, plain: false)));
            tree.Entries.Add(new("l", new TreeList { Items = { new TreeScalar(s, plain: false) } }));
            string text = YamlWriter.Write(tree).Text;
            var back = ConfigTree.Parse("t", text, out var errors);
            Assert.True(back is not null, text + string.Join("\n", errors));
            string k = ((TreeScalar)back.Get("k")!).Value;
            string l = ((TreeScalar)((TreeList)back.Get("l")!).Items[0]).Value;
            return k == s && l == s;
        }).Check(FsCheck.Config.QuickThrowOnFailure.WithMaxTest(2000));
    }

    [Fact]
    public void Set_changes_a_leaf_by_its_yaml_path_with_list_items_by_name()
    {
        var c = From(ConfigSamples.Base);
        Set(c, "nodes beta links serial0 baud 57600");
        Set(c, "nodes alpha links serial0 baud 57600");
        Set(c, "cluster timers deadtime 2s");
        var config = Load(c.Text);
        Assert.All(config.Nodes, n => Assert.Equal(57600, ((SerialLinkConfig)n.Links[0]).Baud));
        Assert.Equal(TimeSpan.FromSeconds(2), config.Cluster.Timers.Deadtime);
        Assert.True(c.Changed);
    }

    [Fact]
    public void A_bad_value_is_refused_with_its_path_and_what_was_expected()
    {
        var c = From(ConfigSamples.Base);
        Assert.Equal("nodes alpha links serial0 baud: baud (9601) must be one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600",
            SetError(c, "nodes alpha links serial0 baud 9601"));
        Assert.Equal($"cluster timers deadtime: expected {Duration.Expected}, got 'soon'", SetError(c, "cluster timers deadtime soon"));
        Assert.StartsWith("nodes alpha linkz: unknown option 'linkz'; did you mean 'links'?", SetError(c, "nodes alpha linkz serial0 baud 9600"));
        Assert.StartsWith("cluster fencing: expected required or off, got 'maybe'", SetError(c, "cluster fencing maybe"));
        Assert.StartsWith("cluster auto_failback: expected true or false, got the quoted string 'true'", SetError(c, "cluster auto_failback \"true\""));
        Assert.StartsWith("nodes alpha priority: expected one value", SetError(c, "nodes alpha priority 1 2"));
        Assert.StartsWith("nodes alpha priority: expected a value: an integer from 0 to 255", SetError(c, "nodes alpha priority"));
        Assert.StartsWith("nodes: name the node by its name", SetError(c, "nodes"));
        Assert.StartsWith("nodes Gamma: ", SetError(c, "nodes Gamma priority 3")); // a new item's name is checked too
    }

    [Fact]
    public void Set_creates_sections_and_list_items_and_a_list_value_from_words_or_flow()
    {
        var c = From(ConfigSamples.Base);
        Set(c, "monitors up kind ping");
        Set(c, "monitors up targets 192.0.2.1 192.0.2.2");
        Set(c, "monitors up interval 500ms");
        Set(c, "monitors up timeout 400ms");
        Set(c, "nodes alpha fence [pdu, relay-alpha]");
        Set(c, "fence_devices pdu outlets alpha 3 beta 4");
        Set(c, "resources web kind exec");
        Set(c, "resources web start \"systemctl start nginx\"");
        Set(c, "resources web stop 'systemctl stop nginx'");
        var config = Load(c.Text);
        var up = Assert.Single(config.Monitors);
        Assert.Equal(2, up.Targets.Length);
        Assert.Equal(["pdu", "relay-alpha"], config.Nodes[0].Fence.ToArray());
        Assert.Equal("systemctl start nginx", ((ScriptResourceConfig)config.Resources[0]).Start);
        Assert.Contains('3', ((SerialPduFenceConfig)config.FenceDevices[2]).Outlets.Select(o => o.Value));
    }

    [Fact]
    public void Delete_removes_options_items_and_entries_of_list_values()
    {
        var c = From(ConfigSamples.Base);
        Assert.Null(c.Delete(Words("nodes alpha links mc")));
        Assert.Null(c.Delete(Words("nodes beta links mc")));
        Assert.Null(c.Delete(Words("cluster timers")));
        Assert.Null(c.Delete(Words("nodes alpha fence pdu")));
        var config = Load(c.Text);
        Assert.Equal(2, config.Nodes[0].Links.Length);
        Assert.Equal(Timers.Default, config.Cluster.Timers);
        Assert.Equal(["relay-alpha"], config.Nodes[0].Fence.ToArray());
        string before = c.Text;
        Assert.StartsWith("nodes gamma: no node 'gamma'", c.Delete(Words("nodes gamma")));
        Assert.StartsWith("cluster auto_failback: not set", From("cluster: {name: a, key_file: /k}\n").Delete(Words("cluster auto_failback")));
        Assert.StartsWith("nodes alpha fence: 'nothere' is not in the list", c.Delete(Words("nodes alpha fence nothere")));
        Assert.Equal(before, c.Text);
    }

    [Fact]
    public void Variant_options_follow_the_kind_set()
    {
        var c = From(ConfigSamples.Base);
        Assert.StartsWith("nodes alpha links serial0 local: unknown option 'local'", SetError(c, "nodes alpha links serial0 local 10.0.0.1"));
        Set(c, "nodes alpha links lan2 kind udp");
        Set(c, "nodes alpha links lan2 local 10.2.0.1");
    }

    [Fact]
    public void Show_prints_the_part_at_a_path()
    {
        var c = From(ConfigSamples.Base);
        Assert.Equal("keepalive: 200ms\nwarntime: 600ms\ndeadtime: 1s\ninitdead: 10s\n", Candidate.Show(c.Tree, ["cluster", "timers"], out _));
        Assert.Equal("baud: 115200\n", Candidate.Show(c.Tree, ["nodes", "beta", "links", "serial0", "baud"], out _));
        Assert.Equal("fence_delay: (not set; default 1s)\n", Candidate.Show(c.Tree, ["cluster", "fence_delay"], out _));
        Assert.Null(Candidate.Show(c.Tree, ["nodes", "gamma"], out string error));
        Assert.Equal("nodes gamma: no node 'gamma' (nodes: alpha, beta)", error);
    }

    [Fact]
    public void An_alias_bomb_is_refused_not_expanded()
    {
        var sb = new System.Text.StringBuilder("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for (int i = 1; i < 12; i++)
            sb.Append($"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]\n");
        Assert.Null(ConfigTree.Parse("bomb.yaml", sb.ToString(), out var errors));
        Assert.Contains("expands to more than", Assert.Single(errors).Message);
    }
}
