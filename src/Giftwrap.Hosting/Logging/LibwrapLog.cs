// libwrap's lines, and the hosts' own lines about a client, as one set: each method is one line
// with its fixed event id, its severity and its words (the words come from LibwrapLines in the
// core, which replay reads back). The engine and the hosts build lines only here; where a line
// goes (syslog with a facility, the console, an ILogger) is left to the host's IDecisionHost.Log.
using Giftwrap.Decisions;
using Giftwrap.Logging;
using Giftwrap.Rules;
using Microsoft.Extensions.Logging;

namespace Giftwrap.Hosting;

/// <summary>
/// The event ids of <see cref="LibwrapLog"/>'s lines; 1 to 11 are those Kestrel's gatekeeper has
/// always used (6 and 11 are its own: an option ignored, a check after TLS).
/// </summary>
internal enum LibwrapEvent
{
    Connect = 1,
    Refused = 2,
    RefusedBanned = 3,
    RefusedNoDecision = 4,
    Diagnostic = 5,
    ProgramError = 7,
    AclExecReturned = 8,
    Banned = 9,
    SocketOptionFailed = 10,
    Twist = 12,
    AclExecSignal = 13,
    CannotExecute = 14,
    TwistFailed = 15,
    BannerWarning = 16,
    BannerNotSent = 17,
    StdinWarning = 18,
    RefusedFault = 19,
    RefusedFull = 20,
    RefusedPerSource = 21,
    RefusedTrap = 22,
    OptionWarning = 23,
}

/// <summary>One line: its event, the daemon it is tagged with, its severity, the rule's facility (null: the host's), and its words.</summary>
/// <remarks>A plain struct, not a record struct: lines are not compared, and a record's members were on giftwrap-tcpd's start.</remarks>
internal readonly struct LibwrapLine(LibwrapEvent @event, string daemon, SyslogSeverity severity, int? facility, string text)
{
    public LibwrapEvent Event { get; } = @event;
    public string Daemon { get; } = daemon;
    public SyslogSeverity Severity { get; } = severity;
    public int? Facility { get; } = facility;
    public string Text { get; } = text;

    /// <summary>The template an ILogger sees, as a [LoggerMessage] method would give it.</summary>
    public const string Template = "{Daemon}: {Line}";

    /// <summary>The line for an ILogger (Kestrel): "DAEMON: TEXT" at the severity's <see cref="LogLevel"/>, with the event's id.</summary>
    public void WriteTo(ILogger logger)
    {
        var level = Severity.ToLogLevel();
        if (logger.IsEnabled(level))
            logger.Log(level, new EventId((int)Event, Event.ToString()), new State(Daemon, Text), null, static (s, _) => s.ToString());
    }

    /// <summary>The structured state, as LoggerMessage's generator makes it: the two values and the template.</summary>
    private readonly struct State(string daemon, string line) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        public int Count => 3;

        public KeyValuePair<string, object?> this[int index] => index switch
        {
            0 => new("Daemon", daemon),
            1 => new("Line", line),
            2 => new("{OriginalFormat}", Template),
            _ => throw new ArgumentOutOfRangeException(nameof(index)),
        };

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
        {
            for (var i = 0; i < Count; i++)
                yield return this[i];
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => $"{daemon}: {line}";
    }
}

/// <summary>Every line a host writes about a client, libwrap's words first.</summary>
internal static class LibwrapLog
{
    /// <summary>tcpd.c: <c>connect from %c (%a)</c>, at allow_severity (LOG_INFO) unless the rule's severity option says otherwise.</summary>
    public static LibwrapLine Connect(AccessRequest request, SyslogSeverity? severity = null, int? facility = null) =>
        new(LibwrapEvent.Connect, request.Daemon, severity ?? SyslogSeverity.Info, facility, LibwrapLines.Connect(request));

    /// <summary>refuse.c: <c>refused connect from %c (%a)</c>, at deny_severity (LOG_WARNING) unless the rule's severity option says otherwise.</summary>
    public static LibwrapLine Refused(AccessRequest request, SyslogSeverity? severity = null, int? facility = null) =>
        new(LibwrapEvent.Refused, request.Daemon, severity ?? SyslogSeverity.Warning, facility, LibwrapLines.Refused(request));

