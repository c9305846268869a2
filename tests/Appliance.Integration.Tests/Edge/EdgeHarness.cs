using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Appliance.Core.Ports;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Integration.Tests.Edge;

/// <summary>A fact that needs root (network namespaces, setpriv); skipped, saying so, otherwise.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
            Skip = "needs root (network namespaces / changing user); CI runs it as root";
    }
}

/// <summary>Small helpers shared by the edge tests; no allocation in the ones used inside measured loops.</summary>
internal static class Edge
{
    /// <summary>
    /// Runs <paramref name="create"/> on a fresh thread moved into network namespace
    /// <paramref name="name"/> with setns(2); sockets it creates stay in that namespace.
    /// </summary>
    public static T InNamespace<T>(string name, Func<T> create,
        [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(create))] string what = "") where T : class
    {
        T? result = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using Microsoft.Win32.SafeHandles.SafeFileHandle ns = File.OpenHandle($"/var/run/netns/{name}");
                if (Interop.Sys.Setns(ns, Interop.Sys.CLONE_NEWNET) != 0)
                    throw Interop.Sys.CreateIoExceptionForLastError("setns", $"/var/run/netns/{name}");
                result = create();
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        }) { Name = $"netns {name}" };
        thread.Start();
        thread.Join();
        if (failure is not null)
            throw new InvalidOperationException($"in netns {name}: {what}: {failure.Message}", failure);
        return result!;
    }

    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>Waits until <paramref name="fd"/> polls readable (or hung up); false on timeout. Allocation-free.</summary>
    public static bool WaitReadable(int fd, int timeoutMs)
    {
        Span<Interop.Sys.PollFd> fds = stackalloc Interop.Sys.PollFd[1];
        fds[0] = new Interop.Sys.PollFd(fd, Interop.Sys.POLLIN);
        long deadline = Environment.TickCount64 + timeoutMs;
        while (true)
        {
            int remaining = (int)Math.Max(0, deadline - Environment.TickCount64);
            int n = Interop.Sys.Poll(fds, remaining);
            if (n > 0)
                return true;
            if (n == 0)
                return false;
            if (Marshal.GetLastPInvokeError() != Interop.Sys.EINTR)
                throw Interop.Sys.CreateIoExceptionForLastError("poll", $"fd {fd}");
        }
    }

    /// <summary>Drains <paramref name="link"/> until <paramref name="counter"/> reaches <paramref name="target"/>; false on timeout.</summary>
    public static bool PumpUntil(IHeartbeatLink link, CountingReceiver receiver, long target, int timeoutMs = 10_000)
    {
        long deadline = Environment.TickCount64 + timeoutMs;
        while (receiver.Count < target)
        {
            long remaining = deadline - Environment.TickCount64;
            if (remaining <= 0)
                return false;
            if (WaitReadable(link.PollFd, (int)remaining) && !link.Drain(receiver))
                throw new InvalidOperationException($"link {link.Name} lost its device");
        }
        return true;
    }

    /// <summary>Test payload of frame <paramref name="seq"/>: the sequence number then bytes derived from it (0x00 included).</summary>
    public static int MakePayload(uint seq, Span<byte> dest)
    {
        int length = 4 + (int)(seq * 37 % 120);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(dest, seq);
        for (int i = 4; i < length; i++)
            dest[i] = (byte)(seq * 31 + i * 7);
        return length;
    }

    /// <summary>Runs a command, returns stdout; throws with stderr when it fails.</summary>
    public static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        using Process p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {p.ExitCode}: {stderr.Result}");
        return stdout;
    }

    /// <summary>Waits up to 10 s until <paramref name="ifName"/> in namespace <paramref name="ns"/> has carrier (LOWER_UP).</summary>
    public static void WaitLinkUp(string ns, string ifName)
    {
        long deadline = Environment.TickCount64 + 10_000;
        while (!Run("ip", "-n", ns, "link", "show", ifName).Contains("LOWER_UP", StringComparison.Ordinal))
        {
            Assert.True(Environment.TickCount64 < deadline, $"{ifName} in {ns} has no carrier after 10 s");
            Thread.Sleep(20);
        }
    }

    public static string? FindOnPath(string name)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }
}

/// <summary>
/// Checks every frame against <see cref="Edge.MakePayload"/> and counts, without allocating:
/// frames must arrive intact and in order.
/// </summary>
internal sealed class CountingReceiver : IFrameReceiver
{
    private readonly byte[] _expected = new byte[256];
    private uint _next;

    public CountingReceiver(uint first = 0) => _next = first;

    public long Count { get; private set; }
    public long Mismatches { get; private set; }
    public uint Next => _next;

    public void OnFrame(ReadOnlySpan<byte> frame)
    {
        int length = Edge.MakePayload(_next, _expected);
        if (!frame.SequenceEqual(_expected.AsSpan(0, length)))
            Mismatches++;
        _next++;
        Count++;
    }
}

/// <summary>Collects frames as arrays (allocates; for the tests that look at contents).</summary>
internal sealed class ListReceiver : IFrameReceiver
{
    public List<byte[]> Frames { get; } = new();
    public void OnFrame(ReadOnlySpan<byte> frame) => Frames.Add(frame.ToArray());
}

