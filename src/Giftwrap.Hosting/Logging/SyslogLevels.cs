// syslog severities as Microsoft.Extensions.Logging levels, for hosts that log through ILogger
// (Kestrel). The core has no logging dependency, so the mapping lives here; syslog itself is left
// to the hosts that write it (the gate's GateLog).
using Giftwrap.Logging;
using Microsoft.Extensions.Logging;

namespace Giftwrap.Hosting;

/// <summary>Maps <see cref="SyslogSeverity"/> to <see cref="LogLevel"/>.</summary>
internal static class SyslogLevels
{
    /// <summary>emerg, alert and crit are Critical; err Error; warning Warning; notice and info Information; debug Debug.</summary>
    public static LogLevel ToLogLevel(this SyslogSeverity severity) => severity switch
    {
        <= SyslogSeverity.Crit => LogLevel.Critical,
        SyslogSeverity.Err => LogLevel.Error,
        SyslogSeverity.Warning => LogLevel.Warning,
        SyslogSeverity.Notice or SyslogSeverity.Info => LogLevel.Information,
        _ => LogLevel.Debug,
    };
}
