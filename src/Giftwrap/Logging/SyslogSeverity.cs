// The one vocabulary for syslog severities in Giftwrap: what hosts_options(5)'s severity option
// names, what libwrap's lines are written at, and what the gate's own lines use. Mapping to other
// vocabularies (Microsoft.Extensions.Logging's LogLevel) is left to the hosts that need it.
namespace Giftwrap.Logging;

/// <summary>
/// Severity codes, as in syslog(3) and RFC 3164 section 4.1.1; the values are the codes, the names the
/// level keywords of hosts_options(5)'s severity option (emerg ... debug), as libwrap's options.c knows them.
/// </summary>
public enum SyslogSeverity
{
    /// <summary>LOG_EMERG: the system is unusable.</summary>
    Emerg = 0,
    /// <summary>LOG_ALERT: act at once.</summary>
    Alert = 1,
    /// <summary>LOG_CRIT: critical conditions.</summary>
    Crit = 2,
    /// <summary>LOG_ERR: errors; tcpd_warn() and tcpd_jump() (diag.c) log at it.</summary>
    Err = 3,
    /// <summary>LOG_WARNING: tcpd's deny_severity ("refused connect", "twist").</summary>
    Warning = 4,
    /// <summary>LOG_NOTICE: normal but significant.</summary>
    Notice = 5,
    /// <summary>LOG_INFO: tcpd's allow_severity ("connect from") and "aclexec returned".</summary>
    Info = 6,
    /// <summary>LOG_DEBUG: debugging.</summary>
    Debug = 7,
}
