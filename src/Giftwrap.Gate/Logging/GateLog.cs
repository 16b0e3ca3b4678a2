// What the gate says, and where: syslog (/dev/log, facility daemon, tagged with the
// daemon name as tcpd does, libwrap's own message texts so fail2ban and logwatch keep
// working) and the console in the systemd format (<level>message). Logging never
// throws into the connection that caused it.
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
    private readonly Dictionary<string, SyslogWriter> _writers = new(StringComparer.Ordinal);
    private readonly object _gate = new();
    private readonly TextWriter _console;

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
        var key = $"{daemon}/{facility}";
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
        var safe = message.Replace('\n', ' ').Replace('\r', ' ');
        lock (_gate)
        {
            _console.WriteLine($"<{severity}>{safe}");
            _console.Flush();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var w in _writers.Values)
                w.Dispose();
            _writers.Clear();
        }
    }
}
