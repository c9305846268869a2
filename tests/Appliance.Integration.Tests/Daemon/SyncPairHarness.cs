using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Appliance.Integration.Tests.Edge;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>
/// Two real daemons, alpha and beta, each in a network namespace of its own with its own directory
/// (config file at 0600, state directory, control socket, board profile), joined like two boards: a
/// veth pair carries the UDP link lan0 (10.77.0.1 - 10.77.0.2) and a socat pty pair the serial link
/// serial0 (115200 baud). The key file is shared (both boards hold the same key). UDP is cut by
/// taking the veth ends down, serial by stopping socat (SIGSTOP by its PID). Everything is removed
/// in <see cref="Dispose"/> whatever the test did; the daemons are stopped by PID.
/// </summary>
internal sealed class SyncPairHarness : IDisposable
{
    public static readonly string[] Nodes = ["alpha", "beta"];

    private readonly ITestOutputHelper _output;
    private readonly VethPair _veth;
    private readonly SocatPair _serial;
    private readonly Dictionary<string, (Process Process, StringBuilder Log)> _daemons = [];

    public SyncPairHarness(string tag, ITestOutputHelper output)
    {
        _output = output;
        Dir = Directory.CreateTempSubdirectory($"apl-{tag}-").FullName;
        Cluster = $"sync{Random.Shared.Next(0x1000, 0xffff):x4}";
        _veth = VethPair.Create(tag, "02:77:00:00:00:01", "02:77:00:00:00:02", output);
        try
        {
            Edge.Edge.Run("ip", "-n", _veth.NsA, "addr", "add", "10.77.0.1/24", "dev", _veth.IfA);
            Edge.Edge.Run("ip", "-n", _veth.NsB, "addr", "add", "10.77.0.2/24", "dev", _veth.IfB);
            _serial = SocatPair.Start();
            WritePrivate(KeyPath, Enumerable.Range(0, 32).Select(i => (byte)(i * 11 + 3)).ToArray());
            foreach (var n in Nodes)
                Directory.CreateDirectory(NodeDir(n));
        }
        catch
        {
            _veth.Dispose();
            throw;
        }
    }

    public string Dir { get; }

    public string Cluster { get; }

    public string KeyPath => Path.Combine(Dir, "authkey");

    public string NodeDir(string node) => Path.Combine(Dir, node);

    public string ConfigPath(string node) => Path.Combine(NodeDir(node), "appliance.yaml");

    public string ControlPath(string node) => Path.Combine(NodeDir(node), "control.sock");

    public string BoardPath(string node) => Path.Combine(NodeDir(node), "board.yaml");

    public string Ns(string node) => node == "alpha" ? _veth.NsA : _veth.NsB;

    public static string Bin => DirectorDaemonHarness.Bin;

    /// <summary>The pair's config: both links, no fencing, no resources; <paramref name="extra"/> appended.</summary>
    public string Config(string extra = "") => $$"""
        cluster:
          name: {{Cluster}}
          key_file: {{KeyPath}}
          fencing: off
        nodes:
          - name: alpha
            links:
              - {name: serial0, kind: serial, device: {{_serial.PathA}}, baud: 115200}
              - {name: lan0, kind: udp, local: 10.77.0.1, peer: 10.77.0.2, port: 694}
          - name: beta
            links:
              - {name: serial0, kind: serial, device: {{_serial.PathB}}, baud: 115200}
              - {name: lan0, kind: udp, local: 10.77.0.2, peer: 10.77.0.1, port: 694}

        """ + extra;

    public void WriteConfig(string node, string text) => WritePrivate(ConfigPath(node), Encoding.UTF8.GetBytes(text));

    public string ReadConfig(string node) => File.ReadAllText(ConfigPath(node));

    public void WriteBoard(string node, string yaml) => File.WriteAllText(BoardPath(node), yaml);

