using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Unicode;

internal static partial class Interop
{
    /// <summary>
    /// The GPIO character device uAPI v2 (&lt;linux/gpio.h&gt;, Linux 5.10+), driven by ioctl(2)
    /// directly: libgpiod 1.6 (Debian 12) speaks only the deprecated v1 and libgpiod 2.x has another
    /// API, so depending on neither keeps one code path for every board. Kept out of
    /// <see cref="Sys"/>: these numbers are pinned by native/gpio_abi.c (Edge/GpioAbiTests), not by
    /// native/termios_abi.c. Structs mirror the kernel's byte for byte (no implicit padding; every
    /// u64 already sits on an 8-byte offset); zero a whole struct before filling it, because the
    /// kernel rejects non-zero padding with EINVAL.
    /// </summary>
    internal static partial class Gpio
    {
        // ---- limits: <linux/gpio.h> ----
        /// <summary>Size of every name/label/consumer buffer, NUL included. &lt;linux/gpio.h&gt;</summary>
        internal const int GPIO_MAX_NAME_SIZE = 32;
        /// <summary>Most lines one request may hold (size of <c>offsets[]</c>). &lt;linux/gpio.h&gt;</summary>
        internal const int GPIO_V2_LINES_MAX = 64;
        /// <summary>Most configuration attributes in one <see cref="LineConfig"/>. &lt;linux/gpio.h&gt;</summary>
        internal const int GPIO_V2_LINE_NUM_ATTRS_MAX = 10;

        // ---- ioctls: <linux/gpio.h>, asm-generic _IOC encoding (dir<<30 | size<<16 | 0xB4<<8 | nr) ----
        /// <summary>_IOR(0xB4, 0x01, struct gpiochip_info), on the chip fd. &lt;linux/gpio.h&gt;</summary>
        internal const nuint GPIO_GET_CHIPINFO_IOCTL = 0x8044B401;
        /// <summary>_IOWR(0xB4, 0x05, struct gpio_v2_line_info), on the chip fd; set <c>offset</c>, rest 0. &lt;linux/gpio.h&gt;</summary>
        internal const nuint GPIO_V2_GET_LINEINFO_IOCTL = 0xC100B405;
        /// <summary>_IOWR(0xB4, 0x07, struct gpio_v2_line_request), on the chip fd; returns the request fd in <c>fd</c>. &lt;linux/gpio.h&gt;</summary>
        internal const nuint GPIO_V2_GET_LINE_IOCTL = 0xC250B407;
        /// <summary>_IOWR(0xB4, 0x0D, struct gpio_v2_line_config), on the request fd: reconfigure in place. &lt;linux/gpio.h&gt;</summary>
        internal const nuint GPIO_V2_LINE_SET_CONFIG_IOCTL = 0xC110B40D;
        /// <summary>_IOWR(0xB4, 0x0E, struct gpio_v2_line_values), on the request fd: in mask, out bits. &lt;linux/gpio.h&gt;</summary>
        internal const nuint GPIO_V2_LINE_GET_VALUES_IOCTL = 0xC010B40E;
        /// <summary>_IOWR(0xB4, 0x0F, struct gpio_v2_line_values), on the request fd. &lt;linux/gpio.h&gt;</summary>
        internal const nuint GPIO_V2_LINE_SET_VALUES_IOCTL = 0xC010B40F;

