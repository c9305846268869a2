using System.Net.Sockets;
using Appliance.Core.Config;
using Appliance.Core.Net;
using Appliance.Core.Ports;
using Appliance.Linux.Net;

namespace Appliance.Linux.Resources;

/// <summary>
/// The virtual IP: added to its interface over rtnetlink (<see cref="AddressManager"/>), then
/// announced: gratuitous ARP as request and reply (IPv4) or an unsolicited neighbour
/// advertisement (IPv6), as raw frames, at once and then on the configured
/// <see cref="Core.Net.GarpSchedule"/>, so switches and neighbours that missed the first burst learn the new MAC.
/// </summary>
/// <remarks>
/// The packet socket that sends the announcements is opened at the first start and kept for the
/// resource's life (reopened when a send fails, e.g. the interface was recreated). Closing a packet
/// socket waits for a network RCU grace period (packet_release calls synchronize_net): 8–16 ms
/// measured here, which, paid inside every start, was most of a planned switchover's gap.
/// </remarks>
public sealed class VipResource(VipResourceConfig config) : IResource
{
    private readonly string _sysClassNet = EthernetInterface.SysClassNet;
    private readonly Lock _senderLock = new();
    private RawFrameSender? _sender;
    private CancellationTokenSource? _repeats;

    /// <summary>As the daemon's, but reading the interface's attributes under <paramref name="sysClassNet"/> (tests in another namespace).</summary>
    internal VipResource(VipResourceConfig config, string sysClassNet) : this(config) => _sysClassNet = sysClassNet;

    public string Name => config.Name;
    public string Kind => "vip";

    public Task<ResourceOutcome> StartAsync(CancellationToken ct)
    {
        AddressOutcome add = Addresses(a => a.Add(config.Address, config.Interface));
        if (add.Kind != AddressOutcomeKind.Present)
            return Task.FromResult(ResourceOutcome.Failed(add.Reason));
        string announce;
        try
        {
            int sent = Announce();
            announce = $"{config.Address} on {config.Interface}, announced ({sent} frames)";
        }
        catch (Exception e) when (e is IOException or SocketException or UnauthorizedAccessException)
        {
            // The address is up; only the announcement failed. Neighbours learn it when their cache expires.
            announce = $"{config.Address} on {config.Interface}; announcement FAILED: {e.Message}";
        }
        _repeats?.Cancel();
        _repeats = new CancellationTokenSource();
        _ = RepeatAnnouncements(_repeats.Token);
        return Task.FromResult(ResourceOutcome.Done(announce));
    }

    public Task<ResourceOutcome> StopAsync(CancellationToken ct)
    {
        _repeats?.Cancel();
        AddressOutcome del = Addresses(a => a.Remove(config.Address, config.Interface));
        return Task.FromResult(del.Kind switch
        {
            AddressOutcomeKind.Absent when del.Changed => ResourceOutcome.Done(),
            // Gone already, or its interface is: either way no address of ours is left to remove.
            AddressOutcomeKind.Absent or AddressOutcomeKind.NoInterface => ResourceOutcome.Done("was not present"),
            _ => ResourceOutcome.Failed(del.Reason),
        });
    }

    public TimeSpan MonitorInterval => config.MonitorInterval;

    /// <summary>The address is still on the interface (someone's `ip addr del` is a failure).</summary>
    public Task<ResourceOutcome> MonitorAsync(CancellationToken ct)
    {
        AddressOutcome now = Addresses(a => a.IsPresent(config.Address, config.Interface));
        return Task.FromResult(now.Kind switch
        {
            AddressOutcomeKind.Present => ResourceOutcome.Done($"{config.Address} on {config.Interface}"),
            AddressOutcomeKind.Absent => ResourceOutcome.Failed($"{config.Address} is no longer on {config.Interface}"),
            _ => ResourceOutcome.Failed(now.Reason),
        });
    }

    /// <summary>
    /// Runs one address operation on a socket of its own, opened in the calling thread's network
    /// namespace as `ip` would be (a few microseconds; nothing stays open between switchovers).
    /// </summary>
    private static AddressOutcome Addresses(Func<AddressManager, AddressOutcome> operation)
    {
        try
        {
            using AddressManager addresses = AddressManager.Open();
            return operation(addresses);
        }
        catch (NativeIoException e)
        {
            return new AddressOutcome(AddressOutcomeKind.Error, false, e.Errno, e.Message);
        }
    }

    /// <summary>
    /// Sends one announcement burst on the kept socket. When nothing went out, the socket may be
    /// bound to an interface that is gone: it is replaced (the old one closed in the background, so
    /// the grace period is not paid here) and the burst sent once more.
    /// </summary>
    private int Announce()
    {
        lock (_senderLock)
        {
            _sender ??= RawFrameSender.Open(config.Interface, _sysClassNet);
            int sent = Announce(_sender);
            if (sent > 0)
                return sent;
            var stale = _sender;
            _sender = null;
            _ = Task.Run(stale.Dispose);
            _sender = RawFrameSender.Open(config.Interface, _sysClassNet);
            return Announce(_sender);
        }
    }

    private int Announce(RawFrameSender sender)
    {
        Span<byte> frame = stackalloc byte[128];
        int sent = 0;
        if (config.Address.Address.AddressFamily == AddressFamily.InterNetwork)
        {
            foreach (bool reply in new[] { false, true })
            {
                int n = AnnounceFrames.BuildGratuitousArp(sender.Mac, config.Address.Address, reply, frame);
                sent += sender.Send(frame[..n]) ? 1 : 0;
            }
        }
        else
        {
            int n = AnnounceFrames.BuildUnsolicitedNeighborAdvertisement(sender.Mac, config.Address.Address, frame);
            sent += sender.Send(frame[..n]) ? 1 : 0;
        }
        return sent;
    }

    private async Task RepeatAnnouncements(CancellationToken ct)
    {
        try
        {
            for (int sent = 1; config.Garp.DelayBefore(sent) is { } delay; sent++)
            {
                await Task.Delay(delay, ct).ConfigureAwait(false);
                Announce();
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException)
        {
            // stopped, or the interface went away: the next start announces again
        }
    }
}
