using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Text;
using Appliance.Core.Config;
using Appliance.Core.Config.Import;
using Appliance.Linux;

namespace Appliance.Core.Tests.Config.Import;

/// <summary>
/// The importers on real configs: the example configs Debian's heartbeat and keepalived packages
/// ship (scripts/install-deps.sh test installs them), the configs the seeds quote, and our own
/// two-armed director. Each output is compared with a golden file in Golden/ (regenerate with
/// APPLIANCE_UPDATE_GOLDEN=1), passes the real checker (ConfigLoader, and the key file it names),
/// and accounts for every statement of the source: nothing falls through to the importer's
/// catch-all "no mapping" line.
/// </summary>
public sealed class ImportGoldenTests : IDisposable
{
    private const string UpdateSwitch = "APPLIANCE_UPDATE_GOLDEN";
    internal const string KeepalivedSamples = "/usr/share/doc/keepalived/samples";
    internal const string HeartbeatDocs = "/usr/share/doc/heartbeat";

    /// <summary>The --address options every keepalived sample is imported with: the samples name no node address.</summary>
    private static readonly AddressHint[] SampleAddresses =
        [new("alpha", null, System.Net.IPAddress.Parse("192.0.2.1")), new("beta", null, System.Net.IPAddress.Parse("192.0.2.2"))];

    private readonly string _tmp = Directory.CreateTempSubdirectory("apl-import-").FullName;
    private readonly ImportSourceFiles _files = new();

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private static string Here([CallerFilePath] string here = "") => Path.GetDirectoryName(here)!;

    internal static string Inputs => Path.Combine(Here(), "Inputs");

    /// <summary>Fails (never skips) when the package's sample directory is missing: the samples are test inputs.</summary>
    internal static void RequireDirectory(string dir, string package) =>
        Assert.True(Directory.Exists(dir),
            $"{dir} is missing: the {package} package's samples are test inputs; run scripts/install-deps.sh test (it installs {package})");

    /// <summary>The names are fixed here so that a missing directory fails the tests instead of producing no cases.</summary>
    internal static readonly string[] KeepalivedSampleFiles =
        [.. new[]
        {
                     "HTTP_GET.port", "IPv6", "PING_CHECK", "SMTP_CHECK", "SSL_GET", "UDP_CHECK", "conditional_conf", "fwmark",
                     "inhibit", "misc_check", "misc_check_arg", "quorum", "sample", "status_code", "track_interface",
                     "virtual_server_group", "virtualhost", "vrrp", "vrrp.localcheck", "vrrp.lvs_syncd", "vrrp.routes",
                     "vrrp.rules", "vrrp.scripts", "vrrp.static_ipaddress", "vrrp.sync",
        }.Select(n => "keepalived.conf." + n)];

    public static TheoryData<string> KeepalivedSampleNames() => new(KeepalivedSampleFiles);

    [Fact]
    public void Every_keepalived_sample_of_the_package_has_a_case()
    {
        RequireDirectory(KeepalivedSamples, "keepalived");
        var shipped = Directory.GetFiles(KeepalivedSamples, "keepalived.conf.*").Select(f => Path.GetFileName(f)).Order().ToList();
        var cases = KeepalivedSampleFiles.Order().ToList();
        Assert.Equal(shipped, cases);
    }

    [Theory]
    [MemberData(nameof(KeepalivedSampleNames))]
    public void Keepalived_sample(string name)
    {
        RequireDirectory(KeepalivedSamples, "keepalived");
        var options = new ImportOptions { Addresses = [.. SampleAddresses] };
        var result = KeepalivedImporter.Import(Path.Combine(KeepalivedSamples, name), _files, options);
        Golden("keepalived-sample" + name["keepalived.conf".Length..], result, null);
        AssertImportable(result, o => KeepalivedImporter.Import(Path.Combine(KeepalivedSamples, name), _files, o), options);
    }

