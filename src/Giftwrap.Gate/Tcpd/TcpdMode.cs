// `giftwrap tcpd`: the drop-in for tcpd(8). inetd, xinetd or a systemd Accept=yes
// unit starts it with the connection on descriptors 0, 1 and 2 and the real
// daemon (a path, or a name looked up in the daemon directory) as argument. It
// judges the connection with the daemon name basename(argv), logs like tcpd,
// carries out the options, then becomes the real daemon with execve().
using System.Net;
using System.Net.Sockets;
using Giftwrap.Decisions;
using Giftwrap.Expansion;
using Giftwrap.Gate.Actions;
using Giftwrap.Gate.Logging;
using Giftwrap.Rules;
using Giftwrap.Tables;

namespace Giftwrap.Gate.Tcpd;

/// <summary>Settings of tcpd mode.</summary>
public sealed record TcpdOptions
{
    public string Allow { get; init; } = "/etc/hosts.allow";
    public string Deny { get; init; } = "/etc/hosts.deny";
    /// <summary>Where a daemon given by name is found (tcpd's REAL_DAEMON_DIR).</summary>
    public string DaemonDirectory { get; init; } = "/usr/sbin";
    public string? Syslog { get; init; } = "/dev/log";
    /// <summary>The decision log (JSON lines), or null for none.</summary>
    public string? DecisionLog { get; init; }
}

public static class TcpdMode
{
    /// <summary>Runs tcpd mode; returns only when the connection is refused or something failed (the exit status).</summary>
    public static async Task<int> RunAsync(string[] daemonArgs, TcpdOptions options, IRequestLookups lookups)
    {
        if (daemonArgs.Length == 0)
        {
            await Console.Error.WriteLineAsync("usage: giftwrap tcpd [--allow FILE] [--deny FILE] [--dir DIR] daemon [args...]").ConfigureAwait(false);
            return 2;
        }
        var path = daemonArgs[0].Contains('/', StringComparison.Ordinal) ? daemonArgs[0] : Path.Combine(options.DaemonDirectory, daemonArgs[0]);
        var daemon = Path.GetFileName(daemonArgs[0]);
        using var log = new GateLog(options.Syslog, TextWriter.Null);
        var request = FromStdin(daemon);
        using var tables = new AccessTables(options.Allow, options.Deny, new AccessTablesOptions { Live = false });
        var judgement = await tables.DecideAsync(request, lookups).ConfigureAwait(false);
        request = judgement.Request;
        foreach (var w in judgement.Decision.Warnings)
            log.Daemon(daemon, w.Severity == DiagnosticSeverity.Error ? Severity.Err : Severity.Warning,
                w.ToLogLine());
        var runner = new ActionRunner(log, TimeSpan.FromSeconds(10), launchTwist: false);
        // Only keepalive, linger and banners need a Socket for the connection; most rules have none.
        using var client = ActionRunner.NeedsSocket(judgement.Decision) ? new Socket(new SafeSocketHandle(0, ownsHandle: false)) : null;
        var outcome = await runner.RunAsync(judgement.Decision, request, client, CancellationToken.None).ConfigureAwait(false);
        if (options.DecisionLog is { } logPath)
        {
            using var decisions = new DecisionLog(logPath);
            decisions.Write(request, outcome.Decision, outcome.Fate switch
            {
                ConnectionFate.Serve => "granted",
                ConnectionFate.Twisted => "twist",
                _ => "denied",
            });
        }
        var who = PercentExpander.Expand("%c", request);
        switch (outcome.Fate)
        {
            case ConnectionFate.Twisted:
                var error = NativeExec.Exec(ProcessLauncher.Shell, [ProcessLauncher.Shell, "-c", outcome.TwistCommand!], outcome.State);
                log.Daemon(daemon, Severity.Err, $"error: twist command {outcome.TwistCommand}: {error}");
                return 1;
            case ConnectionFate.Refuse:
                log.Daemon(daemon, outcome.Level ?? Severity.Warning, $"refused connect from {who}", outcome.Facility);
                return 0;
        }
        log.Daemon(daemon, outcome.Level ?? Severity.Info, $"connect from {who}", outcome.Facility);
        var failure = NativeExec.Exec(path, [daemon, .. daemonArgs[1..]], outcome.State);
        log.Daemon(daemon, Severity.Err, $"error: cannot execute {failure}");
        return 1;
    }

    private static AccessRequest FromStdin(string daemon)
    {
        // Not a TCP socket on stdin (run by hand, or a UDP service): judged with what is known.
        return StdinSocket.Endpoints() is var (remote, local)
            ? AccessRequest.ForConnection(daemon, remote, local)
            : new AccessRequest { Daemon = daemon, CanLookUp = false };
    }

}
