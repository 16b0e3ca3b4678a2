// One instrument's series, one per set of tags, with what Prometheus shows of each: a cumulative
// sum (counters, up-down counters), the last value (gauges, observed instruments), or a histogram's
// buckets, sum and count. Series are kept for the life of the process, as the exporter kept them,
// and at most MaxSeries of them; which instruments exist and when they record is their owners' business.
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Giftwrap.Cli.Metrics;

internal sealed class InstrumentSeries
{
    /// <summary>OpenTelemetry's default cardinality limit: tags beyond it are counted in one overflow series.</summary>
    public const int MaxSeries = 2000;

    // OpenTelemetry's default explicit bounds, for a histogram that gives no advice.
    private static readonly double[] DefaultBounds = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

    private enum Kind
    {
        Sum,
        Last,
        Histogram,
    }

    private readonly Lock _gate = new();
    private readonly Dictionary<int, List<Series>> _byHash = [];
    private readonly List<Series> _series = [];
    private readonly Kind _kind;
    private readonly bool _monotonic;
    private readonly string _type;
    private readonly string? _help;
    private readonly string _scope;
    private readonly double[] _bounds;
    private Series? _overflow;

    private InstrumentSeries(Instrument instrument, Kind kind, string type, bool monotonic)
    {
        _kind = kind;
        _type = type;
        _monotonic = monotonic;
        Name = PrometheusNames.Metric(instrument.Name, instrument.Unit, counter: type == "counter", gauge: type == "gauge");
        _help = string.IsNullOrEmpty(instrument.Description) ? null : PrometheusNames.Help(instrument.Description);
        var scope = new StringBuilder("otel_scope_name=");
        PrometheusNames.AppendLabelValue(scope, instrument.Meter.Name);
        if (!string.IsNullOrEmpty(instrument.Meter.Version))
            PrometheusNames.AppendLabelValue(scope.Append(",otel_scope_version="), instrument.Meter.Version);
        _scope = scope.ToString();
        _bounds = kind == Kind.Histogram ? Bounds(instrument) : [];
    }

    /// <summary>The metric's name in Prometheus.</summary>
    public string Name { get; }

    /// <summary>The series keeper for <paramref name="instrument"/>, or null for a kind Prometheus has no type for.</summary>
    public static InstrumentSeries? Create(Instrument instrument)
    {
        var type = instrument.GetType();
        if (!type.IsGenericType)
            return null;
        var definition = type.GetGenericTypeDefinition();
        if (definition == typeof(Counter<>))
            return new(instrument, Kind.Sum, "counter", monotonic: true);
        if (definition == typeof(UpDownCounter<>))
            return new(instrument, Kind.Sum, "gauge", monotonic: false);
        if (definition == typeof(ObservableCounter<>))
            return new(instrument, Kind.Last, "counter", monotonic: false);
        if (definition == typeof(ObservableUpDownCounter<>) || definition == typeof(ObservableGauge<>) || definition == typeof(Gauge<>))
            return new(instrument, Kind.Last, "gauge", monotonic: false);
        if (definition == typeof(Histogram<>))
            return new(instrument, Kind.Histogram, "histogram", monotonic: false);
        return null;
    }

    private static double[] Bounds(Instrument instrument)
    {
        var advised = instrument switch
        {
            Histogram<double> h => h.Advice?.HistogramBucketBoundaries?.ToArray(),
            Histogram<float> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
            Histogram<long> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
            Histogram<int> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
            Histogram<short> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
            Histogram<byte> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
            _ => null,
        };
        return advised ?? DefaultBounds;
    }

    /// <summary>Records one measurement of an integer instrument.</summary>
    public void Record(long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (_kind == Kind.Histogram)
        {
            Record((double)value, tags);
            return;
        }
        // A counter only goes up: the exporter dropped a negative add the same way.
        if (_monotonic && value < 0)
            return;
        lock (_gate)
        {
            var series = Find(tags);
            series.IsInteger = true;
            series.Long = _kind == Kind.Sum ? series.Long + value : value;
        }
    }