        // ---- enum gpio_v2_line_flag (u64): <linux/gpio.h> ----
        /// <summary>Info only: someone holds the line. &lt;linux/gpio.h&gt;</summary>
        internal const ulong GPIO_V2_LINE_FLAG_USED = 0x1;
        /// <summary>Values are logical: 1 = active = low level. &lt;linux/gpio.h&gt;</summary>
        internal const ulong GPIO_V2_LINE_FLAG_ACTIVE_LOW = 0x2;
        /// <summary>Input. &lt;linux/gpio.h&gt;</summary>
        internal const ulong GPIO_V2_LINE_FLAG_INPUT = 0x4;
        /// <summary>Output (excludes INPUT). &lt;linux/gpio.h&gt;</summary>
        internal const ulong GPIO_V2_LINE_FLAG_OUTPUT = 0x8;
        /// <summary>Rising edge events (needs INPUT). &lt;linux/gpio.h&gt;</summary>
        internal const ulong GPIO_V2_LINE_FLAG_EDGE_RISING = 0x10;
        /// <summary>Falling edge events (needs INPUT). &lt;linux/gpio.h&gt;</summary>
        internal const ulong GPIO_V2_LINE_FLAG_EDGE_FALLING = 0x20;
        /// <summary>Open drain drive (needs OUTPUT). &lt;linux/gpio.h&gt;</summary>
        internal const ulong GPIO_V2_LINE_FLAG_OPEN_DRAIN = 0x40;
        /// <summary>Open source drive (needs OUTPUT). &lt;linux/gpio.h&gt;</summary>
        internal const ulong GPIO_V2_LINE_FLAG_OPEN_SOURCE = 0x80;
        /// <summary>Pull-up bias. &lt;linux/gpio.h&gt;</summary>
        internal const ulong GPIO_V2_LINE_FLAG_BIAS_PULL_UP = 0x100;
        /// <summary>Pull-down bias. &lt;linux/gpio.h&gt;</summary>
        internal const ulong GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN = 0x200;
        /// <summary>No bias. &lt;linux/gpio.h&gt;</summary>
        internal const ulong GPIO_V2_LINE_FLAG_BIAS_DISABLED = 0x400;
        /// <summary>Event timestamps from CLOCK_REALTIME (default CLOCK_MONOTONIC). &lt;linux/gpio.h&gt;</summary>
        internal const ulong GPIO_V2_LINE_FLAG_EVENT_CLOCK_REALTIME = 0x800;
        /// <summary>Event timestamps from a hardware timestamp engine (Linux 5.19+). &lt;linux/gpio.h&gt;</summary>
        internal const ulong GPIO_V2_LINE_FLAG_EVENT_CLOCK_HTE = 0x1000;

        // ---- enum gpio_v2_line_attr_id: <linux/gpio.h> ----
        /// <summary><see cref="LineAttribute.flags"/> is in use. &lt;linux/gpio.h&gt;</summary>
        internal const uint GPIO_V2_LINE_ATTR_ID_FLAGS = 1;
        /// <summary><see cref="LineAttribute.values"/> is in use: initial output levels. &lt;linux/gpio.h&gt;</summary>
        internal const uint GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES = 2;
        /// <summary><see cref="LineAttribute.debounce_period_us"/> is in use. &lt;linux/gpio.h&gt;</summary>
        internal const uint GPIO_V2_LINE_ATTR_ID_DEBOUNCE = 3;

        // ---- enum gpio_v2_line_event_id: <linux/gpio.h> ----
        /// <summary><see cref="LineEvent.id"/>: the line went from inactive to active (logical, active-low applied). &lt;linux/gpio.h&gt;</summary>
        internal const uint GPIO_V2_LINE_EVENT_RISING_EDGE = 1;
        /// <summary><see cref="LineEvent.id"/>: the line went from active to inactive. &lt;linux/gpio.h&gt;</summary>
        internal const uint GPIO_V2_LINE_EVENT_FALLING_EDGE = 2;

        /// <summary><c>struct gpiochip_info</c> (&lt;linux/gpio.h&gt;), 68 bytes.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct GpioChipInfo
        {
            public fixed byte name[GPIO_MAX_NAME_SIZE];
            public fixed byte label[GPIO_MAX_NAME_SIZE];
            public uint lines;
        }

