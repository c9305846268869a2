using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Appliance.Core.Config;
using Appliance.Linux.Net;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Lab;

// The helper class, not its namespace.
using Edge = Appliance.Integration.Tests.Edge.Edge;

/// <summary>
/// Drives board/lab/lab for the tests: a uniquely named lab per fixture, torn down even when a test
/// fails. Status is read straight from the control sockets (no process per poll), so timings can be
/// observed to a few milliseconds.
/// </summary>
public sealed class Lab : IDisposable
{
    public string Name { get; }
    public IReadOnlyDictionary<string, string> Env { get; private set; } = new Dictionary<string, string>();
    private readonly string _script;
    private readonly string _bin;
    private bool _up;

    /// <summary>Environment for every run of the lab script (like <c>LAB_ENV_alpha</c>, a node's own variables).</summary>
    public Dictionary<string, string> ExtraEnv { get; } = [];

    public Lab(string prefix)
    {
        Name = prefix + Guid.NewGuid().ToString("N")[..(8 - prefix.Length)];
        string root = RepoRoot();
        _script = Path.Combine(root, "board", "lab", "lab");
        _bin = Environment.GetEnvironmentVariable("APPLIANCE_BIN") ?? Path.Combine(root, "out", "bin");
        if (!File.Exists(Path.Combine(_bin, "applianced")))
            throw new InvalidOperationException($"no applianced in {_bin}: run `make bin` (make test does) or set APPLIANCE_BIN");
    }

    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Appliance.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Appliance.sln not found");
    }

    public void Up(params string[] options)
    {
        _up = true;
        var r = Run(new[] { "up" }.Concat(options).ToArray(), TimeSpan.FromSeconds(60));
        if (r.Exit != 0)
            throw new InvalidOperationException($"lab up failed ({r.Exit}):\n{r.Out}\n{r.Err}");
        Env = Run("env").Out.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split('=', 2)).Where(p => p.Length == 2)
            .ToDictionary(p => p[0], p => p[1].Trim('"', '\''));
    }

    public (int Exit, string Out, string Err) Run(params string[] args) => Run(args, TimeSpan.FromSeconds(30));

    public (int Exit, string Out, string Err) Run(string[] args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(_script) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        SetEnvironment(psi);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"lab {string.Join(' ', args)} took longer than {timeout}");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Starts `lab ARGS...` without waiting (stdout and stderr redirected): for a verb that runs a while, like `client hold`.</summary>
    public Process Start(params string[] args)
    {
        var psi = new ProcessStartInfo(_script) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        SetEnvironment(psi);
        return Process.Start(psi)!;
    }

    private void SetEnvironment(ProcessStartInfo psi)
    {
        psi.Environment["LAB_NAME"] = Name;
        psi.Environment["APPLIANCE_BIN"] = _bin;
        foreach (var (name, value) in ExtraEnv)
            psi.Environment[name] = value;
    }

    public void Must(params string[] args)
    {
        var r = Run(args);
        if (r.Exit != 0)
            throw new InvalidOperationException($"lab {string.Join(' ', args)} failed ({r.Exit}): {r.Out}{r.Err}");
    }

    /// <summary>Status of a node straight from its control socket, or null if it does not answer.</summary>
    public JsonElement? Status(string node)
    {
        string? response = Control(node, "{\"cmd\":\"status\"}");
        if (response is null)
            return null;
        using var doc = JsonDocument.Parse(response);
        return doc.RootElement.Clone();
    }

    public string? Control(string node, string request)
    {
        try
        {
            using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            s.ReceiveTimeout = 2000;
            s.SendTimeout = 2000;
            s.Connect(new UnixDomainSocketEndPoint(Env[$"CONTROL_{node}"]));
            s.Send(Encoding.UTF8.GetBytes(request + "\n"));
            var ms = new MemoryStream();
            var buf = new byte[65536];
            int n;
            while ((n = s.Receive(buf)) > 0)
                ms.Write(buf, 0, n);
            return Encoding.UTF8.GetString(ms.ToArray());
        }
        catch (SocketException)
        {
            return null;
        }
    }

    public string PeerState(string node) => Status(node)?.GetProperty("peer").GetProperty("state").GetString() ?? "no answer";

    public string LinkState(string node, string link) =>
        Status(node)?.GetProperty("peer").GetProperty("links").EnumerateArray()
            .First(l => l.GetProperty("name").GetString() == link).GetProperty("state").GetString() ?? "no answer";

    public JsonElement LinkCounters(string node, string link) =>
        Status(node)!.Value.GetProperty("peer").GetProperty("links").EnumerateArray()
            .First(l => l.GetProperty("name").GetString() == link).GetProperty("counters");

    /// <summary>Polls every few ms until <paramref name="condition"/> holds; returns the elapsed time or throws with <paramref name="what"/>.</summary>
    public static TimeSpan WaitUntil(Func<bool> condition, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (condition())
                return sw.Elapsed;
            Thread.Sleep(5);
        }
        throw new TimeoutException($"timed out after {timeout.TotalSeconds:0.#}s waiting for: {what}");
    }

    public void WaitBothUp(TimeSpan timeout) => WaitUntil(
        () => PeerState("alpha") == "up" && PeerState("beta") == "up" &&
              LinkState("alpha", "serial0") == "up" && LinkState("alpha", "lan0") == "up" &&
              LinkState("beta", "serial0") == "up" && LinkState("beta", "lan0") == "up",
        timeout, "both nodes see the peer up on both links");

    public string Log(string node) => File.ReadAllText(Env[$"LOG_{node}"]);

    /// <summary>One logged event: its time of day (this machine's clock: both nodes log with it) and the milliseconds it names.</summary>
    public readonly record struct Logged(TimeSpan At, long Ms, string Line);

    private static readonly System.Text.RegularExpressions.Regex StallLine = new(
        @"^(\d\d:\d\d:\d\d\.\d{3}) crit: \S+ STALL GUARD: this node was not scheduled for (\d+)ms.*$", System.Text.RegularExpressions.RegexOptions.Multiline);
    private static readonly System.Text.RegularExpressions.Regex DeadLine = new(
        @"^(\d\d:\d\d:\d\d\.\d{3}) fail: \S+ peer \w+ dead: silent for (\d+)ms.*$", System.Text.RegularExpressions.RegexOptions.Multiline);

    private static List<Logged> Events(System.Text.RegularExpressions.Regex re, string log) =>
        [.. re.Matches(log).Select(m => new Logged(
            TimeSpan.ParseExact(m.Groups[1].Value, @"hh\:mm\:ss\.fff", System.Globalization.CultureInfo.InvariantCulture),
            long.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), m.Value.TrimEnd('\r')))];

    /// <summary>NODE's own stalls ("STALL GUARD": it was not scheduled for longer than deadtime), oldest first.</summary>
    public List<Logged> Stalls(string node) => Events(StallLine, Log(node));

    /// <summary>NODE's verdicts that its peer is dead, with the silence each one measured, oldest first.</summary>
    public List<Logged> Deaths(string node) => Events(DeadLine, Log(node));

    /// <summary>
    /// Waits until neither node is within a stall's grace (Membership.StallGraceWindow after its last
    /// "STALL GUARD" line; the log's time of day is this machine's), so that a test timing a death
    /// sees the plain deadtime. Returns how long it waited.
    /// </summary>
    public TimeSpan WaitOutStallGrace()
    {
        TimeSpan wait = TimeSpan.Zero;
        foreach (var node in new[] { "alpha", "beta" })
        {
            var stalls = Stalls(node);
            if (stalls.Count == 0)
                continue;
            var since = DateTime.Now.TimeOfDay - stalls[^1].At;
            if (since < TimeSpan.Zero)
                since += TimeSpan.FromDays(1); // the stall was before midnight
            var left = Appliance.Core.Membership.Membership.StallGraceWindow + TimeSpan.FromMilliseconds(200) - since;
            if (left > wait)
                wait = left;
        }
        if (wait > TimeSpan.Zero)
            Thread.Sleep(wait);
        return wait;
    }

    private readonly Dictionary<string, AddressManager> _addresses = [];

    /// <summary>
    /// Whether NODE's kernel carries the VIP right now: one rtnetlink query on a socket opened once in
    /// its namespace (microseconds, no process spawned, so sampling every 10 ms measures the VIP and
    /// not how fast this test host can fork under load).
    /// </summary>
    public bool KernelHoldsVip(string node)
    {
        lock (_addresses)
        {
            if (!_addresses.TryGetValue(node, out var addresses))
                _addresses[node] = addresses = Edge.InNamespace(Env[$"NS_{node}"], AddressManager.Open);
            var vip = new IpPrefix(System.Net.IPAddress.Parse(Env["VIP"]), 24);
            AddressOutcome now = addresses.IsPresent(vip, "eth0");
            return now.Kind switch
            {
                AddressOutcomeKind.Present => true,
                AddressOutcomeKind.Absent or AddressOutcomeKind.NoInterface => false,
                _ => throw new InvalidOperationException($"cannot tell whether {node} holds the VIP: {now.Reason}"),
            };
        }
    }

    /// <summary>The lab's power state of NODE: on or off.</summary>
    public string Power(string node) => File.ReadAllText(Path.Combine(Env["LAB_DIR"], $"power-{node}")).Trim();

    public void Dispose()
    {
        lock (_addresses)
        {
            foreach (var a in _addresses.Values)
                a.Dispose();
            _addresses.Clear();
        }
        if (_up)
            Run("down");
    }
}

