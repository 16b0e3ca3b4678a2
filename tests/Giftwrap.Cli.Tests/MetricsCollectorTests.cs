// The Prometheus text the metrics endpoint serves, for every kind of instrument, in-process on
// a meter of the test's own: names with units and _total, labels by name after otel_scope_name,
// histograms cumulative with _sum and _count, escaping, the series bound. The HTTP side and the
// gate's own instruments are ServeMetricsTests' and ServeMetricsAbuseTests'.
using System.Diagnostics.Metrics;
using System.Text.RegularExpressions;
using Giftwrap.Cli.Metrics;

namespace Giftwrap.Cli.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed partial class MetricsCollectorTests
{
    [Fact]
    public void Render_EveryKindOfInstrument_AsTheExporterWroteIt()
    {
        using var meter = new Meter($"Test.{Guid.NewGuid():N}");
        using var collector = new MetricsCollector(meter.Name);
        var requests = meter.CreateCounter<long>("test.requests", "{request}", "Requests served.");
        requests.Add(2, new("path", "/a"), new("code", 200));
        requests.Add(3, new("code", 200), new("path", "/a"));
        requests.Add(1, new("path", "/b"), new("code", 404));
        requests.Add(-5, new("path", "/b"), new("code", 404));
        var open = meter.CreateUpDownCounter<int>("test.open", "{connection}", "Open now.");
        open.Add(3);
        open.Add(-1);
        var wait = meter.CreateHistogram("test.wait", "s", "Time waited.", null, new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 1] });
        wait.Record(0.0625);
        wait.Record(0.5);
        wait.Record(3, new KeyValuePair<string, object?>("k", "v"));
        meter.CreateObservableGauge("test.level", () => 7, "1", "Fill level.");
        meter.CreateObservableCounter("test.seen", () => 12L, "By", "Bytes seen.");
        meter.CreateCounter<long>("test.silent", "{x}", "Never recorded.");
        var sent = meter.CreateCounter<double>("test.sent", "By", "Bytes sent.\nIn \\ pieces.");
        sent.Add(1.5, new KeyValuePair<string, object?>("peer", "a\"b\\c\nd"));

        var expected = $$"""
            # TYPE target_info gauge
            # HELP target_info Target metadata
            target_info{service_name="giftwrap",service_instance_id="ID"} 1
            # TYPE test_level_ratio gauge
            # HELP test_level_ratio Fill level.
            test_level_ratio{otel_scope_name="{{meter.Name}}"} 7
            # TYPE test_open gauge
            # HELP test_open Open now.
            test_open{otel_scope_name="{{meter.Name}}"} 2
            # TYPE test_requests_total counter
            # HELP test_requests_total Requests served.
            test_requests_total{otel_scope_name="{{meter.Name}}",code="200",path="/a"} 5
            test_requests_total{otel_scope_name="{{meter.Name}}",code="404",path="/b"} 1
            # TYPE test_seen_bytes_total counter
            # HELP test_seen_bytes_total Bytes seen.
            test_seen_bytes_total{otel_scope_name="{{meter.Name}}"} 12
            # TYPE test_sent_bytes_total counter
            # HELP test_sent_bytes_total Bytes sent.\nIn \\ pieces.
            test_sent_bytes_total{otel_scope_name="{{meter.Name}}",peer="a\"b\\c\nd"} 1.5
            # TYPE test_wait_seconds histogram
            # HELP test_wait_seconds Time waited.
            test_wait_seconds_bucket{otel_scope_name="{{meter.Name}}",le="0.1"} 1
            test_wait_seconds_bucket{otel_scope_name="{{meter.Name}}",le="1"} 2
            test_wait_seconds_bucket{otel_scope_name="{{meter.Name}}",le="+Inf"} 2
            test_wait_seconds_sum{otel_scope_name="{{meter.Name}}"} 0.5625
            test_wait_seconds_count{otel_scope_name="{{meter.Name}}"} 2
            test_wait_seconds_bucket{otel_scope_name="{{meter.Name}}",k="v",le="0.1"} 0
            test_wait_seconds_bucket{otel_scope_name="{{meter.Name}}",k="v",le="1"} 0
            test_wait_seconds_bucket{otel_scope_name="{{meter.Name}}",k="v",le="+Inf"} 1
            test_wait_seconds_sum{otel_scope_name="{{meter.Name}}",k="v"} 3
            test_wait_seconds_count{otel_scope_name="{{meter.Name}}",k="v"} 1

            """;
        Assert.Equal(expected.ReplaceLineEndings("\n"), InstanceId().Replace(collector.Render(), "service_instance_id=\"ID\""));
    }

    [Fact]
    public void Render_GiftwrapInstruments_KeepTheirPrometheusNames()
    {
        // The names dashboards and alerts use (README, "### Metrics"), from the instruments' own.
        Assert.Equal("giftwrap_decisions_total", PrometheusNames.Metric("giftwrap.decisions", "{decision}", counter: true, gauge: false));
        Assert.Equal("giftwrap_lookup_duration_seconds", PrometheusNames.Metric("giftwrap.lookup.duration", "s", counter: false, gauge: false));
        Assert.Equal("giftwrap_forwarded_bytes_total", PrometheusNames.Metric("giftwrap.forwarded", "By", counter: true, gauge: false));
        Assert.Equal("giftwrap_connections_active", PrometheusNames.Metric("giftwrap.connections.active", "{connection}", counter: false, gauge: true));
        Assert.Equal("giftwrap_fleet_kept_local_total", PrometheusNames.Metric("giftwrap.fleet.kept_local", "{ban}", counter: true, gauge: false));
        Assert.Equal("giftwrap_crowdsec_up", PrometheusNames.Metric("giftwrap.crowdsec.up", "{state}", counter: false, gauge: true));
        Assert.Equal("giftwrap_requests_total", PrometheusNames.Metric("giftwrap.requests.total", null, counter: true, gauge: false));
        Assert.Equal("giftwrap_rate_bytes_per_second", PrometheusNames.Metric("giftwrap.rate", "By/s", counter: false, gauge: true));
    }

    [Fact]
    public void Record_PastTheSeriesBound_CountsInOneOverflowSeries()
    {
        using var meter = new Meter($"Test.{Guid.NewGuid():N}");
        using var collector = new MetricsCollector(meter.Name);
        var counter = meter.CreateCounter<long>("test.many");
        for (var i = 0; i < InstrumentSeries.MaxSeries + 50; i++)
            counter.Add(1, new KeyValuePair<string, object?>("n", i));
        counter.Add(1, new KeyValuePair<string, object?>("n", 0));

        var lines = collector.Render().Split('\n').Where(l => l.StartsWith("test_many_total{", StringComparison.Ordinal)).ToList();
        Assert.Equal(InstrumentSeries.MaxSeries + 1, lines.Count);
        Assert.Contains($"test_many_total{{otel_scope_name=\"{meter.Name}\",n=\"0\"}} 2", lines);
        Assert.Contains($"test_many_total{{otel_scope_name=\"{meter.Name}\",otel_metric_overflow=\"true\"}} 50", lines);
    }

    [Theory]
    [InlineData("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200, true)]
    [InlineData("GET /metrics/ HTTP/1.0\r\n\r\n", 200, true)]
    [InlineData("GET http://127.0.0.1:9464/metrics?a=b HTTP/1.1\r\n\r\n", 200, true)]
    [InlineData("HEAD /metrics HTTP/1.1\n\n", 200, false)]
    [InlineData("POST /metrics HTTP/1.1\r\n\r\n", 405, false)]
    [InlineData("GET /metricsx HTTP/1.1\r\n\r\n", 404, false)]
    [InlineData("GET / HTTP/1.1\r\n\r\n", 404, false)]
    [InlineData("GET /metrics HTTP/2.0\r\n\r\n", 505, false)]
    [InlineData("GET /metrics\r\n\r\n", 400, false)]
    [InlineData("GET  /metrics HTTP/1.1\r\n\r\n", 400, false)]
    public void Route_RequestLine_Status(string head, int status, bool body) =>
        Assert.Equal((status, body), MetricsRequest.Route(System.Text.Encoding.ASCII.GetBytes(head)));

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: x\r\n\r\nrest", 27)]
    [InlineData("GET / HTTP/1.1\n\n", 16)]
    [InlineData("GET / HTTP/1.1\r\nHost: x\n\r\n", 26)]
    [InlineData("GET / HTTP/1.1\r\nHost: x\r\n", -1)]
    [InlineData("GET / HTTP/1.1\r\nHost: x\r\n\r", -1)]
    public void HeadLength_Received_EndOfTheBlankLine(string received, int length) =>
        Assert.Equal(length, MetricsRequest.HeadLength(System.Text.Encoding.ASCII.GetBytes(received)));

    [GeneratedRegex("service_instance_id=\"[0-9a-f-]{36}\"")]
    private static partial Regex InstanceId();
}