        /// <summary>
        /// <c>struct gpio_v2_line_attribute</c> (&lt;linux/gpio.h&gt;), 16 bytes: an id then a union
        /// at 8 that <see cref="id"/> selects.
        /// </summary>
        [StructLayout(LayoutKind.Explicit, Size = 16)]
        internal struct LineAttribute
        {
            [FieldOffset(0)] public uint id;
            [FieldOffset(4)] public uint padding;
            [FieldOffset(8)] public ulong flags;
            /// <summary>Bitmap over the request's line indices (bit i = offsets[i]), not chip offsets.</summary>
            [FieldOffset(8)] public ulong values;
            [FieldOffset(8)] public uint debounce_period_us;
        }

        /// <summary><c>struct gpio_v2_line_config_attribute</c> (&lt;linux/gpio.h&gt;), 24 bytes.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct LineConfigAttribute
        {
            public LineAttribute attr;
            /// <summary>The request line indices the attribute applies to.</summary>
            public ulong mask;
        }

        /// <summary><c>attrs[GPIO_V2_LINE_NUM_ATTRS_MAX]</c> of <see cref="LineConfig"/> (fixed buffers hold primitives only).</summary>
        [InlineArray(GPIO_V2_LINE_NUM_ATTRS_MAX)]
        internal struct LineConfigAttributes
        {
            private LineConfigAttribute _element0;
        }

        /// <summary><c>attrs[GPIO_V2_LINE_NUM_ATTRS_MAX]</c> of <see cref="LineInfo"/>.</summary>
        [InlineArray(GPIO_V2_LINE_NUM_ATTRS_MAX)]
        internal struct LineAttributes
        {
            private LineAttribute _element0;
        }

        /// <summary><c>struct gpio_v2_line_config</c> (&lt;linux/gpio.h&gt;), 272 bytes.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct LineConfig
        {
            /// <summary>Default flags of every line of the request (attributes override per line).</summary>
            public ulong flags;
            public uint num_attrs;
            public fixed uint padding[5];
            public LineConfigAttributes attrs;
        }

        /// <summary><c>struct gpio_v2_line_request</c> (&lt;linux/gpio.h&gt;), 592 bytes.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct LineRequest
        {
            public fixed uint offsets[GPIO_V2_LINES_MAX];
            public fixed byte consumer[GPIO_MAX_NAME_SIZE];
            public LineConfig config;
            public uint num_lines;
            /// <summary>0: the kernel's default (edge events only).</summary>
            public uint event_buffer_size;
            public fixed uint padding[5];
            /// <summary>Output: the line request fd, which owns the lines until closed.</summary>
            public int fd;
        }

        /// <summary><c>struct gpio_v2_line_values</c> (&lt;linux/gpio.h&gt;), 16 bytes; bit i = offsets[i] of the request.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct LineValues
        {
            public ulong bits;
            public ulong mask;
        }

        /// <summary><c>struct gpio_v2_line_info</c> (&lt;linux/gpio.h&gt;), 256 bytes.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct LineInfo
        {
            public fixed byte name[GPIO_MAX_NAME_SIZE];
            public fixed byte consumer[GPIO_MAX_NAME_SIZE];
            public uint offset;
            public uint num_attrs;
            public ulong flags;
            public LineAttributes attrs;
            public fixed uint padding[4];
        }

        /// <summary>
        /// <c>struct gpio_v2_line_event</c> (&lt;linux/gpio.h&gt;), 48 bytes: what read(2) on a line
        /// request fd returns, whole records only, for a request made with EDGE_RISING and/or
        /// EDGE_FALLING. A full kernel buffer drops the oldest records: a gap in
        /// <see cref="line_seqno"/> says so.
        /// </summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct LineEvent
        {
            /// <summary>When the edge was seen, CLOCK_MONOTONIC ns unless the request asked for another clock.</summary>
            public ulong timestamp_ns;
            /// <summary><see cref="GPIO_V2_LINE_EVENT_RISING_EDGE"/> or <see cref="GPIO_V2_LINE_EVENT_FALLING_EDGE"/>.</summary>
            public uint id;
            /// <summary>The chip's offset of the line (not the request's index).</summary>
            public uint offset;
            /// <summary>Sequence number across all the lines of the request, from 1.</summary>
            public uint seqno;
            /// <summary>Sequence number of this line's events, from 1.</summary>
            public uint line_seqno;
            public fixed uint padding[6];
        }

