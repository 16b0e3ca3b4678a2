// `giftwrap tcpd`: the drop-in for tcpd(8). inetd, xinetd or a systemd Accept=yes
// unit starts it with the connection on descriptors 0, 1 and 2 and the real
// daemon (a path, or a name looked up in the daemon directory) as argument. It
// judges the connection with the daemon name basename(argv), logs like tcpd,
// carries out the options, then becomes the real daemon with execve().
using System.Net.Sockets;
using Giftwrap.Decisions;
using Giftwrap.Gate.Listening;
using Giftwrap.Gate.Logging;
using Giftwrap.Hosting;
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
            StandardError.WriteLine("usage: giftwrap tcpd [--allow FILE] [--deny FILE] [--dir DIR] daemon [args...]");
            return 2;
        }
        NativeExec.SetUmask(DaemonUmask);
        // tcpd.c: an absolute argv[0] is the path and its basename the daemon; anything else is
        // looked up in REAL_DAEMON_DIR and is the daemon name as written.
        var absolute = daemonArgs[0].StartsWith('/');
        var path = absolute ? daemonArgs[0] : Path.Combine(options.DaemonDirectory, daemonArgs[0]);
        var daemon = absolute ? daemonArgs[0][(daemonArgs[0].LastIndexOf('/') + 1)..] : daemonArgs[0];
        // Lines to syslog only: tcpd mode has no console of its own (descriptor 2 is the client).
        using var log = new DaemonSyslog(options.Syslog);
        var stdin = StdinSocket.Read();
        if (stdin.Warning is { } cannot)
            log.Write(LibwrapLog.StdinWarning(daemon, cannot));
        var request = FromStdin(daemon, stdin);
        // clean_exit.c: a datagram not yet received is read away on every exit that does not run the
        // daemon, "or inetd will loop" (it starts the service again while the datagram is queued).
        var sink = stdin.Datagram;
        using var tables = new AccessTables(options.Allow, options.Deny, new AccessTablesOptions { Live = false });
        var judgement = await tables.DecideAsync(request, lookups).ConfigureAwait(false);
        // Only keepalive, linger and banners need a Socket for the connection; most rules have none.
        using var client = DecisionEngine.NeedsSocket(judgement.Decision) ? new Socket(new SafeSocketHandle(0, ownsHandle: false)) : null;
        var host = new TcpdHost(client, log);
        var outcome = await new DecisionEngine(lookups).CarryOutAsync(judgement.Decision, judgement.Request, host, CancellationToken.None).ConfigureAwait(false);
        request = outcome.Request;
        if (options.DecisionLog is { } logPath)
        {
            using var decisions = new DecisionLog(logPath);
            decisions.Write(request, outcome.Decision, outcome.Verdict);
        }
        switch (outcome.Fate)
        {
            case DecisionFate.Twisted:
                var error = NativeExec.Exec(ProcessLauncher.Shell, ["sh", "-c", outcome.TwistCommand!], outcome.State);
                log.Write(LibwrapLog.TwistFailed(daemon, outcome.Decision.Match, error));
                return CleanExit(options, sink);
            case DecisionFate.Refuse:
                log.Write(outcome.VerdictLine);
                return CleanExit(options, sink);
            case DecisionFate.Aborted:
                // percent_x.c exits on "expansion too long" itself, without clean_exit(): nothing is sunk.
                return CleanExit(options, sink: false);
        }
        log.Write(outcome.VerdictLine);
        // A span, not daemonArgs[1..]: slicing a reference-type array goes through RuntimeHelpers.GetSubArray,
        // which reaches the runtime's type loader (array types made by reflection) and doubles what ld.so
        // relocates at giftwrap-tcpd's start for it (docs/benchmarks.md, issue 16).
        var failure = NativeExec.Exec(path, [daemon, .. daemonArgs.AsSpan(1)], outcome.State);
        log.Write(LibwrapLog.CannotExecute(daemon, path, failure));
        return CleanExit(options, sink);
    }

    /// <summary>
    /// tcpd mode as a host of the engine: one connection on descriptor 0, lines to syslog, and a twist
    /// deferred to the caller, which replaces the process with it (options.c twist_option's execl()).
    /// </summary>
    private sealed class TcpdHost(Socket? client, DaemonSyslog log) : SocketDecisionHost(client, BannerTimeout)
    {
        /// <summary>How long a banner may take: tcpd's write() would block; ten seconds and the client is let go.</summary>
        private static readonly TimeSpan BannerTimeout = TimeSpan.FromSeconds(10);

        public override TwistSupport Twist => TwistSupport.Defer;

        /// <summary>
        /// Debian's aclexec_option() forks and runs the shell with tcpd's own descriptors (no shell_cmd(),
        /// no /dev/null): the command has the connection on 0, 1 and 2, as descriptor 0 is here.
        /// </summary>
        public override Task<ChildExit> StartAsync(ProgramStart program) => program.Kind == ProgramKind.AclExec
            ? ChildReaper.WatchExit(ProcessLauncher.Start(program.Argv, program.State, 0))
            : base.StartAsync(program);

        public override void Log(in LibwrapLine line) => log.Write(line);
    }

    /// <summary>
    /// clean_exit.c: the lines are out (syslog's are sent as they are written); the datagram sunk; wait, then exit 0 with the client still connected until then.
    /// The wait blocks the thread, as clean_exit()'s sleep(5) does: nothing else runs in the process by then, and
    /// Task.Delay would bring the runtime's timer thread and its types into giftwrap-tcpd for that one pause.
    /// </summary>
    private static int CleanExit(TcpdOptions options, bool sink)
    {
        if (sink)
            _ = Datagram.Sink(0);
        if (options.ExitPause > TimeSpan.Zero)
            Thread.Sleep(options.ExitPause);
        return 0;
    }

    private static AccessRequest FromStdin(string daemon, StdinRequest stdin)
    {
        // Not a socket on stdin (run by hand), or a datagram whose client could not be read: judged with what is known.
        if (stdin.Remote is not { } remote || stdin.Local is not { } local)
            return new AccessRequest { Daemon = daemon, CanLookUp = false };
        // tcpd shows an IPv4-mapped address as getnameinfo() writes it (::ffff:127.0.0.2 in %a, %A and its
        // lines); only matching reads it as IPv4 (EvalContext.Address). ForConnection gives the plain form.
        var request = AccessRequest.ForConnection(daemon, remote, local) with
        {
            ClientAddress = remote.Address.ToString(),
            ServerAddress = local.Address.ToString(),
        };
        // eval.c eval_user(): no RFC 1413 lookup when there is a sink (a datagram service): the user is unknown.
        return stdin.Datagram ? request with { ClientUser = AccessRequest.Unknown } : request;
    }
}
