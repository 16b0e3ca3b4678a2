// The bouncer's instruments, on the meter every Giftwrap instrument belongs to (so the gate's
// [metrics] endpoint exports them with the rest): decisions carried into the store or refused,
// requests to the Local API that failed, and whether the last request succeeded.
using System.Diagnostics.Metrics;

namespace Giftwrap.Bans.CrowdSec;

internal static class CrowdSecMetrics
{
    // The name of Giftwrap's meter (GiftwrapMetrics.MeterName): a listener of that name sees these
    // too, without this package depending on the core's metrics.
    private static readonly Meter Meter = new("Giftwrap");
    private static int s_up = -1;

    /// <summary>Decisions applied, by action: banned, unbanned, protected (a protected address: never banned), invalid (a value or duration that does not parse).</summary>
    public static Counter<long> Decisions { get; } =
        Meter.CreateCounter<long>("giftwrap.crowdsec.decisions", "{decision}", "CrowdSec decisions applied to the ban store, by action.");

    /// <summary>Requests to the Local API that failed (unreachable, timed out, refused, malformed), and store writes that failed.</summary>
    public static Counter<long> Errors { get; } =
        Meter.CreateCounter<long>("giftwrap.crowdsec.errors", "{error}", "Failed requests to CrowdSec's Local API and failed store writes.");

    /// <summary>1 while the last request to the Local API succeeded, 0 during an outage (absent before the first).</summary>
    public static ObservableGauge<int> Up { get; } =
        Meter.CreateObservableGauge("giftwrap.crowdsec.up", () => s_up < 0 ? [] : new[] { new Measurement<int>(s_up) }, "{state}",
            "Whether the last request to CrowdSec's Local API succeeded.");

    public static void Applied(string action, int count)
    {
        if (count > 0)
            Decisions.Add(count, new KeyValuePair<string, object?>("action", action));
    }

    public static void Failed(string kind)
    {
        Errors.Add(1, new KeyValuePair<string, object?>("kind", kind));
        s_up = 0;
    }

    public static void Succeeded() => s_up = 1;
}
