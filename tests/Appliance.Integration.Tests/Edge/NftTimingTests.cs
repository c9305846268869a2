using Appliance.Daemon;
using Appliance.Linux.Nft;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// Measures (does not judge: the machine is shared) what one apply costs in process, through the
/// nft worker, and with the `nft -f -` fallback, for 10 services x 10 servers and 1 x 5000: a full
/// load into an empty namespace and a health flip (one service chain rewritten with one server
/// fewer). Medians of <see cref="Runs"/>, printed to the test output.
/// </summary>
public sealed class NftTimingTests(ITestOutputHelper output) : IDisposable
{
    private const int Runs = 5;
    private readonly NftNamespace _ns = new();

    public void Dispose() => _ns.Dispose();

    [RootFact]
    public async Task Apply_latency_in_process_through_the_worker_and_with_nft()
    {
        var log = new ListLogger(output);
        using var proxy = new NftProxy(log, NftWorkerStart.ThisExecutable(["ip", "netns", "exec", _ns.Name]));
        Assert.Null(await proxy.StartAsync());
        output.WriteLine("ms, median of 5: load = whole table into an empty netns; flip = one chain flushed and rewritten with N-1 servers");
        foreach (var (services, each) in new[] { (10, 10), (1, 5000) })
        {
            string load = NftTexts.Director(services, each), flip = NftTexts.FlipOne(each);
            string size = $"{services}x{each} ({load.Length / 1024} KiB)";

            var lib = Edge.InNamespace(_ns.Name, () =>
            {
                using var nft = NftLibraryApplier.Open();
                return Measure(nft.Apply, load, flip, r => r.Elapsed);
            });
            var (wLoad, wFlip) = await MeasureAsync(t => proxy.ApplyAsync(t), load, flip);
            var (wLoadIn, wFlipIn) = await MeasureAsync(t => proxy.ApplyAsync(t), load, flip, inside: true);
            using var command = new NftCommandApplier("measured");
            var cmd = Edge.InNamespace(_ns.Name, () => Measure(command.Apply, load, flip, r => r.Elapsed));

            output.WriteLine($"{size}: in process load {lib.Item1:0.00} flip {lib.Item2:0.00} | worker round trip load {wLoad:0.00} flip {wFlip:0.00} " +
                $"(inside the worker {wLoadIn:0.00} / {wFlipIn:0.00}) | nft -f - load {cmd.Item1:0.00} flip {cmd.Item2:0.00}");
        }
    }

    private Tuple<double, double> Measure(Func<string, bool, NftResult> apply, string load, string flip, Func<NftResult, TimeSpan> time)
    {
        var loads = new List<double>();
        var flips = new List<double>();
        for (int i = 0; i < Runs; i++)
        {
            Clear(apply);
            var l = apply(load, false);
            Assert.True(l.Outcome == NftOutcome.Applied, l.Message);
            loads.Add(time(l).TotalMilliseconds);
            var f = apply(flip, false);
            Assert.True(f.Outcome == NftOutcome.Applied, f.Message);
            flips.Add(time(f).TotalMilliseconds);
        }
        Clear(apply);
        return Tuple.Create(Median(loads), Median(flips));
    }

    private async Task<(double Load, double Flip)> MeasureAsync(Func<string, Task<NftResult>> apply, string load, string flip, bool inside = false)
    {
        var loads = new List<double>();
        var flips = new List<double>();
        for (int i = 0; i < Runs; i++)
        {
            await apply("table inet appliance\ndelete table inet appliance\n");
            var l = await apply(load);
            Assert.True(l.Outcome == NftOutcome.Applied, l.Message);
            loads.Add((inside ? l.Elapsed : l.RoundTrip!.Value).TotalMilliseconds);
            var f = await apply(flip);
            Assert.True(f.Outcome == NftOutcome.Applied, f.Message);
            flips.Add((inside ? f.Elapsed : f.RoundTrip!.Value).TotalMilliseconds);
        }
        await apply("table inet appliance\ndelete table inet appliance\n");
        return (Median(loads), Median(flips));
    }

    /// <summary>Deletes our table if it is there (`table X` first makes the delete valid when it is not).</summary>
    private static void Clear(Func<string, bool, NftResult> apply)
        => Assert.Equal(NftOutcome.Applied, apply("table inet appliance\ndelete table inet appliance\n", false).Outcome);

    private static double Median(List<double> xs)
    {
        xs.Sort();
        return xs[xs.Count / 2];
    }
}
