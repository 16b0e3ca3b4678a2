// The ban store's instruments, on the "Giftwrap" meter (GiftwrapMetrics.Meter) with the rest:
// bans added and removed, and bans in force now. A host (the gate) calls Observe with its store;
// the store itself records nothing, so the CLI's one-shot commands never start a gauge.
using System.Diagnostics.Metrics;
using Giftwrap.Diagnostics;

namespace Giftwrap.Bans;

/// <summary>The ban instruments of the "Giftwrap" meter: <c>giftwrap.ban.changes</c> and <c>giftwrap.bans.active</c>.</summary>
public static class BanMetrics
{
    private static readonly Counter<long> Changes =
        GiftwrapMetrics.Meter.CreateCounter<long>("giftwrap.ban.changes", "{ban}", "Bans added and removed.");

    // Bans in force now, read from the store given to Observe (one per process: the host's store).
    private static readonly ObservableGauge<long> Active =
        GiftwrapMetrics.Meter.CreateObservableGauge("giftwrap.bans.active", ObserveActive, "{ban}", "Bans in force now.");

    private static Func<long>? s_active;

    /// <summary>
    /// Feeds the ban instruments from <paramref name="store"/> until the returned value is disposed: every
    /// change the store reports (its own, other processes' through the journal, the fleet's) counts as
    /// added or removed (tag <c>change</c>), and the active-bans gauge reads the store. One store per process.
    /// </summary>
    public static IDisposable Observe(BanStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        Func<long> count = () => store.CountActive(DateTimeOffset.UtcNow);
        // Touching the gauge publishes it now, so an exporter shows it before the first change.
        _ = Active;
        Volatile.Write(ref s_active, count);
        store.Changed += CountChange;
        return new Unobserve(() =>
        {
            store.Changed -= CountChange;
            Interlocked.CompareExchange(ref s_active, null, count);
        });
    }

    private static void CountChange(object? sender, BanChangedEventArgs e) =>
        Changes.Add(1, new KeyValuePair<string, object?>("change", e.Change.Kind == BanChangeKind.Banned ? "added" : "removed"));

    private static IEnumerable<Measurement<long>> ObserveActive() =>
        Volatile.Read(ref s_active) is { } count ? [new Measurement<long>(count())] : [];

    private sealed class Unobserve(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }
}
