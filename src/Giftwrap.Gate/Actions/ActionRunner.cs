// Carries out a decision's actions for one connection, in the order libwrap does:
// process state (setenv, umask, nice, user, group) accumulates and applies to
// each program started after it; spawn runs with stdio on /dev/null and is waited
// for without blocking other connections; banners go to the client; twist hands the
// connection to a program; a deferred aclexec decides last. Returns what the
// connection became.
using System.Net.Sockets;
using Giftwrap.Decisions;
using Giftwrap.Gate.Logging;
using Giftwrap.Logging;
using Giftwrap.Options;

namespace Giftwrap.Gate.Actions;

internal enum ConnectionFate
{
    /// <summary>Access granted: the service (forward or exec) takes the connection.</summary>
    Serve,
    /// <summary>Access refused: the connection is closed.</summary>
    Refuse,
    /// <summary>A twist program took the connection.</summary>
    Twisted,
    /// <summary>Carrying out the options failed as libwrap exits there (a banner expansion too long): closed, no verdict line.</summary>
    Aborted,
}

/// <summary>
/// What carrying out a decision came to; <c>Request</c> is the request as the actions left it (a banner's
/// %n or %u may have looked up the name or the user, which the log line then shows); <c>Program</c> is
/// the twist program's exit status, when the gate started one.
/// </summary>
internal sealed record ActionOutcome(ConnectionFate Fate, ProcessState State, Decision Decision, int? Facility, int? Level, string? TwistCommand = null, AccessRequest? Request = null, Task<int>? Program = null);

/// <param name="log">Where tcpd's lines go.</param>
/// <param name="bannerTimeout">How long a banner may take to send.</param>
/// <param name="launchTwist">The gate starts the twist program itself; tcpd mode leaves it to the caller, which replaces itself.</param>
/// <param name="programs">The gate's bounds on the programs of rules; null in tcpd mode (one connection per process).</param>
/// <param name="lookups">The lookups behind %n, %N and %u in banner text (libwrap looks them up there); null: none.</param>
internal sealed class ActionRunner(GateLog log, TimeSpan bannerTimeout, bool launchTwist = true, ProgramLimits? programs = null, IRequestLookups? lookups = null)
{
    /// <summary>Whether carrying out <paramref name="decision"/> touches the client socket (keepalive, linger, banners, twist).</summary>
    public static bool NeedsSocket(Decision decision) =>
        decision.Actions.Any(a => a is KeepAliveAction or LingerAction or BannersAction or TwistAction)
        || (decision.AclExecFallback is { } fallback && NeedsSocket(fallback));

