// Keeps what the application logs (through the real logging pipeline) so that tests can
// assert on libwrap's lines and on notices that must appear once.
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Giftwrap.AspNetCore.Tests.Support;

internal sealed record LogEntry(string Category, LogLevel Level, int EventId, string Message);

internal sealed class LogCollector : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    public IReadOnlyList<LogEntry> Giftwrap => [.. _entries.Where(e => e.Category == "Giftwrap.AspNetCore")];

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _entries);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<LogEntry> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            entries.Enqueue(new LogEntry(category, logLevel, eventId.Id, formatter(state, exception)));
    }
}
