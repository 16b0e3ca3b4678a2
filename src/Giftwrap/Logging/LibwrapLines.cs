// libwrap's own log lines, spelled here once for every host that carries out a decision (the
// gate, tcpd mode, Kestrel's gatekeeper) and read back here by replay. The texts are
// Debian tcp_wrappers 7.6.q's (tcpd.c, refuse.c, options.c, hosts_access.c, diag.c): fail2ban's
// stock filters and logwatch match them byte for byte, so no host spells them on its own.
// The severities, event ids and the hosts' own lines about a client are Giftwrap.Hosting's
// LibwrapLog, the one place every host builds its lines.
using System.Text.RegularExpressions;
using Giftwrap.Decisions;
using Giftwrap.Expansion;
using Giftwrap.Rules;

namespace Giftwrap.Logging;

/// <summary>The words of the lines tcpd and libwrap write to syslog.</summary>
internal static partial class LibwrapLines
{
    /// <summary>hosts_access.c's line when an aclexec command failed: syslog(LOG_INFO), the rule's severity ignored.</summary>
    public const string AclExecReturned = "aclexec returned 1";

    /// <summary>tcpd.c, with Debian's INET6 patch: <c>connect from %s (%s)</c>, eval_client() then eval_hostaddr().</summary>
    public static string Connect(AccessRequest request) => string.Concat("connect from ", Client(request), " (", Address(request), ")");

    /// <summary>refuse.c, with Debian's INET6 patch: <c>refused connect from %s (%s)</c>.</summary>
    public static string Refused(AccessRequest request) => string.Concat("refused connect from ", Client(request), " (", Address(request), ")");

    /// <summary>options.c twist_option(): <c>twist %s to %s</c>, eval_client() (user@ when known) and the expanded command.</summary>
    public static string Twist(AccessRequest request, string command) => $"twist {Client(request)} to {command}";

    /// <summary>tcpd.c after a failed execv(): <c>error: cannot execute %s: %m</c>, at LOG_ERR.</summary>
    public static string CannotExecute(string path, string error) => $"error: cannot execute {path}: {error}";

    /// <summary>options.c twist_option() after a failed execl(): tcpd_warn("twist_option: /bin/sh: %m"), with the rule's place.</summary>
    public static string TwistFailed(RuleLocation? rule, string error) => Warning(rule, $"twist_option: /bin/sh: {error}");

    /// <summary>options.c aclexec_option() for a command killed by a signal: tcpd_warn(), with the rule's file and line.</summary>
    public static string AclExecSignal(RuleLocation? rule, int pid, int signal) =>
        Warning(rule, $"process {pid} exited with signal {signal}");

    /// <summary>A tcpd_warn() line (diag.c): <c>warning: FILE, line N: MSG</c>, or without the place when there is none.</summary>
    public static string Warning(RuleLocation? rule, string message) =>
        rule is { } r ? $"warning: {r.File}, line {r.Line}: {message}" : $"warning: {message}";

    /// <summary>
    /// A diagnostic of the evaluation as tcpd_warn() or tcpd_jump() logs it: with "FILE, line N: " whenever a table
    /// was being read, line 0 included (a first line too long); without it only for a table that cannot be opened
    /// (hosts_access.c warns before it sets tcpd_context).
    /// </summary>
    public static string Diagnostic(Diagnostic diagnostic)
    {
        var kind = diagnostic.Severity == DiagnosticSeverity.Error ? "error" : "warning";
        return diagnostic.File.Length > 0 && diagnostic.Code != "cannot-open"
            ? $"{kind}: {diagnostic.File}, line {diagnostic.Line}: {diagnostic.Message}"
            : $"{kind}: {diagnostic.Message}";
    }

    /// <summary>
    /// eval_client(), as the log lines show it: not sanitised (percent_x() sanitises, syslog does not). A line
    /// is said after the evaluation, when every name and user it looked up is known to libwrap's request,
    /// however late in the rule (a %n after %c): the steps at which they became known do not apply here.
    /// </summary>
    public static string Client(AccessRequest request) =>
        PercentExpander.Client(new EvalContext(request with { CanLookUp = false, ClientNameStep = 0, ServerNameStep = 0, ClientUserStep = 0 },
            Tables.PatternFileCache.Empty, SystemNetgroups.Instance, SystemAccounts.Instance));

    /// <summary>eval_hostaddr() of the client: its address as written (an IPv4-mapped one too: tcpd logs "(::ffff:10.0.0.1)"), or "unknown".</summary>
    public static string Address(AccessRequest request) =>
        request.ClientAddress is { Length: > 0 } address ? AccessRequest.Cut(address) : AccessRequest.Unknown;

    /// <summary>
    /// Reads a "connect from" or "refused connect from" line, in Debian's form (<c>NAME (ADDR)</c>)
    /// or the classic one without the address. Null for any other line.
    /// </summary>
    public static (string Daemon, bool Refused, string Client, string? Address)? Read(string line)
    {
        var m = ConnectLine().Match(line);
        if (!m.Success)
            return null;
        var address = m.Groups["addr"] is { Success: true } a && !string.Equals(a.Value, AccessRequest.Unknown, StringComparison.Ordinal) ? a.Value : null;
        return (m.Groups["daemon"].Value, m.Groups["refused"].Success, m.Groups["client"].Value, address);
    }

    // "... sshd[123]: refused connect from host.example (1.2.3.4)", "... in.ftpd[9]: connect from bob@host.example";
    // Giftwrap's own "refused connect from 1.2.3.4 (banned: ...)" has a blank inside its parentheses: no address.
    [GeneratedRegex(@"(?:^|\s)(?<daemon>[^\s\[\]:]+)(?:\[\d+\])?: (?<refused>refused )?connect from (?<client>\S+)(?: \((?<addr>[^\s()]+)\)(?=$|\s))?", RegexOptions.CultureInvariant)]
    private static partial Regex ConnectLine();
}
