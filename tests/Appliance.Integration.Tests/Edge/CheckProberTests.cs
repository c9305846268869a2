using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Appliance.Core.Config;
using Appliance.Core.Director;
using Appliance.Linux.Director;

namespace Appliance.Integration.Tests.Edge;

/// <summary>The real-server probes on loopback: tcp, http (status, range, body, Host, a trickling server), exec.</summary>
public sealed class CheckProberTests : IDisposable
{
    private readonly CheckProber _prober = new();
    private readonly List<IDisposable> _cleanup = [];

    public void Dispose()
    {
        foreach (var d in Enumerable.Reverse(_cleanup))
            d.Dispose();
        _prober.Dispose();
    }

    private static CheckTarget Target(DirectorCheckKind kind, IPEndPoint address, double timeoutS = 1, string? path = "/health",
        HttpStatusRange? expect = null, string? host = null, string? command = null, string? body = null) =>
        new(0, kind, address, path, expect ?? HttpStatusRange.Single(200), host, command, body, TimeSpan.FromSeconds(timeoutS + 1), TimeSpan.FromSeconds(timeoutS));

    /// <summary>A loopback server whose every connection is handled by <paramref name="handle"/>; the requests it read are kept.</summary>
    private (IPEndPoint Address, List<string> Requests, TcpListener Listener) Serve(Func<Socket, Task> handle)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var stop = new CancellationTokenSource();
        _cleanup.Add(stop);
        _cleanup.Add(new Disposer(() => { stop.Cancel(); listener.Stop(); }));
        var requests = new List<string>();
        _ = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                Socket s;
                try
                {
                    s = await listener.AcceptSocketAsync(stop.Token);
                }
                catch (Exception)
                {
                    return;
                }
                _ = Task.Run(async () =>
                {
                    using (s)
                    {
                        try
                        {
                            var buf = new byte[4096];
                            int n = await s.ReceiveAsync(buf, SocketFlags.None, stop.Token);
                            lock (requests)
                                requests.Add(Encoding.ASCII.GetString(buf, 0, n));
                            await handle(s);
                        }
                        catch (Exception)
                        {
                        }
                    }
                });
            }
        });
        return ((IPEndPoint)listener.LocalEndpoint, requests, listener);
    }

    private sealed class Disposer(Action a) : IDisposable
    {
        public void Dispose() => a();
    }

    private static Func<Socket, Task> Answer(string text) => async s =>
    {
        await s.SendAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None);
        s.Shutdown(SocketShutdown.Both);
    };

    [Fact]
    public async Task Tcp_passes_while_the_listener_is_up_and_fails_when_it_stops()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var address = (IPEndPoint)listener.LocalEndpoint;
        var up = await _prober.ProbeAsync(Target(DirectorCheckKind.Tcp, address), default);
        Assert.Equal(CheckOutcome.Pass("connected"), up);
        listener.Stop();
        var down = await _prober.ProbeAsync(Target(DirectorCheckKind.Tcp, address), default);
        Assert.Equal(CheckVerdict.Fail, down.Verdict);
        Assert.Contains("connection refused", down.Reason);
    }

    [Fact]
    public async Task Tcp_over_ipv6_passes_and_fails_like_ipv4()
    {
        var listener = new TcpListener(IPAddress.IPv6Loopback, 0);
        listener.Start();
        var address = (IPEndPoint)listener.LocalEndpoint;
        Assert.Equal(CheckOutcome.Pass("connected"), await _prober.ProbeAsync(Target(DirectorCheckKind.Tcp, address), default));
        listener.Stop();
        var down = await _prober.ProbeAsync(Target(DirectorCheckKind.Tcp, address), default);
        Assert.Equal(CheckVerdict.Fail, down.Verdict);
        Assert.Contains("connection refused", down.Reason);
    }

    [Fact]
    public async Task Hundreds_of_checks_in_flight_at_once_each_get_their_own_verdict()
    {
        // More sockets in flight than the loop's first poll array (64), finishing in any order:
        // passes, refusals and http answers mixed, each task must carry its own target's verdict.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start(1024);
        var up = (IPEndPoint)listener.LocalEndpoint;
        var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var down = (IPEndPoint)closed.LocalEndpoint;
        closed.Stop();
        var http = Serve(Answer("HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"));
        var probes = new List<(string Kind, Task<CheckOutcome> Outcome)>();
        for (int i = 0; i < 300; i++)
        {
            probes.Add((i % 3) switch
            {
                0 => ("up", _prober.ProbeAsync(Target(DirectorCheckKind.Tcp, up, timeoutS: 5), default)),
                1 => ("down", _prober.ProbeAsync(Target(DirectorCheckKind.Tcp, down, timeoutS: 5), default)),
                _ => ("http", _prober.ProbeAsync(Target(DirectorCheckKind.Http, http.Address, timeoutS: 5), default)),
            });
        }
        await Task.WhenAll(probes.Select(p => p.Outcome));
        listener.Stop();
        foreach (var (kind, outcome) in probes)
        {
            var r = await outcome;
            switch (kind)
            {
                case "up":
                    Assert.Equal(CheckOutcome.Pass("connected"), r);
                    break;
                case "down":
                    Assert.Contains("connection refused", r.Reason);
                    break;
                default:
                    Assert.Equal(CheckOutcome.Fail("HTTP 503, expected 200"), r);
                    break;
            }
        }
    }

    [Fact]
    public async Task Http_checks_the_status_or_a_range_the_body_and_sends_the_host_header()
    {
        var ok = Serve(Answer("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nhealthy"));
        var r = await _prober.ProbeAsync(Target(DirectorCheckKind.Http, ok.Address, host: "www.example.com"), default);
        Assert.Equal(CheckOutcome.Pass("HTTP 200"), r);
        lock (ok.Requests)
        {
            Assert.StartsWith("GET /health HTTP/1.1\r\n", ok.Requests[0]);
            Assert.Contains("\r\nHost: www.example.com\r\n", ok.Requests[0]);
        }
        Assert.Equal(CheckVerdict.Pass, (await _prober.ProbeAsync(Target(DirectorCheckKind.Http, ok.Address, body: "healthy"), default)).Verdict);
        var noBody = await _prober.ProbeAsync(Target(DirectorCheckKind.Http, ok.Address, body: "ready"), default);
        Assert.Equal(CheckVerdict.Fail, noBody.Verdict);
        Assert.Contains("does not contain \"ready\"", noBody.Reason);
        await _prober.ProbeAsync(Target(DirectorCheckKind.Http, ok.Address), default);
        lock (ok.Requests)
            Assert.Contains($"\r\nHost: 127.0.0.1:{ok.Address.Port}\r\n", ok.Requests[^1]); // default: the real server's address

        var error = Serve(Answer("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"));
        Assert.Equal(CheckOutcome.Fail("HTTP 500, expected 200"), await _prober.ProbeAsync(Target(DirectorCheckKind.Http, error.Address), default));

        var noContent = Serve(Answer("HTTP/1.0 204 No Content\r\n\r\n"));
        Assert.Equal(CheckVerdict.Fail, (await _prober.ProbeAsync(Target(DirectorCheckKind.Http, noContent.Address), default)).Verdict);
        Assert.Equal(CheckVerdict.Pass, (await _prober.ProbeAsync(Target(DirectorCheckKind.Http, noContent.Address, expect: new HttpStatusRange(200, 299)), default)).Verdict);

        var garbage = Serve(Answer("SSH-2.0-OpenSSH_9.2\r\n"));
        Assert.Contains("not an HTTP answer", (await _prober.ProbeAsync(Target(DirectorCheckKind.Http, garbage.Address), default)).Reason);
    }

    [Fact]
    public async Task A_server_that_trickles_its_answer_fails_at_the_timeout()
    {
        // keepalived#1822: one byte every 200 ms keeps a per-read timeout happy for ever.
        var trickle = Serve(async s =>
        {
            foreach (byte b in Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
            {
                await s.SendAsync(new[] { b }, SocketFlags.None);
                await Task.Delay(200);
            }
        });
        var watch = Stopwatch.StartNew();
        var r = await _prober.ProbeAsync(Target(DirectorCheckKind.Http, trickle.Address, timeoutS: 1), default);
        watch.Stop();
        Assert.Equal(CheckVerdict.Timeout, r.Verdict);
        Assert.Contains("no answer within 1000ms (waiting for the status line", r.Reason);
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.95), TimeSpan.FromSeconds(1.5)); // margin for a shared 2-core machine; the trickle alone would take 8 s

        // The same with a body to match: the status line arrives, the body never does in time. The
        // timeout is a whole second, as above: with 0.5 s a CI run with the machine loaded once saw
        // the server's first send come after it ("waiting for the status line").
        var trickleBody = Serve(async s =>
        {
            await s.SendAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\n\r\n"), SocketFlags.None);
            for (int i = 0; i < 30; i++)
            {
                await s.SendAsync("x"u8.ToArray(), SocketFlags.None);
                await Task.Delay(200);
            }
        });
        watch.Restart();
        r = await _prober.ProbeAsync(Target(DirectorCheckKind.Http, trickleBody.Address, timeoutS: 1, body: "ready"), default);
        Assert.Equal(CheckVerdict.Timeout, r.Verdict);
        Assert.Contains("no answer within 1000ms (reading the answer", r.Reason);
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.95), TimeSpan.FromSeconds(1.5));
    }

    [Fact]
    public async Task Exec_passes_on_exit_0_sees_the_real_server_and_is_killed_at_the_timeout()
    {
        var rs = new IPEndPoint(IPAddress.Parse("10.77.0.11"), 8080);
        Assert.Equal(CheckOutcome.Pass("exit 0"),
            await _prober.ProbeAsync(Target(DirectorCheckKind.Exec, rs, command: "test \"$REAL_ADDRESS:$REAL_PORT\" = 10.77.0.11:8080"), default));
        Assert.Equal(CheckOutcome.Fail("exit 3 bad"), await _prober.ProbeAsync(Target(DirectorCheckKind.Exec, rs, command: "echo bad >&2; exit 3"), default));
        var watch = Stopwatch.StartNew();
        var slow = await _prober.ProbeAsync(Target(DirectorCheckKind.Exec, rs, timeoutS: 0.3, command: "sleep 10"), default);
        Assert.Equal(CheckVerdict.Timeout, slow.Verdict);
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.25), TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task Exec_checks_run_at_most_the_bound_at_once()
    {
        using var one = new CheckProber(execConcurrency: 1);
        var rs = new IPEndPoint(IPAddress.Parse("10.77.0.11"), 8080);
        var first = one.ProbeAsync(Target(DirectorCheckKind.Exec, rs, timeoutS: 3, command: "sleep 1.5"), default);
        Assert.Equal(1, one.ExecRunning); // taken before ProbeAsync returned
        var second = await one.ProbeAsync(Target(DirectorCheckKind.Exec, rs, timeoutS: 0.2, command: "true"), default);
        Assert.Equal(CheckVerdict.Timeout, second.Verdict);
        Assert.Contains("waiting for an exec slot (1 of 1 running)", second.Reason);
        Assert.Equal(CheckVerdict.Pass, (await first).Verdict);
    }

    [Fact]
    public async Task Shutdown_cancels_a_probe_instead_of_reporting_it()
    {
        var silent = Serve(_ => Task.Delay(5000));
        using var stop = new CancellationTokenSource(100);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _prober.ProbeAsync(Target(DirectorCheckKind.Http, silent.Address, timeoutS: 2), stop.Token));
    }
}