    public static TheoryData<string, string[]> OwnKeepalivedConfigs() => new()
    {
        { "nat-director", ["--serial", "/dev/ttyS1"] },
        { "lvs-reference", ["--address", "natdir1:veth-a=192.0.2.1", "--address", "natdir2:veth-a=192.0.2.2", "--node", "natdir1", "--peer", "natdir2"] },
    };

    [Theory]
    [MemberData(nameof(OwnKeepalivedConfigs))]
    public void Keepalived_config(string name, string[] args)
    {
        var options = Options(args);
        string file = Path.Combine(Inputs, name, "keepalived.conf");
        var result = KeepalivedImporter.Import(file, _files, options);
        Golden("keepalived-" + name, result, Path.Combine(Inputs, name));
        AssertImportable(result, o => KeepalivedImporter.Import(file, _files, o), options);
        Assert.Contains("director:", result.Yaml);
    }

    [Fact]
    public void Keepalived_nat_director_maps_the_director()
    {
        var result = KeepalivedImporter.Import(Path.Combine(Inputs, "nat-director", "keepalived.conf"), _files, Options(["--serial", "/dev/ttyS1"]));
        var config = ConfigLoader.Load("imported.yaml", result.Yaml!).Config!;
        var director = config.Director!;
        Assert.Equal("10.0.0.254/24", director.InsideVips.Single().Address.ToString());
        var web = director.Services.Single(s => s.Listen.Port == 80);
        Assert.Equal(DirectorScheduler.Wrr, web.Scheduler);
        Assert.Equal(new PersistenceConfig(TimeSpan.FromSeconds(300), 24), web.Persistence);
        Assert.Equal(new QuorumConfig(2, 1), web.Quorum);
        Assert.Equal(["10.0.0.11:8080", "10.0.0.12:8080", "10.0.0.13:8080"], web.RealServers.Select(r => r.Address.ToString()));
        Assert.Equal([3, 2, 1], web.RealServers.Select(r => r.Weight));
        Assert.Equal(500, web.RealServers[0].Capacity);
        Assert.Equal(DirectorCheckKind.Http, web.Check.Kind);
        Assert.Equal("/health", web.Check.Path);
        Assert.Equal("www.example.com", web.Check.Host);
        Assert.Equal((TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(2), 1, 3), (web.Check.Interval, web.Check.Timeout, web.Check.Rise, web.Check.Fall));
        Assert.Equal("10.0.0.250:8080", web.SorryServer!.ToString());
        var dns = director.Services.Single(s => s.Listen.Port == 53);
        Assert.Equal((L4Protocol.Udp, DirectorScheduler.Sh, DirectorCheckKind.Exec, CheckStart.Down),
            (dns.Listen.Protocol, dns.Scheduler, dns.Check.Kind, dns.Check.Start));
        Assert.DoesNotContain(director.Services, s => s.Listen.Port == 443);
        Assert.Equal(TimeSpan.FromMilliseconds(500), config.Cluster.Timers.Keepalive);
        Assert.Equal(["vrrp-eth0", "serial0"], config.Nodes[0].Links.Select(l => l.Name));
        Assert.Contains(result.Notes, n => n.File == "conf.d/other.conf" && n.Reason.Contains("lb_kind DR", StringComparison.Ordinal));
        Assert.Contains(result.Notes, n => n.Subject == "include missing/*.conf");
        Assert.Contains(result.Notes, n => n.Subject.StartsWith("@lb2", StringComparison.Ordinal));
        Assert.DoesNotContain(result.Yaml!, "pa#ss");
    }

    public static TheoryData<string, string[]> SeedConfigs() => new()
    {
        { "seed-zeo", [] },
        { "seed-zss", ["--address", "zss1:eth1=10.1.0.1", "--address", "zss2:eth1=10.1.0.2"] },
    };

