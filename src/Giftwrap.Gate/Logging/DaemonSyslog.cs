// libwrap's lines to syslog, tagged with the daemon name as tcpd does: one SyslogWriter per
// daemon and facility, opened at its first line. The gate's log (GateLog) adds the console
// on top; tcpd mode, which has no console, logs through this alone. No path: nothing is sent.
using Giftwrap.Hosting;
using Giftwrap.Net.Syslog;
// Giftwrap.Net.Syslog has int constants of the same name (SyslogWriter takes an int): the core's enum is meant.
using SyslogSeverity = Giftwrap.Logging.SyslogSeverity;

namespace Giftwrap.Gate.Logging;

internal sealed class DaemonSyslog(string? syslogPath) : IDisposable
{
    // The first writer is kept apart: tcpd mode only ever has the one, and hashing its key would start the
    // runtime's randomised string hashing (a read of /dev/urandom) at every tcpd start.
    private (string Daemon, int? Facility, SyslogWriter Writer)? _first;
    private readonly Dictionary<(string Daemon, int? Facility), SyslogWriter> _others = [];
    private readonly Lock _gate = new();

    /// <summary>
    /// <paramref name="message"/> tagged <paramref name="daemon"/>; <paramref name="facility"/> (LOG_MAIL ...) overrides
    /// daemon. LOG_KERN (0) does not: syslog(3) takes a priority without facility bits to mean openlog()'s facility,
    /// so libwrap's "severity kern.info" logs at daemon.info. False when syslog did not take the line (no path, no
    /// socket, a full queue), for a caller with somewhere else to put it.
    /// </summary>
    public bool Write(string daemon, SyslogSeverity severity, string message, int? facility = null)
    {
        if (syslogPath is null)
            return false;
        SyslogWriter w;
        lock (_gate)
        {
            if (_first is { } first && first.Facility == facility && string.Equals(first.Daemon, daemon, StringComparison.Ordinal))
                w = first.Writer;
            else if (_first is null)
                _first = (daemon, facility, w = Open(daemon, facility, syslogPath));
            else if (!_others.TryGetValue((daemon, facility), out w!))
                _others[(daemon, facility)] = w = Open(daemon, facility, syslogPath);
        }
        return w.Log(severity, message);
    }

    /// <summary>One of the lines <see cref="LibwrapLog"/> builds, tagged with its daemon, at its severity and facility.</summary>
    public bool Write(in LibwrapLine line) => Write(line.Daemon, line.Severity, line.Text, line.Facility);

    private static SyslogWriter Open(string daemon, int? facility, string path) =>
        new(daemon, facility is { } f && f >> 3 != 0 ? f >> 3 : SyslogFacility.Daemon, path);

    public void Dispose()
    {
        lock (_gate)
        {
            _first?.Writer.Dispose();
            _first = null;
            foreach (var w in _others.Values)
                w.Dispose();
            _others.Clear();
        }
    }
}
