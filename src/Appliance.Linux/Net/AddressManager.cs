using System.Runtime.InteropServices;
using Appliance.Core.Config;

namespace Appliance.Linux.Net;

/// <summary>What an address operation found or left, with its retry meaning.</summary>
public enum AddressOutcomeKind
{
    /// <summary>The address is on the interface (added now, already there, or found).</summary>
    Present,
    /// <summary>The address is not on the interface (removed now, was not there, or not found).</summary>
    Absent,
    /// <summary>No interface of that name in this network namespace: nothing to retry until one appears.</summary>
    NoInterface,
    /// <summary>The kernel did not answer within <see cref="AddressManager.ReplyTimeout"/>: retry.</summary>
    Timeout,
    /// <summary>The kernel refused (see <see cref="AddressOutcome.Errno"/>: EPERM without CAP_NET_ADMIN, EACCES with IPv6 off, ...) or answered garbage.</summary>
    Error,
}

/// <summary>
/// The outcome of <see cref="AddressManager.Add"/>, <see cref="AddressManager.Remove"/> or
/// <see cref="AddressManager.IsPresent"/>. <paramref name="Changed"/>: this call added or removed
/// the address (false: it was already so). <paramref name="Errno"/>: the kernel's errno, 0 if none.
/// <paramref name="Reason"/> names the address, the interface and the errno.
/// </summary>
public readonly record struct AddressOutcome(AddressOutcomeKind Kind, bool Changed, int Errno, string Reason)
{
    public override string ToString() => Reason;
}

/// <summary>
/// Adds, removes and looks up interface addresses over rtnetlink(7), the way `ip addr` does but
/// without spawning it: one request and its ack, a few tens of microseconds. A driver with
/// primitives only: idempotent (adding a present address and removing an absent one succeed,
/// saying so), every wait bounded by <see cref="ReplyTimeout"/>, every answer matched to its request
/// by sequence number. Works in the network namespace of the thread that called <see cref="Open"/>,
/// whichever thread calls the operations; interfaces are looked up by name over the same socket
/// (RTM_GETLINK), so in that namespace too. Thread-safe: one request at a time.
/// </summary>
public sealed class AddressManager : IDisposable
{
    /// <summary>
    /// How long to wait for the kernel. rtnetlink runs a request inside its send(2) and queues the
    /// answer before it returns; a wait at all means the RTNL lock is held by something stuck.
    /// </summary>
    public static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(1);

    /// <summary>
    /// One datagram: netlink_dump allocates at most 32 KiB per batch (and RTM_NEWLINK without
    /// counters is ~1.2 KiB); iproute2 reads into 32 KiB as well. Larger shows as truncated (MSG_TRUNC).
    /// </summary>
    private const int ReceiveBufferBytes = 32 * 1024;

    private readonly SafeNetlinkHandle _socket;
    private readonly byte[] _request = new byte[RtNetlinkMessages.RequestBytesMax];
    private readonly byte[] _reply = new byte[ReceiveBufferBytes];
    private readonly Lock _gate = new();
    private uint _seq;

    private AddressManager(SafeNetlinkHandle socket) => _socket = socket;

    /// <summary>Opens an rtnetlink socket in the calling thread's network namespace. Throws <see cref="NativeIoException"/>.</summary>
    public static AddressManager Open() => new(SafeNetlinkHandle.Open());

    /// <summary>Puts <paramref name="address"/> on <paramref name="interfaceName"/> (IPv6 without duplicate address detection). Present when done or already there.</summary>
    public AddressOutcome Add(IpPrefix address, string interfaceName)
    {
        string what = $"add {address} to {interfaceName}";
        lock (_gate)
        {
            if (!TryFindInterface(interfaceName, what, out int ifindex, out AddressOutcome failure))
                return failure;
            uint seq = ++_seq;
            Answer answer = Exchange(RtNetlinkMessages.BuildNewAddress(_request, seq, ifindex, address), seq);
            if (answer.Status == Status.Done)
                return new(AddressOutcomeKind.Present, true, 0, $"{address} added to {interfaceName}");
            if (answer.Errno != Interop.Sys.EEXIST)
                return Failure(what, answer);
            // IPv4 says EEXIST only for this very address and prefix, IPv6 for the address with any
            // prefix length: look before calling it ours.
            AddressOutcome now = Find(ifindex, address, interfaceName, what);
            return now.Kind switch
            {
                AddressOutcomeKind.Present => now with { Reason = $"{address} already on {interfaceName}" },
                AddressOutcomeKind.Absent => new(AddressOutcomeKind.Error, false, answer.Errno,
                    $"{what}: {answer.Detail}; {address.Address} is there with another prefix length"),
                _ => now,
            };
        }
    }

