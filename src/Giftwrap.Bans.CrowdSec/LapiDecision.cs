// What the Local API's decision stream answers (GET /v1/decisions/stream, CrowdSec 1.4+):
// {"new":[DECISION...],"deleted":[DECISION...]}, either list null when empty, each decision
// {"id","origin","scenario","scope","type","value","duration"} with the duration in Go's
// time.Duration text ("3h59m58.5s", negative for one already over). Read with source-generated
// System.Text.Json (NativeAOT has no reflection to spare). Nothing here is trusted: a value
// or duration that does not parse is reported by the bouncer and never reaches the store.
using System.Globalization;
using System.Text.Json.Serialization;

namespace Giftwrap.Bans.CrowdSec;

/// <summary>One decision as the Local API sends it.</summary>
internal sealed class LapiDecision
{
    public long Id { get; init; }

    public string? Origin { get; init; }

    public string? Scenario { get; init; }

    /// <summary>Ip, Range, and others (Country, AS, Username...) that a gate cannot enforce.</summary>
    public string? Scope { get; init; }

    /// <summary>ban, captcha, throttle...: the gate enforces ban only.</summary>
    public string? Type { get; init; }

    public string? Value { get; init; }

    public string? Duration { get; init; }
}

/// <summary>One answer of the stream: decisions new and deleted since the bouncer's last call (all current ones with startup=true).</summary>
internal sealed class LapiStream
{
    public List<LapiDecision?>? New { get; init; }

    public List<LapiDecision?>? Deleted { get; init; }
}

[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true, NumberHandling = JsonNumberHandling.AllowReadingFromString)]
[JsonSerializable(typeof(LapiStream))]
internal sealed partial class LapiJson : JsonSerializerContext;

/// <summary>Go's time.Duration.String() format, as CrowdSec writes durations.</summary>
internal static class GoDuration
{
    /// <summary>Parses "72h", "1h59m59.18s", "-29.5ms", "0s": an optional sign, then number-unit pairs (h, m, s, ms, us, µs, ns).</summary>
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        var s = (text ?? "").AsSpan().Trim();
        var negative = s.Length > 0 && s[0] == '-';
        if (s.Length > 0 && s[0] is '-' or '+')
            s = s[1..];
        if (s.SequenceEqual("0"))
            return true;
        double ticks = 0;
        var parts = 0;
        while (s.Length > 0)
        {
            var n = 0;
            while (n < s.Length && (char.IsAsciiDigit(s[n]) || s[n] == '.'))
                n++;
            var u = n;
            while (u < s.Length && !char.IsAsciiDigit(s[u]) && s[u] != '.')
                u++;
            if (n == 0 || u == n || !double.TryParse(s[..n], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
                return false;
            double? unit = s[n..u] switch
            {
                "h" => TimeSpan.TicksPerHour,
                "m" => TimeSpan.TicksPerMinute,
                "s" => TimeSpan.TicksPerSecond,
                "ms" => TimeSpan.TicksPerMillisecond,
                "us" or "µs" or "μs" => TimeSpan.TicksPerMicrosecond,
                "ns" => 0.01,
                _ => null,
            };
            if (unit is null)
                return false;
            ticks += number * unit.Value;
            s = s[u..];
            parts++;
        }
        // A duration beyond what TimeSpan holds is no real decision's: refused rather than wrapped.
        if (parts == 0 || !double.IsFinite(ticks) || ticks >= TimeSpan.MaxValue.Ticks)
            return false;
        value = TimeSpan.FromTicks((long)(negative ? -ticks : ticks));
        return true;
    }
}