    /// <summary>Records one measurement of a floating-point instrument.</summary>
    public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (_monotonic && !(value >= 0))
            return;
        lock (_gate)
        {
            var series = Find(tags);
            switch (_kind)
            {
                case Kind.Sum:
                    series.Double += value;
                    break;
                case Kind.Last:
                    series.Double = value;
                    break;
                default:
                    series.Buckets ??= new long[_bounds.Length + 1];
                    series.Buckets[Bucket(value)]++;
                    series.Double += value;
                    series.Count++;
                    break;
            }
        }
    }

    // The first bucket whose upper bound holds the value ("le"); past the last, +Inf.
    private int Bucket(double value)
    {
        for (var i = 0; i < _bounds.Length; i++)
        {
            if (value <= _bounds[i])
                return i;
        }
        return _bounds.Length;
    }

    private Series Find(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var hash = 0;
        foreach (var tag in tags)
            hash += HashCode.Combine(tag.Key, tag.Value);
        if (_byHash.TryGetValue(hash, out var candidates))
        {
            foreach (var candidate in candidates)
            {
                if (candidate.Holds(tags))
                    return candidate;
            }
        }
        if (_series.Count >= MaxSeries)
            return _overflow ??= Add(new Series([], $"{_scope},otel_metric_overflow=\"true\""));
        var series = Add(new Series(tags.ToArray(), Labels(tags)));
        if (candidates is null)
            _byHash[hash] = candidates = [];
        candidates.Add(series);
        return series;
    }

    private Series Add(Series series)
    {
        _series.Add(series);
        return series;
    }

    // The scope first, then the tags by name, as the exporter wrote them.
    private string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var sb = new StringBuilder(_scope);
        foreach (var tag in tags.ToArray().OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            sb.Append(',').Append(PrometheusNames.Label(tag.Key)).Append('=');
            PrometheusNames.AppendLabelValue(sb, Text(tag.Value));
        }
        return sb.ToString();
    }

    private static string Text(object? value) => value switch
    {
        null => "",
        string s => s,
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>Writes the TYPE and HELP lines and every series; nothing before the first measurement.</summary>
    public void Write(StringBuilder sb)
    {
        lock (_gate)
        {
            if (_series.Count == 0)
                return;
            sb.Append("# TYPE ").Append(Name).Append(' ').Append(_type).Append('\n');
            if (_help is not null)
                sb.Append("# HELP ").Append(Name).Append(' ').Append(_help).Append('\n');
            foreach (var series in _series)
            {
                if (_kind == Kind.Histogram)
                    WriteHistogram(sb, series);
                else
                    Sample(sb, Name, series.Labels, series.IsInteger ? series.Long.ToString(CultureInfo.InvariantCulture) : PrometheusNames.Number(series.Double));
            }
        }
    }

    private void WriteHistogram(StringBuilder sb, Series series)
    {
        var running = 0L;
        for (var i = 0; i <= _bounds.Length; i++)
        {
            running += series.Buckets?[i] ?? 0;
            var le = i < _bounds.Length ? PrometheusNames.Number(_bounds[i]) : "+Inf";
            Sample(sb, Name + "_bucket", $"{series.Labels},le=\"{le}\"", running.ToString(CultureInfo.InvariantCulture));
        }
        Sample(sb, Name + "_sum", series.Labels, PrometheusNames.Number(series.Double));
        Sample(sb, Name + "_count", series.Labels, series.Count.ToString(CultureInfo.InvariantCulture));
    }

    private static void Sample(StringBuilder sb, string name, string labels, string value) =>
        sb.Append(name).Append('{').Append(labels).Append("} ").Append(value).Append('\n');

    private sealed class Series(KeyValuePair<string, object?>[] tags, string labels)
    {
        public string Labels { get; } = labels;
        public bool IsInteger { get; set; }
        public long Long { get; set; }
        public double Double { get; set; }
        public long[]? Buckets { get; set; }
        public long Count { get; set; }

        /// <summary>Whether these are this series' tags, in any order.</summary>
        public bool Holds(ReadOnlySpan<KeyValuePair<string, object?>> other)
        {
            if (other.Length != tags.Length)
                return false;
            foreach (var tag in other)
            {
                if (!Has(tag))
                    return false;
            }
            return true;
        }

        private bool Has(KeyValuePair<string, object?> tag)
        {
            foreach (var mine in tags)
            {
                if (mine.Key == tag.Key && Equals(mine.Value, tag.Value))
                    return true;
            }
            return false;
        }
    }
}
