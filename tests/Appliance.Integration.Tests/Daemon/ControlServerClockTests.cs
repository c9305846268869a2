using System.Net.Sockets;
using System.Text;
using Appliance.Daemon;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Appliance.Integration.Tests.Daemon;

/// <summary>The control socket's per-connection deadline runs on the daemon's clock (a fake one here).</summary>
public sealed class ControlServerClockTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("apl-ctlclock-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task A_silent_client_is_answered_when_the_clock_passes_the_request_deadline_not_before()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(Random.Shared.Next(1, 20_000)));
        string path = Path.Combine(_dir, "control.sock");
        await using var server = new ControlServer(path, (_, _) => Task.FromResult(ControlServer.Ok("fine")), NullLogger.Instance,
            TimeSpan.FromSeconds(2), time);
        server.Start();
        using var silent = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 10_000 };
        silent.Connect(new UnixDomainSocketEndPoint(path));
        var buffer = new byte[4096];
        var read = silent.ReceiveAsync(buffer, SocketFlags.None);
        await Task.Delay(300); // real time passes; the fake clock does not
        Assert.False(read.IsCompleted, "the deadline fired on real time");
        time.Advance(TimeSpan.FromSeconds(3));
        int n = await read.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("no request line within 2 s", Encoding.UTF8.GetString(buffer, 0, n));
    }
}
