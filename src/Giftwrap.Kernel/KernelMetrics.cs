// The kernel side's instruments, on the meter every Giftwrap instrument belongs to (so the
// gate's [metrics] endpoint exports them with the rest): transactions sent to nft, drift
// found between the kernel's table and the store, and the elements the kernel holds.
using System.Diagnostics.Metrics;

namespace Giftwrap.Kernel;

internal static class KernelMetrics
{
    // The name of Giftwrap's meter (GiftwrapMetrics.MeterName): a listener of that name sees these too.
    private static readonly Meter Meter = new("Giftwrap");

    /// <summary>Transactions sent to nft; tags kind (changes, table) and outcome (ok, failed).</summary>
    public static Counter<long> Transactions { get; } =
        Meter.CreateCounter<long>("giftwrap.kernel.transactions", "{transaction}", "nft transactions of the kernel side, by kind and outcome.");

    /// <summary>Drift found by reconciliation; tag kind (table: table, chain, rule or set missing; missing, extra, timeout: elements).</summary>
    public static Counter<long> Drift { get; } =
        Meter.CreateCounter<long>("giftwrap.kernel.drift", "{difference}", "Differences found between the kernel's table and the ban store, by kind.");

    public static void Transaction(string kind, bool ok) =>
        Transactions.Add(1, new KeyValuePair<string, object?>("kind", kind), new KeyValuePair<string, object?>("outcome", ok ? "ok" : "failed"));

    public static void Drifted(string kind, int count) =>
        Drift.Add(count, new KeyValuePair<string, object?>("kind", kind));

    private static volatile Func<int>? _elements;

    /// <summary>Elements in the kernel's ban sets as last written, read from the source given to <see cref="ObserveElements"/>.</summary>
    public static ObservableGauge<int> Elements { get; } =
        Meter.CreateObservableGauge("giftwrap.kernel.elements", () => _elements?.Invoke() ?? 0, "{element}", "Elements in the kernel's ban sets, as last written.");

    /// <summary>Makes <paramref name="count"/> the gauge's source until the returned value is disposed (one kernel side per process).</summary>
    public static IDisposable ObserveElements(Func<int> count)
    {
        _ = Elements;
        _elements = count;
        return new Unobserve(() => _elements = null);
    }

    private sealed class Unobserve(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }
}
