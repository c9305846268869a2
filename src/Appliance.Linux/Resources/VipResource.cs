using System.Diagnostics;
using System.Net.Sockets;
using Appliance.Core.Config;
using Appliance.Core.Net;
using Appliance.Core.Ports;
using Appliance.Linux.Net;

namespace Appliance.Linux.Resources;

/// <summary>
/// The virtual IP: added to its interface with iproute2's `ip` (rtnetlink directly is later work),
/// then announced: gratuitous ARP as request and reply (IPv4) or an unsolicited neighbour
/// advertisement (IPv6), as raw frames, at once and then on the configured
/// <see cref="Core.Net.GarpSchedule"/>, so switches and neighbours that missed the first burst learn the new MAC.
/// </summary>
public sealed class VipResource(VipResourceConfig config) : IResource
{
    private CancellationTokenSource? _repeats;

    public string Name => config.Name;
    public string Kind => "vip";

    public async Task<ResourceOutcome> StartAsync(CancellationToken ct)
    {
        bool v6 = config.Address.Address.AddressFamily == AddressFamily.InterNetworkV6;
        // nodad: an IPv6 VIP must answer at once, not after duplicate address detection.
        var add = v6
            ? await Ip(ct, "-6", "addr", "add", config.Address.ToString(), "dev", config.Interface, "nodad").ConfigureAwait(false)
            : await Ip(ct, "-4", "addr", "add", config.Address.ToString(), "dev", config.Interface).ConfigureAwait(false);
        if (!add.Ok && !await IsPresent(ct).ConfigureAwait(false))
            return add;
        string announce;
        try
        {
            using var sender = RawFrameSender.Open(config.Interface);
            int sent = Announce(sender);
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
        return ResourceOutcome.Done(announce);
    }

    public async Task<ResourceOutcome> StopAsync(CancellationToken ct)
    {
        _repeats?.Cancel();
        var del = await Ip(ct, "addr", "del", config.Address.ToString(), "dev", config.Interface).ConfigureAwait(false);
        // ip's wording for "not there" differs between versions; what counts is that it is gone.
        if (!del.Ok && !await IsPresent(ct).ConfigureAwait(false))
            return ResourceOutcome.Done("was not present");
        return del;
    }

    public TimeSpan MonitorInterval => config.MonitorInterval;

    /// <summary>The address is still on the interface (someone's `ip addr del` is a failure).</summary>
    public async Task<ResourceOutcome> MonitorAsync(CancellationToken ct) => await IsPresent(ct).ConfigureAwait(false)
        ? ResourceOutcome.Done($"{config.Address} on {config.Interface}")
        : ResourceOutcome.Failed($"{config.Address} is no longer on {config.Interface}");

    /// <summary>Whether the interface carries the VIP now (`ip -o addr show dev IF`).</summary>
    private async Task<bool> IsPresent(CancellationToken ct)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-o", "addr", "show", "dev", config.Interface })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new IOException("cannot run ip");
        string text = await p.StandardOutput.ReadToEndAsync(ct).ConfigureAwait(false);
        await p.WaitForExitAsync(ct).ConfigureAwait(false);
        return text.Contains($" {config.Address} ", StringComparison.Ordinal);
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
                using var sender = RawFrameSender.Open(config.Interface);
                Announce(sender);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException)
        {
            // stopped, or the interface went away: the next start announces again
        }
    }

    /// <summary>Runs `ip ARGS`; a non-zero exit is a failed outcome carrying ip's own message.</summary>
    private static async Task<ResourceOutcome> Ip(CancellationToken ct, params string[] args)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new IOException("cannot run ip");
        var stderr = p.StandardError.ReadToEndAsync(ct);
        await p.StandardOutput.ReadToEndAsync(ct).ConfigureAwait(false);
        await p.WaitForExitAsync(ct).ConfigureAwait(false);
        string err = (await stderr.ConfigureAwait(false)).Trim();
        return p.ExitCode == 0 ? ResourceOutcome.Done() : ResourceOutcome.Failed($"ip {string.Join(' ', args)}: {err}");
    }
}