    [Theory]
    [MemberData(nameof(SeedConfigs))]
    public void Heartbeat_seed_config(string name, string[] args)
    {
        var options = Options(args);
        string dir = Path.Combine(Inputs, name);
        var result = HeartbeatImporter.Import(dir, _files, options);
        Golden("heartbeat-" + name, result, dir);
        AssertImportable(result, o => HeartbeatImporter.Import(dir, _files, o), options);
    }

    [Fact]
    public void Heartbeat_debian_sample_as_shipped_is_refused_with_the_place()
    {
        // Every line of Debian's sample ha.cf but logfacility and auto_failback is commented out:
        // heartbeat would not start on it, and there is nothing to import.
        RequireDirectory(HeartbeatDocs, "heartbeat");
        var result = HeartbeatImporter.Import(HeartbeatDocs, _files, new ImportOptions());
        Golden("heartbeat-debian-as-shipped", result, null);
        Assert.False(result.Ok);
        Assert.StartsWith($"{HeartbeatDocs}/ha.cf.gz:", result.Errors[0].ToString());
    }

    /// <summary>
    /// Debian's sample files with chosen example lines uncommented (each must be found as written,
    /// so a changed sample fails here), and the haresources examples' node names replaced by the
    /// ha.cf example's nodes.
    /// </summary>
    public static TheoryData<string, string[], string[], string[], string[]> HeartbeatSampleVariants() => new()
    {
        {
            "serial-ucast-stonith",
            ["#keepalive 2", "#deadtime 30", "#warntime 10", "#initdead 120", "#udpport\t694", "#baud\t19200", "#serial\t/dev/ttyS0\t# Linux",
             "#ucast eth0 192.168.1.2", "#stonith_host ken3  rps10 /dev/ttyS1 kathy 0 ", "#stonith_host kathy rps10 /dev/ttyS1 ken3 0 ",
             "#node\tken3", "#node\tkathy", "#ping 10.10.10.254", "#respawn hacluster /usr/lib/heartbeat/ipfail",
             "#apiauth ipfail gid=haclient uid=hacluster", "#deadping 30", "#realtime off", "#debug 1", "#hopfudge 1", "#hbgenmethod time"],
            ["#just.linux-ha.org\t135.9.216.3/28/eth0/135.9.216.12 httpd", "#node1  10.0.0.170 Filesystem::/dev/sda1::/data1::ext2"],
            ["#auth 1", "#1 crc", "#2 sha1 HI!", "#3 md5 Hello!"],
            ["--node", "ken3", "--address", "ken3:eth0=192.168.1.1"]
        },
        {
            "bcast-mcast-baytech",
            ["#bcast\teth1 eth2\t# Linux", "#mcast eth0 225.0.0.1 694 1 0", "#stonith_host *     baytech 10.0.0.3 mylogin mysecretpassword",
             "#stonith baytech /etc/ha.d/conf/stonith.baytech", "#node\tken3", "#node\tkathy", "#ping_group group1 10.10.10.254 10.10.10.253",
             "#watchdog /dev/watchdog", "#compression\tbz2", "#conn_logd_time 60"],
            ["#just.linux-ha.org\t135.9.216.110 135.9.215.111 135.9.216.112 httpd"],
            ["#auth 1", "#1 crc"],
            ["--address", "ken3:eth1=10.1.1.1", "--address", "kathy:eth1=10.1.1.2", "--address", "ken3=10.2.0.1", "--address", "kathy=10.2.0.2",
             "--cluster", "kathy-ken3"]
        },
    };

