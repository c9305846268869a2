namespace Appliance.Linux.Gpio;

/// <summary>
/// Requesting or driving a GPIO line failed. Carries the <see cref="Chip"/> (a device path or
/// <c>sim:DIRECTORY</c>), the <see cref="Line"/> as configured (offset or name) and the Linux
/// <see cref="Errno"/>; the message says what it means for a person ("busy: line 17 is already
/// requested by applianced"). Created only through <c>Interop.Gpio.CreateException</c>.
/// </summary>
public sealed class GpioException : IOException
{
    internal GpioException(string chip, string line, int errno, string reason, Exception? inner = null)
        : base(Format(chip, line, errno, reason), inner)
    {
        Chip = chip;
        Line = line;
        Errno = errno;
        Reason = reason;
        HResult = errno;
    }

    /// <summary>The chip: a character device path (/dev/gpiochip0) or <c>sim:DIRECTORY</c>.</summary>
    public string Chip { get; }

    /// <summary>The line as the caller named it: a decimal offset or a board line name.</summary>
    public string Line { get; }

    /// <summary>The Linux errno (EBUSY: held by someone else; ENOENT: no such chip or line name; EINVAL: offset out of range).</summary>
    public int Errno { get; }

    /// <summary>What went wrong, for people, without the chip and line.</summary>
    public string Reason { get; }

    private static string Format(string chip, string line, int errno, string reason) =>
        $"GPIO {chip} line {line}: {reason} ({Interop.Sys.NameAndNumber(errno)})";
}