    /// <param name="decision">The decision whose actions are carried out.</param>
    /// <param name="request">The request it was made for.</param>
    /// <param name="client">The client socket; null only when <see cref="NeedsSocket"/> is false (tcpd mode then never builds one).</param>
    /// <param name="ct">Stops banners and waits.</param>
    public async Task<ActionOutcome> RunAsync(Decision decision, AccessRequest request, Socket? client, CancellationToken ct)
    {
        var state = new ProcessState();
        int? facility = null;
        int? level = null;
        while (true)
        {
            // The names as libwrap holds them after expanding the options: tcpd's later lines show them so.
            request = decision.AsLeftByExpansion(request);
            foreach (var action in decision.Actions)
            {
                if (state.With(action) is { } next)
                {
                    state = next;
                    continue;
                }
                switch (action)
                {
                    case SeverityAction s:
                        facility = s.Facility;
                        level = s.Level;
                        break;
                    case KeepAliveAction:
                        TrySocket(() => Need(client).SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true), "SO_KEEPALIVE", decision, request);
                        break;
                    case LingerAction l:
                        // options.c linger_option(): l_onoff = (l_linger != 0). "linger 0" turns SO_LINGER
                        // off (a normal close), it does not ask for a reset on close.
                        TrySocket(() => SetLinger(Need(client), l.Seconds), $"SO_LINGER {l.Seconds}", decision, request);
                        break;
                    case SpawnAction s:
                        // Waited for as libwrap's shell_cmd() does, but a stop whose drain runs out
                        // (ct) gives the connection up: the program itself is left to finish.
                        await RunAndWaitAsync(s.Command, state, request, decision).WaitAsync(ct).ConfigureAwait(false);
                        break;
                    case BannersAction b:
                        var banner = new BannerSender(log, lookups, decision.Match, bannerTimeout);
                        (var sent, request) = await banner.SendAsync(b, request, Need(client), ct).ConfigureAwait(false);
                        if (!sent)
                            return new ActionOutcome(ConnectionFate.Aborted, state, decision, facility, level, Request: request);
                        break;
                    case TwistAction t:
                        log.Daemon(request.Daemon, level ?? LibwrapLines.DenyLevel, LibwrapLines.Twist(request, t.Command), facility);
                        var program = launchTwist
                            ? StatusOf(StartForRule(ProcessLauncher.ShellCommand(t.Command), state, (int)Need(client).SafeHandle.DangerousGetHandle(), request, decision))
                            : null;
                        return new ActionOutcome(ConnectionFate.Twisted, state, decision, facility, level, t.Command, request, program);
                }
            }
            if (decision.AclExec is { } aclexec && decision.AclExecFallback is { } fallback)
            {
                var exit = await StartForRule(ProcessLauncher.ShellCommand(aclexec), state, -1, request, decision).WaitAsync(ct).ConfigureAwait(false);
                if (exit.Signal != 0)
                    log.Daemon(request.Daemon, LibwrapLines.DiagnosticLevel, LibwrapLines.AclExecSignal(decision.Match, exit.Pid, exit.Signal));
                if (exit.Status != 0)
                {
                    // hosts_access.c: syslog(LOG_INFO, ...), at the default facility whatever the rule's severity.
                    log.Daemon(request.Daemon, LibwrapLines.AllowLevel, LibwrapLines.AclExecReturned);
                    decision = fallback;
                    continue;
                }
            }
            return new ActionOutcome(FateOf(decision), state, decision, facility, level, Request: request);
        }
    }

    /// <summary>
    /// setsockopt(SO_LINGER) with struct linger as libwrap fills it. Raw, because LingerOption refuses more than
    /// 65,535 seconds where the kernel takes any int (libwrap's "linger 100000" is valid).
    /// </summary>
    internal static void SetLinger(Socket socket, int seconds)
    {
        Span<byte> linger = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(linger, seconds != 0 ? 1 : 0);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(linger[4..], seconds);
        socket.SetRawSocketOption(1 /*SOL_SOCKET*/, 13 /*SO_LINGER*/, linger);
    }

    // percent_x() logs "expansion too long" and exits: the options before it were carried out, and
    // no verdict line follows (tcpd never reaches refuse() or its "connect from" line).
    private static ConnectionFate FateOf(Decision decision) =>
        decision.IsGranted ? ConnectionFate.Serve
        : decision.Warnings.Any(w => w.Code == "percent_x") ? ConnectionFate.Aborted
        : ConnectionFate.Refuse;

    private static Socket Need(Socket? client) =>
        client ?? throw new InvalidOperationException("the decision's actions need the client socket");

    private Task<int> RunAndWaitAsync(string command, ProcessState state, AccessRequest request, Decision decision) =>
        StatusOf(StartForRule(ProcessLauncher.ShellCommand(command), state, -1, request, decision));

    private static Task<int> StatusOf(Task<ChildExit> exit) =>
        exit.ContinueWith(static t => t.Result.Status, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>
    /// Starts a program of <paramref name="decision"/>'s rule within the gate's bounds: over them it
    /// is not started (status -1, as a program that could not start: a twist then closes the connection,
    /// a failed aclexec refuses), and the refusal is counted and summarised by <see cref="ProgramLimits"/>.
    /// </summary>
    private Task<ChildExit> StartForRule(string[] argv, ProcessState state, int stdio, AccessRequest request, Decision decision)
    {
        if (programs is null)
            return StartExit(argv, state, stdio, request);
        if (!programs.TryEnter(decision.Match?.ToString() ?? "(no rule)", request.Daemon))
            return Task.FromResult(new ChildExit(0, -1, 0));
        int pid;
        try
        {
            pid = ProcessLauncher.Start(argv, state, stdio);
        }
        catch (IOException ex)
        {
            programs.NotStarted();
            log.Daemon(request.Daemon, LibwrapLines.DiagnosticLevel, $"error: {ex.Message}");
            return Task.FromResult(new ChildExit(0, -1, 0));
        }
        var exited = ChildReaper.WatchExit(pid);
        programs.Started(pid, exited);
        return exited;
    }

    /// <summary>Starts a program; the task completes with its exit status (-1 if it could not start).</summary>
    internal async Task<int> Start(string[] argv, ProcessState state, int stdio, AccessRequest request) =>
        (await StartExit(argv, state, stdio, request).ConfigureAwait(false)).Status;

    private Task<ChildExit> StartExit(string[] argv, ProcessState state, int stdio, AccessRequest request)
    {
        try
        {
            return ChildReaper.WatchExit(ProcessLauncher.Start(argv, state, stdio));
        }
        catch (IOException ex)
        {
            log.Daemon(request.Daemon, LibwrapLines.DiagnosticLevel, $"error: {ex.Message}");
            return Task.FromResult(new ChildExit(0, -1, 0));
        }
    }

    /// <summary>A failed setsockopt() is tcpd_warn()'s "setsockopt SO_LINGER 5: %m" with the rule's place, at LOG_ERR.</summary>
    private void TrySocket(Action set, string what, Decision decision, AccessRequest request)
    {
        try
        {
            set();
        }
        catch (SocketException ex)
        {
            log.Daemon(request.Daemon, LibwrapLines.DiagnosticLevel, LibwrapLines.Warning(decision.Match, $"setsockopt {what}: {ex.Message}"));
        }
    }
}
