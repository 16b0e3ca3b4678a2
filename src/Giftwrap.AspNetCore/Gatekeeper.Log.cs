// What the gatekeeper logs itself, with fixed event ids beside those of Giftwrap.Hosting's
// LibwrapLog (1 connect, 2 refused, 5 diagnostic, 7 program error, 8 aclexec, 9 ban, 10 setsockopt,
// 12 and up), which the engine and AdmitAsync write through IDecisionHost.Log: the Kestrel-only
// notices (an option ignored, a check after TLS) and the two refusals of its own, whose words
// ("refused connect from ADDR (banned: ...)") Kestrel users' filters already match.
using Microsoft.Extensions.Logging;

namespace Giftwrap.AspNetCore;

internal sealed partial class Gatekeeper
{
    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "{Daemon}: refused connect from {Client} (banned: {Reason})")]
    private static partial void RefusedBanned(ILogger logger, string daemon, string client, string reason);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "{Daemon}: refused connect from {Client} (no decision within {Seconds}s)")]
    private static partial void RefusedNoDecision(ILogger logger, string daemon, string client, double seconds);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "{Daemon}: {Rule}: option {Option} ignored: {Why} (said once per rule)")]
    private static partial void OptionIgnored(ILogger logger, string daemon, string rule, string option, string why);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning,
        Message = "{Daemon}: UseGiftwrap runs after the TLS handshake on {EndPoint}: refused clients still complete TLS; call UseGiftwrap() before UseHttps() on the ListenOptions (said once)")]
    private static partial void AfterTls(ILogger logger, string daemon, string endPoint);
}
