// The gate's own instruments: connections being handled and bytes forwarded. They live on the
// core's "Giftwrap" meter (GiftwrapMetrics.Meter), so one listener or exporter of that name sees
// them with the decisions and lookups. Not here: decisions and lookups (the core), bans (Giftwrap.Bans).
using System.Diagnostics.Metrics;
using Giftwrap.Diagnostics;

namespace Giftwrap.Gate.Listening;

internal static class GateMetrics
{
    /// <summary>Connections being handled now; tags daemon, service.</summary>
    private static readonly UpDownCounter<long> ActiveConnections =
        GiftwrapMetrics.Meter.CreateUpDownCounter<long>("giftwrap.connections.active", "{connection}", "Connections the gate is handling now.");

    /// <summary>Bytes the gate forwarded; tag direction (to_backend, to_client).</summary>
    private static readonly Counter<long> BytesForwarded =
        GiftwrapMetrics.Meter.CreateCounter<long>("giftwrap.forwarded", "By", "Bytes forwarded between clients and backends.");

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
}
