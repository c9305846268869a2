using System.Collections.Immutable;

namespace Appliance.Core.Director;

/// <summary>
/// The slot sequences behind the schedulers: the map of <c>numgen inc|random mod N</c> or
/// <c>jhash ... mod N</c> from slot to server. Pure functions of the weights.
/// </summary>
public static class SchedulerSlots
{
    /// <summary>
    /// Most slots in one scheduler map. The map is part of the service chain, rewritten at every
    /// health flip; nat-director.md section 4 measured such rewrites at up to 5000 elements in tens of
    /// ms. With <see cref="Config.ConfigLimits.MaxRealServersPerService"/> servers of weight 1 it still fits.
    /// </summary>
    public const int SlotsMax = 16384;

    /// <summary>
    /// Smooth weighted round robin (nginx's): each round every server gains its weight, the one with
    /// the most credit (first on a tie) is picked and pays the total. Over one cycle server i appears
    /// exactly w_i times, spread out rather than in blocks (3:2:1 gives a b a c a b). Weights are
    /// reduced by their gcd first (so 2:2:2 is a b c) and scaled down if the cycle would exceed
    /// <see cref="SlotsMax"/>. Returns indexes into <paramref name="weights"/>; zero weights never appear.
    /// </summary>
    public static ImmutableArray<int> Smooth(IReadOnlyList<int> weights)
    {
        var w = Reduce(weights);
        long total = w.Sum();
        var result = ImmutableArray.CreateBuilder<int>((int)total);
        // Equal weights reduce to ones, and the algorithm then yields the servers in order; skip
        // its O(slots x servers) loop for the common big pool of equal servers.
        if (w.All(x => x is 0 or 1))
        {
            for (int i = 0; i < w.Length; i++)
                if (w[i] == 1)
                    result.Add(i);
            return result.MoveToImmutable();
        }
        var credit = new long[w.Length];
        for (long n = 0; n < total; n++)
        {
            int best = -1;
            for (int i = 0; i < w.Length; i++)
            {
                if (w[i] == 0)
                    continue;
                credit[i] += w[i];
                if (best < 0 || credit[i] > credit[best])
                    best = i;
            }
            credit[best] -= total;
            result.Add(best);
        }
        return result.MoveToImmutable();
    }

    /// <summary>The same counts in blocks (3:2:1 gives a a a b b c): for <c>numgen random</c>, written as intervals.</summary>
    public static ImmutableArray<int> Blocks(IReadOnlyList<int> weights)
    {
        var w = Reduce(weights);
        var result = ImmutableArray.CreateBuilder<int>(w.Sum());
        for (int i = 0; i < w.Length; i++)
            for (int k = 0; k < w[i]; k++)
                result.Add(i);
        return result.MoveToImmutable();
    }

    /// <summary>Weights divided by their gcd, then scaled to fit <see cref="SlotsMax"/> (each non-zero weight stays at least 1).</summary>
    public static int[] Reduce(IReadOnlyList<int> weights)
    {
        if (weights.Any(x => x < 0))
            throw new ArgumentException("weights are not negative");
        int g = 0;
        foreach (int x in weights)
            g = Gcd(g, x);
        if (g == 0)
            return [.. weights.Select(_ => 0)];
        var w = weights.Select(x => x / g).ToArray();
        long sum = w.Sum(x => (long)x);
        if (sum <= SlotsMax)
            return w;
        int nonZero = w.Count(x => x > 0);
        if (nonZero > SlotsMax)
            throw new ArgumentException($"{nonZero} schedulable servers do not fit in {SlotsMax} slots");
        // Proportional, floor, at least 1: the sum stays within SlotsMax because each scaled weight
        // is at most w * (SlotsMax - nonZero) / sum + 1.
        long budget = SlotsMax - nonZero;
        return [.. w.Select(x => x == 0 ? 0 : (int)(x * budget / sum) + 1)];
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0)
            (a, b) = (b, a % b);
        return a;
    }
}
