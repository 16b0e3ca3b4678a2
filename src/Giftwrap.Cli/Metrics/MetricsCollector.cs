// The "Giftwrap" meter read through a MeterListener and kept as Prometheus wants it: cumulative
// sums for counters and up-down counters, last values for gauges and observed instruments, and
// histograms with their buckets, sum and count; written out as text by Render. What is measured is
// decided by the instruments' owners (GiftwrapMetrics, GateMetrics, BanMetrics ...); the HTTP side is MetricsServer's.
using System.Diagnostics.Metrics;
using System.Text;

namespace Giftwrap.Cli.Metrics;

internal sealed class MetricsCollector : IDisposable
{
    private readonly string _meterName;
    private readonly MeterListener _listener = new();
    private readonly Lock _instrumentsGate = new();
    private readonly List<InstrumentSeries> _instruments = [];
    private readonly Lock _renderGate = new();
    // The exporter's resource, as Prometheus saw it: target_info with the service's name and this
    // process's instance id.
    private readonly string _instanceId = Guid.NewGuid().ToString();

    /// <param name="meterName">The meter to listen to (every Meter of that name, in any assembly).</param>
    public MetricsCollector(string meterName)
    {
        _meterName = meterName;
        _listener.InstrumentPublished = Published;
        _listener.MeasurementsCompleted = Completed;
        _listener.SetMeasurementEventCallback<byte>((i, v, tags, state) => ((InstrumentSeries)state!).Record(v, tags));
        _listener.SetMeasurementEventCallback<short>((i, v, tags, state) => ((InstrumentSeries)state!).Record(v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, state) => ((InstrumentSeries)state!).Record(v, tags));
        _listener.SetMeasurementEventCallback<long>((i, v, tags, state) => ((InstrumentSeries)state!).Record(v, tags));
        _listener.SetMeasurementEventCallback<float>((i, v, tags, state) => ((InstrumentSeries)state!).Record(v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, state) => ((InstrumentSeries)state!).Record(v, tags));
        _listener.SetMeasurementEventCallback<decimal>((i, v, tags, state) => ((InstrumentSeries)state!).Record((double)v, tags));
        _listener.Start();
    }

    private void Published(Instrument instrument, MeterListener listener)
    {
        if (instrument.Meter.Name != _meterName || InstrumentSeries.Create(instrument) is not { } series)
            return;
        lock (_instrumentsGate)
            _instruments.Add(series);
        listener.EnableMeasurementEvents(instrument, series);
    }

    // Its meter was disposed: its series go with it.
    private void Completed(Instrument instrument, object? state)
    {
        lock (_instrumentsGate)
            _instruments.Remove((InstrumentSeries)state!);
    }

    /// <summary>Asks the observed instruments for their values, then writes every instrument with a value as Prometheus text.</summary>
    public string Render()
    {
        lock (_renderGate)
        {
            try
            {
                _listener.RecordObservableInstruments();
            }
            catch (AggregateException)
            {
                // A callback of another component failed (the ban store unreadable a moment): its gauge keeps
                // its last value, and the other instruments are still worth a scrape.
            }
            InstrumentSeries[] instruments;
            lock (_instrumentsGate)
                instruments = [.. _instruments];
            var sb = new StringBuilder(4096);
            sb.Append("# TYPE target_info gauge\n# HELP target_info Target metadata\n");
            sb.Append("target_info{service_name=\"giftwrap\",service_instance_id=\"").Append(_instanceId).Append("\"} 1\n");
            foreach (var instrument in instruments.OrderBy(i => i.Name, StringComparer.Ordinal))
                instrument.Write(sb);
            return sb.ToString();
        }
    }

    public void Dispose() => _listener.Dispose();
}