        /// <summary>read(2) of <see cref="LineEvent"/> records from a line request fd. Bytes read (a multiple of 48), or -1 (errno).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "read", SetLastError = true)]
        internal static unsafe partial nint ReadEvents(SafeHandle fd, LineEvent* buffer, nuint count);

        /// <summary>ioctl(2) GPIO_GET_CHIPINFO_IOCTL. 0 or -1 (errno; ENOTTY: not a GPIO chip).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "ioctl", SetLastError = true)]
        internal static unsafe partial int Ioctl(SafeHandle fd, nuint request, GpioChipInfo* argument);

        /// <summary>ioctl(2) GPIO_V2_GET_LINEINFO_IOCTL. 0 or -1 (errno; EINVAL: offset out of range).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "ioctl", SetLastError = true)]
        internal static unsafe partial int Ioctl(SafeHandle fd, nuint request, LineInfo* argument);

        /// <summary>ioctl(2) GPIO_V2_GET_LINE_IOCTL. 0 or -1 (errno; EBUSY: a line is held by another request).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "ioctl", SetLastError = true)]
        internal static unsafe partial int Ioctl(SafeHandle fd, nuint request, LineRequest* argument);

        /// <summary>ioctl(2) GPIO_V2_LINE_SET_CONFIG_IOCTL. 0 or -1 (errno).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "ioctl", SetLastError = true)]
        internal static unsafe partial int Ioctl(SafeHandle fd, nuint request, LineConfig* argument);

        /// <summary>ioctl(2) GPIO_V2_LINE_GET_VALUES_IOCTL / GPIO_V2_LINE_SET_VALUES_IOCTL. 0 or -1 (errno).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "ioctl", SetLastError = true)]
        internal static unsafe partial int Ioctl(SafeHandle fd, nuint request, LineValues* argument);

        /// <summary>A NUL-terminated name buffer of <see cref="GPIO_MAX_NAME_SIZE"/> bytes as a string ("" when unnamed).</summary>
        internal static unsafe string ReadName(byte* buffer)
        {
            var bytes = new ReadOnlySpan<byte>(buffer, GPIO_MAX_NAME_SIZE);
            int end = bytes.IndexOf((byte)0);
            return Encoding.UTF8.GetString(end < 0 ? bytes : bytes[..end]);
        }

        /// <summary>
        /// Writes <paramref name="name"/> NUL-terminated into a zeroed <see cref="GPIO_MAX_NAME_SIZE"/>-byte
        /// buffer, cut at a character boundary to 31 bytes (the kernel would cut it anyway).
        /// </summary>
        internal static unsafe void WriteName(byte* buffer, string name)
        {
            var bytes = new Span<byte>(buffer, GPIO_MAX_NAME_SIZE);
            bytes.Clear();
            Utf8.FromUtf16(name, bytes[..(GPIO_MAX_NAME_SIZE - 1)], out _, out _);
        }

        /// <summary>
        /// The one place that turns a GPIO failure into an exception: <see cref="Appliance.Linux.Gpio.GpioException"/>
        /// carrying the chip, the line as the caller named it, the errno and a reason for people.
        /// </summary>
        internal static Appliance.Linux.Gpio.GpioException CreateException(
            string chip, string line, int errno, string? reason = null, Exception? inner = null)
            => new(chip, line, errno, reason ?? Marshal.GetPInvokeErrorMessage(errno), inner);

        /// <summary>Reads errno saved by the last <c>SetLastError = true</c> call: reason "<paramref name="doing"/>: strerror".</summary>
        internal static Appliance.Linux.Gpio.GpioException CreateExceptionForLastError(string chip, string line, string doing)
        {
            int errno = Marshal.GetLastPInvokeError();
            return CreateException(chip, line, errno, $"{doing}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
    }
}
