// The gate's view of the local ban store (and, through it, of the fleet): checked
// before the tables, fed by the `ban DURATION` option.
using System.Net;
using Giftwrap.Bans;
using Giftwrap.Gate.Connections;

namespace Giftwrap.Cli.Commands;

internal sealed class GateBans(BanStore store) : IGateBans, IDisposable
{
    public BanStore Store => store;

    public string? Check(IPAddress client, string daemon) =>
        store.Find(client, daemon, DateTimeOffset.UtcNow) is { } ban ? (ban.Reason.Length > 0 ? ban.Reason : "no reason given") : null;

    public string Ban(IPAddress client, TimeSpan duration, string reason, string daemon)
    {
        try
        {
            var result = store.Ban(new BanRequest { Target = BanTarget.FromAddress(client), Duration = duration, Reason = reason });
            return result.Message;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A full disk, a lock held too long, or a journal the gate may no longer write (made
            // immutable, a read-only remount: EPERM is UnauthorizedAccessException, even for root):
            // the ban is not recorded, the gate goes on serving and logs why.
            return $"not banned: {ex.Message}";
        }
    }

    /// <summary>Opens the store of <paramref name="options"/> for the gate; null and the reason in words when it cannot be used.</summary>
    public static GateBans? Open(BanOptions options, string where, out string? error)
    {
        // The gate reads the store and writes to it (the ban option): it must be able to do both.
        error = StoreProblems.KindProblem(options.Store) is { } kind ? $"{where}: {kind}"
            : StoreProblems.AccessProblem(options.Store, write: true) is { } access ? $"{where}: {access}" : null;
        if (error is not null)
            return null;
        try
        {
            return new GateBans(BanStore.Open(options, watch: true));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            error = StoreProblems.Describe(options.Store, where, ex);
            return null;
        }
    }

    /// <summary>Feeds the ban metrics from the store until disposed (<see cref="BanMetrics.Observe"/>).</summary>
    public IDisposable ObserveMetrics() => BanMetrics.Observe(store);

    public void Dispose() => store.Dispose();
}
