using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace Appliance.Linux;

/// <summary>How a child program run ended.</summary>
internal enum ChildOutcome
{
    /// <summary>It exited by itself; see <see cref="ChildResult.ExitCode"/>.</summary>
    Exited,
    /// <summary>It could not be started (missing, not executable); see <see cref="ChildResult.Why"/>.</summary>
    NotStarted,
    /// <summary>The caller cancelled (its timeout): the program, its children and its process group were killed.</summary>
    Killed,
}

/// <summary>One run of a child program: how it ended, and the tail of what it wrote.</summary>
internal readonly record struct ChildResult(ChildOutcome Outcome, int ExitCode, string Stdout, string Stderr, string Why);

/// <summary>
/// Runs scripts and agents for the edge (resources, monitors, fence agents): one attempt, bounded by
/// the caller's token, never throwing for an operating failure. The program runs in its own process
/// group (through setsid), so a cancellation kills everything it started, including children that
/// left its process tree (double fork) but not its group; children that made their own session
/// (pexpect's telnet and ssh) are caught by the tree walk first.
/// </summary>
internal static class ChildProcess
{
    /// <summary>util-linux setsid(1) (Essential on Debian): execs the program as leader of a new session and process group, without forking.</summary>
    public const string SetsidPath = "/usr/bin/setsid";

    /// <summary>Most output kept per stream (the tail: reasons are in the last lines); the rest is read and dropped so the child never blocks on a full pipe.</summary>
    public const int OutputCharsMax = 64 * 1024;

    /// <summary>How long to wait for a SIGKILLed program to be reaped; only a process stuck in the kernel (D state) takes longer.</summary>
    private static readonly TimeSpan ReapWaitMax = TimeSpan.FromSeconds(5);

    private const int ReadChunkChars = 4096;

    private static readonly UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>
    /// Runs <paramref name="psi"/> (file, ArgumentList, environment; this method sets the rest), writes
    /// <paramref name="stdin"/> and closes it (no input: EOF at once, never our own stdin), and
    /// collects both outputs until it exits. When <paramref name="ct"/> is cancelled the program and
    /// everything it started are killed and the result is <see cref="ChildOutcome.Killed"/>.
    /// </summary>
    public static async Task<ChildResult> RunAsync(ProcessStartInfo psi, string? stdin, CancellationToken ct)
    {
        string file = psi.FileName;
        if (CannotExecute(file) is { } why)
            return new(ChildOutcome.NotStarted, -1, "", "", why);
        psi.ArgumentList.Insert(0, file);
        psi.FileName = SetsidPath;
        psi.UseShellExecute = false;
        psi.RedirectStandardInput = psi.RedirectStandardOutput = psi.RedirectStandardError = true;
        // A byte-order mark would become part of the first option name an agent reads.
        psi.StandardInputEncoding = Utf8NoBom;
        Process p;
        try
        {
            p = Process.Start(psi) ?? throw new Win32Exception($"cannot start {SetsidPath}");
        }
        catch (Win32Exception e)
        {
            return new(ChildOutcome.NotStarted, -1, "", "", e.Message);
        }
        using (p)
        {
            var stdout = ReadTailAsync(p.StandardOutput, ct);
            var stderr = ReadTailAsync(p.StandardError, ct);
            try
            {
                await WriteInputAsync(p.StandardInput, stdin, ct).ConfigureAwait(false);
                await p.WaitForExitAsync(ct).ConfigureAwait(false);
                return new(ChildOutcome.Exited, p.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false), "");
            }
            catch (OperationCanceledException)
            {
                await KillAsync(p).ConfigureAwait(false);
                return new(ChildOutcome.Killed, -1, "", "", "killed");
            }
        }
    }

    /// <summary>Why <paramref name="file"/> cannot be run, or null; a name without a slash is looked up on PATH as exec does.</summary>
    private static string? CannotExecute(string file)
    {
        if (!file.Contains('/'))
        {
            return (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
                .Any(dir => CannotExecute(Path.Combine(dir, file)) is null) ? null : "not found on PATH";
        }
        if (Directory.Exists(file))
            return "is a directory";
        if (!File.Exists(file))
            return "no such file";
        const UnixFileMode anyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        return (File.GetUnixFileMode(file) & anyExecute) == 0 ? "not executable" : null;
    }

    private static async Task WriteInputAsync(StreamWriter input, string? text, CancellationToken ct)
    {
        // A program that exits or closes stdin before reading it all gives EPIPE here; its exit code tells what happened.
        try
        {
            if (text is not null)
                await input.WriteAsync(text.AsMemory(), ct).ConfigureAwait(false);
        }
        catch (IOException)
        {
        }
        try
        {
            input.Dispose();
        }
        catch (IOException)
        {
        }
    }

    private static async Task<string> ReadTailAsync(StreamReader reader, CancellationToken ct)
    {
        var chunk = new char[ReadChunkChars];
        var tail = new StringBuilder();
        int n;
        while ((n = await reader.ReadAsync(chunk.AsMemory(), ct).ConfigureAwait(false)) > 0)
        {
            tail.Append(chunk, 0, n);
            if (tail.Length > OutputCharsMax)
                tail.Remove(0, tail.Length - OutputCharsMax);
        }
        return tail.ToString();
    }

    private static async Task KillAsync(Process p)
    {
        try
        {
            // First the tree (it stops the program, collects its descendants, kills them all),
            // while children in sessions of their own are still its descendants...
            p.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or Win32Exception or AggregateException)
        {
            // It exited meanwhile, or a descendant did: the group kill below still applies.
        }
        // ...then its process group (setsid made its pid the group id): what double-forked away
        // from the tree earlier. ESRCH when nothing is left.
        _ = Interop.Sys.Kill(-p.Id, Interop.Sys.SIGKILL);
        using var reap = new CancellationTokenSource(ReapWaitMax);
        try
        {
            await p.WaitForExitAsync(reap.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stuck in the kernel; nothing more a signal can do.
        }
    }
}
