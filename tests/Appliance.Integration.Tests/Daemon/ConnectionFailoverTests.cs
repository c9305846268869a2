using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Appliance.Core.Config;
using Appliance.Core.Director;
using Appliance.Daemon;
using Appliance.Integration.Tests.Edge;
using Appliance.Integration.Tests.Lab;
using Appliance.Linux.Resources;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>
/// A held TCP connection through the director survives a failover (issue 9 part 4), built from the
/// shipping pieces without the daemons: the compiled `table inet appliance` loaded on both directors,
/// conntrackd supervised on both with the generated config, and the takeover's first resource (the
/// commit) with the VIPs before or after it. The negative control skips the commit: the connection does not survive.
/// Topology (namespaces of its own): client - outside bridge - d1, d2 - inside bridge - real server;
/// d1 and d2 joined by a sync link.
/// The guard rule (drops mid-stream TCP to a service without a conntrack entry) is what keeps a takeover
/// whose VIPs come before the commit (keepalived#2254) from resetting connections: with it, a packet that
/// arrives before the commit is dropped and retransmitted after it (a stall); without it, the packet is
/// picked up as a new connection and scheduled, here to a real server that never saw it, which resets it.
/// Two real servers, and one throwaway connection first, so the held connection is on the second while the
/// new active's round robin starts at the first.
/// </summary>
public sealed class ConnectionFailoverTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _p = "apl-fo" + Random.Shared.Next(0x1000, 0xffff).ToString("x4");
    private readonly string _dir = Directory.CreateTempSubdirectory("apl-fo-").FullName;
    private readonly List<Process> _children = [];

    private string Ns(string n) => $"{_p}-{n}";

    public void Dispose()
    {
        foreach (var c in _children)
        {
            try
            {
                if (!c.HasExited)
                    c.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
        }
        foreach (var n in new[] { "c", "d1", "d2", "rs", "sw" })
        {
            try
            {
                if (File.Exists("/run/netns/" + Ns(n)))
                    Edge.Edge.Run("ip", "netns", "delete", Ns(n));
            }
            catch (InvalidOperationException)
            {
            }
        }
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private void Sh(string script) => Edge.Edge.Run("bash", "-euo", "pipefail", "-c", script);

    private const string Config = """
        cluster: {name: fotest, key_file: /etc/appliance/authkey, fencing: off}
        nodes:
          - name: alpha
            links: [{name: lan0, kind: udp, local: 10.99.0.1, peer: 10.99.0.2, port: 694}]
          - name: beta
            links: [{name: lan0, kind: udp, local: 10.99.0.2, peer: 10.99.0.1, port: 694}]
        resources:
          - {name: vip, kind: vip, address: 192.0.2.10/24, interface: out0}
          - {name: gw, kind: vip, address: 10.77.0.254/24, interface: in0}
        director:
          inside_vips: [gw]
          sync: {interface: sync0, local: 10.99.0.1, peer: 10.99.0.2}
          services:
            - name: echo
              listen: 192.0.2.10:80/tcp
              scheduler: rr
              forwarding: nat
              real_servers: [{address: 10.77.0.11:8080}, {address: 10.77.0.12:8080}]
        """;

    /// <summary>How the new active takes over.</summary>
    public enum Takeover
    {
        /// <summary>Commit, then the VIPs (the daemon's order until issue 13). Survives.</summary>
        CommitThenVips,

        /// <summary>No commit at all: the new active never learns the connection. Lost (the guard drops it for ever).</summary>
        VipsWithoutCommit,

        /// <summary>
        /// The VIPs first, the commit 0.5 s later, guard loaded: a stall, no reset. Survives. The daemon's
        /// order since issue 13 (its commit runs while the VIPs come up, some 20-100 ms rather than 0.5 s).
        /// </summary>
        VipsThenCommit,

        /// <summary>The VIPs first, the commit 0.5 s later, guard chain flushed on the new active: reset.</summary>
        VipsThenCommitWithoutGuard,
    }

    [RootTheory]
    [InlineData(Takeover.CommitThenVips)]
    [InlineData(Takeover.VipsWithoutCommit)]
    [InlineData(Takeover.VipsThenCommit)]
    [InlineData(Takeover.VipsThenCommitWithoutGuard)]
    public async Task A_held_connection_survives_a_failover_when_the_commit_comes_before_the_vips_or_the_guard_holds_it(Takeover takeover)
    {
        Assert.True(File.Exists(ConntrackdSupervisor.Program), "conntrackd is missing: scripts/install-deps.sh installs it");
        var loaded = ConfigLoader.Load("fo.yaml", Config);
        Assert.True(loaded.Ok, string.Join("\n", loaded.Errors));
        var config = loaded.Config!;
        string table = Path.Combine(_dir, "table.nft");
        File.WriteAllText(table, NftRuleset.FullLoad(DirectorPlanner.Plan(config.Director!, config.Cluster.Name, HealthView.AsConfigured)));
        string P = _p;
        Sh($"""
            for n in c d1 d2 rs sw; do ip netns add {P}-$n; ip -n {P}-$n link set lo up; done
            ip -n {P}-sw link add bo type bridge; ip -n {P}-sw link add bi type bridge
            ip -n {P}-sw link set bo up; ip -n {P}-sw link set bi up
            ip link add eth0 netns {P}-c type veth peer name pc netns {P}-sw
            ip link add out0 netns {P}-d1 type veth peer name p1o netns {P}-sw
            ip link add out0 netns {P}-d2 type veth peer name p2o netns {P}-sw
            ip link add in0 netns {P}-d1 type veth peer name p1i netns {P}-sw
            ip link add in0 netns {P}-d2 type veth peer name p2i netns {P}-sw
            ip link add eth0 netns {P}-rs type veth peer name pr netns {P}-sw
            ip link add eth1 netns {P}-rs type veth peer name pr2 netns {P}-sw
            ip link add sync0 netns {P}-d1 type veth peer name sync0 netns {P}-d2
            for p in pc p1o p2o; do ip -n {P}-sw link set $p master bo up; done
            for p in p1i p2i pr pr2; do ip -n {P}-sw link set $p master bi up; done
            ip -n {P}-c addr add 192.0.2.100/24 dev eth0; ip -n {P}-c link set eth0 up
            ip -n {P}-d1 addr add 192.0.2.1/24 dev out0; ip -n {P}-d1 addr add 10.77.0.1/24 dev in0; ip -n {P}-d1 addr add 10.99.0.1/24 dev sync0
            ip -n {P}-d2 addr add 192.0.2.2/24 dev out0; ip -n {P}-d2 addr add 10.77.0.2/24 dev in0; ip -n {P}-d2 addr add 10.99.0.2/24 dev sync0
            for d in d1 d2; do
              for i in out0 in0 sync0; do ip -n {P}-$d link set $i up; done
              ip netns exec {P}-$d sysctl -qw net.ipv4.ip_forward=1
              ip netns exec {P}-$d nft -f {table}
            done
            ip -n {P}-rs addr add 10.77.0.11/24 dev eth0; ip -n {P}-rs link set eth0 up
            ip -n {P}-rs addr add 10.77.0.12/24 dev eth1; ip -n {P}-rs link set eth1 up
            ip -n {P}-rs route add default via 10.77.0.254
            ip -n {P}-d1 addr add 192.0.2.10/24 dev out0; ip -n {P}-d1 addr add 10.77.0.254/24 dev in0
            """);
        var echo = new ProcessStartInfo("ip") { RedirectStandardError = true };
        foreach (var a in new[] { "netns", "exec", Ns("rs"), "socat", "TCP-LISTEN:8080,reuseaddr,fork", "EXEC:cat" })
            echo.ArgumentList.Add(a);
        _children.Add(Process.Start(echo)!);

        var sync = config.Director!.Sync!;
        string[] Cmd(string n) => ["/usr/sbin/ip", "netns", "exec", Ns(n), ConntrackdSupervisor.Program];
        var d1 = new ConntrackdSupervisor(NodeResources.ForNode(sync, 0), Path.Combine(_dir, "d1"), NullLogger.Instance, TimeProvider.System, Cmd("d1"));
        await using var d2 = new ConntrackdSupervisor(NodeResources.ForNode(sync, 1), Path.Combine(_dir, "d2"), NullLogger.Instance, TimeProvider.System, Cmd("d2"));
        d1.Start();
        d2.Start();
        Assert.True(await d1.WaitReadyAsync(TimeSpan.FromSeconds(10), CancellationToken.None) && await d2.WaitReadyAsync(TimeSpan.FromSeconds(10), CancellationToken.None),
            "conntrackd did not start on both directors");

        // A throwaway connection first, so d1's round robin puts the held one on its second real server.
        Edge.Edge.InNamespace(Ns("c"), () => Connect(TimeSpan.FromSeconds(10))).Dispose();
        // The client holds a connection through the VIP (d1 active) and it echoes.
        using var client = Edge.Edge.InNamespace(Ns("c"), () => Connect(TimeSpan.FromSeconds(5)));
        Assert.Equal("one\n", RoundTrip(client, "one\n"));
        // d2's external cache has it (FTFW over the sync link). A conntrackd that had not yet subscribed to
        // d1's conntrack events when the connection opened (it answers on its socket a moment before, seen
        // on a loaded machine) never sends it: then d1 reads its kernel table again and sends its whole
        // cache (-R, -B: what a daemon's takeover does anyway), so the test is about the takeover's order.
        bool Synced() => Edge.Edge.Run("ip", "netns", "exec", Ns("d2"), ConntrackdSupervisor.Program, "-C", d2.ConfigPath, "-e")
            .Split('\n').Any(l => l.Contains("ESTABLISHED", StringComparison.Ordinal) && l.Contains("192.0.2.100", StringComparison.Ordinal));
        if (!SpinWait.SpinUntil(Synced, TimeSpan.FromSeconds(3)))
        {
            output.WriteLine("d2's external cache lacked the connection after 3 s: d1 resyncs and sends its cache");
            foreach (var flag in new[] { "-R", "-B" })
                Edge.Edge.Run("ip", "netns", "exec", Ns("d1"), ConntrackdSupervisor.Program, "-C", d1.ConfigPath, flag);
        }
        Lab.Lab.WaitUntil(Synced, TimeSpan.FromSeconds(10), "d2's external cache holds the connection");
        if (takeover == Takeover.VipsThenCommitWithoutGuard)
            Sh($"ip netns exec {P}-d2 nft flush chain inet appliance guard");

        // d1 dies: its links go down and its conntrackd with it. d2 takes over.
        Sh($"ip -n {P}-d1 link set out0 down; ip -n {P}-d1 link set in0 down; ip -n {P}-d1 link set sync0 down");
        await d1.DisposeAsync();
        var sw = Stopwatch.StartNew();
        async Task Commit()
        {
            var resource = new ConntrackSyncResource(d2.ControlSocket);
            Assert.True((await resource.StartAsync(CancellationToken.None)).Ok);
            var r = await resource.FinishAsync(CancellationToken.None);
            Assert.True(r.Ok, "commit on d2: " + r.Reason);
        }
        void Vips() => Sh($"""
            ip -n {P}-d2 addr add 192.0.2.10/24 dev out0; ip -n {P}-d2 addr add 10.77.0.254/24 dev in0
            ip -n {P}-c neigh flush all; ip -n {P}-rs neigh flush all
            """);
        if (takeover == Takeover.CommitThenVips)
            await Commit();
        Vips();
        // The client's next line goes out now: before the commit when the VIPs came first.
        client.ReceiveTimeout = takeover == Takeover.VipsWithoutCommit ? 3000 : 10_000;
        var answer = Task.Run(() =>
        {
            try
            {
                return RoundTrip(client, "two\n");
            }
            catch (SocketException e)
            {
                return e.SocketErrorCode.ToString();
            }
        });
        if (takeover is Takeover.VipsThenCommit or Takeover.VipsThenCommitWithoutGuard)
        {
            await Task.Delay(500);
            await Commit();
        }
        string after = await answer;
        output.WriteLine($"takeover on d2 ({takeover}): the held connection's next line got '{after.Trim()}' {sw.ElapsedMilliseconds} ms after d1 died");
        switch (takeover)
        {
            case Takeover.CommitThenVips:
            case Takeover.VipsThenCommit: // the guard dropped the early packets; TCP retransmitted after the commit
                Assert.Equal("two\n", after);
                break;
            case Takeover.VipsWithoutCommit: // the guard drops it for ever: no answer, no reset
                Assert.Equal(nameof(SocketError.TimedOut), after);
                break;
            case Takeover.VipsThenCommitWithoutGuard: // picked up as new, scheduled to the first real server: reset
                Assert.Equal(nameof(SocketError.ConnectionReset), after);
                break;
        }
    }

    /// <summary>Connects to the VIP's service (in the caller's namespace), retrying until <paramref name="within"/>.</summary>
    private static Socket Connect(TimeSpan within)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 3000, NoDelay = true };
        Lab.Lab.WaitUntil(() =>
        {
            try
            {
                s.Connect(new IPEndPoint(IPAddress.Parse("192.0.2.10"), 80));
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        }, within, "the client connects through the director");
        return s;
    }

    private static string RoundTrip(Socket s, string line)
    {
        s.Send(Encoding.ASCII.GetBytes(line));
        var buffer = new byte[256];
        int n = s.Receive(buffer);
        return Encoding.ASCII.GetString(buffer, 0, n);
    }
}
