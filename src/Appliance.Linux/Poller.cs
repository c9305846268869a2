using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Linux;

/// <summary>
/// poll(2) over a set of file descriptors plus an eventfd that other threads signal to wake the
/// waiter (status requests, shutdown). Reuses its arrays: no allocation per wait.
/// </summary>
public sealed class Poller : IDisposable
{
    private readonly Interop.Sys.PollFd[] _fds;
    private readonly SafeFileHandle _wakeFd;
    private int _count;

    /// <param name="capacity">How many descriptors besides the wake-up eventfd may be added.</param>
    public Poller(int capacity)
    {
        _fds = new Interop.Sys.PollFd[capacity + 1];
        int fd = Interop.Sys.EventFd(0, Interop.Sys.EFD_CLOEXEC | Interop.Sys.EFD_NONBLOCK);
        if (fd < 0)
            throw Interop.Sys.CreateIoExceptionForLastError("eventfd", "poller");
        _wakeFd = new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>Forgets the descriptors of the previous wait.</summary>
    public void Clear() => _count = 0;

    /// <summary>Adds a descriptor to wait on for input; returns its index for <see cref="IsReady"/>.</summary>
    public int Add(int fd)
    {
        if (_count >= _fds.Length - 1)
            throw new InvalidOperationException($"poller holds at most {_fds.Length - 1} descriptors");
        _fds[_count] = new Interop.Sys.PollFd(fd, Interop.Sys.POLLIN);
        return _count++;
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> (0 = just look) for input on any descriptor or a
    /// <see cref="Wake"/>. EINTR counts as a wake-up with nothing ready.
    /// </summary>
    public int Wait(int timeoutMs) => WaitCore(timeoutMs < 0 ? null : TimeSpan.FromMilliseconds(timeoutMs));

    /// <summary>
    /// Like <see cref="Wait(int)"/> with a timeout to the nanosecond (ppoll(2)); null waits forever. The
    /// heartbeat sleeps with this: poll(2)'s whole milliseconds, rounded up, would be half a period of
    /// jitter at a 2 ms keepalive.
    /// </summary>
    public int Wait(TimeSpan? timeout) => WaitCore(timeout);

    private unsafe int WaitCore(TimeSpan? timeout)
    {
        int wakeIndex = _count;
        _fds[wakeIndex] = new Interop.Sys.PollFd((int)_wakeFd.DangerousGetHandle(), Interop.Sys.POLLIN);
        int n;
        Interop.Sys.Timespec ts = default;
        if (timeout is { } t)
        {
            long ticks = Math.Max(0, t.Ticks);
            ts.tv_sec = ticks / TimeSpan.TicksPerSecond;
            ts.tv_nsec = ticks % TimeSpan.TicksPerSecond * TimeSpan.NanosecondsPerTick;
        }
        fixed (Interop.Sys.PollFd* p = _fds)
            n = Interop.Sys.PPoll(p, (nuint)(_count + 1), timeout is null ? null : &ts, null);
        if (n < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Interop.Sys.EINTR)
            {
                for (int i = 0; i <= _count; i++)
                    _fds[i].REvents = 0;
                return 0;
            }
            throw Interop.Sys.CreateIoException("poll", "heartbeat links", errno);
        }
        if (_fds[wakeIndex].REvents != 0)
        {
            unsafe
            {
                ulong value;
                Interop.Sys.EventFdRead(_wakeFd, &value); // resets the counter; EAGAIN is harmless
            }
        }
        return n;
    }

    /// <summary>Input (or hang-up/error, which the reader must see) on descriptor <paramref name="index"/>.</summary>
    public bool IsReady(int index) => _fds[index].REvents != 0;

    /// <summary>Wakes a <see cref="Wait"/> in progress (or the next one). Safe from any thread.</summary>
    public void Wake() => Interop.Sys.EventFdWrite(_wakeFd, 1);

    public void Dispose() => _wakeFd.Dispose();
}
