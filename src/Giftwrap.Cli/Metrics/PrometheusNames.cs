// How an instrument of System.Diagnostics.Metrics is named and written in the Prometheus text
// format (0.0.4): the names OpenTelemetry's Prometheus exporter gave them before this endpoint was
// ours (dots to underscores, the unit as a suffix, "_total" on counters), label escaping, numbers.
// What is measured, and how values are kept, is MetricsCollector's.
using System.Globalization;
using System.Text;

namespace Giftwrap.Cli.Metrics;

internal static class PrometheusNames
{
    // UCUM units as OpenTelemetry's specification spells them out in Prometheus names
    // (opentelemetry-specification, compatibility/prometheus_and_openmetrics.md).
    private static readonly Dictionary<string, string> Units = new(StringComparer.Ordinal)
    {
        ["d"] = "days", ["h"] = "hours", ["min"] = "minutes", ["s"] = "seconds", ["ms"] = "milliseconds",
        ["us"] = "microseconds", ["ns"] = "nanoseconds",
        ["By"] = "bytes", ["KiBy"] = "kibibytes", ["MiBy"] = "mebibytes", ["GiBy"] = "gibibytes", ["TiBy"] = "tibibytes",
        ["KBy"] = "kilobytes", ["MBy"] = "megabytes", ["GBy"] = "gigabytes", ["TBy"] = "terabytes",
        ["m"] = "meters", ["V"] = "volts", ["A"] = "amperes", ["J"] = "joules", ["W"] = "watts", ["g"] = "grams",
        ["Cel"] = "celsius", ["Hz"] = "hertz", ["%"] = "percent",
    };

    /// <summary>
    /// The metric's name: the instrument's with every character Prometheus does not allow made '_',
    /// then its unit (an annotation in braces is none; "1" is "ratio" on a gauge), then "_total" on a counter.
    /// </summary>
    public static string Metric(string instrument, string? unit, bool counter, bool gauge)
    {
        var name = Sanitize(instrument, allowColon: true);
        if (counter && name.EndsWith("_total", StringComparison.Ordinal))
            name = name[..^"_total".Length];
        var suffix = UnitSuffix(unit, gauge);
        if (suffix.Length > 0 && !name.EndsWith("_" + suffix, StringComparison.Ordinal))
            name = $"{name}_{suffix}";
        return counter ? name + "_total" : name;
    }

    /// <summary>A label name: what Prometheus does not allow made '_', and never a leading digit.</summary>
    public static string Label(string key) => Sanitize(key, allowColon: false);

    private static string UnitSuffix(string? unit, bool gauge)
    {
        if (string.IsNullOrEmpty(unit))
            return "";
        // "{request}" and the like annotate what is counted; they are no unit.
        var plain = StripAnnotations(unit);
        if (plain.Length == 0)
            return "";
        if (plain == "1")
            return gauge ? "ratio" : "";
        var slash = plain.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
            return Sanitize(Units.GetValueOrDefault(plain, plain), allowColon: false).Trim('_');
        var (per, of) = (plain[..slash], plain[(slash + 1)..]);
        var perName = Units.GetValueOrDefault(per, per);
        var ofName = of switch { "s" => "second", "m" => "minute", "h" => "hour", "d" => "day", _ => Units.GetValueOrDefault(of, of) };
        return Sanitize(perName.Length > 0 ? $"{perName}_per_{ofName}" : $"per_{ofName}", allowColon: false).Trim('_');
    }

    private static string StripAnnotations(string unit)
    {
        var sb = new StringBuilder(unit.Length);
        var depth = 0;
        foreach (var c in unit)
        {
            if (c == '{')
                depth++;
            else if (c == '}' && depth > 0)
                depth--;
            else if (depth == 0)
                sb.Append(c);
        }
        return sb.ToString().Trim();
    }

    private static string Sanitize(string name, bool allowColon)
    {
        var sb = new StringBuilder(name.Length + 1);
        foreach (var c in name)
        {
            var ok = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_' || (allowColon && c == ':');
            var next = ok ? c : '_';
            // Runs of replaced characters become one '_', as the exporter wrote them.
            if (next == '_' && sb.Length > 0 && sb[^1] == '_')
                continue;
            sb.Append(next);
        }
        if (sb.Length == 0 || char.IsAsciiDigit(sb[0]))
            sb.Insert(0, '_');
        return sb.ToString();
    }

    /// <summary>Appends a label value in quotes: backslash, double quote and newline escaped (text format 0.0.4).</summary>
    public static void AppendLabelValue(StringBuilder sb, string value)
    {
        sb.Append('"');
        foreach (var c in value)
        {
            _ = c switch
            {
                '\\' => sb.Append(@"\\"),
                '"' => sb.Append("\\\""),
                '\n' => sb.Append(@"\n"),
                _ => sb.Append(c),
            };
        }
        sb.Append('"');
    }

    /// <summary>A HELP text: backslash and newline escaped.</summary>
    public static string Help(string text) => text.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("\n", @"\n", StringComparison.Ordinal);

    /// <summary>A sample value: the shortest text that reads back as the same double, or +Inf, -Inf, NaN.</summary>
    public static string Number(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        _ when double.IsNaN(value) => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };
}
