// One connection through the gate: the request from the socket's endpoints, the
// decision (with the lookups it needs, bounded in time: a decision that cannot be
// made in time refuses), tcpd's log line, the options carried out, then the
// service: a forward to the backend (handed to the relay) or a program with the socket on its stdio.
using System.Net;
using System.Net.Sockets;
using Giftwrap.Decisions;
using Giftwrap.Diagnostics;
using Giftwrap.Gate.Actions;
using Giftwrap.Gate.Config;
using Giftwrap.Gate.Forwarding;
using Giftwrap.Gate.Logging;
using Giftwrap.Logging;
using Giftwrap.Tables;

namespace Giftwrap.Gate.Connections;

internal sealed class ConnectionHandler(AccessTables tables, IRequestLookups lookups, GateLog log, LimitsConfig limits, Relay relay, DecisionLog? decisions = null, IGateBans? bans = null, ProgramLimits? programs = null, Traps? traps = null)
{
    private readonly ActionRunner _actions = new(log, limits.BannerTimeout, programs: programs, lookups: lookups);
    private readonly Traps _traps = traps ?? new Traps(log);

    /// <summary>The tables this handler decides with; a connection holds a reference on them while it is decided.</summary>
    public AccessTables Tables => tables;

    /// <summary>
    /// Judges and serves one connection. True when the relay took it over (its end is reported to
    /// the relay's owner with <paramref name="relayState"/>); false when it is over on return.
    /// The caller disposes <paramref name="client"/> in both cases. The caller holds a reference on
    /// <see cref="Tables"/> (<see cref="AccessTables.TryAcquire"/>); it is given back once the connection is decided.
    /// </summary>
    public async Task<bool> HandleAsync(Socket client, ServiceConfig service, object? relayState, CancellationToken ct)
    {
        Judgement judgement;
        AccessRequest request;
        try
        {
            request = RequestFor(client, service);
            // Bans come before the tables: a banned client is refused whatever the rules say.
            if (RefusedAsBanned(ClientAddress(client), service, request))
                return false;
            // A trap: no tables, no backend; the source is banned and the connection closed by the caller.
            if (service.Trap is not null)
            {
                _traps.Caught(ClientAddress(client), request, service, bans);
                return false;
            }
            var pending = tables.DecideAsync(request, lookups, ct);
            if (pending.IsCompletedSuccessfully)
            {
                // No lookup was needed: decided on this thread, no timer armed.
                judgement = pending.Result;
            }
            else
            {
                try
                {
                    // The lookups have their own time limits; the decision as a whole has this one.
                    judgement = await pending.AsTask().WaitAsync(limits.DecisionTimeout, ct).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // Fail closed: no decision in time is a refusal.
                    log.Daemon(service.Daemon, Severity.Warning, Refusal(request, $"no decision within {limits.DecisionTimeout.TotalSeconds:0}s"));
                    GiftwrapMetrics.Decided(service.Daemon, "denied", "timeout");
                    return false;
                }
            }
        }
        finally
        {
            // Decided (or given up): these tables are no longer needed by this connection, however long it lasts.
            tables.Release();
        }
        request = judgement.Request;
        foreach (var w in judgement.Decision.Warnings)
            log.Daemon(service.Daemon, LibwrapLines.DiagnosticLevel, LibwrapLines.Diagnostic(w));
        var outcome = await _actions.RunAsync(judgement.Decision, request, client, ct).ConfigureAwait(false);
        request = outcome.Request ?? request;
        foreach (var ban in outcome.Decision.Actions.OfType<Giftwrap.Options.BanAction>())
        {
            var said = bans?.Ban(ClientAddress(client), ban.Duration, $"ban option, {outcome.Decision.Match}", service.Daemon)
                ?? "no ban store configured";
            log.Daemon(service.Daemon, Severity.Notice, $"ban {request.ClientAddress} for {ban.Text}: {said}");
        }
        var verdict = outcome.Fate switch
        {
            ConnectionFate.Serve => "granted",
            ConnectionFate.Twisted => "twist",
            _ => "denied",
        };
        decisions?.Write(request, outcome.Decision, verdict);
        GiftwrapMetrics.Decided(service.Daemon, verdict, "tables");
        if (outcome.Fate == ConnectionFate.Twisted)
        {
            await WhileRunningAsync(outcome.Program, client, ct).ConfigureAwait(false);
            return false;
        }
        // A banner that libwrap would have given up on (its expansion too long): closed, no verdict line.
        if (outcome.Fate == ConnectionFate.Aborted)
            return false;
        SayVerdict(service, outcome.Fate == ConnectionFate.Serve, request, outcome.Level, outcome.Facility);
        if (outcome.Fate == ConnectionFate.Refuse)
            return false;
        if (service.Forward is { } backend)
            return Forward(client, backend, service, relayState);
        if (service.Exec is { } argv)
        {
            var program = _actions.Start([.. argv], outcome.State with { User = outcome.State.User ?? service.User }, (int)client.SafeHandle.DangerousGetHandle(), request);
            await WhileRunningAsync(program, client, ct).ConfigureAwait(false);
        }
        return false;
    }

