// The process's metrics: one System.Diagnostics.Metrics meter, "Giftwrap", and its instruments.
// Declared here so every assembly records into the same ones; the core records nothing itself.
// The gate, the lookups and the ban store's host call the helpers below; an exporter (the gate's
// Prometheus endpoint) or any MeterListener reads them. With no listener a helper costs a branch.
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

    private static Func<long>? s_activeBans;

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

    /// <summary>Bans added and removed (tag change: added, removed), from any source the ban store reports.</summary>
    public static Counter<long> BanChanges { get; } =
        Meter.CreateCounter<long>("giftwrap.ban.changes", "{ban}", "Bans added and removed.");

    /// <summary>Connections being handled now; tags daemon, service.</summary>
    public static UpDownCounter<long> ActiveConnections { get; } =
        Meter.CreateUpDownCounter<long>("giftwrap.connections.active", "{connection}", "Connections the gate is handling now.");

    /// <summary>Bytes the gate forwarded; tag direction (to_backend, to_client).</summary>
    public static Counter<long> BytesForwarded { get; } =
        Meter.CreateCounter<long>("giftwrap.forwarded", "By", "Bytes forwarded between clients and backends.");

    /// <summary>Bans in force now, as reported by the source given to <see cref="ObserveActiveBans"/>.</summary>
    public static ObservableGauge<long> ActiveBans { get; } =
        Meter.CreateObservableGauge("giftwrap.bans.active", ObserveBans, "{ban}", "Bans in force now.");

    /// <summary>Counts one decision.</summary>
    public static void Decided(string daemon, string verdict, string source)
    {
        if (Decisions.Enabled)
            Decisions.Add(1, new("daemon", daemon), new("verdict", verdict), new("source", source));
    }

    /// <summary>Counts one lookup and its duration (from <see cref="System.Diagnostics.Stopwatch.GetTimestamp"/> at its start).</summary>
    public static void LookedUp(string kind, string outcome, long startTimestamp)
    {
        if (!Lookups.Enabled && !LookupDuration.Enabled)
            return;
        var seconds = System.Diagnostics.Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds;
        Lookups.Add(1, new("kind", kind), new("outcome", outcome));
        LookupDuration.Record(seconds, new("kind", kind), new("outcome", outcome));
    }

    /// <summary>A connection starts (+1) or ends (-1) being handled.</summary>
    public static void ConnectionDelta(int delta, string daemon, string service)
    {
        if (ActiveConnections.Enabled)
            ActiveConnections.Add(delta, new("daemon", daemon), new("service", service));
    }

    /// <summary>Counts the bytes one forwarded connection moved each way.</summary>
    public static void Forwarded(long toBackend, long toClient)
    {
        if (!BytesForwarded.Enabled)
            return;
        BytesForwarded.Add(toBackend, new KeyValuePair<string, object?>("direction", "to_backend"));
        BytesForwarded.Add(toClient, new KeyValuePair<string, object?>("direction", "to_client"));
    }

    /// <summary>Counts a ban added (<paramref name="added"/>) or removed.</summary>
    public static void BanChanged(bool added) =>
        BanChanges.Add(1, new KeyValuePair<string, object?>("change", added ? "added" : "removed"));

    /// <summary>
    /// Makes <paramref name="count"/> the source of <see cref="ActiveBans"/> until the returned value is disposed
    /// (one source per process: the gate's ban store).
    /// </summary>
    public static IDisposable ObserveActiveBans(Func<long> count)
    {
        ArgumentNullException.ThrowIfNull(count);
        Volatile.Write(ref s_activeBans, count);
        return new Unobserve(count);
    }

    private static IEnumerable<Measurement<long>> ObserveBans() =>
        Volatile.Read(ref s_activeBans) is { } count ? [new Measurement<long>(count())] : [];

    private sealed class Unobserve(Func<long> count) : IDisposable
    {
        public void Dispose() => Interlocked.CompareExchange(ref s_activeBans, null, count);
    }
}
