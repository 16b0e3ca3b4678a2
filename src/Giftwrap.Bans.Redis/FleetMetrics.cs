// The fleet layer's instruments, on the meter every Giftwrap instrument belongs to (so the
// gate's [metrics] endpoint exports them with the rest): the link to Redis going and coming
// back, and bans held back by fleet_rate. Not here: the per-member counters of FleetStatus.
using System.Diagnostics.Metrics;

namespace Giftwrap.Bans.Redis;

internal static class FleetMetrics
{
    // The name of Giftwrap's meter (GiftwrapMetrics.MeterName): a listener of that name sees these
    // too, without this package depending on the core one.
    private static readonly Meter Meter = new("Giftwrap");

    /// <summary>Changes of the link to Redis; tags state (lost, restored, unreachable: not answering at the start) and origin (the member).</summary>
    public static Counter<long> Link { get; } =
        Meter.CreateCounter<long>("giftwrap.fleet.link", "{change}", "Changes of the fleet's link to Redis, by state.");

    /// <summary>Local bans enforced here but not sent to the fleet: over [bans] fleet_rate; tag origin (the member).</summary>
    public static Counter<long> KeptLocal { get; } =
        Meter.CreateCounter<long>("giftwrap.fleet.kept_local", "{ban}", "Bans kept local, over the fleet rate.");

    public static void LinkChanged(string state, string origin) =>
        Link.Add(1, new KeyValuePair<string, object?>("state", state), new KeyValuePair<string, object?>("origin", origin));

    public static void HeldBack(string origin) => KeptLocal.Add(1, new KeyValuePair<string, object?>("origin", origin));
}
