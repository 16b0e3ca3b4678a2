// What the gate says, and where: syslog (/dev/log, facility daemon, tagged with the
// daemon name as tcpd does, libwrap's own message texts so fail2ban and logwatch keep
// working) and the console in the systemd format (<level>message). Logging never
// throws into the connection that caused it, and never waits for the console: lines
// are queued and written in batches by the thread pool (bounded; an overflow is
// counted and reported), so a busy gate makes one write(2) for many connections.
using Giftwrap.Net.Syslog;

namespace Giftwrap.Gate.Logging;

/// <summary>syslog severities (syslog(3)).</summary>
public static class Severity
{
    public const int Err = 3;
    public const int Warning = 4;
    public const int Notice = 5;
    public const int Info = 6;
    public const int Debug = 7;
}

/// <summary>The gate's log: libwrap's lines to syslog, everything to the console.</summary>
public sealed class GateLog : IDisposable
{
    private readonly string? _syslogPath;
    private readonly Dictionary<(string Daemon, int? Facility), SyslogWriter> _writers = [];
    private readonly object _gate = new();
    private readonly TextWriter _console;
    private readonly Lock _pendingGate = new();
    private List<string> _pending = [];
    private bool _flushQueued;
    private long _dropped;

    /// <summary>Console lines held at most while the console is slow; more are dropped and counted.</summary>
    public const int MaxPendingLines = 10_000;

    public GateLog(string? syslogPath, TextWriter? console = null)
    {
        _syslogPath = syslogPath;
        _console = console ?? Console.Error;
    }

    /// <summary>A line as tcpd would log it, tagged with the daemon name; <paramref name="facility"/> overrides daemon.</summary>
    public void Daemon(string daemon, int severity, string message, int? facility = null)
    {
        WriteConsole(severity, $"{daemon}: {message}");
        if (_syslogPath is null)
            return;
        SyslogWriter w;
        var key = (daemon, facility);
        lock (_gate)
        {
            if (!_writers.TryGetValue(key, out w!))
                _writers[key] = w = new SyslogWriter(daemon, facility is { } f ? f >> 3 : SyslogFacility.Daemon, _syslogPath);
        }
        w.Log(severity, message);
    }

    /// <summary>A line about the gate itself (start, reload, errors), tagged giftwrap.</summary>
    public void Gate(int severity, string message) => Daemon("giftwrap", severity, message);

    private void WriteConsole(int severity, string message)
    {
        if (ReferenceEquals(_console, TextWriter.Null))
            return;
        var line = $"<{severity}>{message.Replace('\n', ' ').Replace('\r', ' ')}";
        lock (_pendingGate)
        {
            if (_pending.Count >= MaxPendingLines)
            {
                _dropped++;
                return;
            }
            _pending.Add(line);
            if (_flushQueued)
                return;
            _flushQueued = true;
        }
        ThreadPool.UnsafeQueueUserWorkItem(static log => log.FlushConsole(), this, preferLocal: false);
    }

    /// <summary>Writes the queued console lines (also done on dispose).</summary>
    public void FlushConsole()
    {
        List<string> lines;
        long dropped;
        lock (_pendingGate)
        {
            lines = _pending;
            _pending = [];
            dropped = _dropped;
            _dropped = 0;
            _flushQueued = false;
        }
        if (lines.Count == 0 && dropped == 0)
            return;
        lock (_gate)
        {
            try
            {
                foreach (var line in lines)
                    _console.WriteLine(line);
                if (dropped > 0)
                    _console.WriteLine($"<{Severity.Warning}>giftwrap: {dropped} console line(s) dropped (console too slow)");
                _console.Flush();
            }
            catch (IOException)
            {
                // The console went away (a closed pipe): the lines still went to syslog.
            }
        }
    }

    public void Dispose()
    {
        FlushConsole();
        lock (_gate)
        {
            foreach (var w in _writers.Values)
                w.Dispose();
            _writers.Clear();
        }
    }
}
