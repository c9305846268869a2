using Appliance.Core.Config;
using Appliance.Core.Net;
using Appliance.Linux.Net;

namespace Appliance.Lab;

/// <summary>
/// `appliance-lab garp IFACE ADDRESS [COUNT]`: claims ADDRESS from this interface's MAC with
/// gratuitous ARP (request and reply forms), as a misconfigured box or a node that should not hold
/// the VIP would. The lab uses it to show the standby's duplicate-VIP alarm.
/// </summary>
internal static class RogueClaim
{
    public const string Summary = "claim an IPv4 address with gratuitous ARP from an interface (a rogue holder)";

    /// <summary>Claims sent at most; a test needs a few, not a flood.</summary>
    private const int CountMax = 100;

    public static int Command(string[] args)
    {
        if (args is not [var iface, var text, ..] || args.Length > 3 || !IpAddressType.TryParseStrict(text, out var address) ||
            address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
        {
            Console.Error.WriteLine("usage: appliance-lab garp IFACE IPV4-ADDRESS [COUNT (1-100, default 3)]");
            return 2;
        }
        int count = 3;
        if (args.Length == 3 && (!int.TryParse(args[2], out count) || count is < 1 or > CountMax))
        {
            Console.Error.WriteLine($"appliance-lab garp: COUNT must be 1 to {CountMax}, got '{args[2]}'");
            return 2;
        }
        try
        {
            using var sender = RawFrameSender.Open(iface);
            Span<byte> frame = stackalloc byte[AnnounceFrames.ArpFrameBytes];
            for (int i = 0; i < count; i++)
            {
                foreach (bool reply in new[] { false, true })
                {
                    AnnounceFrames.BuildGratuitousArp(sender.Mac, address, reply, frame);
                    sender.Send(frame);
                }
                Thread.Sleep(50);
            }
            Console.WriteLine($"claimed {address} from {iface} ({MacAddress.Read(sender.Mac)}) {count} times");
            return 0;
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"appliance-lab garp: {e.Message}");
            return 1;
        }
    }
}
