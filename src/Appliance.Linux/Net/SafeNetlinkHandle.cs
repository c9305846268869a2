using System.Runtime.InteropServices;

namespace Appliance.Linux.Net;

/// <summary>
/// Owns a netlink socket fd (rtnetlink, or ctnetlink for the conntrack counts). Created only by <see cref="Open"/>, which binds it; closed exactly
/// once by the runtime, even when the owner forgets. The socket belongs for its whole life to the
/// network namespace of the thread that opened it.
/// </summary>
internal sealed class SafeNetlinkHandle : SafeHandle
{
    /// <summary>The device named in exceptions and outcomes.</summary>
    public const string Device = "rtnetlink";

    /// <summary>The device named for a NETLINK_NETFILTER socket.</summary>
    public const string NetfilterDevice = "ctnetlink";

    private const int InvalidFd = -1;

    private SafeNetlinkHandle(int fd)
        : base((nint)InvalidFd, ownsHandle: true)
    {
        SetHandle(fd);
    }

    public override bool IsInvalid => handle == (nint)InvalidFd;

    /// <summary>The raw fd for poll(2); valid until the handle is disposed.</summary>
    public int Fd => (int)handle;

    /// <summary>
    /// socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE) bound to port id 0 (the kernel
    /// picks a unique one), in the calling thread's network namespace. Asks for extended acks, capped
    /// (the kernel's reason text, not our request echoed back); kernels without them answer plainly.
    /// Throws <see cref="NativeIoException"/>; never leaks the fd.
    /// </summary>
    public static SafeNetlinkHandle Open() => Open(Interop.Netlink.NETLINK_ROUTE, Device);

    /// <summary>The same for another netlink <paramref name="protocol"/> (NETLINK_NETFILTER), named <paramref name="device"/> in errors.</summary>
    public static unsafe SafeNetlinkHandle Open(int protocol, string device)
    {
        int fd = Interop.Netlink.Socket(Interop.Netlink.AF_NETLINK, Interop.Netlink.SOCK_RAW | Interop.Netlink.SOCK_CLOEXEC, protocol);
        if (fd < 0)
            throw Interop.Sys.CreateIoExceptionForLastError("socket", device);
        var handle = new SafeNetlinkHandle(fd);
        try
        {
            int on = 1;
            // Best effort (Linux 4.12+ / 4.3+): without them error acks carry no text and echo the request.
            Interop.Netlink.SetSockOpt(handle, Interop.Netlink.SOL_NETLINK, Interop.Netlink.NETLINK_EXT_ACK, &on, sizeof(int));
            Interop.Netlink.SetSockOpt(handle, Interop.Netlink.SOL_NETLINK, Interop.Netlink.NETLINK_CAP_ACK, &on, sizeof(int));
            var address = new Interop.Netlink.SockaddrNl { nl_family = Interop.Netlink.AF_NETLINK };
            if (Interop.Netlink.Bind(handle, &address, (uint)sizeof(Interop.Netlink.SockaddrNl)) != 0)
                throw Interop.Sys.CreateIoExceptionForLastError("bind", device);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    protected override bool ReleaseHandle() => Interop.Sys.Close((int)handle) == 0;
}
