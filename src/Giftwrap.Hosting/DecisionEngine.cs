// Carries out a decision's options for one client in libwrap's order (options.c, hosts_access.c):
// the evaluation's warnings first; process state (setenv, umask, nice, user, group) accumulating
// for each program started after it; severity for the verdict line; keepalive and linger on the
// client's socket; spawn run and waited for; banners expanded and sent; twist handing the client to
// a program; a deferred aclexec last, whose failure falls back to the next matching rule; and
// percent_x()'s abort. The host (IDecisionHost) starts programs, sends bytes, sets socket options and
// writes lines; the verdict line, the service and everything after are left to the host.
using Giftwrap.Decisions;
using Giftwrap.Logging;
using Giftwrap.Options;

namespace Giftwrap.Hosting;

/// <summary>What a decision, carried out, made of the client.</summary>
internal enum DecisionFate
{
    /// <summary>Access granted: the host's service takes the client.</summary>
    Serve,
    /// <summary>Access refused: the client is closed (after the verdict line).</summary>
    Refuse,
    /// <summary>A twist program took the client (or, deferred, is to take it).</summary>
    Twisted,
    /// <summary>Carrying out the options ended as libwrap exits there (an expansion too long): closed, no verdict line.</summary>
    Aborted,
}

/// <summary>
/// What carrying out a decision came to. <c>Decision</c> is the one that finally applies (an aclexec's
/// fallback); <c>Request</c> is the request as the options left it (a banner's %n or %u may have looked up
/// the name or the user, which the verdict line then shows); <c>Severity</c> and <c>Facility</c> are the
/// rule's severity option; <c>Program</c> is the twist program's exit status when the host started one.
/// A class, not a record: nothing compares outcomes, and a record's Equals, GetHashCode and ToString (an
/// equality comparer per member type) were on giftwrap-tcpd's start (docs/benchmarks.md, third round).
/// </summary>
internal sealed class DecisionOutcome(DecisionFate fate, ProcessState state, Decision decision, AccessRequest request,
    SyslogSeverity? severity = null, int? facility = null, string? twistCommand = null, Task<int>? program = null)
{
    public DecisionFate Fate { get; } = fate;
    public ProcessState State { get; } = state;
    public Decision Decision { get; } = decision;
    public AccessRequest Request { get; } = request;
    public SyslogSeverity? Severity { get; } = severity;
    public int? Facility { get; } = facility;
    public string? TwistCommand { get; } = twistCommand;
    public Task<int>? Program { get; } = program;

    /// <summary>The verdict as the decision log and the metrics name it: granted, twist or denied.</summary>
    public string Verdict => Fate switch
    {
        DecisionFate.Serve => VerdictWords.Granted,
        DecisionFate.Twisted => "twist",
        _ => VerdictWords.Denied,
    };

    /// <summary>tcpd's verdict line (connect from, refused connect from) at the rule's severity; not for a twist or an abort.</summary>
    public LibwrapLine VerdictLine => LibwrapLog.Verdict(Fate == DecisionFate.Serve, Request, Severity, Facility);
}

/// <param name="lookups">The lookups behind %n, %N and %u in banner text (libwrap looks them up there); null: none.</param>
internal sealed class DecisionEngine(IRequestLookups? lookups = null)
{
    /// <summary>Whether carrying out <paramref name="decision"/> touches the client socket (keepalive, linger, banners, twist).</summary>
    public static bool NeedsSocket(Decision decision)
    {
        foreach (var a in decision.Actions)
        {
            if (a is KeepAliveAction or LingerAction or BannersAction or TwistAction)
                return true;
        }
        return decision.AclExecFallback is { } fallback && NeedsSocket(fallback);
    }

