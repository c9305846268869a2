namespace Appliance.Integration.Tests.Lab;

/// <summary>A process's or thread's /proc stat file (proc(5)).</summary>
internal static class ProcStat
{
    public const int SchedFifo = 1, SchedRr = 2;

    /// <summary>The fields after the command name: [0] is field 3 (state), [1] the parent, [37] rt_priority, [38] policy.</summary>
    public static string[] Fields(string path)
    {
        string stat = File.ReadAllText(path);
        return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    }

    /// <summary>The scheduling policy and real-time priority of the process or thread whose stat file is <paramref name="path"/>.</summary>
    public static (int Policy, int Priority) Scheduling(string path)
    {
        var f = Fields(path);
        return (int.Parse(f[38], System.Globalization.CultureInfo.InvariantCulture), int.Parse(f[37], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>The machine's CPU time so far (/proc/stat's "cpu" line, in ticks): the part the hypervisor stole and the total.</summary>
    public static (long Steal, long Total) CpuTimes()
    {
        string line = File.ReadLines("/proc/stat").First(l => l.StartsWith("cpu ", StringComparison.Ordinal));
        long[] t = [.. line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8).Select(v => long.Parse(v, System.Globalization.CultureInfo.InvariantCulture))];
        return (t[7], t.Sum());
    }

    /// <summary>The share of CPU time stolen by the hypervisor between two <see cref="CpuTimes"/> samples, in percent.</summary>
    public static double StealPercent((long Steal, long Total) from, (long Steal, long Total) to) =>
        to.Total > from.Total ? 100.0 * (to.Steal - from.Steal) / (to.Total - from.Total) : 0;
}