    private static void WritePrivate(string path, byte[] bytes)
    {
        File.WriteAllBytes(path, bytes);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    public void Start(string node, bool withBoard = false)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true };
        var args = new List<string> { "netns", "exec", Ns(node), Path.Combine(Bin, "applianced"), "--config", ConfigPath(node), "--node", node,
            "--control", ControlPath(node), "--state-dir", Path.Combine(NodeDir(node), "state") };
        if (withBoard)
            args.AddRange(["--board", BoardPath(node)]);
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        var daemon = Process.Start(psi)!;
        var log = new StringBuilder();
        daemon.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        daemon.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        daemon.BeginErrorReadLine();
        daemon.BeginOutputReadLine();
        _daemons[node] = (daemon, log);
    }

    public string Log(string node)
    {
        var (_, log) = _daemons[node];
        lock (log)
            return log.ToString();
    }

    /// <summary>`appliancectl ARGS` against NODE, in its namespace.</summary>
    public (int Exit, string Out, string Err) Ctl(string node, params string[] args) =>
        DirectorDaemonHarness.In(Ns(node), Path.Combine(Bin, "appliancectl"), ["--control", ControlPath(node), .. args]);

    /// <summary>Status straight from the control socket (no process per poll), or null if the daemon does not answer.</summary>
    public JsonElement? Status(string node) => Request(node, "{\"cmd\":\"status\"}");

    /// <summary>One request on NODE's control socket; its reply, or null if the daemon does not answer.</summary>
    public JsonElement? Request(string node, string request)
    {
        try
        {
            using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            s.ReceiveTimeout = 5000;
            s.Connect(new UnixDomainSocketEndPoint(ControlPath(node)));
            s.Send(Encoding.UTF8.GetBytes(request + "\n"));
            var ms = new MemoryStream();
            var buf = new byte[65536];
            int n;
            while ((n = s.Receive(buf)) > 0)
                ms.Write(buf, 0, n);
            using var doc = JsonDocument.Parse(ms.ToArray());
            return doc.RootElement.Clone();
        }
        catch (Exception e) when (e is SocketException or JsonException)
        {
            return null;
        }
    }

    public string SyncState(string node) =>
        Status(node)?.GetProperty("config_sync").GetProperty("state").GetString() ?? "no answer";

    public JsonElement Sync(string node) => Status(node)!.Value.GetProperty("config_sync");

    public string LinkState(string node, string link) =>
        Status(node)?.GetProperty("peer").GetProperty("links").EnumerateArray()
            .First(l => l.GetProperty("name").GetString() == link).GetProperty("state").GetString() ?? "no answer";

    /// <summary>The worker's sync message counts on NODE's LINK.</summary>
    public JsonElement SyncLink(string node, string link) =>
        Sync(node).GetProperty("links").EnumerateArray().First(l => l.GetProperty("name").GetString() == link);

    public void WaitBothUp(TimeSpan timeout) => Lab.Lab.WaitUntil(
        () => Nodes.All(n => Status(n)?.GetProperty("peer").GetProperty("state").GetString() == "up"
                             && LinkState(n, "serial0") == "up" && LinkState(n, "lan0") == "up"),
        timeout, "both daemons see the peer up on both links");

    public void WaitSync(string alpha, string beta, TimeSpan timeout) => Lab.Lab.WaitUntil(
        () => SyncState("alpha") == alpha && SyncState("beta") == beta, timeout,
        $"config sync: alpha {alpha}, beta {beta} (now alpha {SyncState("alpha")}, beta {SyncState("beta")})");

    public void CutUdp()
    {
        Edge.Edge.Run("ip", "-n", _veth.NsA, "link", "set", _veth.IfA, "down");
        Edge.Edge.Run("ip", "-n", _veth.NsB, "link", "set", _veth.IfB, "down");
    }

    public void HealUdp()
    {
        Edge.Edge.Run("ip", "-n", _veth.NsA, "link", "set", _veth.IfA, "up");
        Edge.Edge.Run("ip", "-n", _veth.NsB, "link", "set", _veth.IfB, "up");
    }

    public void CutSerial() => Edge.Edge.Run("kill", "-STOP", _serial.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public void HealSerial() => Edge.Edge.Run("kill", "-CONT", _serial.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public void Dispose()
    {
        try
        {
            HealSerial();
        }
        catch (InvalidOperationException)
        {
        }
        foreach (var (node, (process, _)) in _daemons)
        {
            try
            {
                if (!process.HasExited)
                    DirectorDaemonHarness.Stop(process, _daemons[node].Log, _output);
                else
                    _output.WriteLine(Log(node));
            }
            catch (InvalidOperationException)
            {
            }
        }
        _serial?.Dispose();
        _veth.Dispose();
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
