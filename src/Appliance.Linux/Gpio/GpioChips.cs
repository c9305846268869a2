using System.Globalization;

namespace Appliance.Linux.Gpio;

/// <summary>
/// The entry point to GPIO lines: board profiles name a chip and a line, this finds the chip
/// (the real character device or the simulated one) and requests the line.
/// </summary>
public static class GpioChips
{
    /// <summary>Prefix of a simulated chip: <c>sim:DIRECTORY</c> (see <see cref="SimulatedGpioChip"/>).</summary>
    public const string SimulatedPrefix = "sim:";

    /// <summary>How many line names an "unknown line name" message lists: enough to spot a typo, short enough for one log line.</summary>
    internal const int NamesShownMax = 8;

    /// <summary>
    /// Requests <paramref name="line"/> of <paramref name="chip"/> as an output driven to
    /// <paramref name="initialActive"/> from the first instant, and holds it until the result is
    /// disposed.
    /// </summary>
    /// <param name="chip">/dev/gpiochipN, a bare gpiochipN (meaning /dev/gpiochipN), or <c>sim:DIRECTORY</c>.</param>
    /// <param name="line">A decimal offset, or a board line name looked up among the chip's lines
    /// (first match; a name made of digits only is taken as an offset).</param>
    /// <param name="activeLow">The line is active at low level: values stay logical.</param>
    /// <param name="initialActive">The logical value the line starts with.</param>
    /// <param name="consumer">Who holds the line, shown by gpioinfo (cut to 31 bytes).</param>
    /// <exception cref="GpioException">No such chip or line, line busy, or the request failed.</exception>
    public static IGpioOutput RequestOutput(string chip, string line, bool activeLow, bool initialActive, string consumer)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(chip);
        ArgumentException.ThrowIfNullOrWhiteSpace(line);
        ArgumentException.ThrowIfNullOrEmpty(consumer);
        if (chip.StartsWith(SimulatedPrefix, StringComparison.Ordinal))
        {
            string directory = chip[SimulatedPrefix.Length..];
            ArgumentException.ThrowIfNullOrWhiteSpace(directory, nameof(chip));
            return SimulatedGpioChip.RequestOutput(chip, directory, line, activeLow, initialActive, consumer);
        }
        string path = chip.Contains('/') ? chip : "/dev/" + chip;
        return GpioCharacterDevice.RequestOutput(path, line, activeLow, initialActive, consumer);
    }

    /// <summary>
    /// Requests <paramref name="line"/> of <paramref name="chip"/> as an input (a button) and holds
    /// it until the result is disposed. Arguments as for <see cref="RequestOutput"/>. With
    /// <paramref name="edgeDebounce"/> the line reports its changes (<see cref="IGpioInput.Edges"/>):
    /// a kernel chip its debounced edges, the simulated chip a notification per write of the level
    /// file; a chip that cannot gives a plain input and says why in <see cref="IGpioInput.EdgeFallback"/>.
    /// </summary>
    public static IGpioInput RequestInput(string chip, string line, bool activeLow, string consumer, TimeSpan? edgeDebounce = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(chip);
        ArgumentException.ThrowIfNullOrWhiteSpace(line);
        ArgumentException.ThrowIfNullOrEmpty(consumer);
        if (chip.StartsWith(SimulatedPrefix, StringComparison.Ordinal))
        {
            string directory = chip[SimulatedPrefix.Length..];
            ArgumentException.ThrowIfNullOrWhiteSpace(directory, nameof(chip));
            return SimulatedGpioChip.RequestInput(chip, directory, line, activeLow, consumer, edgeDebounce is not null);
        }
        string path = chip.Contains('/') ? chip : "/dev/" + chip;
        return GpioCharacterDevice.RequestInput(path, line, activeLow, consumer, edgeDebounce);
    }

    /// <summary>
    /// Turns <paramref name="line"/> (offset or name) into an offset below <paramref name="lineCount"/>,
    /// asking <paramref name="nameOf"/> for the names only when it is not a number. Shared by both chips
    /// so they fail alike.
    /// </summary>
    internal static uint ResolveLine(string chip, string line, uint lineCount, Func<uint, string> nameOf)
    {
        if (uint.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out uint offset))
        {
            if (offset >= lineCount)
                throw Interop.Gpio.CreateException(chip, line, Interop.Sys.EINVAL,
                    lineCount == 0 ? $"offset {offset} is out of range: the chip has no lines"
                        : $"offset {offset} is out of range: the chip has {lineCount} lines (0..{lineCount - 1})");
            return offset;
        }

        var shown = new List<string>(NamesShownMax);
        for (uint i = 0; i < lineCount; i++)
        {
            string name = nameOf(i);
            if (name == line)
                return i;
            if (name.Length > 0 && shown.Count < NamesShownMax)
                shown.Add(name);
        }
        string available = shown.Count == 0 ? "the chip's lines have no names; use an offset"
            : "names include " + string.Join(", ", shown) + (shown.Count == NamesShownMax ? ", ..." : "");
        throw Interop.Gpio.CreateException(chip, line, Interop.Sys.ENOENT,
            $"no line named \"{line}\" among the chip's {lineCount} lines ({available})");
    }

    /// <summary>"CHIP line OFFSET (NAME)", the name left out when the line has none.</summary>
    internal static string Describe(string chip, uint offset, string name)
        => name.Length == 0 ? $"{chip} line {offset}" : $"{chip} line {offset} ({name})";
}
