using System.Diagnostics;
using System.Text.RegularExpressions;
using Appliance.Core.Heartbeat;
using Appliance.Core.Values;
using Appliance.Integration.Tests.Edge;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Lab;

/// <summary>One lab at the default timers (200ms/600ms/1s/10s) shared by the heartbeat-pair tests.</summary>
public sealed class DefaultLabFixture() : LabFixture("t");

[Collection("lab")]
public sealed class HeartbeatPairTests(DefaultLabFixture fixture, ITestOutputHelper output) : IClassFixture<DefaultLabFixture>
{
    private static readonly TimeSpan Keepalive = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan Deadtime = TimeSpan.FromSeconds(1);

    private Lab L => fixture.Lab;

    /// <summary>Every test leaves the pair healed, thawed and up again.</summary>
    private void Restore()
    {
        L.Run("thaw", "alpha");
        L.Run("thaw", "beta");
        L.Must("heal", "all");
        L.WaitBothUp(TimeSpan.FromSeconds(10));
    }

    [RootFact]
    public void Both_daemons_see_each_other_up_on_both_links_within_initdead()
    {
        output.WriteLine($"both up on both links {fixture.UpWithin.TotalMilliseconds:0} ms after `lab up` returned (initdead 10 s)");
        Assert.True(fixture.UpWithin < TimeSpan.FromSeconds(10));
        // The lab carries one VIP: one node holds it (alpha, the preferred, unless an earlier test
        // moved it), the other stands by.
        var roles = new[] { "alpha", "beta" }.Select(n => L.Status(n)!.Value.GetProperty("role").GetString()).OrderBy(r => r).ToArray();
        Assert.Equal(new[] { "active", "standby" }, roles);
        foreach (var node in new[] { "alpha", "beta" })
        {
            var s = L.Status(node)!.Value;
            Assert.Equal(node == "alpha" ? "beta" : "alpha", s.GetProperty("peer").GetProperty("name").GetString());
            Assert.Equal(200, s.GetProperty("timers").GetProperty("keepalive_ms").GetInt32());
        }
    }

