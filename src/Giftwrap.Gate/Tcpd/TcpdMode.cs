// `giftwrap tcpd`: the drop-in for tcpd(8). inetd, xinetd or a systemd Accept=yes
// unit starts it with the connection on descriptors 0, 1 and 2 and the real
// daemon (a path, or a name looked up in the daemon directory) as argument. It
// judges the connection with the daemon name basename(argv), logs like tcpd,
// carries out the options, then becomes the real daemon with execve().
using System.Net;
using System.Net.Sockets;
using Giftwrap.Decisions;
using Giftwrap.Gate.Actions;
using Giftwrap.Gate.Logging;
using Giftwrap.Logging;
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
    /// <summary>
    /// How long tcpd mode waits before it exits without running the daemon (a refusal, a daemon that
    /// cannot be executed): clean_exit.c's sleep(5), so inetd is not hurried into the next attempt and
    /// the client sees the close then.
    /// </summary>
    public TimeSpan ExitPause { get; init; } = TimeSpan.FromSeconds(5);
}

public static class TcpdMode
{
    /// <summary>tcpd.c's umask(DAEMON_UMASK), 022 in Debian's build, set before anything runs.</summary>
    private const int DaemonUmask = 0b000_010_010;

    /// <summary>
    /// Runs tcpd mode; returns only when the daemon was not run (the exit status: 0 after a refusal or a
    /// failed exec, as tcpd's clean_exit(); 2 for a usage error).
    /// </summary>
    public static async Task<int> RunAsync(string[] daemonArgs, TcpdOptions options, IRequestLookups lookups)
    {
        if (daemonArgs.Length == 0)
        {
            await Console.Error.WriteLineAsync("usage: giftwrap tcpd [--allow FILE] [--deny FILE] [--dir DIR] daemon [args...]").ConfigureAwait(false);
            return 2;
        }
        NativeExec.SetUmask(DaemonUmask);
        // tcpd.c: an absolute argv[0] is the path and its basename the daemon; anything else is
        // looked up in REAL_DAEMON_DIR and is the daemon name as written.
        var absolute = daemonArgs[0].StartsWith('/');
        var path = absolute ? daemonArgs[0] : Path.Combine(options.DaemonDirectory, daemonArgs[0]);
        var daemon = absolute ? daemonArgs[0][(daemonArgs[0].LastIndexOf('/') + 1)..] : daemonArgs[0];
        using var log = new GateLog(options.Syslog, TextWriter.Null);
        var request = FromStdin(daemon);
        using var tables = new AccessTables(options.Allow, options.Deny, new AccessTablesOptions { Live = false });
        var judgement = await tables.DecideAsync(request, lookups).ConfigureAwait(false);
        request = judgement.Request;
        foreach (var w in judgement.Decision.Warnings)
            log.Daemon(daemon, LibwrapLines.DiagnosticLevel, LibwrapLines.Diagnostic(w));
        var runner = new ActionRunner(log, TimeSpan.FromSeconds(10), launchTwist: false, lookups: lookups);
        // Only keepalive, linger and banners need a Socket for the connection; most rules have none.
        using var client = ActionRunner.NeedsSocket(judgement.Decision) ? new Socket(new SafeSocketHandle(0, ownsHandle: false)) : null;
        var outcome = await runner.RunAsync(judgement.Decision, request, client, CancellationToken.None).ConfigureAwait(false);
        request = outcome.Request ?? request;
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
        switch (outcome.Fate)
        {
            case ConnectionFate.Twisted:
                var error = NativeExec.Exec(ProcessLauncher.Shell, ["sh", "-c", outcome.TwistCommand!], outcome.State);
                log.Daemon(daemon, LibwrapLines.DiagnosticLevel, LibwrapLines.TwistFailed(outcome.Decision.Match, error));
                return await CleanExitAsync(log, options).ConfigureAwait(false);
            case ConnectionFate.Refuse:
                log.Daemon(daemon, outcome.Level ?? LibwrapLines.DenyLevel, LibwrapLines.Refused(request), outcome.Facility);
                return await CleanExitAsync(log, options).ConfigureAwait(false);
            case ConnectionFate.Aborted:
                return await CleanExitAsync(log, options).ConfigureAwait(false);
        }
        log.Daemon(daemon, outcome.Level ?? LibwrapLines.AllowLevel, LibwrapLines.Connect(request), outcome.Facility);
        var failure = NativeExec.Exec(path, [daemon, .. daemonArgs[1..]], outcome.State);
        log.Daemon(daemon, LibwrapLines.DiagnosticLevel, LibwrapLines.CannotExecute(path, failure));
        return await CleanExitAsync(log, options).ConfigureAwait(false);
    }

    /// <summary>clean_exit.c: the lines are out; wait, then exit 0 with the client still connected until then.</summary>
    private static async Task<int> CleanExitAsync(GateLog log, TcpdOptions options)
    {
        log.FlushConsole();
        if (options.ExitPause > TimeSpan.Zero)
            await Task.Delay(options.ExitPause).ConfigureAwait(false);
        return 0;
    }

    private static AccessRequest FromStdin(string daemon)
    {
        // Not a TCP socket on stdin (run by hand, or a UDP service): judged with what is known.
        return StdinSocket.Endpoints() is var (remote, local)
            ? AccessRequest.ForConnection(daemon, remote, local)
            : new AccessRequest { Daemon = daemon, CanLookUp = false };
    }
}
