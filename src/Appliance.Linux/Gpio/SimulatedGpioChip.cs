using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Linux.Gpio;

/// <summary>
/// A GPIO chip made of files, for the lab and tests (this kernel has no GPIO subsystem, so no
/// gpio-sim), reached through <see cref="GpioChips.RequestOutput"/> as <c>sim:DIRECTORY</c>. It
/// behaves like the character device where it matters to us: one holder per line, EBUSY for a
/// second, active-low applied, level kept on release; and anyone outside the process can follow
/// the lines with cat and take a line with flock(1).
/// </summary>
/// <remarks>
/// On-disk format (the lab scripts depend on it):
/// <list type="bullet">
/// <item><c>DIRECTORY/names</c>: one line name per line, in offset order; the number of lines is the
/// chip's line count; an empty line is an unnamed line.</item>
/// <item><c>DIRECTORY/lineN</c> (N = decimal offset): the PHYSICAL output level, exactly two bytes,
/// <c>0\n</c> or <c>1\n</c>; absent = level 0. Physical = logical XOR active-low. Written in place
/// with one pwrite of both bytes at offset 0, so a concurrent <c>cat</c> always reads a whole value.</item>
/// <item>A request holds flock(LOCK_EX|LOCK_NB) on <c>DIRECTORY/lineN</c> (created if missing) for
/// its life; while anyone holds it (another request, any process, or
/// <c>flock -n DIRECTORY/line17 sleep 1000</c>) a request fails with EBUSY.</item>
/// <item><c>DIRECTORY/lineN.consumer</c>: the holder's consumer name and <c>\n</c>, written after
/// the lock is taken and removed at release (a crashed holder leaves it behind, stale).</item>
/// <item>An input requested with edge detection watches its <c>lineN</c> with inotify (IN_MODIFY,
/// IN_CLOSE_WRITE): a write in place (a shell's <c>printf '1\n' &gt; lineN</c>, a pwrite) is a
/// change notification; a file replaced by rename is not seen (the held fd keeps the old one).</item>
/// <item><c>DIRECTORY/no-edges</c> (any content): the chip has no edge detection, like a kernel chip
/// whose lines have no interrupt (ENXIO): inputs asked for edges come back plain, with the reason.</item>
/// </list>
/// Release keeps the level, as the kernel leaves a released line to its driver. Do not read
/// <c>lineN</c> with .NET file APIs while it is held: they take flock(LOCK_SH) and fail.
/// </remarks>
public static class SimulatedGpioChip
{
    /// <summary>The line-name file.</summary>
    public const string NamesFile = "names";

    /// <summary>Most lines of a chip: the kernel counts a chip's lines in a u16 (<c>gpio_chip.ngpio</c>, &lt;linux/gpio/driver.h&gt;).</summary>
    public const int LineCountMax = ushort.MaxValue;

    /// <summary>The marker file of a chip without edge detection (see the remarks).</summary>
    public const string NoEdgesFile = "no-edges";

    /// <summary>inotify events of a level file that mean "written": in place, or closed after writing.</summary>
    private const uint ChangeMask = Interop.Inotify.IN_MODIFY | Interop.Inotify.IN_CLOSE_WRITE;

    /// <summary>Bytes read per inotify read: 256 file events (16 bytes each, no name for a watched file).</summary>
    private const int NotificationBufferBytes = 4096;

    /// <summary>Bytes of a level file: the digit and a newline, always both.</summary>
    private const int LevelLength = 2;

    /// <summary>Mode of created level files (rw-r--r--, before umask): lab scripts read them as any user.</summary>
    private const uint LevelFileMode = 0b110_100_100;

