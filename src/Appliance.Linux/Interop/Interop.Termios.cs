using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Sys
    {
        // ---- open(2) flags: <asm-generic/fcntl.h> (octal there) ----
        /// <summary>Open for reading and writing. &lt;asm-generic/fcntl.h&gt; 00000002</summary>
        internal const int O_RDWR = 0x2;
        /// <summary>Never become our controlling terminal. &lt;asm-generic/fcntl.h&gt; 00000400</summary>
        internal const int O_NOCTTY = 0x100;
        /// <summary>Non-blocking: open does not wait for DCD, read/write return EAGAIN. &lt;asm-generic/fcntl.h&gt; 00004000</summary>
        internal const int O_NONBLOCK = 0x800;
        /// <summary>Close on exec: fence agents and scripts we spawn must not inherit the port. &lt;asm-generic/fcntl.h&gt; 02000000</summary>
        internal const int O_CLOEXEC = 0x80000;

        // ---- termios ioctls: <asm-generic/ioctls.h> ----
        /// <summary>Read the kernel <c>struct termios2</c>: _IOR('T', 0x2A, struct termios2). &lt;asm-generic/ioctls.h&gt;</summary>
        internal const nuint TCGETS2 = 0x802C542A;
        /// <summary>Set the kernel <c>struct termios2</c> now: _IOW('T', 0x2B, struct termios2). &lt;asm-generic/ioctls.h&gt;</summary>
        internal const nuint TCSETS2 = 0x402C542B;
        /// <summary>Flush queues; argument by value (TCIFLUSH/TCOFLUSH/TCIOFLUSH). &lt;asm-generic/ioctls.h&gt;</summary>
        internal const nuint TCFLSH = 0x540B;
        /// <summary>Exclusive mode: further open(2)s fail with EBUSY (CAP_SYS_ADMIN bypasses it). &lt;asm-generic/ioctls.h&gt;</summary>
        internal const nuint TIOCEXCL = 0x540C;
        /// <summary>Leave exclusive mode. &lt;asm-generic/ioctls.h&gt;</summary>
        internal const nuint TIOCNXCL = 0x540D;

        /// <summary>TCFLSH argument: discard both queues. &lt;asm-generic/termbits.h&gt;</summary>
        internal const int TCIOFLUSH = 2;

        // ---- struct termios2 geometry and c_cc indices: <asm-generic/termbits.h> ----
        /// <summary>Control characters in the kernel termios2. &lt;asm-generic/termbits.h&gt;</summary>
        internal const int NCCS = 19;
        /// <summary>c_cc index: inter-byte timeout in 0.1 s (non-canonical). &lt;asm-generic/termbits.h&gt;</summary>
        internal const int VTIME = 5;
        /// <summary>c_cc index: minimum bytes for a read (non-canonical). &lt;asm-generic/termbits.h&gt;</summary>
        internal const int VMIN = 6;

        // ---- c_iflag: <asm-generic/termbits-common.h> / <asm-generic/termbits.h> ----
        /// <summary>Ignore break. &lt;asm-generic/termbits-common.h&gt;</summary>
        internal const uint IGNBRK = 0x1;
        /// <summary>Break sends SIGINT. &lt;asm-generic/termbits-common.h&gt;</summary>
        internal const uint BRKINT = 0x2;
        /// <summary>Mark parity errors with 0xFF 0x00. &lt;asm-generic/termbits-common.h&gt;</summary>
        internal const uint PARMRK = 0x8;
        /// <summary>Enable input parity check. &lt;asm-generic/termbits-common.h&gt;</summary>
        internal const uint INPCK = 0x10;
        /// <summary>Strip the eighth bit. &lt;asm-generic/termbits-common.h&gt;</summary>
        internal const uint ISTRIP = 0x20;
        /// <summary>Map NL to CR on input. &lt;asm-generic/termbits-common.h&gt;</summary>
        internal const uint INLCR = 0x40;
        /// <summary>Ignore CR on input. &lt;asm-generic/termbits-common.h&gt;</summary>
        internal const uint IGNCR = 0x80;
        /// <summary>Map CR to NL on input. &lt;asm-generic/termbits-common.h&gt;</summary>
        internal const uint ICRNL = 0x100;
        /// <summary>XON/XOFF output flow control (would eat 0x11/0x13). &lt;asm-generic/termbits.h&gt;</summary>
        internal const uint IXON = 0x400;
        /// <summary>Any character restarts output. &lt;asm-generic/termbits-common.h&gt;</summary>
        internal const uint IXANY = 0x800;
        /// <summary>XON/XOFF input flow control. &lt;asm-generic/termbits.h&gt;</summary>
        internal const uint IXOFF = 0x1000;

        // ---- c_oflag ----
        /// <summary>Output post-processing (ONLCR and friends). &lt;asm-generic/termbits-common.h&gt;</summary>
        internal const uint OPOST = 0x1;

        // ---- c_cflag ----
        /// <summary>Speed code mask in c_cflag. &lt;asm-generic/termbits.h&gt;</summary>
        internal const uint CBAUD = 0x100F;
        /// <summary>Speed code 0: hang up. A UART drops DTR and RTS on the change to B0 and raises them on the change back
        /// (serial_core.c, uart_set_termios); a pty only records it. &lt;asm-generic/termbits.h&gt;</summary>
        internal const uint B0 = 0x0;
        /// <summary>Speed code meaning "the number in c_ispeed/c_ospeed". &lt;asm-generic/termbits.h&gt;</summary>
        internal const uint BOTHER = 0x1000;
        /// <summary>Character size mask. &lt;asm-generic/termbits.h&gt;</summary>
        internal const uint CSIZE = 0x30;
        /// <summary>Eight data bits. &lt;asm-generic/termbits.h&gt;</summary>
        internal const uint CS8 = 0x30;
        /// <summary>Two stop bits. &lt;asm-generic/termbits.h&gt;</summary>
        internal const uint CSTOPB = 0x40;
        /// <summary>Enable the receiver. &lt;asm-generic/termbits.h&gt;</summary>
        internal const uint CREAD = 0x80;
        /// <summary>Parity enable. &lt;asm-generic/termbits.h&gt;</summary>
        internal const uint PARENB = 0x100;
        /// <summary>Odd parity. &lt;asm-generic/termbits.h&gt;</summary>
        internal const uint PARODD = 0x200;
        /// <summary>Ignore modem control lines (a null-modem cable has no carrier). &lt;asm-generic/termbits.h&gt;</summary>
        internal const uint CLOCAL = 0x800;
        /// <summary>Input speed code mask (c_cflag &amp; CBAUD shifted by IBSHIFT). &lt;asm-generic/termbits.h&gt;</summary>
        internal const uint CIBAUD = 0x100F0000;
        /// <summary>Shift from CBAUD to CIBAUD. &lt;asm-generic/termbits-common.h&gt;</summary>
        internal const int IBSHIFT = 16;
        /// <summary>Mark/space parity. &lt;asm-generic/termbits.h&gt;</summary>
        internal const uint CMSPAR = 0x40000000;
        /// <summary>RTS/CTS hardware flow control. &lt;asm-generic/termbits-common.h&gt;</summary>
        internal const uint CRTSCTS = 0x80000000;

        // ---- c_lflag ----
        /// <summary>Signals from INTR/QUIT/SUSP characters (would eat 0x03). &lt;asm-generic/termbits.h&gt;</summary>
        internal const uint ISIG = 0x1;
        /// <summary>Canonical (line) mode. &lt;asm-generic/termbits.h&gt;</summary>
        internal const uint ICANON = 0x2;
        /// <summary>Echo input. &lt;asm-generic/termbits.h&gt;</summary>
        internal const uint ECHO = 0x8;
        /// <summary>Echo NL even without ECHO. &lt;asm-generic/termbits.h&gt;</summary>
        internal const uint ECHONL = 0x40;
        /// <summary>Implementation-defined input processing (LNEXT, ...). &lt;asm-generic/termbits.h&gt;</summary>
        internal const uint IEXTEN = 0x8000;

        /// <summary>
        /// The kernel's <c>struct termios2</c> (&lt;asm-generic/termbits.h&gt;), 44 bytes: unlike glibc's
        /// <c>struct termios</c> it has a fixed layout on every libc and carries the speed as a plain
        /// number (with <see cref="BOTHER"/>), so glibc 2.42's speed_t change does not reach us.
        /// </summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct Termios2
        {
            public uint c_iflag;
            public uint c_oflag;
            public uint c_cflag;
            public uint c_lflag;
            public byte c_line;
            public fixed byte c_cc[NCCS];
            public uint c_ispeed;
            public uint c_ospeed;
        }

        /// <summary>open(2). Returns a new fd or -1 (errno).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int Open(string path, int flags);

        /// <summary>close(2). Used by the SafeHandles' ReleaseHandle only.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "close", SetLastError = true)]
        internal static partial int Close(int fd);

        /// <summary>read(2). Returns bytes read, 0 at end of file (a hung-up tty), or -1 (errno).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "read", SetLastError = true)]
        internal static unsafe partial nint Read(SafeHandle fd, byte* buffer, nuint count);

        /// <summary>write(2). Returns bytes written (possibly fewer) or -1 (errno).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "write", SetLastError = true)]
        internal static unsafe partial nint Write(SafeHandle fd, byte* buffer, nuint count);

        /// <summary>ioctl(2) with a <see cref="Termios2"/> argument (TCGETS2, TCSETS2); see ioctl_tty(2).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "ioctl", SetLastError = true)]
        internal static unsafe partial int Ioctl(SafeHandle fd, nuint request, Termios2* argument);

        /// <summary>ioctl(2) with an integer argument by value (TCFLSH) or none (TIOCEXCL: pass 0); see ioctl_tty(2).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "ioctl", SetLastError = true)]
        internal static partial int Ioctl(SafeHandle fd, nuint request, nint argument);
    }
}
