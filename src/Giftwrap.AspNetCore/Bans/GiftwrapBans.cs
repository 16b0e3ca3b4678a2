// The application's ban store, when the options name one: opened watching (a ban made by
// `giftwrap ban` or another process is seen within the store's poll interval), checked
// before the tables, fed by the `ban` option. A store that cannot be opened is logged and
// bans are not enforced, as in the gate; the tables still decide.
using System.Net;
using Giftwrap.Bans;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Giftwrap.AspNetCore;

internal sealed partial class GiftwrapBans : IDisposable
{
    private readonly ILogger _log;

    public GiftwrapBans(IOptions<GiftwrapOptions> options, ILoggerFactory loggers)
    {
        _log = loggers.CreateLogger(Gatekeeper.LogCategory);
        if (options.Value.Bans is not { } bans)
            return;
        try
        {
            Store = BanStore.Open(bans, watch: true);
            Store.ProblemFound += (_, p) => StoreProblem(_log, p.ToString());
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The gate does the same: a broken store is reported loudly, the tables keep deciding.
            StoreUnusable(_log, bans.Store, ex.Message);
        }
    }

    /// <summary>The store, or null when none is configured or it could not be opened.</summary>
    public BanStore? Store { get; }

    /// <summary>Why <paramref name="client"/> is banned for <paramref name="daemon"/>, or null when it is not.</summary>
    public string? Check(IPAddress client, string daemon) =>
        Store?.Find(client, daemon, DateTimeOffset.UtcNow) is { } ban ? (ban.Reason.Length > 0 ? ban.Reason : "no reason given") : null;

    /// <summary>Bans <paramref name="client"/> (the rule option `ban DURATION`); what happened, for the log.</summary>
    public string Ban(IPAddress client, TimeSpan duration, string reason)
    {
        if (Store is null)
            return "no ban store configured";
        return Store.Ban(new BanRequest { Target = BanTarget.FromAddress(client), Duration = duration, Reason = reason }).Message;
    }

    public void Dispose() => Store?.Dispose();

    [LoggerMessage(EventId = 30, Level = LogLevel.Error, Message = "ban store {Store}: {Reason}; bans are not enforced")]
    private static partial void StoreUnusable(ILogger logger, string store, string reason);

    [LoggerMessage(EventId = 31, Level = LogLevel.Warning, Message = "ban store: {Problem}")]
    private static partial void StoreProblem(ILogger logger, string problem);
}
