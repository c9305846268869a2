using System.Diagnostics;
using System.Runtime.InteropServices;
using Appliance.Linux.Gpio;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Integration.Tests.Edge;

/// <summary>A simulated GPIO chip in a unique temporary directory, removed on dispose.</summary>
internal sealed class SimChip : IDisposable
{
    public SimChip(params string[] names)
    {
        Directory = Path.Combine(Path.GetTempPath(), $"apl-gpio-{Guid.NewGuid():N}");
        SimulatedGpioChip.Create(Directory, names);
    }

    public string Directory { get; }

    /// <summary>The chip argument of <see cref="GpioChips.RequestOutput"/>.</summary>
    public string Chip => GpioChips.SimulatedPrefix + Directory;

    public string LevelPath(uint offset) => SimulatedGpioChip.LevelPath(Directory, offset);

    /// <summary>
    /// The level file as an outside reader sees it, through cat(1): .NET's file APIs would take
    /// flock(LOCK_SH) and fail while the line is held. Null when the file does not exist.
    /// </summary>
    public string? Level(uint offset) => File.Exists(LevelPath(offset)) ? Edge.Run("cat", LevelPath(offset)) : null;

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}

/// <summary>
/// Another process holding a line the way the lab does: <c>flock -n -F FILE sleep 30</c> (no fork,
/// so the process we kill by PID is the one holding the lock). Started only once the lock is seen held.
/// </summary>
internal sealed class FlockHolder : IDisposable
{
    private readonly Process _process;

    private FlockHolder(Process process) => _process = process;

    public static FlockHolder Start(string path)
    {
        string flock = Edge.FindOnPath("flock")
            ?? throw new InvalidOperationException("flock not found on PATH (util-linux); the GPIO busy tests need it");
        var psi = new ProcessStartInfo(flock) { RedirectStandardError = true };
        foreach (string a in new[] { "-n", "-F", path, "sleep", "30" })
            psi.ArgumentList.Add(a);
        var holder = new FlockHolder(Process.Start(psi) ?? throw new InvalidOperationException("cannot start flock"));
        try
        {
            long deadline = Environment.TickCount64 + (long)Edge.Timeout.TotalMilliseconds;
            while (!IsLocked(path))
            {
                if (holder._process.HasExited || Environment.TickCount64 > deadline)
                    throw new InvalidOperationException($"flock did not take {path}: {holder._process.StandardError.ReadToEnd()}");
                Thread.Sleep(10);
            }
            return holder;
        }
        catch
        {
            holder.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(5000);
            }
        }
        finally
        {
            _process.Dispose();
        }
    }

    private static bool IsLocked(string path)
    {
        int fd = Interop.Files.Open(path, Interop.Sys.O_RDWR | Interop.Sys.O_CLOEXEC, 0);
        if (fd < 0)
            return false; // not created yet
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (Interop.Files.Flock(handle, Interop.Files.LOCK_EX | Interop.Files.LOCK_NB) == 0)
            return false; // closing the handle drops our lock again
        return Marshal.GetLastPInvokeError() == Interop.Sys.EAGAIN;
    }
}
