using Appliance.Core.Config;
using Appliance.Core.Config.Import;
using Appliance.Linux;

namespace Appliance.Core.Tests.Config.Import;

/// <summary>
/// The importers' parsers on bad and tricky input: errors name file:line:col and stop the import
/// (no YAML at all), and the lexical rules of heartbeat and keepalived hold.
/// </summary>
public sealed class ImportParserTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("apl-import-parse-").FullName;
    private readonly ImportSourceFiles _files = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    private static readonly ImportOptions Addresses = ImportGoldenTests.Options(["--address", "alpha=192.0.2.1", "--address", "beta=192.0.2.2"]);

    private ImportResult Keepalived(string text, ImportOptions? options = null) =>
        KeepalivedImporter.Import(Write("keepalived.conf", text), _files, options ?? Addresses);

    private static ConfigError OnlyError(ImportResult r)
    {
        Assert.False(r.Ok, r.Yaml);
        Assert.Null(r.Yaml);
        return Assert.Single(r.Errors);
    }

    // ---- keepalived ---------------------------------------------------------------------------

    private const string Vrrp = """
        vrrp_instance VI_1 {
            interface eth0
            virtual_router_id 7
            priority 120
            virtual_ipaddress {
                192.0.2.100/24
            }
        }

        """;

    [Fact]
    public void Keepalived_unterminated_brace_names_the_opening_brace()
    {
        var e = OnlyError(Keepalived("vrrp_instance VI_1 {\n    interface eth0\n    virtual_ipaddress {\n        192.0.2.100/24\n}\n"));
        Assert.Equal((Path.Combine(_dir, "keepalived.conf"), 1, 20), (e.File, e.Line, e.Column));
        Assert.Contains("unterminated block", e.Message);
        Assert.Contains("vrrp_instance VI_1", e.Message);
    }

    [Fact]
    public void Keepalived_extra_closing_brace_is_an_error_at_it()
    {
        var e = OnlyError(Keepalived(Vrrp + "  }\n"));
        Assert.Equal((9, 3), (e.Line, e.Column));
        Assert.Contains("unexpected '}'", e.Message);
    }

    [Fact]
    public void Keepalived_unterminated_quote_is_an_error_at_the_quote()
    {
        var e = OnlyError(Keepalived("vrrp_script chk {\n    script \"/bin/true\n}\n"));
        Assert.Equal((2, 12), (e.Line, e.Column));
        Assert.Contains("unterminated quote", e.Message);
    }

    [Fact]
    public void Keepalived_bad_value_names_line_and_column_of_the_value()
    {
        var e = OnlyError(Keepalived(Vrrp.Replace("priority 120", "priority high", StringComparison.Ordinal)));
        Assert.Equal((4, 14), (e.Line, e.Column));
        Assert.Equal("priority: 'high' is not a number from 1 to 255", e.Message);
    }

    [Fact]
    public void Keepalived_bad_vip_and_bad_lb_kind_are_all_reported()
    {
        var r = Keepalived(Vrrp.Replace("192.0.2.100/24", "192.0.2.300/24", StringComparison.Ordinal) +
                           "virtual_server 192.0.2.100 80 {\n    lb_kind BOGUS\n    lb_algo rr\n    real_server 192.0.2.11 80 {\n    }\n}\n");
        Assert.Null(r.Yaml);
        Assert.Equal([(6, 9), (10, 13)], r.Errors.Select(e => (e.Line, e.Column)));
        Assert.Contains("'BOGUS' is not NAT, DR or TUN", r.Errors[1].Message);
    }

    [Fact]
    public void Keepalived_comments_quotes_and_braces_on_one_line()
    {
        var r = Keepalived("""
            ! a comment
            vrrp_script chk { script "/usr/bin/test -e /tmp/a#b" # the quote keeps its '#'
              interval 2 }
            vrrp_instance VI_1 { interface eth0
              priority 100 ! trailing comment
              track_script { chk }
              virtual_ipaddress { 192.0.2.100/24 } }
            """);
        Assert.True(r.Ok, string.Join('\n', r.Errors));
        var config = ConfigLoader.Load("x.yaml", r.Yaml!).Config!;
        var monitor = Assert.Single(config.Monitors);
        Assert.Equal("/usr/bin/test -e /tmp/a#b", monitor.Command);
        Assert.Equal(TimeSpan.FromSeconds(2), monitor.Interval);
        Assert.Equal("192.0.2.100/24", ((VipResourceConfig)config.Resources.Single()).Address.ToString());
    }

    [Fact]
    public void Keepalived_includes_resolve_relative_to_the_including_file_and_missing_ones_are_reported()
    {
        Write("sub/vips.conf", "include more/*.conf\n");
        Write("sub/more/b.conf", "    virtual_ipaddress {\n        192.0.2.101/24\n    }\n");
        Write("sub/more/a.conf", "    virtual_ipaddress {\n        192.0.2.100/24\n    }\n");
        var r = Keepalived("vrrp_instance VI_1 {\n    interface eth0\n    include sub/vips.conf\n    include none-{x,y}.conf\n}\n");
        Assert.True(r.Ok, string.Join('\n', r.Errors));
        var vips = ConfigLoader.Load("x.yaml", r.Yaml!).Config!.Resources.Cast<VipResourceConfig>().Select(v => v.Address.ToString());
        Assert.Equal(["192.0.2.100/24", "192.0.2.101/24"], vips); // glob order, as keepalived reads them
        Assert.Contains(r.Notes, n => n.Subject == "include none-{x,y}.conf" && n.Line == 4 && n.Reason.StartsWith("no file matches", StringComparison.Ordinal));
        Assert.Contains("#   sub/more/a.conf (included)", r.Yaml);
        Assert.Contains("# sub/more/a.conf:2: vrrp_instance VI_1", r.Yaml!.Replace("  #", " #", StringComparison.Ordinal));
    }

    [Fact]
    public void Keepalived_include_loop_is_an_error()
    {
        Write("loop.conf", "include loop.conf\n");
        var e = OnlyError(Keepalived("include loop.conf\n"));
        Assert.Contains("includes nest deeper than", e.Message);
    }

    [Fact]
    public void Keepalived_conditional_lines_are_reported_and_definitions_substituted()
    {
        var r = Keepalived("$PRIO=130\n$IF=eth0\n@lb2 priority 50\n" + Vrrp.Replace("priority 120", "priority $PRIO", StringComparison.Ordinal).Replace("interface eth0", "interface ${IF}", StringComparison.Ordinal));
        Assert.True(r.Ok, string.Join('\n', r.Errors));
        var config = ConfigLoader.Load("x.yaml", r.Yaml!).Config!;
        Assert.Equal(130, config.Nodes[0].Priority);
        Assert.Equal("eth0", ((VipResourceConfig)config.Resources.Single()).Interface);
        var note = Assert.Single(r.Notes, n => n.Line == 3);
        Assert.Equal(ImportNoteKind.Skipped, note.Kind);
        Assert.Contains("-i lb2", note.Reason);
    }

    [Fact]
    public void Keepalived_without_any_heartbeat_path_is_an_error_saying_which_options_help()
    {
        var e = OnlyError(Keepalived(Vrrp, new ImportOptions()));
        Assert.Contains("--address alpha:eth0=IP --address beta:eth0=IP", e.Message);
        Assert.Contains("--serial DEVICE", e.Message);
    }

    [Fact]
    public void Keepalived_every_statement_is_accounted_for_even_unknown_ones()
    {
        var r = Keepalived(Vrrp + "frobnicate {\n  x 1\n}\nvrrp_instance VI_2 {\n  interface eth0\n  wibble 3\n  virtual_ipaddress {\n    192.0.2.102/24\n  }\n}\n");
        Assert.True(r.Ok);
        Assert.Contains(r.Notes, n => n.Line == 9 && n.Subject == "frobnicate" && n.Reason.Contains("not recognised", StringComparison.Ordinal));
        Assert.Contains(r.Notes, n => n.Line == 14 && n.Subject == "wibble 3" && n.Reason.Contains("not recognised", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("", "0.4", 1000)]   // VRRPv2 (keepalived's default) takes whole seconds and rounds
    [InlineData("", "2.5", 3000)]
    [InlineData("    version 3\n", "0.4", 400)]
    public void Keepalived_advert_int_is_what_keepalived_uses(string version, string advert, int keepaliveMs)
    {
        var r = Keepalived(Vrrp.Replace("priority 120", $"priority 120\n{version}    advert_int {advert}", StringComparison.Ordinal));
        Assert.True(r.Ok, string.Join('\n', r.Errors));
        Assert.Equal(TimeSpan.FromMilliseconds(keepaliveMs), ConfigLoader.Load("x.yaml", r.Yaml!).Config!.Cluster.Timers.Keepalive);
    }

    [Fact]
    public void Keepalived_weighted_script_in_a_sync_group_is_ignored_as_keepalived_does()
    {
        var r = Keepalived("vrrp_script chk { script /bin/true\n weight -10 }\nvrrp_sync_group G { group { VI_1 } }\n" +
                           Vrrp.Replace("priority 120", "priority 120\n    track_script { chk }", StringComparison.Ordinal));
        Assert.True(r.Ok, string.Join('\n', r.Errors));
        Assert.Empty(ConfigLoader.Load("x.yaml", r.Yaml!).Config!.Monitors);
        Assert.Contains(r.Notes, n => n.Kind == ImportNoteKind.Skipped && n.Reason.StartsWith("weight -10 in a sync group", StringComparison.Ordinal));
    }

    [Fact]
    public void Keepalived_auth_pass_is_never_written_out()
    {
        var r = Keepalived(Vrrp.Replace("priority 120", "priority 120\n    authentication {\n        auth_type PASS\n        auth_pass Sup3rS3c\n    }", StringComparison.Ordinal));
        Assert.True(r.Ok);
        Assert.DoesNotContain("Sup3rS3c", r.Yaml);
        Assert.DoesNotContain(r.Notes, n => n.ToString().Contains("Sup3rS3c", StringComparison.Ordinal));
    }

    // ---- heartbeat ----------------------------------------------------------------------------

    private const string HaCf = """
        keepalive 200ms
        deadtime 2
        serial /dev/ttyS1
        node alpha
        node beta
        auto_failback off

        """;

    private ImportResult Heartbeat(string haCf, string? haResources = null, string? authKeys = null, ImportOptions? options = null)
    {
        Write("ha.d/ha.cf", haCf);
        if (haResources is not null)
            Write("ha.d/haresources", haResources);
        if (authKeys is not null)
            Write("ha.d/authkeys", authKeys);
        return HeartbeatImporter.Import(Path.Combine(_dir, "ha.d"), _files, options ?? new ImportOptions());
    }

    [Fact]
    public void Heartbeat_unknown_directive_is_refused_with_a_suggestion()
    {
        var e = OnlyError(Heartbeat(HaCf + "  keepalvie 2\n"));
        Assert.Equal((Path.Combine(_dir, "ha.d", "ha.cf"), 7, 3), (e.File, e.Line, e.Column));
        Assert.Contains("unknown directive 'keepalvie'; did you mean 'keepalive'?", e.Message);
    }

    [Theory]
    [InlineData("keepalive 2s", "heartbeat knows no unit 's'")]
    [InlineData("deadtime fast", "is not a heartbeat time")]
    [InlineData("warntime 1.2.3", "is not a heartbeat time")]
    public void Heartbeat_bad_time_names_the_value(string line, string expected)
    {
        var e = OnlyError(Heartbeat(HaCf + line + "\n"));
        Assert.Equal((7, line.IndexOf(' ') + 2), (e.Line, e.Column));
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("1500ms", 1500)]
    [InlineData("1500 ms", 1500)]
    [InlineData("1.5", 1500)]
    [InlineData("2", 2000)]
    [InlineData("250000us", 250)]
    public void Heartbeat_times_follow_cl_get_msec(string text, int ms)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(ms), HeartbeatFiles.ParseTime(text, out string error));
        Assert.Equal("", error);
    }

    [Fact]
    public void Heartbeat_needs_exactly_two_nodes()
    {
        var e = OnlyError(Heartbeat(HaCf + "node gamma\n"));
        Assert.Equal((7, 1), (e.Line, e.Column));
        Assert.Contains("ha.cf names 3 nodes (alpha, beta, gamma)", e.Message);
    }

    [Fact]
    public void Heartbeat_arguments_split_on_commas_except_whole_line_directives()
    {
        var r = Heartbeat("serial /dev/ttyS0,/dev/ttyS1\nnode a,b\nucast eth1 10.0.0.2\nucast eth1 10.0.0.1\n");
        Assert.True(r.Ok, string.Join('\n', r.Errors));
        var config = ConfigLoader.Load("x.yaml", r.Yaml!).Config!;
        Assert.Equal(["a", "b"], config.Nodes.Select(n => n.Name));
        Assert.Equal(["serial-ttys0", "serial-ttys1", "ucast-eth1"], config.Nodes[0].Links.Select(l => l.Name));
        var udp = (UdpLinkConfig)config.Nodes[0].Links[2];
        Assert.Equal(("10.0.0.2", "10.0.0.1"), (udp.Local.ToString(), udp.Peer!.ToString()));
        Assert.Contains(r.Notes, n => n.Kind == ImportNoteKind.Assumed && n.Reason.Contains("not whose is whose", StringComparison.Ordinal));
    }

    [Fact]
    public void Heartbeat_per_node_ucast_needs_node_and_own_address()
    {
        var without = Heartbeat("ucast eth1 10.0.0.2\nnode alpha beta\n");
        var e = OnlyError(without);
        Assert.Contains("no heartbeat link could be imported", e.Message);
        Assert.Contains("--node NAME --address NAME:eth1=IP", e.Message);

        var with = Heartbeat("ucast eth1 10.0.0.2\nnode alpha beta\n",
            options: ImportGoldenTests.Options(["--node", "alpha", "--address", "alpha:eth1=10.0.0.1"]));
        Assert.True(with.Ok, string.Join('\n', with.Errors));
        var beta = ConfigLoader.Load("x.yaml", with.Yaml!).Config!.Nodes[1];
        Assert.Equal("10.0.0.2", ((UdpLinkConfig)beta.Links.Single()).Local.ToString());
    }

    [Fact]
    public void Heartbeat_timers_that_do_not_fit_are_changed_and_said()
    {
        var r = Heartbeat("keepalive 10ms\ndeadtime 120\nwarntime 200\ninitdead 30\nserial /dev/ttyS1\nnode a b\n");
        Assert.True(r.Ok, string.Join('\n', r.Errors));
        var t = ConfigLoader.Load("x.yaml", r.Yaml!).Config!.Cluster.Timers;
        // 10ms is a keepalive the appliance runs, but not one heartbeat's serial medium (19200 baud by
        // default) carried: it is raised to that link's floor, and deadtime is held to a minute.
        int floorMs = (int)Math.Ceiling(Appliance.Core.Heartbeat.LinkCadence.SerialFloor(19200).TotalMilliseconds);
        Assert.Equal((floorMs, (floorMs + 60_000) / 2, 60_000, 60_000), ((int)t.Keepalive.TotalMilliseconds, (int)t.Warntime.TotalMilliseconds, (int)t.Deadtime.TotalMilliseconds, (int)t.Initdead.TotalMilliseconds));
        Assert.Equal(["keepalive", "deadtime", "warntime", "initdead"], r.Notes.Where(n => n.Kind == ImportNoteKind.Changed && n.File == "ha.cf" && n.Line > 0).Select(n => n.Subject));
        var keepalive = r.Notes.Single(n => n.Subject == "keepalive");
        Assert.Equal(1, keepalive.Line);
        Assert.Contains("serial link at 19200 baud", keepalive.Reason, StringComparison.Ordinal);

        // Over UDP alone 10ms stays.
        var udp = Heartbeat("keepalive 10ms\ndeadtime 1\nucast eth1 10.0.0.2\nnode alpha beta\n",
            options: ImportGoldenTests.Options(["--node", "alpha", "--address", "alpha:eth1=10.0.0.1"]));
        Assert.True(udp.Ok, string.Join('\n', udp.Errors));
        Assert.Equal(TimeSpan.FromMilliseconds(10), ConfigLoader.Load("x.yaml", udp.Yaml!).Config!.Cluster.Timers.Keepalive);
    }

    [Fact]
    public void Heartbeat_haresources_with_an_unknown_node_is_refused_at_it()
    {
        var e = OnlyError(Heartbeat(HaCf, "# comment\n  gamma 192.0.2.10/24/eth0\n"));
        Assert.Equal((Path.Combine(_dir, "ha.d", "haresources"), 2, 3), (e.File, e.Line, e.Column));
        Assert.Contains("'gamma' is not a node of ha.cf", e.Message);
    }

    [Fact]
    public void Heartbeat_haresources_continuation_lines_and_arguments()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "ha.d", "resource.d"));
        Write("ha.d/resource.d/drbddisk", "#!/bin/sh\n");
        var r = Heartbeat(HaCf, "beta IPaddr2::192.0.2.10/24/eth0:web \\\n   drbddisk::r0 MailTo::root@example.com::failover # a comment\n");
        Assert.True(r.Ok, string.Join('\n', r.Errors));
        var config = ConfigLoader.Load("x.yaml", r.Yaml!).Config!;
        Assert.Equal(["vip", "drbddisk", "mailto"], config.Resources.Select(x => x.Name));
        var drbd = (ScriptResourceConfig)config.Resources[1];
        Assert.Equal(("/etc/ha.d/resource.d/drbddisk r0 start", "/etc/ha.d/resource.d/drbddisk r0 stop"), (drbd.Start, drbd.Stop));
        var mail = (ScriptResourceConfig)config.Resources[2];
        Assert.Equal(["email=root@example.com", "subject=failover"], mail.Params.Select(p => $"{p.Key}={p.Value}"));
        Assert.Equal([100, 200], config.Nodes.Select(n => n.Priority)); // beta is the group's home
        Assert.Contains(r.Notes, n => n.Reason.Contains("the label eth0:web is not set", StringComparison.Ordinal));
    }

    [Fact]
    public void Heartbeat_bad_authkeys_is_refused_and_keys_never_shown()
    {
        var e = OnlyError(Heartbeat(HaCf, authKeys: "auth 1\n1 sha1\n"));
        Assert.Equal((Path.Combine(_dir, "ha.d", "authkeys"), 2, 3), (e.File, e.Line, e.Column));

        var ok = Heartbeat(HaCf, authKeys: "auth 2\n2 md5 NotThisOne\n");
        Assert.True(ok.Ok);
        Assert.DoesNotContain("NotThisOne", ok.Yaml);
        Assert.Contains(ok.Notes, n => n.Subject == "2 md5 (key not shown)");
    }

    [Fact]
    public void Heartbeat_directory_without_ha_cf_is_an_error_naming_it()
    {
        var e = OnlyError(HeartbeatImporter.Import(_dir, _files, new ImportOptions()));
        Assert.Equal(Path.Combine(_dir, "ha.cf"), e.File);
        Assert.Contains("no ha.cf (nor ha.cf.gz)", e.Message);
    }

    // ---- shared pieces ------------------------------------------------------------------------

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("on", "\"on\"")]
    [InlineData("123", "\"123\"")]
    [InlineData("a: b", "\"a: b\"")]
    [InlineData("x #y", "\"x #y\"")]
    [InlineData("[::1]:80/tcp", "\"[::1]:80/tcp\"")]
    [InlineData("say \"hi\"\\", "say \"hi\"\\")]
    [InlineData("\"q\" \\", "\"\\\"q\\\" \\\\\"")]
    [InlineData("10.0.0.1:80", "10.0.0.1:80")]
    public void Yaml_scalars_are_quoted_when_yaml_would_read_them_otherwise(string text, string expected) =>
        Assert.Equal(expected, YOut.Quote(text));

    [Fact]
    public void Yaml_scalars_survive_the_loader()
    {
        string odd = "sh -c 'echo \"a: b\" # not a comment' && test -e /tmp/x\\y";
        var doc = new YOutMap().Add("cluster", new YOutMap().Add("name", "x").Add("key_file", "/k"))
            .Add("nodes", new YOutList())
            .Add("monitors", new YOutList { Items = { new YOutMap().Add("name", "m").Add("kind", "exec").Add("command", odd) } });
        string yaml = YamlOutWriter.Render(["header"], doc);
        var result = ConfigLoader.Load("x.yaml", yaml);
        Assert.Contains(result.Errors, e => e.Message.StartsWith("nodes", StringComparison.Ordinal)); // two nodes needed: the shape is read
        Assert.DoesNotContain(result.Errors, e => e.Message.StartsWith("monitors", StringComparison.Ordinal));
        Assert.Contains("command: " + YOut.Quote(odd), yaml);
    }

    [Theory]
    [InlineData("alpha=10.0.0.1", "alpha", null, "10.0.0.1")]
    [InlineData("alpha:eth1=10.0.0.1", "alpha", "eth1", "10.0.0.1")]
    [InlineData("beta:eth0.5=2001:db8::2", "beta", "eth0.5", "2001:db8::2")]
    public void Address_hints_parse(string text, string node, string? iface, string ip)
    {
        var h = AddressHint.Parse(text, out _)!;
        Assert.Equal((node, iface, ip), (h.Node, h.Interface, h.Address.ToString()));
    }

    [Theory]
    [InlineData("alpha")]
    [InlineData("=10.0.0.1")]
    [InlineData("alpha:=10.0.0.1")]
    [InlineData("alpha=10.0.0.300")]
    public void Address_hints_refuse_what_they_are_not(string text)
    {
        Assert.Null(AddressHint.Parse(text, out string error));
        Assert.Contains("NODE=IP", error);
    }

    [Fact]
    public void Glob_expands_braces_and_wildcards_sorted()
    {
        Write("g/b.conf", "");
        Write("g/a.conf", "");
        Write("g/c.txt", "");
        Write("g/.hidden.conf", "");
        Directory.CreateDirectory(Path.Combine(_dir, "g", "d.conf"));
        Assert.Equal([$"{_dir}/g/a.conf", $"{_dir}/g/b.conf"], ImportGlob.Expand($"{_dir}/g/*.conf", _files));
        Assert.Equal([$"{_dir}/g/a.conf", $"{_dir}/g/c.txt"], ImportGlob.Expand($"{_dir}/g/{{a.conf,c.txt,zz}}", _files));
        Assert.Equal(["x1y", "x2y", "x3{z}y"], ImportGlob.ExpandBraces("x{1,2,3{z}}y").Order());
        Assert.True(ImportGlob.WildcardMatch("[a-c]?.c*", "b1.conf"));
        Assert.False(ImportGlob.WildcardMatch("[!a-c]*", "b1.conf"));
    }

    [Fact]
    public void Timer_fit_keeps_fitting_timers_and_repairs_others()
    {
        var good = new Timers(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(10));
        var changes = new List<string>();
        Assert.Equal(good, TimerFit.Fit(good, (n, _) => changes.Add(n)));
        Assert.Empty(changes);
        var fitted = TimerFit.Fit(new Timers(TimeSpan.FromSeconds(40), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1)), (n, _) => changes.Add(n));
        Assert.Equal(["keepalive", "deadtime", "warntime", "initdead"], changes);
        Assert.All(ConfigSchema.TimerRules, rule => Assert.True(rule.Holds(fitted), rule.Doc.ToString()));
    }
}