    /// <summary>Takes <paramref name="address"/> (address and prefix length) off <paramref name="interfaceName"/>. Absent when done or not there.</summary>
    public AddressOutcome Remove(IpPrefix address, string interfaceName)
    {
        string what = $"remove {address} from {interfaceName}";
        lock (_gate)
        {
            if (!TryFindInterface(interfaceName, what, out int ifindex, out AddressOutcome failure))
                return failure;
            uint seq = ++_seq;
            Answer answer = Exchange(RtNetlinkMessages.BuildDeleteAddress(_request, seq, ifindex, address), seq);
            return answer.Status == Status.Done ? new(AddressOutcomeKind.Absent, true, 0, $"{address} removed from {interfaceName}")
                : answer.Errno == Interop.Sys.EADDRNOTAVAIL ? new(AddressOutcomeKind.Absent, false, 0, $"{address} was not on {interfaceName}")
                : Failure(what, answer);
        }
    }

    /// <summary>Whether <paramref name="address"/> with its prefix length is on <paramref name="interfaceName"/> now: Present or Absent.</summary>
    public AddressOutcome IsPresent(IpPrefix address, string interfaceName)
    {
        string what = $"look for {address} on {interfaceName}";
        lock (_gate)
        {
            return TryFindInterface(interfaceName, what, out int ifindex, out AddressOutcome failure)
                ? Find(ifindex, address, interfaceName, what)
                : failure;
        }
    }

    public void Dispose() => _socket.Dispose();

    public override string ToString() => $"{SafeNetlinkHandle.Device} fd {_socket.Fd}";

    /// <summary>Dumps the addresses of the family and looks for this one; drains the whole dump either way.</summary>
    private AddressOutcome Find(int ifindex, IpPrefix address, string interfaceName, string what)
    {
        bool found = false;
        uint seq = ++_seq;
        Answer answer = Exchange(RtNetlinkMessages.BuildGetAddressDump(_request, seq, address.Address.AddressFamily), seq,
            (in NetlinkMessage m) =>
            {
                found |= m.Type == Interop.Netlink.RTM_NEWADDR
                    && RtNetlinkMessages.TryParseAddress(m.Payload, out AddressEntry entry) && entry.Is(ifindex, address);
                return false;
            });
        if (answer.Status != Status.Done)
            return Failure(what, answer);
        return found
            ? new(AddressOutcomeKind.Present, false, 0, $"{address} on {interfaceName}")
            : new(AddressOutcomeKind.Absent, false, 0, $"{address} not on {interfaceName}");
    }

    /// <summary>The ifindex of <paramref name="interfaceName"/> in the socket's namespace (RTM_GETLINK, as `ip` does).</summary>
    private bool TryFindInterface(string interfaceName, string what, out int ifindex, out AddressOutcome failure)
    {
        int index = 0;
        uint seq = ++_seq;
        Answer answer = Exchange(RtNetlinkMessages.BuildGetLink(_request, seq, interfaceName), seq,
            (in NetlinkMessage m) => m.Type == Interop.Netlink.RTM_NEWLINK && RtNetlinkMessages.TryParseLinkIndex(m.Payload, out index));
        ifindex = index;
        failure = answer.Status == Status.Done && index == 0
            ? new(AddressOutcomeKind.Error, false, 0, $"{what}: no ifindex in the kernel's answer about {interfaceName}")
            : Failure(what, answer);
        return answer.Status == Status.Done && index > 0;
    }

