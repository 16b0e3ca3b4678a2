// What the gate says, and where: syslog (/dev/log, facility daemon, tagged with the
// daemon name as tcpd does, libwrap's own message texts so fail2ban and logwatch keep
// working) and the console in the systemd format (<level>message). Logging never
// throws into the connection that caused it, and never waits for the console: lines
// are queued and written in batches, at most one per ConsoleDelay, by a timer (bounded;
// an overflow is counted and reported), so a busy gate makes one write(2) and wakes one
// thread for many connections.
using System.Collections.Concurrent;
using Giftwrap.Hosting;
using Giftwrap.Net.Syslog;
// Giftwrap.Net.Syslog has int constants of the same name (SyslogWriter takes an int): the core's enum is meant.
using SyslogSeverity = Giftwrap.Logging.SyslogSeverity;

namespace Giftwrap.Gate.Logging;

/// <summary>The gate's log: libwrap's lines to syslog, everything to the console.</summary>
public sealed class GateLog : IDisposable
{
    private readonly string? _syslogPath;
    private readonly Dictionary<(string Daemon, int? Facility), SyslogWriter> _writers = [];
    private readonly object _gate = new();
    private readonly TextWriter _console;
    private readonly ConcurrentQueue<string> _pending = new();
    private int _pendingCount;
    private int _flushQueued;
    private long _dropped;
    private readonly Lock _timerGate = new();
    private Timer? _flushTimer;
    private System.Text.StringBuilder _batch = new();
    private volatile bool _disposed;

    /// <summary>How long a console line may wait for the lines after it, to be written with them.</summary>
    public static readonly TimeSpan ConsoleDelay = TimeSpan.FromMilliseconds(10);

    /// <summary>Console lines held at most while the console is slow; more are dropped and counted.</summary>
    public const int MaxPendingLines = 10_000;

    public GateLog(string? syslogPath, TextWriter? console = null)
    {
        _syslogPath = syslogPath;
        _console = console ?? Console.Error;
    }

    /// <summary>
    /// A line as tcpd would log it, tagged with the daemon name; <paramref name="facility"/> (LOG_MAIL ...) overrides
    /// daemon. LOG_KERN (0) does not: syslog(3) takes a priority without facility bits to mean openlog()'s facility,
    /// so libwrap's "severity kern.info" logs at daemon.info.
    /// </summary>
    public void Daemon(string daemon, SyslogSeverity severity, string message, int? facility = null)
    {
        WriteConsole(severity, $"{daemon}: {message}");
        if (_syslogPath is null)
            return;
        SyslogWriter w;
        var key = (daemon, facility);
        lock (_gate)
        {
            if (!_writers.TryGetValue(key, out w!))
                _writers[key] = w = new SyslogWriter(daemon, facility is { } f && f >> 3 != 0 ? f >> 3 : SyslogFacility.Daemon, _syslogPath);
        }
        w.Log(severity, message);
    }

    /// <summary>One of the lines <see cref="LibwrapLog"/> builds, tagged with its daemon, at its severity and facility.</summary>
    internal void Write(in LibwrapLine line) => Daemon(line.Daemon, line.Severity, line.Text, line.Facility);

    /// <summary>A line about the gate itself (start, reload, errors), tagged giftwrap.</summary>
    public void Gate(SyslogSeverity severity, string message) => Daemon("giftwrap", severity, message);

    private void WriteConsole(SyslogSeverity severity, string message)
    {
        if (ReferenceEquals(_console, TextWriter.Null))
            return;
        // Lock-free: the event loops log from several threads at once.
        if (Interlocked.Increment(ref _pendingCount) > MaxPendingLines)
        {
            Interlocked.Decrement(ref _pendingCount);
            Interlocked.Increment(ref _dropped);
            return;
        }
        _pending.Enqueue($"<{(int)severity}>{message.Replace('\n', ' ').Replace('\r', ' ')}\n");
        if (Interlocked.CompareExchange(ref _flushQueued, 1, 0) != 0)
            return;
        if (_flushTimer is null)
        {
            lock (_timerGate)
                _flushTimer ??= new Timer(static log => ((GateLog)log!).FlushConsole(), this, Timeout.Infinite, Timeout.Infinite);
        }
        try
        {
            if (_disposed)
                FlushConsole();
            else
                _flushTimer.Change(ConsoleDelay, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // Disposed meanwhile: a line after the end is written at once.
            FlushConsole();
        }
    }

    /// <summary>Writes the queued console lines in one write (also done on dispose).</summary>
    public void FlushConsole()
    {
        // Cleared first: a line queued from here on asks for a flush of its own.
        Volatile.Write(ref _flushQueued, 0);
        lock (_gate)
        {
            _batch.Clear();
            while (_pending.TryDequeue(out var line))
            {
                Interlocked.Decrement(ref _pendingCount);
                _batch.Append(line);
            }
            var dropped = Interlocked.Exchange(ref _dropped, 0);
            if (dropped > 0)
                _batch.Append($"<{(int)SyslogSeverity.Warning}>giftwrap: {dropped} console line(s) dropped (console too slow)\n");
            if (_batch.Length == 0)
                return;
            try
            {
                _console.Write(_batch.ToString());
                _console.Flush();
            }
            catch (IOException)
            {
                // The console went away (a closed pipe): the lines still went to syslog.
            }
            if (_batch.Capacity > 1 << 20)
                _batch = new();
        }
    }

    public void Dispose()
    {
        lock (_timerGate)
        {
            _disposed = true;
            _flushTimer?.Dispose();
        }
        FlushConsole();
        lock (_gate)
        {
            foreach (var w in _writers.Values)
                w.Dispose();
            _writers.Clear();
        }
    }
}
