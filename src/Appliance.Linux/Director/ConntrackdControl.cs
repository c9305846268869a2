using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace Appliance.Linux.Director;

/// <summary>
/// A request to conntrackd over its control socket: the codes of conntrack-tools 1.4 (include/conntrackd.h,
/// the same that `conntrackd -C CONF -c` and friends send, checked with strace against Debian's 1.4.7).
/// </summary>
public enum ConntrackdRequest
{
    /// <summary>`-s`: statistics (text).</summary>
    Stats = 21,

    /// <summary>`-B`: send a bulk update of the internal cache to the peer.</summary>
    SendBulk = 22,

    /// <summary>`-n`: ask the peer for a full resync.</summary>
    RequestResync = 23,

    /// <summary>`-t`: arm the purge timer of the kernel's entries (PurgeTimeout).</summary>
    PurgeTimers = 26,

    /// <summary>`-R`: resync the internal cache with the kernel's tables.</summary>
    ResyncWithKernel = 44,

    /// <summary>`-f`: flush the internal and external caches.</summary>
    FlushCaches = 45,

    /// <summary>`-c`: commit the external caches into the kernel. conntrackd answers when the commit has ended.</summary>
    Commit = 46,
}

/// <summary>
/// conntrackd's control socket spoken directly, instead of starting `conntrackd -C CONF -X` per
/// request: a stream UNIX socket; the client sends the request code (an int, host byte order) and
/// reads the answer until conntrackd closes the connection (a commit's answer comes when the commit is
/// over). No process to start (the takeover path: 20-100 ms for `conntrackd -c` under load here, and
/// a fork of the daemon), and a filesystem socket reaches a conntrackd in another network namespace
/// (the lab's). What `conntrackd` would have exited with is kept: it fails only when it cannot connect.
/// </summary>
public static class ConntrackdControl
{
    /// <summary>Most answer text kept (statistics are a few hundred bytes; a dump is not asked for here).</summary>
    public const int AnswerMax = 64 * 1024;

    /// <summary>Sends <paramref name="request"/> and returns the answer text; throws <see cref="ConntrackdControlException"/> when conntrackd cannot be reached or the exchange breaks.</summary>
    public static async Task<string> RequestAsync(string socketPath, ConntrackdRequest request, CancellationToken ct)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            throw new ConntrackdControlException($"cannot connect to conntrackd at {socketPath} ({e.SocketErrorCode}): is it running?", e);
        }
        var code = new byte[4];
        if (BitConverter.IsLittleEndian)
            BinaryPrimitives.WriteInt32LittleEndian(code, (int)request);
        else
            BinaryPrimitives.WriteInt32BigEndian(code, (int)request);
        var answer = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            await socket.SendAsync(code, SocketFlags.None, ct).ConfigureAwait(false);
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, ct).ConfigureAwait(false);
                if (n == 0)
                    break;
                if (answer.Length < AnswerMax)
                    answer.Write(buffer, 0, (int)Math.Min(n, AnswerMax - answer.Length));
            }
        }
        catch (SocketException e)
        {
            throw new ConntrackdControlException($"conntrackd at {socketPath} broke off the {request} request ({e.SocketErrorCode})", e);
        }
        return Encoding.UTF8.GetString(answer.GetBuffer(), 0, (int)answer.Length);
    }
}

/// <summary>conntrackd could not be reached, or broke off an exchange.</summary>
public sealed class ConntrackdControlException(string message, Exception inner) : IOException(message, inner);
