// The application's ban store as the gatekeeper's IBanList: opened watching (a ban made by
// `giftwrap ban` or another process is seen within the store's poll interval), checked
// before the tables, fed by the `ban` option. A store that cannot be opened is logged and
// bans are not enforced, as in the gate; the tables still decide. Joining a fleet is left
// to Giftwrap.AspNetCore.Redis, which reads Store.
using System.Net;
using Giftwrap.Bans;
using Microsoft.Extensions.Logging;

namespace Giftwrap.AspNetCore.Bans;

internal sealed partial class StoreBanList : IBanList, IDisposable
{
    /// <summary>The gatekeeper's category: one place to read everything Giftwrap said about a client.</summary>
    public const string LogCategory = "Giftwrap.AspNetCore";

    private int _disposed;

    public StoreBanList(BanOptions options, ILoggerFactory loggers)
    {
        var log = loggers.CreateLogger(LogCategory);
        try
        {
            Store = BanStore.Open(options, watch: true);
            Store.ProblemFound += (_, p) => StoreProblem(log, p.ToString());
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The gate does the same: a broken store is reported loudly, the tables keep deciding.
            StoreUnusable(log, options.Store, ex.Message);
        }
    }

    /// <summary>The store, or null when it could not be opened.</summary>
    public BanStore? Store { get; }

    public string? Check(IPAddress client, string daemon) =>
        Store?.Find(client, daemon, DateTimeOffset.UtcNow) is { } ban ? (ban.Reason.Length > 0 ? ban.Reason : "no reason given") : null;

    public string Ban(IPAddress client, TimeSpan duration, string reason)
    {
        if (Store is null)
            return "no ban store configured";
        try
        {
            return Store.Ban(new BanRequest { Target = BanTarget.FromAddress(client), Duration = duration, Reason = reason }).Message;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // As in the gate: a full disk, a lock held too long, a store gone or read-only. The ban is not
            // recorded, the verdict stands, and the ban's log line says why (the exception escaped the
            // gatekeeper: Kestrel's unhandled error in place of the refusal line, a 500 at the HTTP level).
            return $"not banned: {ex.Message}";
        }
    }

    public void Dispose()
    {
        // Registered both as itself and as IBanList, so the container hands it back twice.
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
            Store?.Dispose();
    }

    [LoggerMessage(EventId = 30, Level = LogLevel.Error, Message = "ban store {Store}: {Reason}; bans are not enforced")]
    private static partial void StoreUnusable(ILogger logger, string store, string reason);

    [LoggerMessage(EventId = 31, Level = LogLevel.Warning, Message = "ban store: {Problem}")]
    private static partial void StoreProblem(ILogger logger, string problem);
}
