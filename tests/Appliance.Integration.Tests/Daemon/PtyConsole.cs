using System.Diagnostics;
using System.Text;
using Appliance.Linux.Serial;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>
/// `appliancectl console` on a real pty, driven from the master side as a person at a terminal
/// would: keys in, the screen's bytes out. The console runs in a session of its own (setsid) with
/// the pty's slave as its controlling terminal, so closing the master hangs it up like a pulled
/// serial cable (SIGHUP, then EIO on read).
/// </summary>
internal sealed class PtyConsole : IDisposable
{
    private readonly PseudoTerminal _pty;
    private readonly Process _process;
    private readonly StringBuilder _screen = new();
    private readonly ITestOutputHelper _output;
    private int _mark;
    private bool _hungUp;

    /// <param name="rows">The terminal's height for the pager (LINES); null: the console's default, 24.</param>
    public PtyConsole(string ns, string ctl, string control, ITestOutputHelper output, int? rows = 200)
    {
        _output = output;
        _pty = PseudoTerminal.Open(115200);
        var psi = new ProcessStartInfo("ip") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment.Remove("LINES");
        psi.Environment.Remove("COLUMNS");
        if (rows is { } r)
            psi.Environment["LINES"] = r.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // sh opens the slave without O_NOCTTY as the leader of a new session: it becomes the
        // controlling terminal, and exec keeps it for appliancectl.
        foreach (string a in new[] { "netns", "exec", ns, "setsid", "--wait", "sh", "-c", "exec \"$0\" --control \"$1\" console <>\"$2\" >&0 2>&0",
                     ctl, control, _pty.SlavePath })
            psi.ArgumentList.Add(a);
        _process = Process.Start(psi)!;
    }

    /// <summary>The console process: appliancectl itself (ip, setsid and sh exec into it), or setsid's child if it had to fork.</summary>
    public int Pid
    {
        get
        {
            int pid = _process.Id;
            if (new FileInfo($"/proc/{pid}/exe").LinkTarget?.EndsWith("appliancectl", StringComparison.Ordinal) == true)
                return pid;
            string children = File.ReadAllText($"/proc/{pid}/task/{pid}/children").Trim();
            return int.Parse(children.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    public bool Exited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Everything the console wrote so far, CR removed.</summary>
    public string Screen
    {
        get
        {
            Pump();
            return _screen.ToString();
        }
    }

    /// <summary>Types <paramref name="keys"/> (bytes as chars 0-255), one write per key as a person types.</summary>
    public void Type(string keys)
    {
        foreach (char c in keys)
        {
            byte[] b = [(byte)c];
            int n;
            while ((n = _pty.Master.Write(b)) == 0)
                Thread.Sleep(1);
            Assert.True(n > 0, "the console's terminal is gone");
        }
    }

    /// <summary>Waits until the output after the last mark contains <paramref name="text"/>; returns that output and moves the mark past it.</summary>
    public string Expect(string text, double seconds = 20)
    {
        string found = "";
        try
        {
            Lab.Lab.WaitUntil(() =>
            {
                Pump();
                string s = _screen.ToString(_mark, _screen.Length - _mark);
                int at = s.IndexOf(text, StringComparison.Ordinal);
                if (at < 0)
                    return false;
                found = s[..(at + text.Length)];
                _mark += at + text.Length;
                return true;
            }, TimeSpan.FromSeconds(seconds), $"'{text}' on the console");
        }
        catch (TimeoutException)
        {
            _output.WriteLine("console screen so far:\n" + _screen);
            throw;
        }
        return found;
    }

    /// <summary>Runs a command line: types it with Enter and waits for the next prompt; returns what it printed.</summary>
    public string Command(string line, string prompt = "alpha# ")
    {
        Type(line + "\r");
        string all = Expect(line + "\n");
        _ = all;
        string output = Expect(prompt);
        return output[..^prompt.Length];
    }

    private void Pump()
    {
        if (_hungUp)
            return;
        var buffer = new byte[4096];
        int n;
        while ((n = _pty.Master.Read(buffer)) > 0)
            _screen.Append(Encoding.Latin1.GetString(buffer, 0, n).Replace("\r", "", StringComparison.Ordinal));
    }

    /// <summary>Closes the master: the line hangs up, as when the cable is pulled.</summary>
    public void HangUp()
    {
        Pump();
        _hungUp = true;
        _pty.Dispose();
    }

    public bool WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout);

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
            _process.WaitForExit(5000);
        }
        _process.Dispose();
        if (!_hungUp)
            _pty.Dispose();
    }
}
