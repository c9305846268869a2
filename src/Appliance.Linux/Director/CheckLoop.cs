using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Appliance.Core.Config;
using Appliance.Core.Director;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Linux.Director;

/// <summary>
/// The tcp and http checks of every <see cref="CheckProber"/> in the process, on one thread that
/// polls all their sockets (issue 9 part 3: "all asynchronous on sockets, no thread per check").
/// Measured with 1000 tcp targets at 1 s, the managed Socket.ConnectAsync path cost ~10% of a core,
/// most of it context switches: each connect completed on the runtime's socket thread, hopped to a
/// pool worker, and the workers spun in sched_yield between checks; a linked CancellationTokenSource
/// and a timer per check added the timer thread. Here a check is a non-blocking socket(2) and
/// connect(2) on this thread, poll(2) tells when it connected (or its answer arrived), and the
/// outcome completes the check's task on this thread: a batch of checks costs one wake-up.
/// <list type="bullet">
/// <item>The timeout is a hard deadline on the whole exchange (connect to verdict), checked on every
/// wake-up, before any data is looked at: a trickling server fails at the timeout (keepalived#1822).
/// The deadline is the server's, not this loop's (<see cref="HeldProcess"/>): a turn that comes back
/// from poll(2) more than <see cref="HeldProcess.Slack"/> after it meant to was held, so a check whose
/// deadline passed meanwhile gets the hold again from now, once, and what arrived meanwhile counts.
/// Deadlines are rounded up to <see cref="DeadlineGranularity"/> so that many checks timing out at
/// spread instants (unreachable servers) cost one wake-up per step, not one each.</item>
/// <item>File descriptors never leave this thread: opened, polled and closed (with a reset,
/// SO_LINGER 0, as HAProxy closes checks: no TIME_WAIT per check) only here, in one place each, so
/// they are plain ints rather than a SafeHandle each.</item>
/// <item>Continuations of <see cref="Start"/>'s task run on this thread (no pool hop): they must be
/// short and never block (the daemon's records the outcome under a lock and returns).</item>
/// </list>
/// </summary>
internal sealed class CheckLoop
{
    /// <summary>
    /// Timeouts fire on this grid (up to this much after the deadline). 5 ms: 1000 unreachable servers
    /// at 1 s give at most 200 wake-ups a second for their timeouts; a check's reported timeout is still exact.
    /// </summary>
    public static readonly TimeSpan DeadlineGranularity = TimeSpan.FromMilliseconds(5);

    /// <summary>Most bytes of an http answer read, as <see cref="CheckProber.HttpAnswerBytesMax"/>; without a body to match, only the status line matters.</summary>
    private const int HttpStatusBytesMax = 1024;

    /// <summary>The one loop of the process, started on first use (a background thread: it never holds the process up).</summary>
    public static CheckLoop Shared => SharedLoop.Value;

    private static readonly Lazy<CheckLoop> SharedLoop = new(() => new CheckLoop(), LazyThreadSafetyMode.ExecutionAndPublication);

    private enum Stage { Connecting, Sending, Receiving }

    /// <summary>One check in flight. Owned by the loop thread once queued.</summary>
    private sealed class Op
    {
        public required CheckTarget Target;
        public required long Deadline;          // Stopwatch timestamp
        public bool GivenBack;                  // the deadline was moved once for a held loop
        public required CancellationToken Ct;
        public readonly TaskCompletionSource<CheckOutcome> Done = new(TaskCreationOptions.None); // continuations inline, on the loop thread
        public int Fd = -1;
        public int Index = -1;                  // in _inFlight
        public Stage Stage;
        public int Sent;
        public byte[]? Buffer;
        public int Limit;
        public int Length;
        public int Status = -1;
        public int HeadersEnd = -1;
        public CancellationTokenRegistration Registration;
    }

    /// <summary>What every check of one target sends and looks for, built once per target (CheckTarget is immutable).</summary>
    private sealed class HttpParts(byte[] request, byte[]? body)
    {
        public byte[] Request { get; } = request;
        public byte[]? Body { get; } = body;
    }

    /// <summary>A <see cref="DelayAsync"/> waiting; completed on the loop thread.</summary>
    private sealed class Sleeper
    {
        public required long Due;                // Stopwatch timestamp
        public required CancellationToken Ct;
        public readonly TaskCompletionSource Done = new(TaskCreationOptions.None); // continuations inline, on the loop thread
        public CancellationTokenRegistration Registration;
    }

