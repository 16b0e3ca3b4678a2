// Durations as administrators and Fail2ban write them: 30s, 10m, 1h, 2d, 1w, a bare
// number of seconds (Fail2ban's <bantime>), and "permanent" (or -1, Fail2ban's way). The
// grammar of the lengths is the configuration's (Giftwrap.Configuration.Duration).
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
        // One grammar for every duration of Giftwrap (Giftwrap.Configuration.Duration): "1w" is a
        // week here as in a rule's `ban 1w` and in [limits] decision_timeout.
        if (!Giftwrap.Configuration.Duration.TryParse(t, out var d))
        {
            error = $"\"{text}\" is not a duration (such as 30s, 10m, 1h, 2d, 1w, a number of seconds, or permanent)";
            return false;
        }
        value = d;
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
