using System.Runtime.InteropServices;
using Appliance.Linux.Net;

namespace Appliance.Linux.Director;

/// <summary>How a count ended, with its retry meaning.</summary>
public enum ConntrackOutcomeKind
{
    /// <summary>The whole dump was read: the tallies are complete.</summary>
    Done,
    /// <summary>The kernel did not send the next part within <see cref="ConntrackCounter.ReplyTimeout"/>: try at the next sample.</summary>
    Timeout,
    /// <summary>The kernel refused (EPERM without CAP_NET_ADMIN, ...) or answered garbage; the tallies are partial: discard them.</summary>
    Error,
}

/// <summary>The outcome of <see cref="ConntrackCounter.Count"/>: <paramref name="Entries"/> entries read; <paramref name="Reason"/> says what went wrong, "" when nothing did.</summary>
public readonly record struct ConntrackOutcome(ConntrackOutcomeKind Kind, int Errno, long Entries, string Reason)
{
    public override string ToString() => Kind == ConntrackOutcomeKind.Done ? $"{Entries} entries" : Reason;
}

/// <summary>Entries of one mark group: <paramref name="Entries"/> all of them, <paramref name="Open"/> those still open (<see cref="ConntrackMessages.TryParseEntry"/>).</summary>
public readonly record struct ConntrackTally(long Entries, long Open);

/// <summary>
/// Counts conntrack entries by ct mark over ctnetlink, the way `conntrack -L -m MARK/MASK` lists them
/// but without a process or text: one dump, the kernel filtering by mark, each entry read for its
/// mark and TCP state only. A driver with one primitive; what to count and how often is the
/// caller's. Works in the network namespace of the thread that called <see cref="Open"/>. One dump at
/// a time (thread-safe); every wait for the next part is bounded by <see cref="ReplyTimeout"/>.
/// </summary>
public sealed class ConntrackCounter : IDisposable
{
    /// <summary>
    /// Longest wait for the next part of a dump. The kernel fills each part as the previous one is
    /// read, a few microseconds per entry; a wait at all means something holds the table.
    /// </summary>
    public static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(1);

    /// <summary>
    /// One datagram: netlink_dump sizes a part to what recvmsg asked for, capped at 32 KiB
    /// (max_recvmsg_len), about 100 entries. Larger shows as truncated (MSG_TRUNC).
    /// </summary>
    private const int ReceiveBufferBytes = 32 * 1024;

    private readonly SafeNetlinkHandle _socket;
    private readonly byte[] _request = new byte[ConntrackMessages.RequestBytesMax];
    private readonly byte[] _reply = new byte[ReceiveBufferBytes];
    private readonly Lock _gate = new();
    private uint _seq;

    private ConntrackCounter(SafeNetlinkHandle socket) => _socket = socket;

    /// <summary>Opens a NETLINK_NETFILTER socket in the calling thread's network namespace. Throws <see cref="NativeIoException"/>.</summary>
    public static ConntrackCounter Open() => new(SafeNetlinkHandle.Open(Interop.Ctnetlink.NETLINK_NETFILTER, SafeNetlinkHandle.NetfilterDevice));

