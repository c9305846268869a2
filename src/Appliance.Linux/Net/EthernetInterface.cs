using System.Globalization;
using Appliance.Core.Net;

namespace Appliance.Linux.Net;

/// <summary>
/// What the packet(7) adapters (<see cref="RawFrameSender"/>, <see cref="ArpListener"/>) need to know
/// of an Ethernet interface before they bind to it: its ifindex and MAC, read from /sys/class/net.
/// </summary>
internal sealed record EthernetInterface(string Name, int Index, MacAddress Mac)
{
    /// <summary>Interface names are at most IFNAMSIZ - 1 = 15 bytes. &lt;linux/if.h&gt;</summary>
    public const int NameBytesMax = 15;

    public const string SysClassNet = "/sys/class/net";

    /// <summary>
    /// Reads ifindex, type and MAC of <paramref name="interfaceName"/> under <paramref name="sysClassNet"/>.
    /// Throws <see cref="NativeIoException"/> (ENOENT) naming the interface when it does not exist;
    /// <see cref="IOException"/> naming it when it is not Ethernet or sysfs holds nonsense;
    /// <see cref="ArgumentException"/> for a name no interface can have.
    /// </summary>
    /// <remarks>
    /// /sys shows the network namespace it was mounted in, not the calling thread's: a caller that
    /// setns(2)'d a thread into another namespace passes that namespace's sysfs.
    /// </remarks>
    public static EthernetInterface Read(string interfaceName, string sysClassNet = SysClassNet)
    {
        ValidateName(interfaceName);
        string dir = Path.Combine(sysClassNet, interfaceName);

        int type = ReadInt(interfaceName, Path.Combine(dir, "type"));
        if (type != Interop.Packet.ARPHRD_ETHER)
            throw new IOException($"{interfaceName}: not an Ethernet interface (hardware type {type} in {dir}/type, want {Interop.Packet.ARPHRD_ETHER})");
        int ifindex = ReadInt(interfaceName, Path.Combine(dir, "ifindex"));
        if (ifindex <= 0)
            throw new IOException($"{interfaceName}: bad ifindex {ifindex} in {dir}/ifindex");
        string macPath = Path.Combine(dir, "address");
        string macText = ReadLine(interfaceName, macPath);
        if (!MacAddress.TryParse(macText, out MacAddress mac))
            throw new IOException($"{interfaceName}: not a MAC-48 address in {macPath}: '{macText}'");
        return new EthernetInterface(interfaceName, ifindex, mac);
    }

    private static void ValidateName(string interfaceName)
    {
        ArgumentException.ThrowIfNullOrEmpty(interfaceName);
        if (interfaceName.Length > NameBytesMax || interfaceName is "." or ".."
            || interfaceName.AsSpan().IndexOfAny('/', ':') >= 0 || interfaceName.AsSpan().IndexOfAny(" \t\n\0") >= 0)
            throw new ArgumentException($"not an interface name: '{interfaceName}'", nameof(interfaceName));
    }

    private static int ReadInt(string interfaceName, string path)
    {
        string text = ReadLine(interfaceName, path);
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value))
            throw new IOException($"{interfaceName}: not a number in {path}: '{text}'");
        return value;
    }

    private static string ReadLine(string interfaceName, string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw Interop.Sys.CreateIoException("read " + path, interfaceName, Interop.Sys.ENOENT, "no such network interface", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw Interop.Sys.CreateIoException("read " + path, interfaceName, Interop.Sys.EACCES, inner: ex);
        }
        catch (IOException ex) when (ex is not NativeIoException)
        {
            throw new IOException($"{interfaceName}: cannot read {path}: {ex.Message}", ex);
        }
    }
}