    /// <summary>The verdict's line: <see cref="Connect"/> or <see cref="Refused"/>.</summary>
    public static LibwrapLine Verdict(bool granted, AccessRequest request, SyslogSeverity? severity = null, int? facility = null) =>
        granted ? Connect(request, severity, facility) : Refused(request, severity, facility);

    /// <summary>options.c twist_option(): <c>twist %c to %s</c>, at deny_severity unless the rule's severity option says otherwise.</summary>
    public static LibwrapLine Twist(AccessRequest request, string command, SyslogSeverity? severity = null, int? facility = null) =>
        new(LibwrapEvent.Twist, request.Daemon, severity ?? SyslogSeverity.Warning, facility, LibwrapLines.Twist(request, command));

    /// <summary>hosts_access.c: <c>aclexec returned 1</c>, syslog(LOG_INFO) at the default facility whatever the rule's severity.</summary>
    public static LibwrapLine AclExecReturned(string daemon) =>
        new(LibwrapEvent.AclExecReturned, daemon, SyslogSeverity.Info, null, LibwrapLines.AclExecReturned);

    /// <summary>options.c aclexec_option(): tcpd_warn("process %d exited with signal %d"), with the rule's place.</summary>
    public static LibwrapLine AclExecSignal(string daemon, RuleLocation? rule, int pid, int signal) =>
        new(LibwrapEvent.AclExecSignal, daemon, SyslogSeverity.Err, null, LibwrapLines.AclExecSignal(rule, pid, signal));

    /// <summary>tcpd.c after a failed execv(): <c>error: cannot execute %s: %m</c>.</summary>
    public static LibwrapLine CannotExecute(string daemon, string path, string error) =>
        new(LibwrapEvent.CannotExecute, daemon, SyslogSeverity.Err, null, LibwrapLines.CannotExecute(path, error));

    /// <summary>options.c twist_option() after a failed execl(): <c>warning: FILE, line N: twist_option: /bin/sh: %m</c>.</summary>
    public static LibwrapLine TwistFailed(string daemon, RuleLocation? rule, string error) =>
        new(LibwrapEvent.TwistFailed, daemon, SyslogSeverity.Err, null, LibwrapLines.TwistFailed(rule, error));

    /// <summary>A diagnostic of the evaluation as tcpd_warn() or tcpd_jump() logs it, at LOG_ERR.</summary>
    public static LibwrapLine Diagnostic(string daemon, Diagnostic diagnostic) =>
        new(LibwrapEvent.Diagnostic, daemon, SyslogSeverity.Err, null, LibwrapLines.Diagnostic(diagnostic));

    /// <summary>A failed setsockopt(): tcpd_warn("setsockopt SO_LINGER 5: %m"), with the rule's place.</summary>
    public static LibwrapLine SocketOptionFailed(string daemon, RuleLocation? rule, ClientSocketOption option, int seconds, string error) =>
        new(LibwrapEvent.SocketOptionFailed, daemon, SyslogSeverity.Err, null,
            LibwrapLines.Warning(rule, $"setsockopt {(option == ClientSocketOption.KeepAlive ? "SO_KEEPALIVE" : $"SO_LINGER {seconds}")}: {error}"));

    /// <summary>An option's own tcpd_warn() as it is carried out (nice_option's "nice(-3): Success"), with the rule's place.</summary>
    public static LibwrapLine OptionWarning(string daemon, RuleLocation? rule, string message) =>
        new(LibwrapEvent.OptionWarning, daemon, SyslogSeverity.Err, null, LibwrapLines.Warning(rule, message));

    /// <summary>A banner's tcpd_warn(): percent_x's "expansion too long", "unrecognized %X", or the banner directory's stat() error.</summary>
    public static LibwrapLine BannerWarning(string daemon, RuleLocation? rule, string message) =>
        new(LibwrapEvent.BannerWarning, daemon, SyslogSeverity.Err, null, LibwrapLines.Warning(rule, message));

    /// <summary>Giftwrap's own: a banner that could not be sent in time (libwrap's write() would block instead).</summary>
    public static LibwrapLine BannerNotSent(AccessRequest request, string reason) =>
        new(LibwrapEvent.BannerNotSent, request.Daemon, SyslogSeverity.Warning, null, $"warning: banner to {request.ClientAddress} not sent: {reason}");