    /// <summary>
    /// Dumps the entries whose <c>mark &amp; <paramref name="mask"/> == <paramref name="mark"/></c>
    /// (mask 0: every entry) and adds each to <c>tallies[entryMark &amp; <paramref name="groupMask"/>]</c>.
    /// On anything but Done the tallies hold part of the table: the caller discards them.
    /// </summary>
    public ConntrackOutcome Count(uint mark, uint mask, uint groupMask, IDictionary<uint, ConntrackTally> tallies)
    {
        lock (_gate)
        {
            uint seq = ++_seq;
            int length = ConntrackMessages.BuildDump(_request, seq, mark, mask);
            nint sent;
            unsafe
            {
                fixed (byte* request = _request)
                    sent = Interop.Netlink.Send(_socket, request, (nuint)length, 0);
            }
            if (sent < 0)
                return Local("send", Marshal.GetLastPInvokeError(), 0);

            long entries = 0;
            Span<Interop.Sys.PollFd> fds = stackalloc Interop.Sys.PollFd[1];
            while (true)
            {
                fds[0] = new Interop.Sys.PollFd(_socket.Fd, Interop.Sys.POLLIN);
                int ready = Interop.Sys.Poll(fds, (int)ReplyTimeout.TotalMilliseconds);
                if (ready == 0)
                    return new(ConntrackOutcomeKind.Timeout, 0, entries, $"conntrack dump: no answer from the kernel in {ReplyTimeout.TotalMilliseconds:0} ms after {entries} entries");
                if (ready < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Interop.Sys.EINTR)
                        continue;
                    return Local("poll", errno, entries);
                }
                nint received = Receive();
                if (received < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno is Interop.Sys.EINTR or Interop.Sys.EAGAIN)
                        continue;
                    return Local("recv", errno, entries);
                }
                if (received > _reply.Length)
                    return new(ConntrackOutcomeKind.Error, 0, entries, $"conntrack dump: a part of {received} bytes, more than the {_reply.Length} read");

                var reader = new NetlinkReader(_reply.AsSpan(0, (int)received));
                while (reader.TryRead(out NetlinkMessage message))
                {
                    if (message.Seq != seq)
                        continue; // the rest of a dump that timed out earlier
                    if (message.Type == Interop.Netlink.NLMSG_DONE)
                    {
                        int errno = RtNetlinkMessages.ParseDone(message.Payload);
                        return errno == 0 ? new(ConntrackOutcomeKind.Done, 0, entries, "")
                            : new(ConntrackOutcomeKind.Error, errno, entries, $"conntrack dump: {Interop.Sys.DescribeErrno(errno)}");
                    }
                    if (message.Type == Interop.Netlink.NLMSG_ERROR)
                    {
                        if (!RtNetlinkMessages.TryParseError(message, out int errno, out string? text))
                            return new(ConntrackOutcomeKind.Error, 0, entries, "conntrack dump: a malformed NLMSG_ERROR from the kernel");
                        // A dump ends with NLMSG_DONE; an error instead is a refusal (an ack of 0 would be odd, but is not one).
                        if (errno == 0)
                            continue;
                        string why = text is null ? Interop.Sys.DescribeErrno(errno) : $"{Interop.Sys.DescribeErrno(errno)}: {text}";
                        return new(ConntrackOutcomeKind.Error, errno, entries, $"conntrack dump: {why}");
                    }
                    if (message.Type != ConntrackMessages.EntryType)
                        continue;
                    if (!ConntrackMessages.TryParseEntry(message.Payload, out uint entryMark, out bool open))
                        return new(ConntrackOutcomeKind.Error, 0, entries, "conntrack dump: a malformed entry from the kernel");
                    entries++;
                    uint key = entryMark & groupMask;
                    var t = tallies.TryGetValue(key, out var found) ? found : default;
                    tallies[key] = new ConntrackTally(t.Entries + 1, t.Open + (open ? 1 : 0));
                }
                if (reader.Malformed)
                    return new(ConntrackOutcomeKind.Error, 0, entries, "conntrack dump: a malformed answer from the kernel (a message longer than its datagram)");
            }
        }
    }

    private unsafe nint Receive()
    {
        fixed (byte* reply = _reply)
            return Interop.Netlink.Recv(_socket, reply, (nuint)_reply.Length, Interop.Netlink.MSG_DONTWAIT | Interop.Netlink.MSG_TRUNC);
    }

    public void Dispose() => _socket.Dispose();

    public override string ToString() => $"{SafeNetlinkHandle.NetfilterDevice} fd {_socket.Fd}";

    private static ConntrackOutcome Local(string call, int errno, long entries) =>
        new(ConntrackOutcomeKind.Error, errno, entries, $"{call} {SafeNetlinkHandle.NetfilterDevice}: {Interop.Sys.DescribeErrno(errno)}");
}