    private static AddressOutcome Failure(string what, Answer answer)
    {
        AddressOutcomeKind kind = answer.Status == Status.Timeout ? AddressOutcomeKind.Timeout
            : answer.Errno == Interop.Sys.ENODEV ? AddressOutcomeKind.NoInterface
            : AddressOutcomeKind.Error;
        string detail = kind == AddressOutcomeKind.NoInterface ? $"no such interface in this network namespace, {answer.Detail}" : answer.Detail;
        return new(kind, false, answer.Errno, $"{what}: {detail}");
    }

    private enum Status { Done, Refused, Timeout, Failed }

    /// <summary>How one exchange ended: Done, Refused with the kernel's errno, Timeout, or Failed (a local error or a malformed answer).</summary>
    private readonly record struct Answer(Status Status, int Errno, string Detail);

    /// <summary>Sees one answer message of ours other than NLMSG_ERROR and NLMSG_DONE; true: the answer is complete.</summary>
    private delegate bool ReplyHandler(in NetlinkMessage message);

    /// <summary>
    /// Sends the request in <c>_request[..length]</c> and reads answers carrying <paramref name="seq"/>
    /// (older ones are late answers to a request that timed out, and skipped) until an NLMSG_ERROR
    /// (ack or error), an NLMSG_DONE, <paramref name="onReply"/> saying done, or the deadline.
    /// </summary>
    private unsafe Answer Exchange(int length, uint seq, ReplyHandler? onReply = null)
    {
        nint sent;
        fixed (byte* request = _request)
            sent = Interop.Netlink.Send(_socket, request, (nuint)length, 0);
        if (sent < 0)
            return Local("send", Marshal.GetLastPInvokeError());

        long deadline = Environment.TickCount64 + (long)ReplyTimeout.TotalMilliseconds;
        Span<Interop.Sys.PollFd> fds = stackalloc Interop.Sys.PollFd[1];
        while (true)
        {
            fds[0] = new Interop.Sys.PollFd(_socket.Fd, Interop.Sys.POLLIN);
            int ready = Interop.Sys.Poll(fds, (int)Math.Max(0, deadline - Environment.TickCount64));
            if (ready == 0)
                return new(Status.Timeout, 0, $"no answer from the kernel in {ReplyTimeout.TotalMilliseconds:0} ms");
            if (ready < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Interop.Sys.EINTR)
                    continue;
                return Local("poll", errno);
            }

            nint received;
            fixed (byte* reply = _reply)
                received = Interop.Netlink.Recv(_socket, reply, (nuint)_reply.Length, Interop.Netlink.MSG_DONTWAIT | Interop.Netlink.MSG_TRUNC);
            if (received < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno is Interop.Sys.EINTR or Interop.Sys.EAGAIN)
                    continue;
                return Local("recv", errno); // ENOBUFS: the kernel dropped answers; ours may be among them
            }
            if (received > _reply.Length)
                return new(Status.Failed, 0, $"an answer of {received} bytes, more than the {_reply.Length} read");

            var reader = new NetlinkReader(_reply.AsSpan(0, (int)received));
            while (reader.TryRead(out NetlinkMessage message))
            {
                if (message.Seq != seq)
                    continue;
                if (message.Type == Interop.Netlink.NLMSG_ERROR)
                {
                    if (!RtNetlinkMessages.TryParseError(message, out int errno, out string? text))
                        return new(Status.Failed, 0, "a malformed NLMSG_ERROR from the kernel");
                    return errno == 0
                        ? new(Status.Done, 0, "")
                        : new(Status.Refused, errno, text is null ? Interop.Sys.DescribeErrno(errno) : $"{Interop.Sys.DescribeErrno(errno)}: {text}");
                }
                if (message.Type == Interop.Netlink.NLMSG_DONE)
                {
                    int errno = RtNetlinkMessages.ParseDone(message.Payload);
                    return errno == 0 ? new(Status.Done, 0, "") : new(Status.Refused, errno, Interop.Sys.DescribeErrno(errno));
                }
                if (onReply?.Invoke(message) == true)
                    return new(Status.Done, 0, "");
            }
            if (reader.Malformed)
                return new(Status.Failed, 0, "a malformed answer from the kernel (a message longer than its datagram)");
        }
    }

    private static Answer Local(string call, int errno) => new(Status.Failed, errno, $"{call} {SafeNetlinkHandle.Device}: {Interop.Sys.DescribeErrno(errno)}");
}
