// The fleet layer's log lines (Microsoft.Extensions.Logging) into the gate's log, with
// the severities syslog knows: the gate has no logging framework of its own. The CrowdSec
// bouncer's lines go the same way (its messages name themselves: no topic prefix).
using Giftwrap.Gate.Logging;
using Giftwrap.Logging;
using Microsoft.Extensions.Logging;

namespace Giftwrap.Cli.Commands;

internal sealed class FleetLog(GateLog log, string where, string? topic = "fleet") : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
            return;
        var severity = logLevel switch
        {
            LogLevel.Information => SyslogSeverity.Info,
            LogLevel.Warning => SyslogSeverity.Warning,
            _ => SyslogSeverity.Err,
        };
        // The exception's message only: no stack trace reaches an operator.
        var text = exception is null ? formatter(state, exception) : $"{formatter(state, exception)}: {exception.Message}";
        // Warnings and errors say where the fleet was configured, as every other configuration problem does.
        var prefix = severity switch
        {
            SyslogSeverity.Warning => $"warning: {where}: ",
            SyslogSeverity.Err => $"error: {where}: ",
            _ => "",
        };
        log.Gate(severity, topic is null ? $"{prefix}{text}" : $"{prefix}{topic}: {text}");
    }
}
