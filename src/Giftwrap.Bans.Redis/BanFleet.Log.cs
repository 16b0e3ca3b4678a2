// The fleet layer's log lines, source-generated, with fixed event ids (3100-3199).
using Microsoft.Extensions.Logging;

namespace Giftwrap.Bans.Redis;

public sealed partial class BanFleet
{
    [LoggerMessage(3100, LogLevel.Warning, "Lost the connection to Redis at {EndPoint} ({Failure}): enforcing the bans known, sending changes when it returns")]
    private static partial void Disconnected(ILogger logger, string endPoint, string failure);

    [LoggerMessage(3101, LogLevel.Information, "Exchanged with the fleet: {Records} records known (exchange {Count})")]
    private static partial void Synced(ILogger logger, int records, long count);

    [LoggerMessage(3102, LogLevel.Warning, "The fleet exchange failed: {Message}; retrying when Redis is back")]
    private static partial void SyncFailed(ILogger logger, string message);

    [LoggerMessage(3103, LogLevel.Warning, "Could not send {Count} changes to the fleet: {Message}; they are kept and sent after the reconnect")]
    private static partial void SendFailed(ILogger logger, int count, string message);

    [LoggerMessage(3104, LogLevel.Warning, "Refused a fleet change of {Target} from {Origin}: {Message}")]
    private static partial void Refused(ILogger logger, string target, string origin, string message);

    [LoggerMessage(3105, LogLevel.Warning, "{Count} ban(s) kept local, not sent to the fleet: over the fleet rate {Rate} (the first: {Target})")]
    private static partial void KeptLocal(ILogger logger, long count, string rate, string target);

    [LoggerMessage(3106, LogLevel.Warning, "Ignored {Count} malformed fleet record(s) (the first: {Error})")]
    private static partial void Malformed(ILogger logger, long count, string error);

    [LoggerMessage(3107, LogLevel.Warning, "Fleet ledger line {Line} is damaged and was skipped: {Error}")]
    private static partial void LedgerDamaged(ILogger logger, int line, string error);

    [LoggerMessage(3108, LogLevel.Error, "The fleet layer could not apply a change")]
    private static partial void WorkFailed(ILogger logger, Exception exception);

    [LoggerMessage(3109, LogLevel.Error, "A fleet notice handler failed")]
    private static partial void HandlerFailed(ILogger logger, Exception exception);

    [LoggerMessage(3110, LogLevel.Warning, "The connection to Redis at {EndPoint} is back: exchanging with the fleet")]
    private static partial void Reconnected(ILogger logger, string endPoint);

    [LoggerMessage(3111, LogLevel.Warning, "Redis at {EndPoint} does not answer ({Failure}): enforcing the bans known, joining the fleet when it answers")]
    private static partial void Unreachable(ILogger logger, string endPoint, string failure);

    [LoggerMessage(3114, LogLevel.Warning, "Dropped {Count} fleet record(s) from the channel: {Limit} were waiting to be applied; the next exchange reads them from the list")]
    private static partial void Dropped(ILogger logger, long count, int limit);

    [LoggerMessage(3115, LogLevel.Warning, "{Count} fleet record(s) dated more than {MaxSkew} ahead of this clock, ordered as made that far from now (the first: {First})")]
    private static partial void DatedAhead(ILogger logger, long count, string maxSkew, string first);

    [LoggerMessage(3116, LogLevel.Warning, "The fleet's list {Key} in Redis was emptied without a restart (FLUSHALL, the key deleted): exchanging with the fleet at once")]
    private static partial void ListGone(ILogger logger, string key);

    [LoggerMessage(3112, LogLevel.Information, "Joined the fleet through Redis at {EndPoint}")]
    private static partial void Connected(ILogger logger, string endPoint);
}
