using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using Appliance.Core.Net;
using Appliance.Linux;
using Appliance.Linux.Net;
using Microsoft.Win32.SafeHandles;
using Xunit.Abstractions;

namespace Appliance.Integration.Tests.Edge;

/// <summary>
/// RawFrameSender puts AnnounceFrames' gratuitous ARP request, reply and unsolicited NA on a veth
/// in one network namespace; tcpdump in the peer namespace captures them byte for byte and
/// describes them as it does send_arp's frames from IPaddr2.
/// </summary>
public sealed class RawFrameSenderTests(ITestOutputHelper output)
{
    private static readonly IPAddress Vip4 = IPAddress.Parse("192.0.2.100");
    private static readonly IPAddress Vip6 = IPAddress.Parse("2001:db8::100");

    [RootFact]
    public void Announce_frames_cross_a_veth_byte_for_byte()
    {
        string id = Random.Shared.Next(0x100000, 0xFFFFFF).ToString("x6");
        string nsA = $"apl-garp-{id}-a", nsB = $"apl-garp-{id}-b";
        string vethA = $"apg{id}a", vethB = $"apg{id}b";
        const string macA = "02:a9:1c:00:00:01";
        string work = Path.Combine(Path.GetTempPath(), $"apl-garp-{id}");
        string sysA = Path.Combine(work, "sys");
        string pcap = Path.Combine(work, "announce.pcap");
        bool mounted = false;
        Process? tcpdump = null;
        output.WriteLine($"namespaces {nsA} {nsB}, capture {pcap}");
        try
        {
            Directory.CreateDirectory(sysA);
            Edge.Run("ip", "netns", "add", nsA);
            Edge.Run("ip", "netns", "add", nsB);
            foreach (string ns in new[] { nsA, nsB })
            {
                // No IPv6 on the link: the kernel's own DAD and MLD frames would mix with ours.
                Edge.Run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1");
                Edge.Run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1");
            }
            Edge.Run("ip", "-n", nsA, "link", "add", vethA, "address", macA, "type", "veth", "peer", "name", vethB, "netns", nsB);
            Edge.Run("ip", "-n", nsA, "link", "set", vethA, "up");
            Edge.Run("ip", "-n", nsB, "link", "set", vethB, "up");
            Edge.WaitLinkUp(nsA, vethA);
            Edge.WaitLinkUp(nsB, vethB);

            // /sys shows the namespace it was mounted from; mount one from inside nsA for Open to read.
            Edge.Run("nsenter", $"--net=/var/run/netns/{nsA}", "mount", "-t", "sysfs", "sysfs", sysA);
            mounted = true;

            using RawFrameSender sender = Edge.InNamespace(nsA, () => RawFrameSender.Open(vethA, Path.Combine(sysA, "class", "net")));
            Assert.Equal(vethA, sender.InterfaceName);
            Assert.Equal(macA, string.Join(':', sender.Mac.ToArray().Select(b => b.ToString("x2"))));

            byte[] request = new byte[AnnounceFrames.ArpFrameBytes];
            byte[] reply = new byte[AnnounceFrames.ArpFrameBytes];
            byte[] na = new byte[AnnounceFrames.NeighborAdvertisementFrameBytes];
            AnnounceFrames.BuildGratuitousArp(sender.Mac, Vip4, reply: false, request);
            AnnounceFrames.BuildGratuitousArp(sender.Mac, Vip4, reply: true, reply);
            AnnounceFrames.BuildUnsolicitedNeighborAdvertisement(sender.Mac, Vip6, na);

            tcpdump = StartCapture(nsB, vethB, macA, pcap);

            // Sent from this (host-namespace) thread: the socket stays bound to vethA in nsA.
            long before = GC.GetAllocatedBytesForCurrentThread();
            Assert.True(sender.Send(request), "send ARP request");
            Assert.True(sender.Send(reply), "send ARP reply");
            Assert.True(sender.Send(na), "send NA");
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            output.WriteLine($"3 sends allocated {allocated} bytes");

            Assert.True(tcpdump.WaitForExit(10_000), "tcpdump did not capture 3 frames in 10 s");
            Assert.Equal(0, tcpdump.ExitCode);

            List<byte[]> frames = ReadPcap(pcap);
            Assert.Equal(3, frames.Count);
            Assert.Equal(Convert.ToHexString(request), Convert.ToHexString(frames[0]));
            Assert.Equal(Convert.ToHexString(reply), Convert.ToHexString(frames[1]));
            Assert.Equal(Convert.ToHexString(na), Convert.ToHexString(frames[2]));

            string[] lines = Edge.Run("tcpdump", "-r", pcap, "-n", "-e").Split('\n', StringSplitOptions.RemoveEmptyEntries);
            foreach (string line in lines)
                output.WriteLine(line);
            Assert.Equal(3, lines.Length);
            Assert.Contains($"{macA} > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42", lines[0]);
            Assert.Contains("Request who-has 192.0.2.100 tell 192.0.2.100", lines[0]);
            Assert.Contains($"{macA} > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42", lines[1]);
            Assert.Contains($"Reply 192.0.2.100 is-at {macA}", lines[1]);
            Assert.Contains($"{macA} > 33:33:00:00:00:01, ethertype IPv6 (0x86dd), length 86", lines[2]);
            Assert.Contains("2001:db8::100 > ff02::1: ICMP6, neighbor advertisement, tgt is 2001:db8::100", lines[2]);

            // tcpdump -v checks the ICMPv6 checksum over the pseudo-header ("[icmp6 sum ok]") and
            // decodes the flags and option 2 (which it calls "destination link-address").
            string verbose = Edge.Run("tcpdump", "-r", pcap, "-n", "-vv");
            output.WriteLine(verbose);
            Assert.Contains("IP6 (hlim 255, next-header ICMPv6 (58) payload length: 32)", verbose);
            Assert.Contains("[icmp6 sum ok]", verbose);
            Assert.Contains("Flags [override]", verbose);
            Assert.DoesNotContain("solicited", verbose, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("router", verbose, StringComparison.OrdinalIgnoreCase);
            Assert.Contains($"link-address option (2), length 8 (1): {macA}", verbose);

            // Once its interface is gone, a send fails without throwing.
            Edge.Run("ip", "-n", nsA, "link", "del", vethA);
            Assert.False(sender.Send(request));
        }
        finally
        {
            if (tcpdump is not null)
            {
                if (!tcpdump.HasExited)
                    tcpdump.Kill();
                tcpdump.Dispose();
            }
            if (mounted)
                TryRun("umount", "-l", sysA);
            TryRun("ip", "netns", "del", nsA);
            TryRun("ip", "netns", "del", nsB);
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (Exception ex)
            {
                output.WriteLine($"cleanup: {ex.Message}");
            }
        }
    }

    [Fact]
    public void Open_fails_naming_a_missing_interface()
    {
        NativeIoException ex = Assert.Throws<NativeIoException>(() => RawFrameSender.Open("apl-nosuchif"));
        Assert.Equal(2, ex.Errno); // ENOENT
        Assert.Equal("apl-nosuchif", ex.Device);
        Assert.Contains("apl-nosuchif", ex.Message);
    }

    [Fact]
    public void Open_refuses_a_non_ethernet_interface_and_bad_names()
    {
        IOException ex = Assert.Throws<IOException>(() => RawFrameSender.Open("lo"));
        Assert.Contains("lo: not an Ethernet interface", ex.Message);
        Assert.Throws<ArgumentException>(() => RawFrameSender.Open("../../etc"));
        Assert.Throws<ArgumentException>(() => RawFrameSender.Open("a-name-too-long-16"));
        Assert.Throws<ArgumentException>(() => RawFrameSender.Open(""));
    }

    [Fact]
    public void Sockaddr_ll_is_written_as_the_kernel_reads_it()
    {
        // The offsets themselves are pinned by InteropAbiTests (native/packet_abi.c).
        var address = Interop.Packet.SockaddrLl(7, 0x0806);
        Assert.Equal(Interop.Packet.SockaddrLlSize, address.Size);
        Assert.Equal("1100" + "0806" + Convert.ToHexString(BitConverter.GetBytes(7)) + "000000000000000000000000",
            Convert.ToHexString(address.Buffer.Span));
        var endPoint = new Interop.Packet.LinkLayerEndPoint(7, Interop.Packet.ETH_P_ALL);
        Assert.Equal("1100" + "0003" + Convert.ToHexString(BitConverter.GetBytes(7)) + "000000000000000000000000",
            Convert.ToHexString(endPoint.Serialize().Buffer.Span));
    }

    /// <summary>Starts tcpdump on <paramref name="ifName"/> in <paramref name="ns"/> for 3 frames from <paramref name="mac"/>; returns once it listens.</summary>
    private Process StartCapture(string ns, string ifName, string mac, string pcap)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { "netns", "exec", ns, "tcpdump", "-i", ifName, "-n", "-U", "-c", "3", "-w", pcap, "ether", "src", mac })
            psi.ArgumentList.Add(a);
        Process p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start tcpdump");
        var stderr = new StringBuilder();
        var listening = new ManualResetEventSlim();
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (stderr)
                stderr.AppendLine(e.Data);
            if (e.Data.Contains("listening on", StringComparison.Ordinal))
                listening.Set();
        };
        p.BeginErrorReadLine();
        if (!listening.Wait(10_000))
        {
            if (!p.HasExited)
                p.Kill();
            lock (stderr)
                throw new InvalidOperationException($"tcpdump did not start listening: {stderr}");
        }
        return p;
    }

    /// <summary>The frames of a classic pcap file (LINKTYPE_ETHERNET), either byte order, µs or ns stamps.</summary>
    private static List<byte[]> ReadPcap(string path)
    {
        byte[] file = File.ReadAllBytes(path);
        Assert.True(file.Length >= 24, "pcap shorter than its header");
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(file);
        bool little = magic is 0xa1b2c3d4 or 0xa1b23c4d;
        Assert.True(little || BinaryPrimitives.ReadUInt32BigEndian(file) is 0xa1b2c3d4 or 0xa1b23c4d, $"not a pcap file: magic {magic:x8}");
        uint U32(int at) => little ? BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at)) : BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(at));
        Assert.Equal(1u, U32(20)); // LINKTYPE_ETHERNET
        var frames = new List<byte[]>();
        for (int at = 24; at < file.Length;)
        {
            int captured = (int)U32(at + 8), original = (int)U32(at + 12);
            Assert.Equal(original, captured); // nothing truncated by the snap length
            frames.Add(file.AsSpan(at + 16, captured).ToArray());
            at += 16 + captured;
        }
        return frames;
    }

    private void TryRun(string file, params string[] args)
    {
        try
        {
            Edge.Run(file, args);
        }
        catch (Exception ex)
        {
            output.WriteLine($"cleanup: {ex.Message}");
        }
    }
}
