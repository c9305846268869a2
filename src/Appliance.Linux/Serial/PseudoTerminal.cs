using System.Runtime.InteropServices;

namespace Appliance.Linux.Serial;

/// <summary>
/// A pty pair for device simulators. The simulator is the device: it talks on <see cref="Master"/>
/// while the program under test opens <see cref="SlavePath"/> as its serial port. We keep a slave
/// fd of our own open, so the master never reads EIO between the program's closes and opens
/// (termios-serial.md §6), and so we can read the line settings the program sets on the slave: a
/// pty has no modem lines, a DTR drop shows only as speed B0 (§5, serial-pdu.md 3.6).
/// </summary>
public sealed class PseudoTerminal : IDisposable
{
    /// <summary>The multiplexer: open(2) of it is what posix_openpt(3) does on Linux (pts(4)).</summary>
    private const string Ptmx = "/dev/ptmx";

    /// <summary>ptsname_r buffer: "/dev/pts/" and a decimal int fit many times over.</summary>
    private const int PtsNameBytes = 64;

    private const int OpenFlags = Interop.Sys.O_RDWR | Interop.Sys.O_NOCTTY | Interop.Sys.O_NONBLOCK | Interop.Sys.O_CLOEXEC;

    private readonly SafeSerialHandle _slave;

    private PseudoTerminal(SerialPort master, SafeSerialHandle slave, string slavePath)
    {
        Master = master;
        _slave = slave;
        SlavePath = slavePath;
    }

    /// <summary>The device's end: non-blocking, with <see cref="SerialPort"/>'s read/write semantics.</summary>
    public SerialPort Master { get; }

    /// <summary>/dev/pts/N: what the program under test opens (a simulator symlinks it somewhere stable).</summary>
    public string SlavePath { get; }

    /// <summary>Opens a new pair and sets the slave to raw 8N1 at <paramref name="baud"/>, a sane start that the program under test may change.</summary>
    /// <exception cref="NativeIoException">A call failed.</exception>
    public static unsafe PseudoTerminal Open(int baud)
    {
        SafeSerialHandle master = SafeSerialHandle.Open(Ptmx, OpenFlags, out _);
        try
        {
            if (Interop.Sys.Grantpt(master) != 0)
                throw Interop.Sys.CreateIoExceptionForLastError("grantpt", Ptmx);
            if (Interop.Sys.Unlockpt(master) != 0)
                throw Interop.Sys.CreateIoExceptionForLastError("unlockpt", Ptmx);
            byte* name = stackalloc byte[PtsNameBytes];
            int rc = Interop.Sys.PtsnameR(master, name, PtsNameBytes);
            if (rc != 0)
                throw Interop.Sys.CreateIoException("ptsname_r", Ptmx, rc);
            string slavePath = Marshal.PtrToStringUTF8((nint)name)!;

            SafeSerialHandle slave = SafeSerialHandle.Open(slavePath, OpenFlags, out Interop.Sys.Termios2 termios);
            try
            {
                SerialPort.MakeRaw(ref termios, (uint)baud);
                SerialPort.Set(slave, slavePath, ref termios);
                return new PseudoTerminal(new SerialPort(master, $"{slavePath} (master)", baud), slave, slavePath);
            }
            catch
            {
                slave.Dispose();
                throw;
            }
        }
        catch
        {
            master.Dispose();
            throw;
        }
    }

    /// <summary>The slave's speed is B0: the program under test "dropped DTR" (a UART would hang up).</summary>
    public bool SlaveHungUp() => (SerialPort.Get(_slave, SlavePath).c_cflag & Interop.Sys.CBAUD) == Interop.Sys.B0;

    public void Dispose()
    {
        Master.Dispose();
        _slave.Dispose();
    }
}
