using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// We have no C shim, so the numbers in src/Appliance.Linux/Interop are pinned here: native/termios_abi.c
/// and native/packet_abi.c are compiled with gcc against the installed kernel uapi and libc headers,
/// and every constant of Interop.Sys and Interop.Packet and the layout of termios2, pollfd,
/// sock_filter and sock_fprog must match what they print.
/// </summary>
public sealed class InteropAbiTests
{
    private static readonly Lazy<Dictionary<string, ulong>> Native = new(() => NativeAbi.CompileAndRun("termios_abi.c"));
    private static readonly Lazy<Dictionary<string, ulong>> Packet = new(() => NativeAbi.CompileAndRun("packet_abi.c"));
    private static readonly Lazy<Dictionary<string, ulong>> Stream = new(() => NativeAbi.CompileAndRun("stream_abi.c"));

    [Fact]
    public void Every_interop_constant_matches_the_kernel_headers()
    {
        List<string> problems = NativeAbi.ConstantMismatches(Native.Value, "termios_abi.c", typeof(Interop.Sys));
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void Every_packet_socket_constant_matches_the_kernel_headers()
    {
        List<string> problems = NativeAbi.ConstantMismatches(Packet.Value, "packet_abi.c", typeof(Interop.Packet));
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void Every_check_socket_constant_and_linger_matches_the_headers()
    {
        List<string> problems = NativeAbi.ConstantMismatches(Stream.Value, "stream_abi.c", typeof(Interop.Stream));
        problems.AddRange(NativeAbi.StructMismatches<Interop.Stream.Linger>(Stream.Value, "stream_abi.c", "linger"));
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void Socket_filter_layout_matches_the_kernel()
    {
        Dictionary<string, ulong> native = Packet.Value;
        Assert.Equal(native["sizeof.sock_filter"], (ulong)Unsafe.SizeOf<Interop.Packet.SockFilter>());
        Assert.Equal(native["offsetof.sock_filter.code"], (ulong)Marshal.OffsetOf<Interop.Packet.SockFilter>(nameof(Interop.Packet.SockFilter.Code)));
        Assert.Equal(native["offsetof.sock_filter.jt"], (ulong)Marshal.OffsetOf<Interop.Packet.SockFilter>(nameof(Interop.Packet.SockFilter.Jt)));
        Assert.Equal(native["offsetof.sock_filter.jf"], (ulong)Marshal.OffsetOf<Interop.Packet.SockFilter>(nameof(Interop.Packet.SockFilter.Jf)));
        Assert.Equal(native["offsetof.sock_filter.k"], (ulong)Marshal.OffsetOf<Interop.Packet.SockFilter>(nameof(Interop.Packet.SockFilter.K)));
        Assert.Equal(native["sizeof.sock_fprog"], (ulong)Unsafe.SizeOf<Interop.Packet.SockFprog>());
        Assert.Equal(native["offsetof.sock_fprog.len"], (ulong)Marshal.OffsetOf<Interop.Packet.SockFprog>(nameof(Interop.Packet.SockFprog.Len)));
        Assert.Equal(native["offsetof.sock_fprog.filter"], (ulong)Marshal.OffsetOf<Interop.Packet.SockFprog>(nameof(Interop.Packet.SockFprog.Filter)));
    }

    [Fact]
    public void Termios2_layout_matches_the_kernel()
    {
        Dictionary<string, ulong> native = Native.Value;
        Assert.Equal(native["sizeof.termios2"], (ulong)Unsafe.SizeOf<Interop.Sys.Termios2>());
        Assert.Equal(native["sizeof.termios2"], (ulong)Marshal.SizeOf<Interop.Sys.Termios2>());
        foreach (string field in new[] { "c_iflag", "c_oflag", "c_cflag", "c_lflag", "c_line", "c_cc", "c_ispeed", "c_ospeed" })
            Assert.True(native[$"offsetof.termios2.{field}"] == (ulong)Marshal.OffsetOf<Interop.Sys.Termios2>(field),
                $"termios2.{field}: C# offset {Marshal.OffsetOf<Interop.Sys.Termios2>(field)}, kernel {native[$"offsetof.termios2.{field}"]}");
    }

    [Fact]
    public void SchedParam_layout_matches_libc()
    {
        Assert.Equal(Native.Value["sizeof.sched_param"], (ulong)Unsafe.SizeOf<Interop.Sys.SchedParam>());
    }

    [Fact]
    public void PollFd_layout_matches_libc()
    {
        Dictionary<string, ulong> native = Native.Value;
        Assert.Equal(native["sizeof.pollfd"], (ulong)Unsafe.SizeOf<Interop.Sys.PollFd>());
        Assert.Equal(native["offsetof.pollfd.fd"], (ulong)Marshal.OffsetOf<Interop.Sys.PollFd>(nameof(Interop.Sys.PollFd.Fd)));
        Assert.Equal(native["offsetof.pollfd.events"], (ulong)Marshal.OffsetOf<Interop.Sys.PollFd>(nameof(Interop.Sys.PollFd.Events)));
        Assert.Equal(native["offsetof.pollfd.revents"], (ulong)Marshal.OffsetOf<Interop.Sys.PollFd>(nameof(Interop.Sys.PollFd.REvents)));
    }

    [Fact]
    public void Timespec_layout_matches_libc()
    {
        List<string> problems = NativeAbi.StructMismatches<Interop.Sys.Timespec>(Native.Value, "termios_abi.c", "timespec");
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public unsafe void Ppoll_times_out_to_the_sub_millisecond_and_sees_an_eventfd()
    {
        int fd = Interop.Sys.EventFd(0, Interop.Sys.EFD_CLOEXEC | Interop.Sys.EFD_NONBLOCK);
        Assert.True(fd >= 0, $"eventfd: errno {Marshal.GetLastPInvokeError()}");
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        var pfd = new Interop.Sys.PollFd(fd, Interop.Sys.POLLIN);
        var timeout = new Interop.Sys.Timespec { tv_sec = 0, tv_nsec = 300_000 };
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        Assert.Equal(0, Interop.Sys.PPoll(&pfd, 1, &timeout, null));
        // Never early (the kernel's promise); how late depends on the machine, so no upper bound here.
        Assert.True(System.Diagnostics.Stopwatch.GetElapsedTime(start) >= TimeSpan.FromMicroseconds(300));
        Assert.Equal(0, Interop.Sys.EventFdWrite(handle, 1));
        timeout.tv_sec = 5;
        Assert.Equal(1, Interop.Sys.PPoll(&pfd, 1, &timeout, null));
        Assert.Equal(Interop.Sys.POLLIN, pfd.REvents);
    }

    [Fact]
    public void Native_entry_points_are_declared_only_in_Interop()
    {
        Assembly linux = typeof(Interop).Assembly;
        var outside = linux.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Where(m => (m.Attributes & MethodAttributes.PinvokeImpl) != 0)
            .Where(m => !IsInsideInterop(m.DeclaringType))
            .Select(m => $"{m.DeclaringType!.FullName}.{m.Name}")
            .ToList();
        Assert.True(outside.Count == 0, "native entry points outside Interop/: " + string.Join(", ", outside));

        static bool IsInsideInterop(Type? t)
        {
            for (; t is not null; t = t.DeclaringType)
                if (t == typeof(Interop))
                    return true;
            return false;
        }
    }

    [Fact]
    public unsafe void Eventfd_wakes_poll_and_reads_back_the_count()
    {
        int fd = Interop.Sys.EventFd(0, Interop.Sys.EFD_CLOEXEC | Interop.Sys.EFD_NONBLOCK);
        Assert.True(fd >= 0, $"eventfd: errno {Marshal.GetLastPInvokeError()}");
        using var handle = new SafeFileHandle(fd, ownsHandle: true);

        Span<Interop.Sys.PollFd> fds = stackalloc Interop.Sys.PollFd[2];
        fds[0] = new Interop.Sys.PollFd(fd, Interop.Sys.POLLIN);
        fds[1] = new Interop.Sys.PollFd(-1, Interop.Sys.POLLIN); // a closed link: ignored by the kernel
        Assert.Equal(0, Interop.Sys.Poll(fds, 0));

        Assert.Equal(0, Interop.Sys.EventFdWrite(handle, 2));
        Assert.Equal(0, Interop.Sys.EventFdWrite(handle, 3));
        Assert.Equal(1, Interop.Sys.Poll(fds, 1000));
        Assert.Equal(Interop.Sys.POLLIN, fds[0].REvents);
        Assert.Equal(0, fds[1].REvents);

        ulong value;
        Assert.Equal(0, Interop.Sys.EventFdRead(handle, &value));
        Assert.Equal(5ul, value);
        Assert.Equal(-1, Interop.Sys.EventFdRead(handle, &value));
        Assert.Equal(Interop.Sys.EAGAIN, Marshal.GetLastPInvokeError());
        Assert.Equal(0, Interop.Sys.Poll(fds, 0));
    }
}