    /// <summary>A program of a rule that could not be started: <c>error: cannot start ...</c>.</summary>
    public static LibwrapLine ProgramError(string daemon, string reason) =>
        new(LibwrapEvent.ProgramError, daemon, SyslogSeverity.Err, null, $"error: {reason}");

    /// <summary>tcpd mode's complaint about what it found on descriptor 0, at LOG_ERR.</summary>
    public static LibwrapLine StdinWarning(string daemon, string text) =>
        new(LibwrapEvent.StdinWarning, daemon, SyslogSeverity.Err, null, text);

    /// <summary>
    /// Giftwrap's own refusal of a banned client, in tcpd's form with the reason after it:
    /// <c>refused connect from %c (%a) (banned: REASON)</c>, which fail2ban's stock filters count as tcpd's.
    /// </summary>
    public static LibwrapLine RefusedBanned(AccessRequest request, string reason) =>
        new(LibwrapEvent.RefusedBanned, request.Daemon, SyslogSeverity.Warning, null, Refusal(request, $"banned: {reason}"));

    /// <summary>Giftwrap's own refusal when no decision was made in time (fail closed): <c>refused connect from %c (%a) (no decision within Ns)</c>.</summary>
    public static LibwrapLine RefusedNoDecision(AccessRequest request, TimeSpan timeout) =>
        new(LibwrapEvent.RefusedNoDecision, request.Daemon, SyslogSeverity.Warning, null, Refusal(request, $"no decision within {timeout.TotalSeconds:0}s"));

    /// <summary>Giftwrap's own refusal of a client caught in a trap: <c>refused connect from %c (%a) (trap NAME: RESULT)</c>.</summary>
    public static LibwrapLine RefusedTrap(AccessRequest request, string trap, string result) =>
        new(LibwrapEvent.RefusedTrap, request.Daemon, SyslogSeverity.Warning, null, Refusal(request, $"trap {trap}: {result}"));

    /// <summary>Giftwrap's own refusal of a source over the per-address limit, in tcpd's form with the address twice (no name is looked up).</summary>
    public static LibwrapLine RefusedPerSource(string daemon, string source, int max) =>
        new(LibwrapEvent.RefusedPerSource, daemon, SyslogSeverity.Warning, null, Refusal(source, source, $"more than {max} connections from one address"));

    /// <summary>
    /// The gate full: <c>refused connect from ADDR (too many connections: N)</c>. Not in tcpd's form on purpose: it is
    /// not this client's doing, and Fail2ban's filters must not ban the clients that come during someone else's flood.
    /// </summary>
    public static LibwrapLine RefusedFull(string daemon, string source, int max) =>
        new(LibwrapEvent.RefusedFull, daemon, SyslogSeverity.Warning, null, $"refused connect from {source} (too many connections: {max})");

    /// <summary>A fault of Giftwrap's own refuses the client (fail closed): <c>error: refused connect from ADDR: TYPE: MESSAGE</c>, not in tcpd's form.</summary>
    public static LibwrapLine RefusedFault(string daemon, string source, Exception fault) =>
        new(LibwrapEvent.RefusedFault, daemon, SyslogSeverity.Err, null, $"error: refused connect from {source}: {fault.GetType().Name}: {fault.Message}");

    /// <summary>Giftwrap's ban option carried out: <c>ban ADDR for DURATION: RESULT</c>, at LOG_NOTICE.</summary>
    public static LibwrapLine Banned(AccessRequest request, string duration, string result) =>
        new(LibwrapEvent.Banned, request.Daemon, SyslogSeverity.Notice, null, $"ban {request.ClientAddress} for {duration}: {result}");

    /// <summary>
    /// A refusal of Giftwrap's own in tcpd's form, <c>refused connect from NAME (ADDR) (REASON)</c>: Fail2ban's
    /// stock filters (sshd's <c>refused connect from \S+ \(&lt;HOST&gt;\)</c>) count it as they count tcpd's.
    /// </summary>
    public static string Refusal(string client, string address, string reason) => $"refused connect from {client} ({address}) ({reason})";

    private static string Refusal(AccessRequest request, string reason) =>
        Refusal(LibwrapLines.Client(request), LibwrapLines.Address(request), reason);
}