    /// <summary>
    /// Holds the connection's place in the limits while the program that took it runs: the gate's
    /// own descriptor goes at once (the program's end alone closes the client), and the caller
    /// gives the place back when the program is reaped, or when a stop's drain runs out.
    /// </summary>
    private static async Task WhileRunningAsync(Task<int>? program, Socket client, CancellationToken ct)
    {
        client.Dispose();
        if (program is not null)
            _ = await program.WaitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>What became of a connection offered to <see cref="TryServeOnLoop"/>.</summary>
    internal enum LoopOutcome
    {
        /// <summary>Refused or failed: the caller closes the descriptor.</summary>
        Closed,
        /// <summary>The relay has it.</summary>
        Relayed,
        /// <summary>It needs a wait (a lookup, a recompile) or a process or socket option: <see cref="HandleAsync"/> on the thread pool.</summary>
        LongWay,
    }

    /// <summary>
    /// The short way, on the event loop that accepted <paramref name="fd"/>: a forward service, a
    /// decision the compiled tables make at once without a name or user, and a matched rule with no
    /// options (nor a decision log to write). Says the same log lines as the long way.
    /// </summary>
    internal LoopOutcome TryServeOnLoop(int fd, AccessRequest request, IPAddress client, ServiceConfig service, object relayState, RelayLoop loop)
    {
        if (service.Forward is not { } backend || decisions is not null || !tables.IsCurrentWithoutWaiting())
            return LoopOutcome.LongWay;
        // Evaluated before the ban check (it has no effects), so that a connection sent the long way
        // is checked for bans there, once.
        var decision = tables.DecideCurrent(request);
        if (decision.Verdict == Verdict.NeedsLookup || decision.Actions.Count > 0 || decision.AclExec is not null || decision.Warnings.Count > 0)
            return LoopOutcome.LongWay;
        if (RefusedAsBanned(client, service, request))
            return LoopOutcome.Closed;
        GiftwrapMetrics.Decided(service.Daemon, decision.IsGranted ? "granted" : "denied", "tables");
        SayVerdict(service, decision.IsGranted, request);
        if (!decision.IsGranted)
            return LoopOutcome.Closed;
        var error = relay.Start(fd, backend, limits.ConnectTimeout, relayState, loop, BackendSource.Of(service));
        if (error == 0)
            return LoopOutcome.Relayed;
        LogBackendFailure(log, service, backend, error);
        return LoopOutcome.Closed;
    }

    /// <summary>Whether <paramref name="client"/> is banned; if so, says the refusal (the tables are not asked).</summary>
    private bool RefusedAsBanned(IPAddress client, ServiceConfig service, AccessRequest request)
    {
        if (bans?.Check(client, service.Daemon) is not { } banned)
            return false;
        log.Daemon(service.Daemon, Severity.Warning, Refusal(request, $"banned: {banned}"));
        GiftwrapMetrics.Decided(service.Daemon, "denied", "ban");
        return true;
    }

    /// <summary>The gate's own refusal of <paramref name="request"/>'s client, in tcpd's form with the reason after it.</summary>
    private static string Refusal(AccessRequest request, string reason) =>
        GateLog.Refusal(LibwrapLines.Client(request), LibwrapLines.Address(request), reason);

    /// <summary>tcpd's line for a verdict, at the severity (and facility) the rule set, else info or warning.</summary>
    private void SayVerdict(ServiceConfig service, bool granted, AccessRequest request, int? level = null, int? facility = null)
    {
        if (granted)
            log.Daemon(service.Daemon, level ?? LibwrapLines.AllowLevel, LibwrapLines.Connect(request), facility);
        else
            log.Daemon(service.Daemon, level ?? LibwrapLines.DenyLevel, LibwrapLines.Refused(request), facility);
    }

    internal static AccessRequest RequestFor(Socket client, ServiceConfig service)
    {
        return AccessRequest.ForConnection(service.Daemon, (IPEndPoint)client.RemoteEndPoint!, (IPEndPoint)client.LocalEndPoint!);
    }

    private static IPAddress ClientAddress(Socket client)
    {
        var a = ((IPEndPoint)client.RemoteEndPoint!).Address;
        return a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;
    }

    private bool Forward(Socket client, IPEndPoint backend, ServiceConfig service, object? relayState)
    {
        var error = relay.Start(client, backend, limits.ConnectTimeout, relayState, BackendSource.Of(service));
        if (error == 0)
            return true;
        // Refused at once (or out of descriptors): the relay never had it.
        LogBackendFailure(log, service, backend, error);
        return false;
    }

    /// <summary>The gate's line for a backend it could not reach; the client is closed.</summary>
    internal static void LogBackendFailure(GateLog log, ServiceConfig service, IPEndPoint backend, int errno)
    {
        var reason = errno == Interop.Libc.ETimedOut ? "timed out" : System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno);
        // A transparent connect fails for its own reasons too (the client's family, the capability).
        var from = service.Transparent ? " from the client's address (transparent)" : "";
        log.Daemon(service.Daemon, Severity.Err, $"error: cannot connect to backend {backend}{from}: {reason}; closing the client");
    }
}