/// <summary>
/// A lab brought up once for a test class (with the given `lab up` options) and torn down after it,
/// also when bringing it up fails. <see cref="UpWithin"/>: from `lab up` until both nodes saw each
/// other up on both links.
/// </summary>
public abstract class LabFixture : IDisposable
{
    public Lab Lab { get; }
    public TimeSpan UpWithin { get; }

    protected LabFixture(string prefix, params string[] options)
        : this(prefix, new Dictionary<string, string>(), options)
    {
    }

    /// <param name="env">Environment of every lab run (<see cref="Lab.ExtraEnv"/>), so of the daemons it starts.</param>
    protected LabFixture(string prefix, IReadOnlyDictionary<string, string> env, params string[] options)
    {
        Lab = new Lab(prefix);
        foreach (var (name, value) in env)
            Lab.ExtraEnv[name] = value;
        if (!Environment.IsPrivilegedProcess)
            return;
        try
        {
            Lab.Up(options);
            var sw = Stopwatch.StartNew();
            Lab.WaitBothUp(TimeSpan.FromSeconds(15));
            UpWithin = sw.Elapsed;
        }
        catch
        {
            Lab.Dispose();
            throw;
        }
    }

    public virtual void Dispose() => Lab.Dispose();
}

/// <summary>The lab tests share the machine's namespaces and CPU: run them one at a time.</summary>
[CollectionDefinition("lab", DisableParallelization = true)]
public sealed class LabCollection
{
}

public sealed class RootTheoryAttribute : TheoryAttribute
{
    public RootTheoryAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
            Skip = "needs root (network namespaces); CI runs it as root";
    }
}
