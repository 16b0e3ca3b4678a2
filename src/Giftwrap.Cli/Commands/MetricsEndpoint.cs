// serve's optional Prometheus endpoint ([metrics] listen = address:port): the "Giftwrap" meter
// through OpenTelemetry's Prometheus exporter on its own HttpListener, at /metrics. What is
// measured is decided elsewhere (GiftwrapMetrics); this file only exports it.
// SECURITY: the endpoint has no authentication; it shows daemon names and counts, never client
// addresses. Bind it to loopback (or a management address) and let Prometheus come to it.
using System.Net;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using Giftwrap.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Giftwrap.Cli.Commands;

internal static class MetricsEndpoint
{
    /// <summary>Starts exporting on <paramref name="listen"/>; the returned provider stops it when disposed.</summary>
    /// <exception cref="HttpListenerException">The address cannot be listened on (in use, not local, not allowed).</exception>
    public static MeterProvider Start(IPEndPoint listen)
    {
        try
        {
            return Sdk.CreateMeterProviderBuilder()
                .ConfigureResource(r => r.AddService("giftwrap"))
                .AddMeter(GiftwrapMetrics.MeterName)
                .AddPrometheusHttpListener(o =>
                {
                    o.Host = listen.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{listen.Address}]" : listen.Address.ToString();
                    o.Port = listen.Port;
                    o.ScrapeEndpointPath = "/metrics";
                })
                .Build();
        }
        catch (InvalidOperationException ex) when (ex.InnerException is HttpListenerException inner)
        {
            // The exporter wraps the listener's failure ("could not be started"); the reason is the inner one.
            ExceptionDispatchInfo.Throw(inner);
            throw;
        }
    }
}
