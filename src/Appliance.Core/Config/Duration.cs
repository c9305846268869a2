using System.Globalization;

namespace Appliance.Core.Config;

/// <summary>
/// Config durations: a non-negative integer or decimal and a unit, <c>ms</c>, <c>s</c> or <c>m</c>
/// (<c>200ms</c>, <c>1s</c>, <c>1.5s</c>, <c>2m</c>), to the millisecond. A bare number is refused:
/// is <c>200</c> milliseconds or seconds? The reader of the file should not have to know.
/// </summary>
internal static class Duration
{
    public const string Expected = "a duration with a unit, like 200ms or 1s";

    /// <summary>More digits than this is out of any range we accept, and 10 digits of minutes still fit a TimeSpan.</summary>
    private const int MaxDigits = 10;

    public static bool TryParse(string text, out TimeSpan value, out string error)
    {
        value = default;
        int i = 0;
        while (i < text.Length && char.IsAsciiDigit(text[i])) i++;
        int intDigits = i;
        int fracDigits = 0;
        if (i < text.Length && text[i] == '.' && intDigits > 0)
        {
            int f = i + 1;
            while (f < text.Length && char.IsAsciiDigit(text[f])) f++;
            fracDigits = f - i - 1;
            if (fracDigits > 0)
                i = f;
        }
        string number = text[..i];
        string unit = text[i..];

        if (intDigits == 0)
        {
            error = $"expected {Expected}, got {YScalar.Quote(text)}";
            return false;
        }
        decimal factorMs;
        switch (unit)
        {
            case "ms": factorMs = 1m; break;
            case "s": factorMs = 1000m; break;
            case "m": factorMs = 60_000m; break;
            case "":
                error = $"expected {Expected}, got {YScalar.Quote(text)}";
                return false;
            default:
                error = unit.All(char.IsAsciiLetter)
                    ? $"unknown unit '{unit}' in {YScalar.Quote(text)}; expected ms, s or m"
                    : $"expected {Expected}, got {YScalar.Quote(text)}";
                return false;
        }
        if (intDigits + fracDigits > MaxDigits)
        {
            error = $"{YScalar.Quote(text)} is far too long a duration";
            return false;
        }
        decimal ms = decimal.Parse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture) * factorMs;
        if (ms != decimal.Truncate(ms))
        {
            error = $"{YScalar.Quote(text)} is not a whole number of milliseconds";
            return false;
        }
        value = TimeSpan.FromMilliseconds((long)ms);
        error = "";
        return true;
    }

    /// <summary>
    /// An exact, short form: <c>200ms</c>, <c>1500ms</c>, <c>1s</c>, <c>60s</c>, <c>2m</c>. Minutes
    /// only from two on, so the bounds people know in seconds (deadtime 60s) read as they know them.
    /// </summary>
    public static string Format(TimeSpan value)
    {
        long ms = (long)value.TotalMilliseconds;
        if (ms >= 120_000 && ms % 60_000 == 0)
            return (ms / 60_000).ToString(CultureInfo.InvariantCulture) + "m";
        if (ms != 0 && ms % 1000 == 0)
            return (ms / 1000).ToString(CultureInfo.InvariantCulture) + "s";
        return ms.ToString(CultureInfo.InvariantCulture) + "ms";
    }
}
