// What the gate says, and where: syslog (DaemonSyslog: /dev/log, facility daemon, tagged with
// the daemon name as tcpd does, libwrap's own message texts so fail2ban and logwatch keep
// working) and the console in the systemd format (<level>message). The gate's own lines and
// every line at err or above always reach the console; the per-connection lines below err
// only when asked ([log] console, decided by ConsoleJournal), and also when syslog dropped
// them, so that no line goes nowhere. Logging never
// throws into the connection that caused it, and never waits for the console: lines
// are queued and written in batches, at most one per ConsoleDelay, by a thread of the log's
// own (bounded; an overflow is counted and reported), so a busy gate makes one write(2) and
// wakes one thread for many connections. Not a Timer: its callback runs on the thread pool,
// whose worker then spins (sched_yield) for more work after every batch, about 5 % of a
// forwarding gate's CPU (docs/benchmarks.md, issue 16).
using System.Collections.Concurrent;
using Giftwrap.Hosting;
using Giftwrap.Logging;

namespace Giftwrap.Gate.Logging;

/// <summary>The gate's log: libwrap's lines to syslog, and to the console unless it is told otherwise.</summary>
public sealed class GateLog : IDisposable
{
    private readonly DaemonSyslog _syslog;
    private readonly object _gate = new();
    private readonly TextWriter _console;
    private readonly bool _daemonLinesToConsole;
    private readonly ConcurrentQueue<string> _pending = new();
    private int _pendingCount;
    private int _flushQueued;
    private long _dropped;
    // Guards _flusher and _flushAsked; the flusher waits on it (Monitor.Wait: no spinning).
    private readonly object _flusherGate = new();
    private Thread? _flusher;
    private bool _flushAsked;
    private System.Text.StringBuilder _batch = new();
    private volatile bool _disposed;

    /// <summary>How long a console line may wait for the lines after it, to be written with them.</summary>
    public static readonly TimeSpan ConsoleDelay = TimeSpan.FromMilliseconds(10);

    /// <summary>How long the console's thread waits for a line before it ends.</summary>
    private static readonly TimeSpan FlusherIdle = TimeSpan.FromSeconds(30);

    /// <summary>Console lines held at most while the console is slow; more are dropped and counted.</summary>
    public const int MaxPendingLines = 10_000;

    /// <summary>The console writer's buffer: a busy batch (100 lines of ~60 bytes) in one write(2).</summary>
    private const int ConsoleBufferSize = 16 * 1024;

    /// <param name="syslogPath">The syslog socket, or null for none.</param>
    /// <param name="console">The console (default stderr); <see cref="TextWriter.Null"/> for none.</param>
    /// <param name="daemonLinesToConsole">
    /// False to keep the per-connection lines below err off the console, which then has the gate's own lines and the errors
    /// (with a syslog socket only: a line syslog does not take is written to the console instead).
    /// </param>
    public GateLog(string? syslogPath, TextWriter? console = null, bool daemonLinesToConsole = true)
    {
        _syslog = new DaemonSyslog(syslogPath);
        _console = console ?? StandardError();
        // Without syslog the console is the only place a line can go.
        _daemonLinesToConsole = daemonLinesToConsole || syslogPath is null;
    }

    /// <summary>
    /// Standard error with a buffer that holds a whole batch: Console.Error's writer flushes every
    /// 256 bytes, a write(2) for every three or four lines of a batch. The console's own encoding
    /// (without a preamble), on a descriptor of its own (a dup of 2).
    /// </summary>
    private static StreamWriter StandardError() =>
        new(Console.OpenStandardError(), Console.OutputEncoding, ConsoleBufferSize) { AutoFlush = false };

    /// <summary>
    /// A line as tcpd would log it, tagged with the daemon name; <paramref name="facility"/> (LOG_MAIL ...) overrides
    /// daemon. LOG_KERN (0) does not: syslog(3) takes a priority without facility bits to mean openlog()'s facility,
    /// so libwrap's "severity kern.info" logs at daemon.info.
    /// </summary>
    public void Daemon(string daemon, SyslogSeverity severity, string message, int? facility = null) =>
        Write(daemon, severity, message, facility, toConsole: _daemonLinesToConsole || severity <= SyslogSeverity.Err);

    private void Write(string daemon, SyslogSeverity severity, string message, int? facility, bool toConsole)
    {
        if (toConsole)
            WriteConsole(severity, $"{daemon}: {message}");
        // A line syslog dropped (no socket, a full queue) and the console did not have: the console takes it after all.
        if (!_syslog.Write(daemon, severity, message, facility) && !toConsole)
            WriteConsole(severity, $"{daemon}: {message}");
    }

    /// <summary>One of the lines <see cref="LibwrapLog"/> builds, tagged with its daemon, at its severity and facility.</summary>
    internal void Write(in LibwrapLine line) => Daemon(line.Daemon, line.Severity, line.Text, line.Facility);

    /// <summary>A line about the gate itself (start, reload, errors), tagged giftwrap: on the console whatever [log] console says.</summary>
    public void Gate(SyslogSeverity severity, string message) => Write("giftwrap", severity, message, null, toConsole: true);

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
        lock (_flusherGate)
        {
            if (!_disposed)
            {
                _flusher ??= StartFlusher();
                _flushAsked = true;
                Monitor.Pulse(_flusherGate);
                return;
            }
        }
        // Disposed: a line after the end is written at once.
        FlushConsole();
    }

    /// <summary>The thread that writes the console's batches; it ends after a while with nothing to write, or at Dispose.</summary>
    private Thread StartFlusher()
    {
        var t = new Thread(static log => ((GateLog)log!).RunFlusher()) { IsBackground = true, Name = "giftwrap console" };
        t.Start(this);
        return t;
    }

    private void RunFlusher()
    {
        while (true)
        {
            lock (_flusherGate)
            {
                while (!_flushAsked && !_disposed)
                {
                    if (!Monitor.Wait(_flusherGate, FlusherIdle) && !_flushAsked)
                    {
                        // Idle: the next line starts a thread again.
                        _flusher = null;
                        return;
                    }
                }
                if (_disposed)
                    return;
                _flushAsked = false;
            }
            // The lines that come meanwhile go in the same write.
            Thread.Sleep(ConsoleDelay);
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
        lock (_flusherGate)
        {
            _disposed = true;
            Monitor.Pulse(_flusherGate);
        }
        FlushConsole();
        _syslog.Dispose();
    }
}
