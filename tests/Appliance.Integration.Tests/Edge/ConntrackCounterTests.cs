using System.Diagnostics;
using System.Text;
using Appliance.Linux.Director;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// ConntrackCounter against the kernel: entries with director marks are made with `conntrack -R`
/// (conntrack-tools, an independent writer) in a fresh network namespace, then counted over
/// ctnetlink and compared with what was made; and the cost of a dump at 10,000 entries, printed.
/// </summary>
public sealed class ConntrackCounterTests(ITestOutputHelper output)
{
    private const uint IdMask = 0xffff0000;

    [RootFact]
    public void Counts_entries_by_the_id_in_the_high_bits_of_the_mark()
    {
        using var ns = new NftNamespace();
        // id 0x2a: 5 established + 2 in TIME_WAIT + 1 whose low mark bits someone else set; id 0x2b: 3
        // udp and 1 IPv6 (one dump covers both families); unmarked: 4; a mark with only low bits: 1
        // (not balanced by the director).
        var lines = new List<string>();
        lines.AddRange(Tcp(0, 5, "ESTABLISHED", 0x002a0000));
        lines.AddRange(Tcp(100, 2, "TIME_WAIT", 0x002a0000));
        lines.AddRange(Tcp(200, 1, "ESTABLISHED", 0x002a0005));
        lines.AddRange(Udp(300, 3, 0x002b0000));
        lines.Add($"-I -p tcp -s 2001:db8::1 -d 2001:db8::2 --sport 1024 --dport 80 --state ESTABLISHED --timeout 600 --mark {0x002b0000}");
        lines.AddRange(Tcp(400, 4, "ESTABLISHED", 0));
        lines.AddRange(Tcp(500, 1, "SYN_RECV", 0x00000007));
        Load(ns, lines);
        using ConntrackCounter counter = Edge.InNamespace(ns.Name, ConntrackCounter.Open);

        var one = new Dictionary<uint, ConntrackTally>();
        ConntrackOutcome outcome = counter.Count(0x002a0000, IdMask, IdMask, one);
        output.WriteLine($"filtered by id 0x2a: {outcome}");
        Assert.Equal(ConntrackOutcomeKind.Done, outcome.Kind);
        Assert.Equal(8, outcome.Entries);
        Assert.Equal(new ConntrackTally(8, 6), Assert.Single(one, kv => kv.Key == 0x002a0000).Value);
        Assert.Single(one);

        var all = new Dictionary<uint, ConntrackTally>();
        outcome = counter.Count(0, 0, IdMask, all);
        output.WriteLine($"whole table: {outcome}");
        Assert.Equal(ConntrackOutcomeKind.Done, outcome.Kind);
        Assert.Equal(17, outcome.Entries);
        Assert.Equal(new ConntrackTally(8, 6), all[0x002a0000]);
        Assert.Equal(new ConntrackTally(4, 4), all[0x002b0000]);
        Assert.Equal(new ConntrackTally(5, 5), all[0]);
        Assert.Equal(3, all.Count);

        var none = new Dictionary<uint, ConntrackTally>();
        Assert.Equal(ConntrackOutcomeKind.Done, counter.Count(0x00990000, IdMask, IdMask, none).Kind);
        Assert.Empty(none);
    }

    [RootFact]
    public void An_empty_table_counts_nothing_and_repeated_dumps_agree()
    {
        using var ns = new NftNamespace();
        using ConntrackCounter counter = Edge.InNamespace(ns.Name, ConntrackCounter.Open);
        var tallies = new Dictionary<uint, ConntrackTally>();
        Assert.Equal(new ConntrackOutcome(ConntrackOutcomeKind.Done, 0, 0, ""), counter.Count(0, 0, IdMask, tallies));
        Assert.Empty(tallies);
        Load(ns, Tcp(0, 300, "ESTABLISHED", 0x00010000)); // several parts of a dump (about 100 entries a part)
        for (int i = 0; i < 3; i++)
        {
            tallies.Clear();
            Assert.Equal(300, counter.Count(0x00010000, IdMask, IdMask, tallies).Entries);
            Assert.Equal(new ConntrackTally(300, 300), tallies[0x00010000]);
        }
    }

    /// <summary>
    /// 10,000 entries over 4 real servers (2,500 each): one whole-table dump grouped by id against
    /// one filtered dump per server. Medians of 11 runs, printed; the bound is generous (the machine is shared).
    /// </summary>
    [RootFact]
    public void Cost_of_a_dump_at_10000_entries()
    {
        using var ns = new NftNamespace();
        var lines = new List<string>();
        for (int id = 1; id <= 4; id++)
            lines.AddRange(Tcp(id * 2500, 2500, "ESTABLISHED", (uint)id << 16));
        Load(ns, lines);
        using ConntrackCounter counter = Edge.InNamespace(ns.Name, ConntrackCounter.Open);
        var tallies = new Dictionary<uint, ConntrackTally>();
        var whole = new List<double>();
        var perServer = new List<double>();
        for (int run = 0; run < 11; run++)
        {
            tallies.Clear();
            long t0 = Stopwatch.GetTimestamp();
            Assert.Equal(10_000, counter.Count(0, 0, IdMask, tallies).Entries);
            whole.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            Assert.All(tallies.Values, t => Assert.Equal(2500, t.Open));

            tallies.Clear();
            t0 = Stopwatch.GetTimestamp();
            for (uint id = 1; id <= 4; id++)
                Assert.Equal(2500, counter.Count(id << 16, IdMask, IdMask, tallies).Entries);
            perServer.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        tallies.Clear();
        long before = GC.GetAllocatedBytesForCurrentThread();
        counter.Count(0, 0, IdMask, tallies);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        output.WriteLine($"10,000 entries, 4 servers: whole-table dump median {Median(whole):F2} ms (min {whole.Min():F2}, max {whole.Max():F2}); " +
            $"4 filtered dumps median {Median(perServer):F2} ms (min {perServer.Min():F2}, max {perServer.Max():F2}); {allocated} bytes allocated per dump");
        Assert.InRange(Median(whole), 0, 1000);
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s[s.Count / 2];
    }

    private static IEnumerable<string> Tcp(int first, int count, string state, uint mark) =>
        Enumerable.Range(first, count).Select(i =>
            $"-I -p tcp -s 10.1.{i / 250 % 250}.{i % 250 + 1} -d 10.2.0.1 --sport {1024 + i / 62500} --dport 80 --state {state} --timeout 600 --mark {mark}");

    private static IEnumerable<string> Udp(int first, int count, uint mark) =>
        Enumerable.Range(first, count).Select(i =>
            $"-I -p udp -s 10.1.{i / 250 % 250}.{i % 250 + 1} -d 10.2.0.1 --sport 5353 --dport 53 --timeout 600 --mark {mark}");

    /// <summary>`conntrack -R FILE` in the namespace: one process for all the entries.</summary>
    private static void Load(NftNamespace ns, IEnumerable<string> lines)
    {
        string file = Path.Combine(Path.GetTempPath(), $"{ns.Name}-{Guid.NewGuid():N}.ct");
        File.WriteAllText(file, string.Join('\n', lines) + "\n", Encoding.ASCII);
        try
        {
            Edge.Run("ip", "netns", "exec", ns.Name, "conntrack", "-R", file);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