    private readonly ConcurrentQueue<Sleeper> _newSleepers = new();
    private readonly List<Sleeper> _sleepers = [];
    private readonly ConcurrentQueue<Op> _incoming = new();
    private readonly List<Op> _inFlight = [];
    private readonly ConditionalWeakTable<CheckTarget, HttpParts> _http = [];
    private readonly SafeFileHandle _wake;
    private int _wakePending;
    private Interop.Sys.PollFd[] _fds = new Interop.Sys.PollFd[64];
    private readonly long _granularityTicks = Ticks(DeadlineGranularity);
    private readonly long _heldSlackTicks = Ticks(HeldProcess.Slack);
    /// <summary>Tests: runs right after poll(2) returns, with the checks in flight (a hold of the loop there is a held daemon).</summary>
    private readonly Action<int>? _afterPoll;

    /// <summary>A loop of its own, for tests (<paramref name="afterPoll"/>; its thread lives as long as the process); the daemon's is <see cref="Shared"/>.</summary>
    internal CheckLoop(Action<int>? afterPoll = null)
    {
        _afterPoll = afterPoll;
        int fd = Interop.Sys.EventFd(0, Interop.Sys.EFD_CLOEXEC | Interop.Sys.EFD_NONBLOCK);
        if (fd < 0)
            throw Interop.Sys.CreateIoExceptionForLastError("eventfd", "director check loop");
        _wake = new SafeFileHandle(fd, ownsHandle: true);
        var thread = new Thread(Run) { IsBackground = true, Name = "director-checks" };
        thread.UnsafeStart();
    }

    /// <summary>Checks in flight now (for tests and the benchmark).</summary>
    public int InFlight => Volatile.Read(ref _inFlightCount);

    private int _inFlightCount;

    /// <summary>
    /// Starts one tcp or http check of <paramref name="target"/>, due to end within its timeout.
    /// <paramref name="ct"/> (the daemon's shutdown) cancels the task instead of completing it.
    /// </summary>
    public Task<CheckOutcome> Start(CheckTarget target, CancellationToken ct)
    {
        if (target.Kind is not (DirectorCheckKind.Tcp or DirectorCheckKind.Http))
            throw new ArgumentException($"the check loop runs tcp and http checks, not {target.Kind}", nameof(target));
        if (ct.IsCancellationRequested)
            return Task.FromCanceled<CheckOutcome>(ct);
        var op = new Op
        {
            Target = target,
            Deadline = Stopwatch.GetTimestamp() + Ticks(target.Timeout),
            Ct = ct,
        };
        if (ct.CanBeCanceled)
            op.Registration = ct.UnsafeRegister(static s => ((CheckLoop)s!).Wake(), this);
        Interlocked.Increment(ref _inFlightCount);
        _incoming.Enqueue(op);
        Wake();
        return op.Done.Task;
    }

    /// <summary>
    /// Completes after <paramref name="delay"/> on the loop thread, its continuation inline there:
    /// the daemon's check schedule sleeps here, so the probes it starts when it wakes are opened in
    /// the same turn of the loop, with no timer thread and no pool thread involved (measured: the
    /// pool's wake-ups and spinning cost as much as the checks' own syscalls). Cancelling
    /// <paramref name="ct"/> cancels the task (also on the loop thread).
    /// </summary>
    public Task DelayAsync(TimeSpan delay, CancellationToken ct)
    {
        if (ct.IsCancellationRequested)
            return Task.FromCanceled(ct);
        var s = new Sleeper
        {
            Due = delay == Timeout.InfiniteTimeSpan ? long.MaxValue : Stopwatch.GetTimestamp() + Ticks(delay),
            Ct = ct,
        };
        if (ct.CanBeCanceled)
            s.Registration = ct.UnsafeRegister(static o => ((CheckLoop)o!).Wake(), this);
        _newSleepers.Enqueue(s);
        Wake();
        return s.Done.Task;
    }

    /// <summary>Wakes the loop; one eventfd write per batch of submissions (the loop clears the flag before it drains the queue).</summary>
    private void Wake()
    {
        if (Interlocked.Exchange(ref _wakePending, 1) == 0)
            _ = Interop.Sys.EventFdWrite(_wake, 1);
    }

