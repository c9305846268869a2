namespace Appliance.Linux;

/// <summary>
/// The kernel's boot id (random(4): /proc/sys/kernel/random/boot_id, a UUID new at every boot). With
/// it a deadline kept on the monotonic clock (CLOCK_MONOTONIC counts from boot) can be kept in a file
/// across daemon restarts: the same boot id means the same clock.
/// </summary>
public static class KernelBootId
{
    private const string Path = "/proc/sys/kernel/random/boot_id";

    /// <summary>The boot id, or "" when it cannot be read (then every kept deadline counts as from another boot).</summary>
    public static string Current()
    {
        try
        {
            return File.ReadAllText(Path).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}
