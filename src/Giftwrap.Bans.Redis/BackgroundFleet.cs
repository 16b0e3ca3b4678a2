// Joining the fleet without making the host wait: the join (connect, first exchange) runs
// in the background, so a Redis that is down, slow, or accepts TCP and never answers
// delays nothing; the local store enforces every ban meanwhile, and the first exchange
// sends what was banned before the join finished. For hosts such as `giftwrap serve`.
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Giftwrap.Bans.Redis;

/// <summary>A <see cref="BanFleet"/> being joined in the background.</summary>
public sealed partial class BackgroundFleet : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _log;

    private BackgroundFleet(BanStore store, FleetOptions options, ILogger log)
    {
        _log = log;
        Joined = Task.Run(() => BanFleet.JoinAsync(store, options, log, _stop.Token));
        _ = Joined.ContinueWith(t => JoinFailed(_log, t.Exception!.GetBaseException().Message),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }

    /// <summary>Starts joining and returns at once.</summary>
    public static BackgroundFleet Start(BanStore store, FleetOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        return new BackgroundFleet(store, options, logger ?? NullLogger.Instance);
    }

    /// <summary>Completes with the member once joined (connected or not: a member keeps retrying Redis by itself).</summary>
    public Task<BanFleet> Joined { get; }

    /// <summary>The member, or null while joining (or when the join failed).</summary>
    public BanFleet? Fleet => Joined.IsCompletedSuccessfully ? Joined.Result : null;

    /// <summary>Leaves the fleet; a join still under way is left to finish and then closed, not waited for.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (Joined.IsCompleted)
        {
            if (Fleet is { } fleet)
                await fleet.DisposeAsync().ConfigureAwait(false);
            _stop.Dispose();
            return;
        }
        _ = Joined.ContinueWith(t => t.Result.DisposeAsync().AsTask(), CancellationToken.None,
            TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default).Unwrap();
    }

    [LoggerMessage(3113, LogLevel.Error, "Could not join the fleet: {Message}; the bans of this host are enforced all the same")]
    private static partial void JoinFailed(ILogger logger, string message);
}
