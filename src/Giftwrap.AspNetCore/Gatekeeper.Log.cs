// What the gatekeeper logs, with fixed event ids: libwrap's own lines as LibwrapLines spells them
// for every host ("connect from %c (%a)", "refused connect from %c (%a)", prefixed with the daemon
// name that syslog would tag them with) so that fail2ban's filters keep matching, and the notices
// about options.
using Microsoft.Extensions.Logging;

namespace Giftwrap.AspNetCore;

internal sealed partial class Gatekeeper
{
    [LoggerMessage(EventId = 1, Message = "{Daemon}: {Line}")]
    private static partial void Connect(ILogger logger, LogLevel level, string daemon, string line);

    [LoggerMessage(EventId = 2, Message = "{Daemon}: {Line}")]
    private static partial void Refused(ILogger logger, LogLevel level, string daemon, string line);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "{Daemon}: refused connect from {Client} (banned: {Reason})")]
    private static partial void RefusedBanned(ILogger logger, string daemon, string client, string reason);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "{Daemon}: refused connect from {Client} (no decision within {Seconds}s)")]
    private static partial void RefusedNoDecision(ILogger logger, string daemon, string client, double seconds);

    [LoggerMessage(EventId = 5, Message = "{Daemon}: {Diagnostic}")]
    private static partial void TableWarning(ILogger logger, LogLevel level, string daemon, string diagnostic);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "{Daemon}: {Rule}: option {Option} ignored: {Why} (said once per rule)")]
    private static partial void OptionIgnored(ILogger logger, string daemon, string rule, string option, string why);

    [LoggerMessage(EventId = 7, Level = LogLevel.Error, Message = "{Daemon}: {Reason}")]
    private static partial void ProgramFailed(ILogger logger, string daemon, string reason);

    [LoggerMessage(EventId = 8, Level = LogLevel.Information, Message = "{Daemon}: {Line}")]
    private static partial void AclExecFailed(ILogger logger, string daemon, string line);

    [LoggerMessage(EventId = 9, Level = LogLevel.Information, Message = "{Daemon}: ban {Client} for {Duration}: {Result}")]
    private static partial void Banned(ILogger logger, string daemon, string client, string duration, string result);

    [LoggerMessage(EventId = 10, Level = LogLevel.Warning, Message = "{Daemon}: setsockopt {Option}: {Reason}")]
    private static partial void SocketOptionFailed(ILogger logger, string daemon, string option, string reason);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning,
        Message = "{Daemon}: UseGiftwrap runs after the TLS handshake on {EndPoint}: refused clients still complete TLS; call UseGiftwrap() before UseHttps() on the ListenOptions (said once)")]
    private static partial void AfterTls(ILogger logger, string daemon, string endPoint);
}
