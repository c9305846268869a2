using System.Diagnostics;
using Appliance.Core.Config;
using Appliance.Linux;
using Appliance.Linux.Links;
using Appliance.Linux.Serial;

namespace Appliance.Integration.Tests.Edge;

/// <summary>SerialPort on real ptys: speeds, raw mode, exclusivity, error reporting, loss of the device.</summary>
public sealed class SerialPortTests
{
    [Theory]
    [InlineData(9600)]
    [InlineData(115200)]
    [InlineData(250000)] // not a legacy Bxxx code: only BOTHER can set it
    public void Open_sets_any_baud_and_reads_it_back(int baud)
    {
        using PtyPair pty = PtyPair.Open();
        using SerialPort port = SerialPort.Open(pty.SlavePath, baud);
        Assert.Equal(baud, port.ReadBackBaud());
        Assert.Equal(baud, port.Baud);
        Assert.True(port.Fd >= 0);
    }

    [Fact]
    public void Raw_mode_passes_every_byte_unchanged_both_ways()
    {
        using PtyPair pty = PtyPair.Open();
        using SerialPort port = SerialPort.Open(pty.SlavePath, 115200);
        byte[] all = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray(); // includes \r \n 0x03 0x11 0x13 0x7F

        // master -> slave: input processing (ICRNL, IXON, ISIG, ICANON) must be off
        pty.WriteMaster(all);
        var received = new byte[all.Length];
        int got = 0;
        long deadline = Environment.TickCount64 + 5000;
        while (got < all.Length && Environment.TickCount64 < deadline)
        {
            if (!Edge.WaitReadable(port.Fd, 1000))
                continue;
            int n = port.Read(received.AsSpan(got));
            Assert.True(n >= 0, "slave lost while reading");
            got += n;
        }
        Assert.Equal(all, received.AsSpan(0, got).ToArray());
        Assert.Equal(0, port.Read(new byte[16])); // nothing more: 0, not "gone"

        // slave -> master: output processing (OPOST/ONLCR) must be off, and nothing is echoed
        Assert.Equal(all.Length, port.Write(all));
        Assert.Equal(all, pty.ReadMaster(all.Length));
        Assert.False(Edge.WaitReadable((int)pty.Master.DangerousGetHandle(), 100), "unexpected extra bytes (echo?)");
    }

    [Fact]
    public void Exclusive_open_binds_ordinary_users_and_root_bypasses_it()
    {
        using PtyPair pty = PtyPair.Open();
        using SerialPort first = SerialPort.Open(pty.SlavePath, 9600);

        if (Environment.IsPrivilegedProcess)
        {
            // TIOCEXCL: tty_open() refuses a second open with EBUSY unless capable(CAP_SYS_ADMIN).
            // Observed here: root's second open succeeds. The daemon runs as root, so exclusivity
            // keeps out other users' tools (minicom, screen as a user), not a second root process.
            using SerialPort second = SerialPort.Open(pty.SlavePath, 9600);
            Assert.Equal(9600, second.ReadBackBaud());

            // An ordinary user is refused while we hold the port.
            string? setpriv = Edge.FindOnPath("setpriv");
            if (setpriv is null)
                return; // util-linux missing: the root half above is still asserted
            File.SetUnixFileMode(pty.SlavePath, (UnixFileMode)0b110_110_110);
            var psi = new ProcessStartInfo(setpriv) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (string a in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "--", "sh", "-c", $"exec 3<>{pty.SlavePath}" })
                psi.ArgumentList.Add(a);
            using Process p = Process.Start(psi)!;
            string stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.NotEqual(0, p.ExitCode);
            Assert.Contains("busy", stderr, StringComparison.OrdinalIgnoreCase);
        }
        else
        {
            NativeIoException ex = Assert.Throws<NativeIoException>(() => SerialPort.Open(pty.SlavePath, 9600));
            Assert.Equal(Interop.Sys.EBUSY, ex.Errno);
        }
    }

    [Fact]
    public void Opening_something_that_is_not_a_tty_says_so_and_names_the_path()
    {
        NativeIoException ex = Assert.Throws<NativeIoException>(() => SerialPort.Open("/dev/null", 9600));
        Assert.Equal("/dev/null", ex.Device);
        Assert.Equal(Interop.Sys.ENOTTY, ex.Errno);
        Assert.Contains("not a serial device", ex.Message);
        Assert.Contains("/dev/null", ex.Message);
    }

    [Fact]
    public void Opening_a_missing_device_names_the_path_and_ENOENT()
    {
        string path = $"/dev/apl-edge-missing-{Guid.NewGuid():N}";
        NativeIoException ex = Assert.Throws<NativeIoException>(() => SerialPort.Open(path, 9600));
        Assert.Equal(path, ex.Device);
        Assert.Equal("open", ex.Operation);
        Assert.Equal(Interop.Sys.ENOENT, ex.Errno);
        Assert.Contains(path, ex.Message);
        Assert.Contains("ENOENT", ex.Message);
        Assert.Contains("No such file or directory", ex.Message);

        NativeIoException viaLink = Assert.Throws<NativeIoException>(
            () => SerialHeartbeatLink.Open(new SerialLinkConfig("serial0", path, 115200)));
        Assert.Equal(Interop.Sys.ENOENT, viaLink.Errno);
    }

    [Fact]
    public void Closing_the_other_end_makes_the_device_gone()
    {
        PtyPair pty = PtyPair.Open();
        using SerialHeartbeatLink link = SerialHeartbeatLink.Open(new SerialLinkConfig("serial0", pty.SlavePath, 115200));
        var receiver = new ListReceiver();

        Assert.True(link.Drain(receiver)); // idle: alive, nothing
        Assert.Empty(receiver.Frames);

        pty.Dispose(); // the cable is gone: the kernel hangs up the slave
        Assert.True(Edge.WaitReadable(link.PollFd, 1000), "a hung-up tty polls POLLHUP");
        Assert.False(link.Drain(receiver));
        Assert.Equal(Appliance.Core.Ports.LinkSendResult.Error, link.Send([1, 2, 3]));
        Assert.Equal(0, link.Counters.Snapshot().TxDropped); // the node counts sends; the link only framing and noise
    }
}