    [Theory]
    [MemberData(nameof(HeartbeatSampleVariants))]
    public void Heartbeat_debian_sample_variant(string name, string[] haCfLines, string[] haResLines, string[] authLines, string[] args)
    {
        RequireDirectory(HeartbeatDocs, "heartbeat");
        string dir = Path.Combine(_tmp, "ha.d");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "ha.cf"), Uncomment(Gunzip(Path.Combine(HeartbeatDocs, "ha.cf.gz")), haCfLines));
        File.WriteAllText(Path.Combine(dir, "haresources"), Uncomment(Gunzip(Path.Combine(HeartbeatDocs, "haresources.gz")), haResLines)
            .Replace("\njust.linux-ha.org", "\nken3", StringComparison.Ordinal).Replace("\nnode1 ", "\nkathy ", StringComparison.Ordinal));
        File.WriteAllText(Path.Combine(dir, "authkeys"), Uncomment(File.ReadAllText(Path.Combine(HeartbeatDocs, "authkeys")), authLines));
        var options = Options(args);
        var result = HeartbeatImporter.Import(dir, _files, options);
        Golden("heartbeat-debian-" + name, result, dir);
        AssertImportable(result, o => HeartbeatImporter.Import(dir, _files, o), options);
    }

    // ---- helpers ------------------------------------------------------------------------------

    internal static string Gunzip(string path)
    {
        using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var reader = new StreamReader(gz, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    private static string Uncomment(string text, string[] lines)
    {
        var all = text.Split('\n').ToList();
        foreach (string line in lines)
        {
            int at = all.IndexOf(line);
            Assert.True(at >= 0, $"the sample has no line '{line}' (has the package changed?)");
            all[at] = line[1..];
        }
        return string.Join('\n', all);
    }

    internal static ImportOptions Options(string[] args)
    {
        var o = new ImportOptions();
        var addresses = new List<AddressHint>();
        for (int i = 0; i < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--node": o = o with { LocalNode = args[i + 1] }; break;
                case "--peer": o = o with { PeerNode = args[i + 1] }; break;
                case "--cluster": o = o with { ClusterName = args[i + 1] }; break;
                case "--serial": o = o with { SerialDevice = args[i + 1] }; break;
                case "--address": addresses.Add(AddressHint.Parse(args[i + 1], out _)!); break;
                default: throw new ArgumentException(args[i]);
            }
        }
        return o with { Addresses = [.. addresses] };
    }

    /// <summary>The output (or the errors) against Golden/NAME.yaml, with the machine's paths made neutral.</summary>
    private static void Golden(string name, ImportResult result, string? inputDir)
    {
        string actual = result.Yaml ?? string.Join('\n', result.Errors.Select(e => e.ToString())) + "\n";
        if (inputDir is not null)
            actual = actual.Replace(inputDir, "<input>", StringComparison.Ordinal);
        string path = Path.Combine(Here(), "Golden", name + ".yaml");
        if (Environment.GetEnvironmentVariable(UpdateSwitch) == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, actual);
        }
        Assert.True(File.Exists(path), $"no golden file {path}; run with {UpdateSwitch}=1 to create it");
        Assert.Equal(File.ReadAllText(path), actual);
    }

    /// <summary>
    /// The import worked, passes the checker with a real key file (0600, as the checker demands), and
    /// left nothing unaccounted: no statement reached the catch-all.
    /// </summary>
    private void AssertImportable(ImportResult result, Func<ImportOptions, ImportResult> again, ImportOptions options)
    {
        Assert.True(result.Ok, string.Join('\n', result.Errors));
        var check = ConfigLoader.Load("imported.yaml", result.Yaml!);
        Assert.True(check.Ok, string.Join('\n', check.Errors) + "\n" + result.Yaml);
        Assert.DoesNotContain(result.Notes, n => n.Reason.Contains("the importer has no mapping for it here", StringComparison.Ordinal));

        string key = Path.Combine(_tmp, "authkey");
        if (!File.Exists(key))
        {
            File.WriteAllBytes(key, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
            File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        var withKey = again(options with { KeyFile = key });
        var config = ConfigLoader.Load("imported.yaml", withKey.Yaml!).Config;
        Assert.NotNull(config);
        Assert.Equal(key, config.Cluster.KeyFile);
        var loaded = KeyFile.Load(config.Cluster.KeyFile);
        Assert.True(loaded.Ok, loaded.Error);
    }
}
