using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
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
/// the caller's token, never throwing for an operating failure.
/// <para>
/// Environment: an allow-list, not ours. The daemon runs under systemd, and a child that inherited
/// NOTIFY_SOCKET, WATCHDOG_PID/USEC, LISTEN_FDS or INVOCATION_ID could speak for the daemon to
/// systemd (sd_notify READY/WATCHDOG=1 from a script keeps a hung daemon alive), and DOTNET_*
/// settings are the runtime's. A child gets <see cref="DefaultPath"/>, LANG=C, TZ if we have one,
/// the variables its caller set (names starting OCF_ or APPLIANCE_: the OCF RA API, our resource
/// name), and <see cref="RunTokenVariable"/>.
/// </para>
/// <para>
/// Killing at the timeout: the program runs as leader of a new session and process group (through
/// setsid), but a descendant can leave both (setsid, as pexpect's telnet and ssh do) and, once its
/// parent exits, the process tree too. So every run carries a random token in its environment,
/// which descendants inherit through fork and exec whatever their session, group or parent; the
/// kill signals the group, then every process whose /proc/PID/environ holds the token, and repeats
/// until a pass finds none (what forked meanwhile is caught by the next pass). Simpler than a
/// cgroup per child, and unlike PR_SET_CHILD_SUBREAPER it leaves no orphans for the daemon to
/// reap. Only a descendant that clears its environment (env -i) escapes; that is a deliberate act.
/// </para>
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

    /// <summary>PATH of every child: Debian's default for root, whatever ours is.</summary>
    public const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>Names a caller may set on the ProcessStartInfo; everything else inherited is dropped.</summary>
    private static readonly string[] CallerPrefixes = ["OCF_", "APPLIANCE_"];

    /// <summary>Taken from our own environment when set.</summary>
    private static readonly string[] PassedThrough = ["TZ"];

    /// <summary>Marks every process of one run (see the class remarks); a fresh random value per run.</summary>
    public const string RunTokenVariable = "APPLIANCE_CHILD_TOKEN";

    /// <summary>Passes of the token kill: each pass kills what the previous one saw; more than a few means a fork bomb.</summary>
    private const int KillPassesMax = 20;

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
        string token = SetCleanEnvironment(psi);
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
                await KillAsync(p, token).ConfigureAwait(false);
                return new(ChildOutcome.Killed, -1, "", "", "killed");
            }
        }
    }

    /// <summary>Why <paramref name="file"/> cannot be run, or null; a name without a slash is looked up on PATH as exec does.</summary>
    private static string? CannotExecute(string file)
    {
        if (!file.Contains('/'))
        {
            return DefaultPath.Split(':', StringSplitOptions.RemoveEmptyEntries)
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

    /// <summary>Replaces the inherited environment by the allow-list (class remarks); returns the run's token.</summary>
    private static string SetCleanEnvironment(ProcessStartInfo psi)
    {
        var callerSet = psi.Environment
            .Where(kv => kv.Value is not null && CallerPrefixes.Any(prefix => kv.Key.StartsWith(prefix, StringComparison.Ordinal)))
            .ToList();
        psi.Environment.Clear();
        psi.Environment["PATH"] = DefaultPath;
        psi.Environment["LANG"] = "C";
        foreach (string name in PassedThrough)
        {
            if (Environment.GetEnvironmentVariable(name) is { } value)
                psi.Environment[name] = value;
        }
        foreach (var (name, value) in callerSet)
            psi.Environment[name] = value;
        string token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        psi.Environment[RunTokenVariable] = token;
        return token;
    }

    private static async Task KillAsync(Process p, string token)
    {
        // The group first (setsid made the program's pid its id: what double-forked but stayed in
        // it), then by token whatever left group and tree, pass after pass until none is left.
        _ = Interop.Sys.Kill(-p.Id, Interop.Sys.SIGKILL);
        byte[] marker = Encoding.ASCII.GetBytes($"{RunTokenVariable}={token}\0");
        for (int pass = 0; pass < KillPassesMax && KillCarrying(marker) > 0; pass++)
        {
        }
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

    /// <summary>SIGKILLs every process whose environment holds <paramref name="marker"/>; returns how many it signalled.</summary>
    private static int KillCarrying(byte[] marker)
    {
        int self = Environment.ProcessId, killed = 0;
        IEnumerable<string> entries;
        try
        {
            entries = Directory.EnumerateDirectories("/proc");
        }
        catch (IOException)
        {
            return 0;
        }
        foreach (string dir in entries)
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || pid == self)
                continue;
            byte[] environ;
            try
            {
                // Gone, a zombie (empty) or another user's process we may not read (not ours then).
                environ = File.ReadAllBytes(Path.Combine(dir, "environ"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            if (environ.AsSpan().IndexOf(marker) >= 0 && Interop.Sys.Kill(pid, Interop.Sys.SIGKILL) == 0)
                killed++;
        }
        return killed;
    }
}
