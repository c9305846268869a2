using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// Two fresh network namespaces joined by a veth pair with fixed MACs, both ends up, IPv6 off (the
/// kernel's own DAD and MLD frames would mix with a test's), and each namespace's sysfs mounted
/// where <c>Open(name, sysClassNet)</c> of the packet adapters can read it. Names are unique per
/// instance; <see cref="Dispose"/> removes everything and only logs what it cannot.
/// </summary>
internal sealed class VethPair : IDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly string _work;
    private readonly List<string> _mounts = [];
    private readonly List<string> _namespaces = [];
    private string _macA = "", _macB = "";

    private VethPair(string tag, ITestOutputHelper output)
    {
        string id = Random.Shared.Next(0x100000, 0xFFFFFF).ToString("x6");
        NsA = $"apl-{tag}-{id}-a";
        NsB = $"apl-{tag}-{id}-b";
        IfA = $"ap{tag}{id}a";
        IfB = $"ap{tag}{id}b";
        _work = Path.Combine(Path.GetTempPath(), $"apl-{tag}-{id}");
        _output = output;
    }

    public string NsA { get; }
    public string NsB { get; }
    public string IfA { get; }
    public string IfB { get; }

    /// <summary>/sys/class/net as namespace A sees it.</summary>
    public string SysA => Path.Combine(_work, "sys-a", "class", "net");

    /// <summary>/sys/class/net as namespace B sees it.</summary>
    public string SysB => Path.Combine(_work, "sys-b", "class", "net");

    /// <param name="tag">A few letters naming the test; interface names must stay within 15 bytes.</param>
    public static VethPair Create(string tag, string macA, string macB, ITestOutputHelper output)
    {
        var pair = new VethPair(tag, output);
        output.WriteLine($"namespaces {pair.NsA} {pair.NsB}, veth {pair.IfA} {pair.IfB}");
        try
        {
            foreach (string ns in new[] { pair.NsA, pair.NsB })
            {
                Edge.Run("ip", "netns", "add", ns);
                pair._namespaces.Add(ns);
                Edge.Run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1");
                Edge.Run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1");
            }
            (pair._macA, pair._macB) = (macA, macB);
            pair.AddLink();
            foreach (var (ns, ifName, sys) in new[] { (pair.NsA, pair.IfA, "sys-a"), (pair.NsB, pair.IfB, "sys-b") })
            {
                // /sys shows the namespace it was mounted from; mount one from inside for Open to read.
                string dir = Path.Combine(pair._work, sys);
                Directory.CreateDirectory(dir);
                Edge.Run("nsenter", $"--net=/var/run/netns/{ns}", "mount", "-t", "sysfs", "sysfs", dir);
                pair._mounts.Add(dir);
            }
            return pair;
        }
        catch
        {
            pair.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Deletes the veth pair and makes it again with the same names and MACs (new ifindexes), as a
    /// driver reload or a hot-plugged NIC would; the sysfs mounts show the new links.
    /// </summary>
    public void Recreate()
    {
        Edge.Run("ip", "-n", NsA, "link", "del", IfA);
        AddLink();
    }

    private void AddLink()
    {
        Edge.Run("ip", "-n", NsA, "link", "add", IfA, "address", _macA, "type", "veth",
            "peer", "name", IfB, "address", _macB, "netns", NsB);
        Edge.Run("ip", "-n", NsA, "link", "set", IfA, "up");
        Edge.Run("ip", "-n", NsB, "link", "set", IfB, "up");
        WaitLinkUp(NsA, IfA);
        WaitLinkUp(NsB, IfB);
    }

    public void Dispose()
    {
        bool unmounted = _mounts.Aggregate(true, (all, dir) => TryRun("umount", "-l", dir) && all);
        foreach (string ns in _namespaces)
            TryRun("ip", "netns", "del", ns); // takes the veth pair with it
        try
        {
            // Never recurse into a sysfs that is still mounted.
            if (unmounted && Directory.Exists(_work))
                Directory.Delete(_work, recursive: true);
        }
        catch (Exception ex)
        {
            _output.WriteLine($"cleanup: {ex.Message}");
        }
    }

    private static void WaitLinkUp(string ns, string ifName)
    {
        long deadline = Environment.TickCount64 + (long)Edge.Timeout.TotalMilliseconds;
        while (!Edge.Run("ip", "-n", ns, "link", "show", ifName).Contains("LOWER_UP", StringComparison.Ordinal))
        {
            if (Environment.TickCount64 > deadline)
                throw new TimeoutException($"{ifName} in {ns} has no carrier after {Edge.Timeout.TotalSeconds} s");
            Thread.Sleep(20);
        }
    }

    private bool TryRun(string file, params string[] args)
    {
        try
        {
            Edge.Run(file, args);
            return true;
        }
        catch (Exception ex)
        {
            _output.WriteLine($"cleanup: {ex.Message}");
            return false;
        }
    }
}
