// The process's metrics: one System.Diagnostics.Metrics meter, "Giftwrap", and its instruments.
// The meter is declared here so every assembly records into the same one; the core records nothing
// itself. Here only what any host records (decisions, lookups); the gate's connection and byte
// counts live in Giftwrap.Gate, the ban counts in Giftwrap.Bans, on this meter. An exporter (the
// gate's Prometheus endpoint) or any MeterListener reads them. With no listener a helper costs a branch.
using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;

namespace Giftwrap.Diagnostics;

/// <summary>The "Giftwrap" meter and its instruments, with the tag values they use.</summary>
public static class GiftwrapMetrics
{
    /// <summary>The meter's name, for exporters and listeners.</summary>
    public const string MeterName = "Giftwrap";

    /// <summary>Lookup kinds (tag <c>kind</c>).</summary>
    public const string DnsReverse = "dns-reverse", DnsForward = "dns-forward", Ident = "ident";

    /// <summary>Lookup outcomes (tag <c>outcome</c>).</summary>
    public const string Ok = "ok", Failed = "failed", TimedOut = "timeout";

    // Buckets for lookup latency in seconds: a cached or local answer takes microseconds,
    // a resolver that times out takes the configured timeout (5 s by default).
    private static readonly double[] LatencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    // Off in giftwrap-tcpd (its .csproj, trimmed as a constant): a process that lives for one decision
    // has no listener, and with the helpers below reduced to a return the instruments and
    // System.Diagnostics.Metrics stay out of the binary, whose start allocates every type's statics.
    [FeatureSwitchDefinition("Giftwrap.Metrics.IsSupported")]
    private static bool IsSupported => !AppContext.TryGetSwitch("Giftwrap.Metrics.IsSupported", out var on) || on;

    /// <summary>The meter every instrument belongs to.</summary>
    public static Meter Meter { get; } = new(MeterName);

    /// <summary>Access decisions made for connections; tags daemon, verdict (granted, denied, twist), source (tables, ban, timeout).</summary>
    public static Counter<long> Decisions { get; } =
        Meter.CreateCounter<long>("giftwrap.decisions", "{decision}", "Access decisions, by daemon, verdict and what decided.");

    /// <summary>DNS and ident lookups done for decisions; tags kind, outcome.</summary>
    public static Counter<long> Lookups { get; } =
        Meter.CreateCounter<long>("giftwrap.lookups", "{lookup}", "DNS and ident lookups, by kind and outcome.");

    /// <summary>How long each lookup took, in seconds; tags kind, outcome.</summary>
    public static Histogram<double> LookupDuration { get; } =
        Meter.CreateHistogram("giftwrap.lookup.duration", "s", "Time taken by DNS and ident lookups.", null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });

    /// <summary>Counts one decision.</summary>
    public static void Decided(string daemon, string verdict, string source)
    {
        if (IsSupported && Decisions.Enabled)
            Decisions.Add(1, new("daemon", daemon), new("verdict", verdict), new("source", source));
    }

    /// <summary>Counts one lookup and its duration (from <see cref="System.Diagnostics.Stopwatch.GetTimestamp"/> at its start).</summary>
    public static void LookedUp(string kind, string outcome, long startTimestamp)
    {
        if (!IsSupported || (!Lookups.Enabled && !LookupDuration.Enabled))
            return;
        var seconds = System.Diagnostics.Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds;
        Lookups.Add(1, new("kind", kind), new("outcome", outcome));
        LookupDuration.Record(seconds, new("kind", kind), new("outcome", outcome));
    }
}
