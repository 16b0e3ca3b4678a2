// The one duration grammar of Giftwrap: a configuration value (decision_timeout = 15s),
// a ban length ([bans] ban_time = 1w, giftwrap ban --for 2d) and edit's --confirm-within
// all read through here, so "1w" means the same everywhere. "permanent" is the ban
// commands' business (BanDuration), not a duration.
using System.Globalization;

namespace Giftwrap.Configuration;

/// <summary>
/// Durations written as a whole number and a unit, 500ms, 30s, 10m, 2h, 1d, 1w, or a bare whole
/// number of seconds; the same units as a rule's `ban 1w` (OptionHandlers.TryDuration, which takes
/// s to w and needs the unit). No fractions: "1.5h" is written 90m.
/// </summary>
internal static class Duration
{
    private static readonly (string Suffix, double Seconds)[] Units =
        [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400), ("w", 7 * 86400)];

    /// <summary>At most about a hundred years: it keeps every later sum in range, and longer is a typo.</summary>
    public static readonly TimeSpan Longest = TimeSpan.FromDays(100 * 366);

    /// <summary>What an error message shows as the accepted forms.</summary>
    public const string Forms = "a duration such as 500ms, 30s, 10m, 2h, 1d, 1w or a number of seconds";

    /// <summary>Parses a positive duration; zero, negative, fractions and more than <see cref="Longest"/> are refused.</summary>
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        var t = (text ?? "").Trim().ToLowerInvariant();
        var seconds = 1.0;
        foreach (var (suffix, factor) in Units)
        {
            // "ms" is tried before "s" and "m": the first suffix that fits wins.
            if (t.EndsWith(suffix, StringComparison.Ordinal) && t.Length > suffix.Length)
            {
                seconds = factor;
                t = t[..^suffix.Length];
                break;
            }
        }
        if (t.Length is 0 or > 15 || !long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            return false;
        var total = n * seconds;
        if (total < 0.001 || total > Longest.TotalSeconds)
            return false;
        value = TimeSpan.FromMilliseconds(Math.Round(total * 1000));
        return true;
    }
}