    private void Run()
    {
        while (true)
        {
            try
            {
                Turn();
            }
            catch (Exception e)
            {
                // A bug here must neither stop every check nor take the daemon down (this is a thread
                // of its own: an exception leaving it ends the process): fail what is in flight, with
                // no bookkeeping that could throw again, and go on.
                var reason = CheckOutcome.Fail($"check loop error: {e.GetType().Name}: {e.Message}");
                var all = _inFlight.ToArray();
                _inFlight.Clear();
                foreach (var op in all)
                {
                    if (op.Fd >= 0)
                        _ = Interop.Stream.Close(op.Fd);
                    op.Fd = -1;
                    op.Index = -1;
                    op.Buffer = null; // not returned to the pool: its state is unknown
                    op.Registration.Dispose();
                    Interlocked.Decrement(ref _inFlightCount);
                    op.Done.TrySetResult(reason);
                }
            }
        }
    }

    private void Turn()
    {
        // Wait for readiness, a submission or the earliest deadline.
        int n = _inFlight.Count + 1;
        if (_fds.Length < n)
            Array.Resize(ref _fds, Math.Max(n, _fds.Length * 2));
        _fds[0] = new Interop.Sys.PollFd((int)_wake.DangerousGetHandle(), Interop.Sys.POLLIN); // owned for the process's life
        long earliest = long.MaxValue;
        for (int i = 0; i < _inFlight.Count; i++)
        {
            var op = _inFlight[i];
            _fds[i + 1] = new Interop.Sys.PollFd(op.Fd, op.Stage == Stage.Receiving ? Interop.Sys.POLLIN : Interop.Sys.POLLOUT);
            if (op.Deadline < earliest)
                earliest = op.Deadline;
        }
        long before = Stopwatch.GetTimestamp();
        long waitTicks = long.MaxValue;
        if (earliest != long.MaxValue)
        {
            long wait = earliest - before;
            waitTicks = wait <= 0 ? 0 : (wait + _granularityTicks - 1) / _granularityTicks * _granularityTicks;
        }
        foreach (var sl in _sleepers)
            waitTicks = Math.Min(waitTicks, Math.Max(0, sl.Due - before)); // a sleeper is not rounded to the deadline grid
        int timeoutMs = waitTicks == long.MaxValue ? -1
            : (int)Math.Min(int.MaxValue, (waitTicks * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency);
        int ready = Interop.Sys.Poll(_fds.AsSpan(0, n), timeoutMs);
        if (ready < 0 && Marshal.GetLastPInvokeError() != Interop.Stream.EINTR)
            throw Interop.Sys.CreateIoExceptionForLastError("poll", "director check sockets");
        _afterPoll?.Invoke(_inFlight.Count);

        long now = Stopwatch.GetTimestamp();
        // How long after it meant to look this turn came back: more than the slack is a held loop.
        long held = waitTicks == long.MaxValue ? 0 : now - (before + waitTicks);
        // Deadlines and shutdown first: a check past its deadline times out whatever just arrived,
        // unless the deadline passed while the loop was held (the first time): then what arrived counts.
        // Walk the polled entries backwards: Finish swap-removes from _inFlight, and an entry moved
        // into slot i came from a higher slot already visited, so no op is seen twice.
        int polled = n - 1;
        for (int i = polled - 1; i >= 0; i--)
        {
            var op = _inFlight[i];
            short revents = ready > 0 ? _fds[i + 1].REvents : (short)0;
            if (!op.Ct.IsCancellationRequested && now >= op.Deadline && held > _heldSlackTicks && !op.GivenBack)
            {
                op.GivenBack = true;
                op.Deadline = now + Math.Min(held, Ticks(op.Target.Timeout));
            }
            if (op.Ct.IsCancellationRequested)
                Cancel(op);
            else if (now >= op.Deadline)
                Finish(op, CheckOutcome.TimedOut($"no answer within {Ms(op.Target.Timeout)} ({StageText(op)})"));
            else if (revents != 0)
                Advance(op);
        }

        if (ready > 0 && (_fds[0].REvents & Interop.Sys.POLLIN) != 0)
            DrainWake();
        Volatile.Write(ref _wakePending, 0);
        while (_newSleepers.TryDequeue(out var sl))
            _sleepers.Add(sl);
        // Sleepers due (or cancelled) run now: what they start is opened just below, in this turn.
        for (int i = _sleepers.Count - 1; i >= 0; i--)
        {
            var sl = _sleepers[i];
            if (sl.Ct.IsCancellationRequested || now >= sl.Due)
            {
                _sleepers.RemoveAt(i);
                sl.Registration.Dispose();
                if (sl.Ct.IsCancellationRequested)
                    sl.Done.TrySetCanceled(sl.Ct);
                else
                    sl.Done.TrySetResult();
            }
        }
        // Checks submitted since the last turn: open and connect them now (most connects on a local
        // network complete on the next poll).
        while (_incoming.TryDequeue(out var fresh))
        {
            if (fresh.Ct.IsCancellationRequested)
            {
                Cancel(fresh);
                continue;
            }
            fresh.Index = _inFlight.Count;
            _inFlight.Add(fresh);
            Open(fresh);
        }
    }

    private unsafe void DrainWake()
    {
        ulong value;
        _ = Interop.Sys.EventFdRead(_wake, &value);
    }

    private unsafe void Open(Op op)
    {
        var address = op.Target.Address;
        bool v6 = address.AddressFamily == AddressFamily.InterNetworkV6;
        int fd = Interop.Stream.Socket(v6 ? Interop.Stream.AF_INET6 : Interop.Stream.AF_INET,
            Interop.Stream.SOCK_STREAM | Interop.Stream.SOCK_NONBLOCK | Interop.Stream.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            Finish(op, CheckOutcome.Fail($"cannot open a socket: {Interop.Sys.DescribeErrno(Marshal.GetLastPInvokeError())}"));
            return;
        }
        op.Fd = fd;
        var linger = new Interop.Stream.Linger { l_onoff = 1, l_linger = 0 };
        _ = Interop.Stream.SetSockOpt(fd, Interop.Stream.SOL_SOCKET, Interop.Stream.SO_LINGER, &linger, (uint)sizeof(Interop.Stream.Linger));

        byte* sa = stackalloc byte[Interop.Stream.SockaddrIn6Size];
        new Span<byte>(sa, Interop.Stream.SockaddrIn6Size).Clear();
        uint length;
        if (v6)
        {
            *(ushort*)sa = Interop.Stream.AF_INET6;
            BinaryPrimitives.WriteUInt16BigEndian(new Span<byte>(sa + Interop.Stream.Sin6PortOffset, 2), (ushort)address.Port);
            address.Address.TryWriteBytes(new Span<byte>(sa + Interop.Stream.Sin6AddrOffset, 16), out _);
            *(uint*)(sa + Interop.Stream.Sin6ScopeIdOffset) = (uint)address.Address.ScopeId;
            length = Interop.Stream.SockaddrIn6Size;
        }
        else
        {
            *(ushort*)sa = Interop.Stream.AF_INET;
            BinaryPrimitives.WriteUInt16BigEndian(new Span<byte>(sa + Interop.Stream.SinPortOffset, 2), (ushort)address.Port);
            address.Address.TryWriteBytes(new Span<byte>(sa + Interop.Stream.SinAddrOffset, 4), out _);
            length = Interop.Stream.SockaddrIn4Size;
        }
        if (Interop.Stream.Connect(fd, sa, length) == 0)
        {
            Connected(op);
            return;
        }
        int errno = Marshal.GetLastPInvokeError();
        if (errno is Interop.Stream.EINPROGRESS or Interop.Stream.EINTR)
            return; // poll says when: POLLOUT, then SO_ERROR
        Finish(op, CheckOutcome.Fail($"connecting: {Describe(errno)}"));
    }

    private unsafe void Advance(Op op)
    {
        switch (op.Stage)
        {
            case Stage.Connecting:
                int error = 0;
                uint size = sizeof(int);
                if (Interop.Stream.GetSockOpt(op.Fd, Interop.Stream.SOL_SOCKET, Interop.Stream.SO_ERROR, &error, &size) != 0)
                    error = Marshal.GetLastPInvokeError();
                if (error == Interop.Stream.EINPROGRESS)
                    return; // not yet (a spurious wake-up)
                if (error != 0)
                {
                    Finish(op, CheckOutcome.Fail($"connecting: {Describe(error)}"));
                    return;
                }
                Connected(op);
                return;
            case Stage.Sending:
                Send(op);
                return;
            default:
                Receive(op);
                return;
        }
    }

    private void Connected(Op op)
    {
        if (ConnectedToItself(op.Fd, op.Target.Address))
        {
            Finish(op, CheckOutcome.Fail($"connecting: {Describe(Interop.Stream.ECONNREFUSED)} ({ToItself})"));
            return;
        }
        if (op.Target.Kind == DirectorCheckKind.Tcp)
        {
            Finish(op, CheckOutcome.Pass("connected"));
            return;
        }
        op.Stage = Stage.Sending;
        Send(op);
    }

    /// <summary>What a socket that connected to itself (<see cref="ConnectedToItself"/>) means.</summary>
    internal const string ToItself = "the socket connected to itself: nothing listens on the port";

    /// <summary>
    /// Whether the socket connected to itself. TCP's simultaneous open lets a connect to a local port
    /// that nothing listens on succeed when the kernel picks that very port as the source: a port in
    /// the ephemeral range whose server has just gone (a listener's port would be in use, never
    /// picked). Nothing listens there, so it is a refusal, not a pass (Go's dialer checks the same).
    /// </summary>
    internal static unsafe bool ConnectedToItself(int fd, IPEndPoint target)
    {
        byte* sa = stackalloc byte[Interop.Stream.SockaddrIn6Size];
        uint length = Interop.Stream.SockaddrIn6Size;
        if (Interop.Stream.GetSockName(fd, sa, &length) != 0)
            return false;
        bool v6 = target.AddressFamily == AddressFamily.InterNetworkV6;
        var local = new ReadOnlySpan<byte>(sa, (int)length);
        if (local.Length < (v6 ? Interop.Stream.SockaddrIn6Size : Interop.Stream.SockaddrIn4Size)
            || BinaryPrimitives.ReadUInt16BigEndian(local.Slice(v6 ? Interop.Stream.Sin6PortOffset : Interop.Stream.SinPortOffset, 2)) != target.Port)
            return false;
        Span<byte> address = stackalloc byte[16];
        target.Address.TryWriteBytes(address, out int n);
        return local.Slice(v6 ? Interop.Stream.Sin6AddrOffset : Interop.Stream.SinAddrOffset, n).SequenceEqual(address[..n]);
    }

    private unsafe void Send(Op op)
    {
        byte[] request = PartsOf(op.Target).Request;
        while (op.Sent < request.Length)
        {
            nint n;
            fixed (byte* p = &request[op.Sent])
                n = Interop.Stream.Send(op.Fd, p, (nuint)(request.Length - op.Sent), Interop.Stream.MSG_NOSIGNAL);
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno is Interop.Stream.EAGAIN or Interop.Stream.EINTR)
                    return; // POLLOUT again
                Finish(op, CheckOutcome.Fail($"sending the request: {Describe(errno)}"));
                return;
            }
            op.Sent += (int)n;
        }
        op.Stage = Stage.Receiving;
        op.Limit = op.Target.Body is null ? HttpStatusBytesMax : CheckProber.HttpAnswerBytesMax;
        op.Buffer = ArrayPool<byte>.Shared.Rent(op.Limit);
        Receive(op); // the answer may be there already
    }

    private unsafe void Receive(Op op)
    {
        var t = op.Target;
        while (true)
        {
            if (op.Length == op.Limit)
            {
                Finish(op, op.Status < 0 ? CheckOutcome.Fail($"no status line in the first {op.Length} bytes")
                    : CheckOutcome.Fail($"HTTP {op.Status}, but the first {op.Length} bytes do not contain \"{t.Body}\""));
                return;
            }
            nint n;
            fixed (byte* p = &op.Buffer![op.Length])
                n = Interop.Stream.Recv(op.Fd, p, (nuint)(op.Limit - op.Length), 0);
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno is Interop.Stream.EAGAIN or Interop.Stream.EINTR)
                    return; // POLLIN again
                Finish(op, CheckOutcome.Fail($"{StageText(op)}: {Describe(errno)}"));
                return;
            }
            bool eof = n == 0;
            op.Length += (int)n;
            if (Judge(op, eof) is { } outcome)
            {
                Finish(op, outcome);
                return;
            }
            if (eof)
                return; // unreachable: Judge decides at the end of the stream
        }
    }

    /// <summary>The verdict on the answer so far, or null to read on (the rules of the former stream reader, unchanged).</summary>
    private CheckOutcome? Judge(Op op, bool eof)
    {
        var t = op.Target;
        var data = op.Buffer.AsSpan(0, op.Length);
        byte[]? body = PartsOf(t).Body;
        if (op.Status < 0)
        {
            int eol = data.IndexOf("\r\n"u8);
            if (eol < 0)
                return eof ? CheckOutcome.Fail(op.Length == 0 ? "closed without an answer" : "closed before the end of the status line") : null;
            if (CheckProber.ParseStatus(data[..eol]) is not int code)
                return CheckOutcome.Fail($"not an HTTP answer: \"{CheckProber.Printable(data[..Math.Min(eol, 60)])}\"");
            op.Status = code;
            if (!t.Expect.Contains(code))
                return CheckOutcome.Fail($"HTTP {code}, expected {t.Expect}");
            if (body is null)
                return CheckOutcome.Pass($"HTTP {code}");
        }
        if (op.HeadersEnd < 0 && data.IndexOf("\r\n\r\n"u8) is int h and >= 0)
            op.HeadersEnd = h + 4;
        if (op.HeadersEnd >= 0 && data[op.HeadersEnd..].IndexOf(body!) >= 0)
            return CheckOutcome.Pass($"HTTP {op.Status}, body has \"{t.Body}\"");
        if (eof)
            return CheckOutcome.Fail($"HTTP {op.Status}, but the body does not contain \"{t.Body}\"");
        return null;
    }

    private HttpParts PartsOf(CheckTarget t) => _http.GetValue(t, static t =>
    {
        string host = t.Host ?? (t.Address.Port == 80 ? HostOf(t.Address.Address) : $"{HostOf(t.Address.Address)}:{t.Address.Port}");
        byte[] request = Encoding.ASCII.GetBytes(
            $"GET {t.Path ?? "/"} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: applianced-check\r\nAccept: */*\r\nConnection: close\r\n\r\n");
        return new HttpParts(request, t.Body is null ? null : Encoding.UTF8.GetBytes(t.Body));
    });

    private static string HostOf(IPAddress a) => a.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{a}]" : a.ToString();

    /// <summary>Where a check got to, for the reason of a timeout or an error.</summary>
    private static string StageText(Op op) => op.Stage switch
    {
        Stage.Connecting => "connecting",
        Stage.Sending => "sending the request",
        _ => op.Status < 0 ? $"waiting for the status line ({op.Length} bytes read)" : $"reading the answer ({op.Length} bytes read)",
    };

    private void Finish(Op op, CheckOutcome outcome)
    {
        Release(op);
        op.Done.TrySetResult(outcome);
    }

    private void Cancel(Op op)
    {
        Release(op);
        op.Done.TrySetCanceled(op.Ct);
    }

    /// <summary>Closes the op's socket (a reset if connected) and forgets it; the one place a check's fd is closed.</summary>
    private void Release(Op op)
    {
        if (op.Fd >= 0)
        {
            _ = Interop.Stream.Close(op.Fd);
            op.Fd = -1;
        }
        if (op.Buffer is { } b)
        {
            op.Buffer = null;
            ArrayPool<byte>.Shared.Return(b);
        }
        op.Registration.Dispose();
        if (op.Index >= 0)
        {
            var last = _inFlight[^1];
            _inFlight[op.Index] = last;
            last.Index = op.Index;
            _inFlight.RemoveAt(_inFlight.Count - 1);
            op.Index = -1;
        }
        Interlocked.Decrement(ref _inFlightCount);
    }

    internal static string Describe(int errno) => errno switch
    {
        Interop.Stream.ECONNREFUSED => "connection refused",
        Interop.Stream.ECONNRESET => "connection reset",
        Interop.Stream.EHOSTUNREACH => "host unreachable",
        Interop.Stream.ENETUNREACH => "network unreachable",
        _ => Interop.Sys.DescribeErrno(errno),
    };

    /// <summary>A span as <see cref="Stopwatch"/> ticks, the loop's unit of time.</summary>
    private static long Ticks(TimeSpan t) => (long)(t.TotalSeconds * Stopwatch.Frequency);

    private static string Ms(TimeSpan t) => $"{t.TotalMilliseconds:0}ms";
}