/// <summary>
/// A pty pair opened through our Interop (posix_openpt/grantpt/unlockpt/ptsname_r). The code
/// under test opens <see cref="SlavePath"/>; the test reads and writes the master.
/// </summary>
internal sealed class PtyPair : IDisposable
{
    private PtyPair(SafeFileHandle master, string slavePath)
    {
        Master = master;
        SlavePath = slavePath;
    }

    public SafeFileHandle Master { get; }
    public string SlavePath { get; }

    public static unsafe PtyPair Open()
    {
        int fd = Interop.Sys.PosixOpenpt(Interop.Sys.O_RDWR | Interop.Sys.O_NOCTTY | Interop.Sys.O_CLOEXEC);
        if (fd < 0)
            throw Interop.Sys.CreateIoExceptionForLastError("posix_openpt", "/dev/ptmx");
        var master = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            if (Interop.Sys.Grantpt(master) != 0)
                throw Interop.Sys.CreateIoExceptionForLastError("grantpt", "/dev/ptmx");
            if (Interop.Sys.Unlockpt(master) != 0)
                throw Interop.Sys.CreateIoExceptionForLastError("unlockpt", "/dev/ptmx");
            byte* name = stackalloc byte[128];
            int rc = Interop.Sys.PtsnameR(master, name, 128);
            if (rc != 0)
                throw Interop.Sys.CreateIoException("ptsname_r", "/dev/ptmx", rc);
            return new PtyPair(master, Marshal.PtrToStringUTF8((nint)name)!);
        }
        catch
        {
            master.Dispose();
            throw;
        }
    }

    public unsafe void WriteMaster(ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                nint n = Interop.Sys.Write(Master, p + done, (nuint)(data.Length - done));
                if (n < 0)
                    throw Interop.Sys.CreateIoExceptionForLastError("write", "pty master");
                done += (int)n;
            }
        }
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes from the master, or throws after the timeout.</summary>
    public unsafe byte[] ReadMaster(int count)
    {
        var result = new byte[count];
        int got = 0;
        long deadline = Environment.TickCount64 + (long)Edge.Timeout.TotalMilliseconds;
        fixed (byte* p = result)
        {
            while (got < count)
            {
                int remaining = (int)(deadline - Environment.TickCount64);
                if (remaining <= 0 || !Edge.WaitReadable((int)Master.DangerousGetHandle(), remaining))
                    throw new TimeoutException($"pty master: {got} of {count} bytes");
                nint n = Interop.Sys.Read(Master, p + got, (nuint)(count - got));
                if (n < 0)
                    throw Interop.Sys.CreateIoExceptionForLastError("read", "pty master");
                got += (int)n;
            }
        }
        return result;
    }

    public void Dispose() => Master.Dispose();
}

/// <summary>
/// Two ptys joined by socat like a null-modem cable: /tmp/apl-edge-ID-a and -b. socat is killed
/// by its PID and the links removed on dispose.
/// </summary>
internal sealed class SocatPair : IDisposable
{
    private readonly Process _socat;
    private readonly StringBuilder _log = new();

    private SocatPair(Process socat, string a, string b)
    {
        _socat = socat;
        PathA = a;
        PathB = b;
    }

    public string PathA { get; }
    public string PathB { get; }

    /// <summary>socat's process id (a test cuts the cable with SIGSTOP and mends it with SIGCONT).</summary>
    public int Pid => _socat.Id;

    public static SocatPair Start()
    {
        string socat = Edge.FindOnPath("socat")
            ?? throw new InvalidOperationException("socat not found on PATH (apt-get install socat); the serial link tests need it");
        string id = Guid.NewGuid().ToString("N")[..12];
        string a = $"/tmp/apl-edge-{id}-a", b = $"/tmp/apl-edge-{id}-b";
        var psi = new ProcessStartInfo(socat) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string arg in new[] { "-d", "-d", $"pty,raw,echo=0,link={a}", $"pty,raw,echo=0,link={b}" })
            psi.ArgumentList.Add(arg);
        Process p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start socat");
        var pair = new SocatPair(p, a, b);
        p.ErrorDataReceived += (_, e) => { lock (pair._log) pair._log.AppendLine(e.Data); };
        p.BeginErrorReadLine();
        try
        {
            long deadline = Environment.TickCount64 + 5000;
            while (!(File.Exists(a) && File.Exists(b)))
            {
                if (p.HasExited || Environment.TickCount64 > deadline)
                    throw new InvalidOperationException($"socat did not create {a} and {b}: {pair.Log}");
                Thread.Sleep(10);
            }
            return pair;
        }
        catch
        {
            pair.Dispose();
            throw;
        }
    }

    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    public void Dispose()
    {
        try
        {
            if (!_socat.HasExited)
            {
                _socat.Kill();
                _socat.WaitForExit(5000);
            }
        }
        finally
        {
            _socat.Dispose();
            File.Delete(PathA);
            File.Delete(PathB);
        }
    }
}