    /// <summary>
    /// Says the evaluation's warnings, then carries out <paramref name="decision"/>'s options for
    /// <paramref name="request"/> through <paramref name="host"/>. <paramref name="ct"/> stops banners and
    /// waits for programs (which are left to finish).
    /// </summary>
    public ValueTask<DecisionOutcome> CarryOutAsync(Decision decision, AccessRequest request, IDecisionHost host, CancellationToken ct)
    {
        foreach (var w in decision.Warnings)
            host.Log(LibwrapLog.Diagnostic(request.Daemon, w));
        // Most rules have no options: nothing to wait for.
        if (decision.Actions.Count == 0 && decision.AclExec is null)
            return ValueTask.FromResult(new DecisionOutcome(FateOf(decision), Empty, decision, decision.AsLeftByExpansion(request)));
        return new ValueTask<DecisionOutcome>(RunAsync(decision, request, host, ct));
    }

    private static readonly ProcessState Empty = new();

    private async Task<DecisionOutcome> RunAsync(Decision decision, AccessRequest request, IDecisionHost host, CancellationToken ct)
    {
        var state = Empty;
        int? facility = null;
        SyslogSeverity? severity = null;
        while (true)
        {
            // The names as libwrap holds them after expanding the options: the later lines show them so.
            request = decision.AsLeftByExpansion(request);
            foreach (var action in decision.Actions)
            {
                if (state.With(action) is { } next)
                {
                    if (action is NiceAction nice)
                        WarnOfNice(host, decision, request, nice, state.Nice ?? 0);
                    state = next;
                    continue;
                }
                switch (action)
                {
                    case SeverityAction s:
                        facility = s.Facility;
                        severity = (SyslogSeverity)s.Level;
                        break;
                    case KeepAliveAction:
                        SetSocketOption(host, ClientSocketOption.KeepAlive, 0, decision, request);
                        break;
                    case LingerAction l:
                        SetSocketOption(host, ClientSocketOption.Linger, l.Seconds, decision, request);
                        break;
                    case SpawnAction s:
                        // Waited for as libwrap's shell_cmd() does, but a stop (ct) gives the client up:
                        // the program itself is left to finish.
                        _ = await StartAsync(host, new ProgramStart(ProcessLauncher.SpawnCommand(s.Command), state, ProgramKind.Spawn, request, decision)).WaitAsync(ct).ConfigureAwait(false);
                        break;
                    case BannersAction b when !host.SendsBanners:
                        host.NotCarriedOut(b.Keyword, decision, request);
                        break;
                    case BannersAction b:
                        (var sent, request) = await SendBannerAsync(b, decision, request, host, ct).ConfigureAwait(false);
                        if (!sent)
                            return new DecisionOutcome(DecisionFate.Aborted, state, decision, request, severity, facility);
                        break;
                    case TwistAction t:
                        return Twist(t, state, decision, request, host, severity, facility);
                }
            }
            if (decision.AclExec is { } aclexec && decision.AclExecFallback is { } fallback)
            {
                var program = new ProgramStart(ProcessLauncher.ShellCommand(aclexec), state, ProgramKind.AclExec, request, decision);
                var exit = await StartAsync(host, program).WaitAsync(ct).ConfigureAwait(false);
                if (exit.Signal != 0)
                    host.Log(LibwrapLog.AclExecSignal(request.Daemon, decision.Match, exit.Pid, exit.Signal));
                if (exit.Status != 0)
                {
                    host.Log(LibwrapLog.AclExecReturned(request.Daemon));
                    decision = fallback;
                    continue;
                }
            }
            return new DecisionOutcome(FateOf(decision), state, decision, request, severity, facility);
        }
    }

    private static DecisionOutcome Twist(TwistAction twist, ProcessState state, Decision decision, AccessRequest request, IDecisionHost host, SyslogSeverity? severity, int? facility)
    {
        if (host.Twist == TwistSupport.Refuse)
        {
            // The service never sees a twisted client: with no program to hand it to, it is refused.
            host.NotCarriedOut(twist.Keyword, decision, request);
            return new DecisionOutcome(DecisionFate.Refuse, state, decision, request, severity, facility);
        }
        host.Log(LibwrapLog.Twist(request, twist.Command, severity, facility));
        var program = host.Twist == TwistSupport.Start
            ? StatusOf(StartAsync(host, new ProgramStart(ProcessLauncher.ShellCommand(twist.Command), state, ProgramKind.Twist, request, decision)))
            : null;
        return new DecisionOutcome(DecisionFate.Twisted, state, decision, request, severity, facility, twist.Command, program);
    }

