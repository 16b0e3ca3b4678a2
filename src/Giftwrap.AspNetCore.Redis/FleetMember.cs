// Joins the application's ban store to its fleet when the application starts and leaves it
// when it stops. Redis being away does not stop the application: the member enforces what it
// knows and catches up when Redis returns (BanFleet's own policy). Not joining is logged as an error.
using Giftwrap.AspNetCore.Bans;
using Giftwrap.Bans.Redis;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Giftwrap.AspNetCore.Redis;

internal sealed partial class FleetMember(FleetOptions options, StoreBanList bans, ILoggerFactory loggers) : IHostedService, IAsyncDisposable
{
    private readonly ILogger _log = loggers.CreateLogger(StoreBanList.LogCategory);
    private BanFleet? _fleet;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // A store that could not be opened has been reported already; there is nothing to share.
        if (bans.Store is not { } store)
            return;
        try
        {
            _fleet = await BanFleet.JoinAsync(store, options, loggers.CreateLogger("Giftwrap.Bans.Redis"), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ArgumentException or IOException or StackExchange.Redis.RedisException)
        {
            // A malformed connection string or an unusable ledger: this member keeps its local bans.
            NotJoined(_log, ex.Message);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _fleet, null) is { } fleet)
            await fleet.DisposeAsync().ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 32, Level = LogLevel.Error, Message = "{Reason}; not joining the fleet")]
    private static partial void NotJoined(ILogger logger, string reason);
}
