using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Appliance.Core.Config;
using Appliance.Core.Director;
using Appliance.Linux.Director;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// The director's check loop held past a deadline (a held daemon: a GC pause, its CPU taken): an
/// answer that arrived meanwhile counts, and a server that never answers still times out, given the
/// hold back only once. Each test runs a loop of its own that sleeps right after one poll(2) when armed.
/// </summary>
public sealed class CheckLoopHeldTests : IDisposable
{
    private static readonly TimeSpan Hold = TimeSpan.FromMilliseconds(500);
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private int _answers;

    public CheckLoopHeldTests() => _listener.Start();

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
    }

    /// <summary>Accepts connections; answers each with 200 at once when <paramref name="answer"/>, else keeps it open and silent.</summary>
    private IPEndPoint Serve(bool answer)
    {
        _ = Task.Run(async () =>
        {
            var open = new List<Socket>();
            try
            {
                while (true)
                {
                    var s = await _listener.AcceptSocketAsync(_stop.Token);
                    open.Add(s);
                    if (answer) // at once, unasked: it waits in the socket while the loop is held, whenever the hold comes
                    {
                        await s.SendAsync(Encoding.ASCII.GetBytes("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"), SocketFlags.None, _stop.Token);
                        Interlocked.Increment(ref _answers);
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
            finally
            {
                foreach (var s in open)
                    s.Dispose();
            }
        });
        return (IPEndPoint)_listener.LocalEndpoint;
    }

    private static CheckTarget Http(IPEndPoint address, TimeSpan timeout) =>
        new(0, DirectorCheckKind.Http, address, "/health", HttpStatusRange.Single(200), null, null, null, timeout + TimeSpan.FromSeconds(1), timeout);

    /// <summary>
    /// Once armed, holds the loop after the first poll(2) that returns with a check in flight: for
    /// <see cref="Hold"/>, and on until <paramref name="until"/> (the server's answer is in the socket).
    /// </summary>
    private sealed class Holder(Func<bool>? until = null)
    {
        private int _armed;
        public int Holds;

        public void Arm() => Volatile.Write(ref _armed, 1);

        public void AfterPoll(int inFlight)
        {
            if (inFlight > 0 && Interlocked.Exchange(ref _armed, 0) == 1)
            {
                Thread.Sleep(Hold);
                if (until is not null)
                    SpinWait.SpinUntil(until, TimeSpan.FromSeconds(10));
                Interlocked.Increment(ref Holds);
            }
        }
    }

    [Fact]
    public async Task An_answer_that_came_while_the_loop_was_held_past_the_deadline_counts()
    {
        var holder = new Holder(until: () => Volatile.Read(ref _answers) == 2);
        var loop = new CheckLoop(holder.AfterPoll);
        var server = Serve(answer: true);
        var warm = await loop.Start(Http(server, TimeSpan.FromSeconds(5)), default).WaitAsync(TimeSpan.FromSeconds(10)); // the server's path warm
        Assert.True(warm.Verdict == CheckVerdict.Pass, warm.Reason);

        holder.Arm();
        var outcome = await loop.Start(Http(server, TimeSpan.FromMilliseconds(200)), default).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(1, holder.Holds);
        Assert.True(outcome.Verdict == CheckVerdict.Pass, outcome.Reason);
    }

    [Fact]
    public async Task A_server_that_never_answers_still_times_out_after_the_hold_is_given_back()
    {
        var timeout = TimeSpan.FromMilliseconds(100);
        var holder = new Holder();
        holder.Arm();
        var clock = Stopwatch.StartNew();
        var outcome = await new CheckLoop(holder.AfterPoll).Start(Http(Serve(answer: false), timeout), default).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, holder.Holds);
        Assert.Equal(CheckVerdict.Timeout, outcome.Verdict);
        Assert.Contains("no answer within 100ms", outcome.Reason);
        Assert.True(clock.Elapsed >= Hold + timeout - TimeSpan.FromMilliseconds(20), $"timed out after {clock.Elapsed.TotalMilliseconds:0} ms: the hold was not given back");
    }
}