    private async Task<(bool Sent, AccessRequest Request)> SendBannerAsync(BannersAction banners, Decision decision, AccessRequest request, IDecisionHost host, CancellationToken ct)
    {
        var banner = new BannerSender(host, lookups, decision.Match);
        var (bytes, complete, asLeft) = await banner.ExpandAsync(banners, request, ct).ConfigureAwait(false);
        // What was expanded before an expansion too long is sent all the same, as libwrap wrote it line by line.
        if (bytes.Length > 0)
            await host.SendBannerAsync(bytes, asLeft, ct).ConfigureAwait(false);
        return (complete, asLeft);
    }

    /// <summary>
    /// options.c nice_option(): "if (nice(niceval) &lt; 0) tcpd_warn("nice(%d): %m", niceval)". glibc's nice()
    /// returns the new nice value, so a value that ends below zero is warned of even when it was set (errno
    /// as it was: "Success"); a lowering that is not permitted returns -1 with EPERM and changes nothing.
    /// The programs started after it get the value (ProcessLauncher, NativeExec); this says what libwrap says.
    /// </summary>
    private static void WarnOfNice(IDecisionHost host, Decision decision, AccessRequest request, NiceAction nice, int before)
    {
        var start = Interop.Libc.getpriority(0 /* PRIO_PROCESS */, 0);
        var was = Math.Clamp(start + before, -20, 19);
        var now = Math.Clamp(was + nice.Increment, -20, 19);
        if (now < was && Interop.Libc.geteuid() != 0)
            host.Log(LibwrapLog.OptionWarning(request.Daemon, decision.Match, $"nice({nice.Increment}): Operation not permitted"));
        else if (now < 0)
            host.Log(LibwrapLog.OptionWarning(request.Daemon, decision.Match, $"nice({nice.Increment}): Success"));
    }

    /// <summary>A failed setsockopt() is tcpd_warn()'s "setsockopt SO_LINGER 5: %m" with the rule's place, at LOG_ERR.</summary>
    private static void SetSocketOption(IDecisionHost host, ClientSocketOption option, int seconds, Decision decision, AccessRequest request)
    {
        if (host.SetSocketOption(option, seconds, decision, request, out var error) == SocketOptionResult.Failed)
            host.Log(LibwrapLog.SocketOptionFailed(request.Daemon, decision.Match, option, seconds, error ?? "unknown error"));
    }

    /// <summary>Starts a program through the host; one that cannot start is logged and ends at once with status -1.</summary>
    private static Task<ChildExit> StartAsync(IDecisionHost host, ProgramStart program)
    {
        try
        {
            return host.StartAsync(program);
        }
        catch (IOException ex)
        {
            host.Log(LibwrapLog.ProgramError(program.Request.Daemon, ex.Message));
            return Task.FromResult(ChildExit.NotStarted);
        }
    }

    /// <summary>
    /// Starts a host's service program (inetd's exec, with the client on <paramref name="stdio"/>): its exit
    /// status when it ends, -1 at once (and the error said) when it cannot start.
    /// </summary>
    public static Task<int> StartService(IDecisionHost host, string daemon, string[] argv, ProcessState state, int stdio)
    {
        try
        {
            return StatusOf(ChildReaper.WatchExit(ProcessLauncher.Start(argv, state, stdio)));
        }
        catch (IOException ex)
        {
            host.Log(LibwrapLog.ProgramError(daemon, ex.Message));
            return Task.FromResult(-1);
        }
    }

    private static Task<int> StatusOf(Task<ChildExit> exit) =>
        exit.ContinueWith(static t => t.Result.Status, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    // percent_x() logs "expansion too long" and exits: the options before it were carried out, and
    // no verdict line follows (tcpd never reaches refuse() or its "connect from" line).
    private static DecisionFate FateOf(Decision decision)
    {
        if (decision.IsGranted)
            return DecisionFate.Serve;
        foreach (var w in decision.Warnings)
        {
            if (w.Code == "percent_x")
                return DecisionFate.Aborted;
        }
        return DecisionFate.Refuse;
    }
}
