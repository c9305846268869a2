using System.Diagnostics;
using Appliance.Integration.Tests.Daemon;
using Appliance.Integration.Tests.Edge;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Lab;

/// <summary>A lab of its own for the console tests (they commit to its config): fast timers, fencing off.</summary>
public sealed class ConsoleLabFixture() : LabFixture("cn", "--keepalive", "50ms", "--deadtime", "250ms");

/// <summary>
/// `lab console NODE` on the real pair: interactive on a pty (the peer is up), and piped: a commit
/// on alpha applies the director's change live there; the lab's one config file means beta then
/// sees the file changed outside its console and records it as a generation of its own.
/// </summary>
[Collection("lab")]
public sealed class ConsoleLabTests(ConsoleLabFixture fixture, ITestOutputHelper output) : IClassFixture<ConsoleLabFixture>
{
    private readonly Lab _lab = fixture.Lab;

    private (int Exit, string Out) Piped(string node, string lines)
    {
        var psi = new ProcessStartInfo(Path.Combine(Lab.RepoRoot(), "board", "lab", "lab")) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("console");
        psi.ArgumentList.Add(node);
        psi.Environment["LAB_NAME"] = _lab.Name;
        psi.Environment["APPLIANCE_BIN"] = DirectorDaemonHarness.Bin;
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        p.StandardInput.Write(lines);
        p.StandardInput.Close();
        string o = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), "lab console ends");
        output.WriteLine(o + err.Result);
        return (p.ExitCode, o);
    }

    [RootFact]
    public void Lab_console_is_the_node_console_interactive_on_a_pty_and_piped()
    {
        string lab = Path.Combine(Lab.RepoRoot(), "board", "lab", "lab");
        using (var c = new PtyConsole(["setsid", "--wait", "sh", "-c", "exec \"$0\" console alpha <>\"$1\" >&0 2>&0", lab], output, 200,
                   new Dictionary<string, string> { ["LAB_NAME"] = _lab.Name, ["APPLIANCE_BIN"] = DirectorDaemonHarness.Bin }))
        {
            c.Expect("alpha> ");
            Assert.Contains("peer beta: up", c.Command("show peer", "alpha> "));
            c.Type("exit\r");
            Assert.True(c.WaitForExit(TimeSpan.FromSeconds(10)));
        }

        var r = Piped("alpha", "configure\nset director services web scheduler wrr\ncommit comment from the lab console\n");
        Assert.Equal(0, r.Exit);
        Assert.Contains("committed generation 2", r.Out);
        Assert.Contains("director.services[web].scheduler: rr -> wrr", r.Out);
        Assert.Contains("\"scheduler\":\"wrr\"", _lab.Run("ctl", "alpha", "services", "--json").Out.Replace(" ", "", StringComparison.Ordinal));

        var beta = Piped("beta", "show history\n");
        Assert.Equal(0, beta.Exit);
        Assert.Contains("[adopted]", beta.Out);
        Assert.Equal(2, Piped("beta", "configure\nset director services web scheduler fastest\n").Exit);
    }
}