    /// <summary>
    /// Creates (or rewrites) the chip in <paramref name="directory"/> with one line per entry of
    /// <paramref name="names"/> ("" = unnamed). Existing level files are left as they are.
    /// </summary>
    public static void Create(string directory, IReadOnlyList<string> names)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(names);
        ArgumentOutOfRangeException.ThrowIfZero(names.Count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(names.Count, LineCountMax);
        foreach (string name in names)
        {
            if (name.AsSpan().IndexOfAny('\n', '\r') >= 0 || Encoding.UTF8.GetByteCount(name) >= Interop.Gpio.GPIO_MAX_NAME_SIZE)
                throw new ArgumentException($"line name \"{name}\": one line of at most {Interop.Gpio.GPIO_MAX_NAME_SIZE - 1} bytes", nameof(names));
        }
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, NamesFile), string.Concat(names.Select(n => n + "\n")));
    }

    /// <summary>The level file of line <paramref name="offset"/>.</summary>
    public static string LevelPath(string directory, uint offset) => Path.Combine(directory, $"line{offset}");

    /// <summary>The consumer file of line <paramref name="offset"/>.</summary>
    public static string ConsumerPath(string directory, uint offset) => LevelPath(directory, offset) + ".consumer";

    internal static IGpioOutput RequestOutput(string chip, string directory, string line, bool activeLow, bool initialActive, string consumer)
    {
        string[] names = ReadNames(chip, directory, line);
        uint offset = GpioChips.ResolveLine(chip, line, (uint)names.Length, i => names[i]);
        string path = LevelPath(directory, offset);

        int fd = Interop.Files.Open(path, Interop.Sys.O_RDWR | Interop.Files.O_CREAT | Interop.Sys.O_CLOEXEC, LevelFileMode);
        if (fd < 0)
            throw Interop.Gpio.CreateExceptionForLastError(chip, line, $"opening {path} failed");
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            if (Interop.Files.Flock(handle, Interop.Files.LOCK_EX | Interop.Files.LOCK_NB) != 0)
            {
                // EWOULDBLOCK (= EAGAIN): someone holds the line; report it as the kernel would.
                if (Marshal.GetLastPInvokeError() != Interop.Sys.EAGAIN)
                    throw Interop.Gpio.CreateExceptionForLastError(chip, line, $"locking {path} failed");
                string holder = ReadHolder(ConsumerPath(directory, offset));
                throw Interop.Gpio.CreateException(chip, line, Interop.Sys.EBUSY,
                    $"busy: line {offset} is already requested by {(holder.Length > 0 ? $"\"{holder}\"" : "another process")}");
            }
            var output = new Output(handle, chip, line, directory, offset, activeLow, GpioChips.Describe(chip, offset, names[offset]),
                SimulatedLcd.Attached(directory, names, offset));
            try
            {
                output.Set(initialActive);
                RandomAccess.SetLength(handle, LevelLength); // after the write: a reader never sees a short or empty value
                File.WriteAllText(ConsumerPath(directory, offset), consumer + "\n");
            }
            catch (Exception ex) when (IsFileError(ex))
            {
                throw FileError(chip, line, ex);
            }
            return output;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static string[] ReadNames(string chip, string directory, string line)
    {
        string path = Path.Combine(directory, NamesFile);
        if (!File.Exists(path))
            throw Interop.Gpio.CreateException(chip, line, Interop.Sys.ENOENT,
                $"no such simulated GPIO chip: {path} is missing (create it with SimulatedGpioChip.Create)");
        string[] names;
        try
        {
            names = File.ReadAllLines(path);
        }
        catch (Exception ex) when (IsFileError(ex))
        {
            throw FileError(chip, line, ex);
        }
        if (names.Length > LineCountMax)
            throw Interop.Gpio.CreateException(chip, line, Interop.Sys.EINVAL, $"{path} lists {names.Length} lines, more than {LineCountMax}");
        return names;
    }

    /// <summary>The consumer named in a holder's file, or "" (absent: held by a lab tool, or unreadable).</summary>
    private static string ReadHolder(string consumerPath)
    {
        try
        {
            return File.Exists(consumerPath) ? File.ReadAllText(consumerPath).Trim() : "";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    /// <summary>The runtime's file exceptions, which a request or a set turns into <see cref="GpioException"/>.</summary>
    private static bool IsFileError(Exception ex) => ex is IOException and not GpioException or UnauthorizedAccessException;

    private static GpioException FileError(string chip, string line, Exception ex)
    {
        // On Unix a plain IOException carries the errno in HResult; the subclasses carry HRESULTs.
        int errno = ex switch
        {
            UnauthorizedAccessException => Interop.Sys.EACCES,
            FileNotFoundException or DirectoryNotFoundException => Interop.Sys.ENOENT,
            _ when ex.GetType() == typeof(IOException) && ex.HResult > 0 => ex.HResult,
            _ => Interop.Sys.EIO,
        };
        return Interop.Gpio.CreateException(chip, line, errno, ex.Message, ex);
    }

    /// <summary>
    /// An input (a button) on the simulated chip: held like an output (flock, consumer file), read
    /// with pread and never written; the lab "presses" it by writing the level file
    /// (<c>lab press</c>). An absent or empty level file reads as level 0.
    /// </summary>
    internal static IGpioInput RequestInput(string chip, string directory, string line, bool activeLow, string consumer, bool edges = false)
    {
        string[] names = ReadNames(chip, directory, line);
        uint offset = GpioChips.ResolveLine(chip, line, (uint)names.Length, i => names[i]);
        string path = LevelPath(directory, offset);
        int fd = Interop.Files.Open(path, Interop.Sys.O_RDWR | Interop.Files.O_CREAT | Interop.Sys.O_CLOEXEC, LevelFileMode);
        if (fd < 0)
            throw Interop.Gpio.CreateExceptionForLastError(chip, line, $"opening {path} failed");
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            if (Interop.Files.Flock(handle, Interop.Files.LOCK_EX | Interop.Files.LOCK_NB) != 0)
            {
                if (Marshal.GetLastPInvokeError() != Interop.Sys.EAGAIN)
                    throw Interop.Gpio.CreateExceptionForLastError(chip, line, $"locking {path} failed");
                string holder = ReadHolder(ConsumerPath(directory, offset));
                throw Interop.Gpio.CreateException(chip, line, Interop.Sys.EBUSY,
                    $"busy: line {offset} is already requested by {(holder.Length > 0 ? $"\"{holder}\"" : "another process")}");
            }
            try
            {
                File.WriteAllText(ConsumerPath(directory, offset), consumer + "\n");
            }
            catch (Exception ex) when (IsFileError(ex))
            {
                throw FileError(chip, line, ex);
            }
            string description = GpioChips.Describe(chip, offset, names[offset]);
            if (!edges)
                return new Output(handle, chip, line, directory, offset, activeLow, description, null);
            string noEdges = Path.Combine(directory, NoEdgesFile);
            if (File.Exists(noEdges))
                return new Output(handle, chip, line, directory, offset, activeLow, description, null, null, GpioEdgeDetection.None,
                    $"the simulated chip has no edge detection ({noEdges} exists)");
            SafeFileHandle changes = WatchLevel(chip, line, path);
            return new Output(handle, chip, line, directory, offset, activeLow, description, null, changes, GpioEdgeDetection.Notified, "");
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>A non-blocking inotify fd watching <paramref name="path"/> for writes.</summary>
    private static SafeFileHandle WatchLevel(string chip, string line, string path)
    {
        int fd = Interop.Inotify.Init(Interop.Inotify.IN_NONBLOCK | Interop.Inotify.IN_CLOEXEC);
        if (fd < 0)
            throw Interop.Gpio.CreateExceptionForLastError(chip, line, "inotify_init1 failed");
        var changes = new SafeFileHandle(fd, ownsHandle: true);
        if (Interop.Inotify.AddWatch(changes, path, ChangeMask) < 0)
        {
            var e = Interop.Gpio.CreateExceptionForLastError(chip, line, $"watching {path} failed");
            changes.Dispose();
            throw e;
        }
        return changes;
    }

    /// <summary>
    /// The physical level of line <paramref name="offset"/> as a person with a probe would read it
    /// (pread, no lock: a held line can be read); false when the file is absent or empty.
    /// </summary>
    public static bool ReadLevel(string directory, uint offset)
    {
        int fd = Interop.Files.Open(LevelPath(directory, offset), Interop.Files.O_RDONLY | Interop.Sys.O_CLOEXEC, 0);
        if (fd < 0)
            return false;
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        Span<byte> buffer = stackalloc byte[LevelLength];
        return RandomAccess.Read(handle, buffer, 0) > 0 && buffer[0] == (byte)'1';
    }

    private sealed class Output(SafeFileHandle level, string chip, string line, string directory, uint offset, bool activeLow, string description,
        SimulatedLcd? lcd, SafeFileHandle? changes = null, GpioEdgeDetection edges = GpioEdgeDetection.None, string edgeFallback = "")
        : IGpioOutput, IGpioEdgeInput
    {
        public string Description { get; } = description;

        public GpioEdgeDetection Edges { get; } = edges;

        public string EdgeFallback { get; } = edgeFallback;

        public System.Runtime.InteropServices.SafeHandle ChangeHandle =>
            changes ?? throw new InvalidOperationException($"{Description} was not requested with edge detection");

        /// <summary>Drains the queued notifications: that there were some is all that counts.</summary>
        public unsafe int ReadChanges(Span<Interop.Gpio.LineEvent> edges)
        {
            var handle = (SafeFileHandle)ChangeHandle;
            byte* buffer = stackalloc byte[NotificationBufferBytes];
            while (true)
            {
                nint n = Interop.Inotify.Read(handle, buffer, NotificationBufferBytes);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Interop.Sys.EAGAIN)
                        return 0;
                    if (errno == Interop.Sys.EINTR)
                        continue;
                    throw Interop.Gpio.CreateException(chip, line, errno, $"reading the change notifications of {LevelPath(directory, offset)} failed");
                }
                for (nint at = 0; at + sizeof(Interop.Inotify.InotifyEvent) <= n;)
                {
                    var e = (Interop.Inotify.InotifyEvent*)(buffer + at);
                    // IN_IGNORED: the watch is gone with its file (removed, or its file system unmounted).
                    if ((e->mask & Interop.Inotify.IN_IGNORED) != 0)
                        throw Interop.Gpio.CreateException(chip, line, Interop.Sys.ENOENT,
                            $"{LevelPath(directory, offset)} was removed: the line no longer reports changes");
                    at += sizeof(Interop.Inotify.InotifyEvent) + (nint)e->len;
                }
            }
        }

        public bool Get()
        {
            Span<byte> buffer = stackalloc byte[LevelLength];
            int n;
            try
            {
                n = RandomAccess.Read(level, buffer, 0); // pread: no shared file position
            }
            catch (Exception ex) when (IsFileError(ex))
            {
                throw FileError(chip, line, ex);
            }
            bool physical = (n, buffer[0]) switch
            {
                (0, _) => false,
                (_, (byte)'0') => false,
                (_, (byte)'1') => true,
                _ => throw Interop.Gpio.CreateException(chip, line, Interop.Sys.EIO,
                    $"{LevelPath(directory, offset)} holds neither 0 nor 1"),
            };
            return physical ^ activeLow;
        }

        public void Set(bool active)
        {
            ReadOnlySpan<byte> value = (active ^ activeLow) ? "1\n"u8 : "0\n"u8;
            try
            {
                RandomAccess.Write(level, value, 0); // one pwrite of both bytes
                lcd?.Pin(offset, active ^ activeLow);
            }
            catch (Exception ex) when (IsFileError(ex))
            {
                throw FileError(chip, line, ex);
            }
        }

        public void Dispose()
        {
            changes?.Dispose();
            if (level.IsClosed)
                return;
            try
            {
                File.Delete(ConsumerPath(directory, offset)); // still locked: no new holder has written it
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A stale consumer file only makes a later "busy" message name a past holder.
            }
            level.Dispose(); // releases the lock; the level stays
        }
    }
}
