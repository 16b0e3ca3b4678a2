// Durations as administrators and Fail2ban write them: 30s, 10m, 1h, 2d, 1w, a bare
// number of seconds (Fail2ban's <bantime>), and "permanent" (or -1, Fail2ban's way).
using System.Globalization;

namespace Giftwrap.Bans;

/// <summary>Reads and writes ban durations.</summary>
public static class BanDuration
{
    private static readonly (string Suffix, long Seconds)[] Units =
        [("s", 1), ("m", 60), ("h", 3600), ("d", 86400), ("w", 7 * 86400)];

    /// <summary>
    /// Parses a duration. <paramref name="value"/> is null for a permanent ban.
    /// Zero and negative values other than -1 are refused: a ban that ends before it starts is a typo.
    /// </summary>
    public static bool TryParse(string? text, out TimeSpan? value, out string error)
    {
        value = null;
        error = "";
        var t = (text ?? "").Trim().ToLowerInvariant();
        if (t is "permanent" or "forever" or "-1")
            return true;
        long multiplier = 1;
        foreach (var (suffix, seconds) in Units)
        {
            if (t.EndsWith(suffix, StringComparison.Ordinal))
            {
                multiplier = seconds;
                t = t[..^1];
                break;
            }
        }
        // At most ~100 years: beyond that use "permanent"; it also keeps the arithmetic in range.
        if (t.Length is 0 or > 12 || !t.All(char.IsAsciiDigit)
            || !long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0 || n * multiplier > 100L * 366 * 86400)
        {
            error = $"\"{text}\" is not a duration (such as 30s, 10m, 1h, 2d, 1w, a number of seconds, or permanent)";
            return false;
        }
        value = TimeSpan.FromSeconds(n * multiplier);
        return true;
    }

    /// <summary>A short human form: 1w2d, 3h5m, 45s, or "permanent".</summary>
    public static string Format(TimeSpan? value)
    {
        if (value is not { } v)
            return "permanent";
        if (v <= TimeSpan.Zero)
            return "0s";
        var total = (long)Math.Ceiling(v.TotalSeconds);
        var parts = new List<string>();
        foreach (var (suffix, seconds) in Units.Reverse())
        {
            if (total >= seconds && parts.Count < 2)
            {
                parts.Add((total / seconds).ToString(CultureInfo.InvariantCulture) + suffix);
                total %= seconds;
            }
            else if (parts.Count > 0)
            {
                break;
            }
        }
        return string.Concat(parts);
    }
}