    [RootTheory]
    [InlineData("serial", "serial0", "lan0")]
    [InlineData("udp", "lan0", "serial0")]
    public void Cutting_one_link_downs_only_that_link(string kind, string cutLink, string otherLink)
    {
        L.WaitOutStallGrace();
        try
        {
            L.Must("cut", kind);
            var elapsed = Lab.WaitUntil(() => L.LinkState("alpha", cutLink) == "down" && L.LinkState("beta", cutLink) == "down",
                TimeSpan.FromSeconds(3), $"{cutLink} down on both nodes");
            output.WriteLine($"{cutLink} down on both after {elapsed.TotalMilliseconds:0} ms");
            // Observe for another 2 deadtimes: the peer stays up over the other link the whole time.
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed < 2 * Deadtime)
            {
                foreach (var node in new[] { "alpha", "beta" })
                {
                    Assert.Equal("up", L.PeerState(node));
                    Assert.Equal("up", L.LinkState(node, otherLink));
                    Assert.Equal("down", L.LinkState(node, cutLink));
                }
                Thread.Sleep(20);
            }
            L.Must("heal", kind);
            L.WaitBothUp(TimeSpan.FromSeconds(5));
        }
        finally
        {
            Restore();
        }
    }

    [RootFact]
    public void Cutting_all_links_declares_the_peer_dead_after_deadtime_and_healing_brings_it_back()
    {
        L.WaitOutStallGrace(); // a node in a stall's grace would judge against twice deadtime
        try
        {
            var sw = Stopwatch.StartNew();
            L.Must("cut", "all");
            TimeSpan cutTook = sw.Elapsed;
            var deadAt = new Dictionary<string, TimeSpan>();
            Lab.WaitUntil(() =>
            {
                foreach (var node in new[] { "alpha", "beta" })
                    if (!deadAt.ContainsKey(node) && L.PeerState(node) == "dead")
                        deadAt[node] = sw.Elapsed;
                return deadAt.Count == 2;
            }, TimeSpan.FromSeconds(5), "both nodes declare the peer dead");

            // Bounds: the last frame may have left up to one keepalive before the cut began, so the peer
            // can be declared dead as early as deadtime - keepalive after it; at the latest deadtime plus
            // two keepalives (a frame just missed plus one in flight) plus a margin for the lab's cut
            // command itself (nft in two namespaces and a signal: measured above) and 5 ms polling.
            TimeSpan margin = cutTook + TimeSpan.FromMilliseconds(100);
            foreach (var (node, at) in deadAt)
            {
                output.WriteLine($"{node}: peer dead {at.TotalMilliseconds:0} ms after `cut all` began (cut took {cutTook.TotalMilliseconds:0} ms); deadtime {Deadtime.TotalMilliseconds} ms");
                Assert.InRange(at, Deadtime - Keepalive, Deadtime + 2 * Keepalive + margin);
                // The daemon's own measure of the silence is never below deadtime.
                long silentMs = L.Deaths(node)[^1].Ms;
                output.WriteLine($"{node}: logged silence {silentMs} ms");
                Assert.InRange(silentMs, (long)Deadtime.TotalMilliseconds, (long)(Deadtime + Keepalive).TotalMilliseconds);
            }
            foreach (var node in new[] { "alpha", "beta" })
            {
                Assert.Equal("down", L.LinkState(node, "serial0"));
                Assert.Equal("down", L.LinkState(node, "lan0"));
            }

            var heal = Stopwatch.StartNew();
            L.Must("heal", "all");
            L.WaitBothUp(TimeSpan.FromSeconds(5));
            output.WriteLine($"up again on both links {heal.ElapsedMilliseconds} ms after heal");
        }
        finally
        {
            Restore();
        }
    }

    [RootFact]
    public void Freezing_a_node_past_deadtime_fires_its_stall_guard_on_thaw()
    {
        try
        {
            int before = L.Status("alpha")!.Value.GetProperty("stall").GetProperty("count").GetInt32();
            L.Must("freeze", "alpha");
            Lab.WaitUntil(() => L.PeerState("beta") == "dead", TimeSpan.FromSeconds(3), "beta declares frozen alpha dead");
            Thread.Sleep(500);
            L.Must("thaw", "alpha");
            Lab.WaitUntil(() => L.Status("alpha")!.Value.GetProperty("stall").GetProperty("count").GetInt32() > before,
                TimeSpan.FromSeconds(3), "alpha reports a stall");
            var stall = L.Status("alpha")!.Value.GetProperty("stall");
            output.WriteLine($"alpha stall guard: count {stall.GetProperty("count")}, last {stall.GetProperty("last_ms")} ms");
            Assert.True(stall.GetProperty("last_ms").GetInt64() > 1000);
            Assert.Contains("STALL GUARD", L.Log("alpha"));
            L.WaitBothUp(TimeSpan.FromSeconds(5));
        }
        finally
        {
            Restore();
        }
    }

    [RootFact]
    public void Line_noise_on_the_serial_cable_gives_no_false_sign_of_life_and_is_counted()
    {
        try
        {
            // Only the serial link stays; alpha is frozen, so everything beta reads on serial0 is noise.
            L.Must("cut", "udp");
            L.Must("freeze", "alpha");
            Lab.WaitUntil(() => L.PeerState("beta") == "dead", TimeSpan.FromSeconds(3), "beta declares frozen alpha dead");
            var before = L.LinkCounters("beta", "serial0");
            var noise = Task.Run(() => L.Run("noise", "alpha", "3"));
            var watch = Stopwatch.StartNew();
            while (!noise.IsCompleted)
            {
                Assert.Equal("dead", L.PeerState("beta"));
                Assert.Equal("down", L.LinkState("beta", "serial0"));
                Thread.Sleep(20);
            }
            Assert.Equal(0, noise.Result.Exit);
            output.WriteLine(noise.Result.Out.Trim());
            var after = L.LinkCounters("beta", "serial0");
            long noiseBytes = after.GetProperty("rx_noise_bytes").GetInt64() - before.GetProperty("rx_noise_bytes").GetInt64();
            long badFraming = after.GetProperty("rx_bad_framing").GetInt64() - before.GetProperty("rx_bad_framing").GetInt64();
            output.WriteLine($"beta serial0 during {watch.ElapsedMilliseconds} ms of noise: {noiseBytes} noise bytes, {badFraming} bad frames, rejected {after.GetProperty("rx_rejected")}");
            Assert.True(noiseBytes > 10_000, $"only {noiseBytes} noise bytes counted");
            Assert.True(badFraming > 10, $"only {badFraming} bad frames counted");
            Assert.Equal("running", StatusJsonDaemon("beta"));
        }
        finally
        {
            Restore();
        }
    }

    [RootFact]
    public void Frames_signed_with_the_wrong_key_or_replayed_after_a_peer_restart_are_ignored()
    {
        try
        {
            L.Must("cut", "udp"); // serial only: the test owns what beta's peer link carries
            L.WaitToSettle(() => L.LinkState("alpha", "serial0") == "up");

            // 1. Record beta's genuine frames off the cable: freeze alpha and read its end of the pty.
            L.Must("freeze", "alpha");
            byte[] recorded = ReadFor(L.Env["TTY_alpha"], TimeSpan.FromMilliseconds(1500));
            L.Must("thaw", "alpha");
            var frames = SplitFrames(recorded);
            output.WriteLine($"recorded {frames.Count} genuine frames of beta ({recorded.Length} bytes)");
            Assert.True(frames.Count >= 5);

            // 2. beta restarts: a new boot; alpha meets it again.
            L.Must("restart", "beta");
            L.WaitToSettle(() => L.PeerState("alpha") == "up" && L.LinkState("alpha", "serial0") == "up");

            // 3. beta goes silent; its old frames are replayed towards alpha, and so are frames with a wrong key.
            // Freezing alpha in step 1 outlasted deadtime, so alpha's stall guard fired on thaw and it judges
            // against twice deadtime for a while: wait that out, so the death below is timed against deadtime.
            L.WaitOutStallGrace();
            L.Must("freeze", "beta");
            var before = L.LinkCounters("alpha", "serial0");
            var wrongKey = new HeartbeatCodec(Enumerable.Repeat((byte)0x5A, 32).ToArray(), "lab");
            var forged = new byte[HeartbeatCodec.FrameBytes];
            var encoded = new byte[SerialFraming.MaxEncodedBytes];
            var sw = Stopwatch.StartNew();
            int replays = 0, forgeries = 0;
            var deadSeen = TimeSpan.Zero;
            using (var tty = new FileStream(L.Env["TTY_beta"], FileMode.Open, FileAccess.Write))
            {
                while (sw.Elapsed < TimeSpan.FromSeconds(3))
                {
                    foreach (var f in frames)
                    {
                        tty.Write(f);
                        replays++;
                    }
                    wrongKey.Encode(new HeartbeatFrame(0, new NodeId(2), new BootId(42), new Sequence((ulong)forgeries + 1),
                        BootId.None, default, new StateSummary(NodeRole.Standby, HealthFlags.None, 0, 0, 0, 0)), forged);
                    tty.Write(encoded, 0, SerialFraming.Encode(forged, encoded));
                    forgeries++;
                    tty.Flush();
                    if (deadSeen == TimeSpan.Zero && L.PeerState("alpha") == "dead")
                        deadSeen = sw.Elapsed;
                    Thread.Sleep(50);
                }
            }
            var after = L.LinkCounters("alpha", "serial0");
            long stale = after.GetProperty("rx_stale").GetInt64() - before.GetProperty("rx_stale").GetInt64();
            long rejected = after.GetProperty("rx_rejected").GetInt64() - before.GetProperty("rx_rejected").GetInt64();
            output.WriteLine($"replayed {replays} recorded frames and {forgeries} wrong-key frames; alpha counted {stale} stale, {rejected} rejected; peer dead after {deadSeen.TotalMilliseconds:0} ms");
            Assert.Equal("dead", L.PeerState("alpha"));
            Assert.InRange(deadSeen, TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(2));
            Assert.True(rejected >= forgeries * 9 / 10, $"{rejected} of {forgeries} wrong-key frames rejected");
            Assert.True(stale >= replays * 9 / 10, $"{stale} of {replays} replayed frames counted stale");
        }
        finally
        {
            Restore();
        }
    }

    [RootFact]
    public void The_heartbeat_worker_lives_and_dies_with_its_daemon()
    {
        // The heartbeat runs in a worker process (out of reach of the daemon's garbage collector). It
        // must never outlive the daemon: a heartbeat with nobody behind it would be a lie to the peer.
        try
        {
            foreach (var victim in new[] { "daemon", "worker" })
            {
                int daemon = int.Parse(File.ReadAllText(Path.Combine(L.Env["LAB_DIR"], "alpha.pid")).Trim());
                int worker = WorkerOf(daemon);
                var sw = Stopwatch.StartNew();
                Process.GetProcessById(victim == "daemon" ? daemon : worker).Kill();
                var dead = Lab.WaitUntil(() => L.PeerState("beta") == "dead", TimeSpan.FromSeconds(3), $"beta sees alpha dead after its {victim} was killed");
                Lab.WaitUntil(() => !Alive(daemon) && !Alive(worker), TimeSpan.FromSeconds(3), "neither alpha process is left");
                output.WriteLine($"SIGKILL of alpha's {victim}: both processes gone, beta declared alpha dead {dead.TotalMilliseconds:0} ms later");
                Assert.InRange(dead, TimeSpan.Zero, Deadtime + 2 * Keepalive + TimeSpan.FromMilliseconds(200));
                L.Must("restart", "alpha");
                L.WaitBothUp(TimeSpan.FromSeconds(10));
            }
        }
        finally
        {
            Restore();
        }

        static bool Alive(int pid) => File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ");
    }

    private static int WorkerOf(int daemon) => Directory.GetDirectories("/proc")
        .Select(d => int.TryParse(Path.GetFileName(d), out int p) ? p : 0)
        .Single(p => p > 0 && ParentOf(p) == daemon && File.ReadAllText($"/proc/{p}/cmdline").Contains("--heartbeat-worker"));

    private static int ParentOf(int pid)
    {
        try
        {
            return int.Parse(ProcStat.Fields($"/proc/{pid}/stat")[1]);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    [RootFact]
    public void Every_thread_of_the_heartbeat_worker_runs_real_time_the_heartbeat_highest()
    {
        // A garbage collection stops every thread of the worker, the heartbeat thread too, until the
        // threads it waits on are done; under CPU load an ordinary thread would wait behind the load.
        // So no thread of the worker is ordinary.
        L.WaitBothUp(TimeSpan.FromSeconds(10));
        int daemon = int.Parse(File.ReadAllText(Path.Combine(L.Env["LAB_DIR"], "alpha.pid")).Trim());
        int worker = WorkerOf(daemon);
        var threads = new List<(int Tid, string Name, int Policy, int Priority)>();
        foreach (var dir in Directory.GetDirectories($"/proc/{worker}/task"))
        {
            var (policy, priority) = ProcStat.Scheduling(Path.Combine(dir, "stat"));
            threads.Add((int.Parse(Path.GetFileName(dir)), File.ReadAllText(Path.Combine(dir, "comm")).Trim(), policy, priority));
        }
        foreach (var t in threads)
            output.WriteLine($"{t.Tid} {t.Name}: policy {t.Policy}, rt priority {t.Priority}");
        const int SchedFifo = ProcStat.SchedFifo;
        var heartbeat = Assert.Single(threads, t => t.Name == "heartbeat");
        Assert.Equal((SchedFifo, 40), (heartbeat.Policy, heartbeat.Priority));
        // Its watcher on another CPU (HeartbeatRescue), as prompt as it; never on the heartbeat thread's CPUs.
        var watch = Assert.Single(threads, t => t.Name == "heartbeat-watch");
        Assert.Equal((SchedFifo, 40), (watch.Policy, watch.Priority));
        string CpusOf(int tid) => File.ReadLines($"/proc/{worker}/task/{tid}/status").First(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal)).Split(':')[1].Trim();
        output.WriteLine($"heartbeat on CPUs {CpusOf(heartbeat.Tid)}, watcher on {CpusOf(watch.Tid)}");
        static List<int> Parse(string list) => Appliance.Daemon.HeartbeatWorker.ParseCpuList(list, out var cpus, out string error) ? cpus : throw new FormatException(error);
        Assert.Empty(Parse(CpusOf(heartbeat.Tid)).Intersect(Parse(CpusOf(watch.Tid))));
        var main = Assert.Single(threads, t => t.Tid == worker);
        Assert.Equal((SchedFifo, 20), (main.Policy, main.Priority));
        var writer = Assert.Single(threads, t => t.Name == "worker-writer");
        Assert.Equal((SchedFifo, 20), (writer.Policy, writer.Priority));
        // The serial reader, one step below the heartbeat (SerialHeartbeatLink.ReaderPriority).
        Assert.Contains(threads, t => t.Name.StartsWith("serial-", StringComparison.Ordinal) && t.Policy == SchedFifo && t.Priority == 39);
        // And the runtime's own threads, started before the worker's code ran (finalizer, background collector).
        Assert.All(threads, t => Assert.True(t.Policy == SchedFifo && t.Priority >= 20, $"thread {t.Tid} {t.Name}: policy {t.Policy}, priority {t.Priority}"));
    }

    private string StatusJsonDaemon(string node)
    {
        var r = L.Run("status", "--json");
        var m = Regex.Match(r.Out, "\"" + node + "\"\\s*:\\s*\\{[^}]*\"daemon\"\\s*:\\s*\"(\\w+)\"");
        return m.Success ? m.Groups[1].Value : r.Out;
    }

    /// <summary>Reads whatever arrives on a pty end for a while (the end's own daemon is frozen).</summary>
    private static byte[] ReadFor(string tty, TimeSpan duration)
    {
        using var port = Appliance.Linux.Serial.SerialPort.Open(tty, 115200);
        var all = new List<byte>();
        var buf = new byte[4096];
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < duration)
        {
            int n = port.Read(buf);
            if (n > 0)
                all.AddRange(buf.AsSpan(0, n).ToArray());
            else
                Thread.Sleep(5);
        }
        return all.ToArray();
    }

    /// <summary>Splits a recorded byte stream into whole encoded frames (delimiter to delimiter) that decode.</summary>
    private static List<byte[]> SplitFrames(byte[] stream)
    {
        var frames = new List<byte[]>();
        var d = new SerialDeframer();
        int start = -1;
        for (int i = 0; i < stream.Length; i++)
        {
            if (stream[i] != 0)
                continue;
            if (start >= 0 && i > start + 1)
            {
                var candidate = stream[start..(i + 1)];
                var input = candidate.AsSpan();
                bool good = false;
                while (!input.IsEmpty)
                {
                    int used = d.Push(input, out var e);
                    input = input[used..];
                    good |= e == DeframeEvent.Frame && d.Frame.Length == HeartbeatCodec.FrameBytes;
                }
                if (good)
                    frames.Add(candidate);
            }
            start = i;
        }
        return frames;
    }
}

internal static class LabExtensions
{
    public static void WaitToSettle(this Lab lab, Func<bool> condition) =>
        Lab.WaitUntil(condition, TimeSpan.FromSeconds(10), "the lab to settle");
}
