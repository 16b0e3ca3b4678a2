// One connection through the gate: the request from the socket's endpoints, the
// decision (with the lookups it needs, bounded in time: a decision that cannot be
// made in time refuses) and the options carried out (GateJudge, DecisionEngine), tcpd's log
// line, then the service: a forward to the backend (handed to the relay) or a program with the socket on its stdio.
using System.Net;
using System.Net.Sockets;
using Giftwrap.Decisions;
using Giftwrap.Diagnostics;
using Giftwrap.Gate.Actions;
using Giftwrap.Gate.Config;
using Giftwrap.Gate.Forwarding;
using Giftwrap.Gate.Logging;
using Giftwrap.Hosting;
using Giftwrap.Logging;
using Giftwrap.Tables;

namespace Giftwrap.Gate.Connections;

internal sealed class ConnectionHandler(AccessTables tables, IRequestLookups lookups, GateLog log, LimitsConfig limits, Relay relay, DecisionLog? decisions = null, IGateBans? bans = null, ProgramLimits? programs = null, Traps? traps = null)
{
    private readonly GateJudge _judge = new(tables, lookups, log, limits, decisions, bans, programs, traps ?? new Traps(log));

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
        AccessRequest request;
        IPAddress address;
        try
        {
            request = RequestFor(client, service);
            address = ClientAddress(client);
        }
        catch
        {
            // No request, no decision: the reference on the tables is given back here.
            tables.Release();
            throw;
        }
        if (await _judge.JudgeAsync(request, address, client, service, ct).ConfigureAwait(false) is not { } judged)
            return false;
        var (outcome, host) = judged;
        switch (outcome.Fate)
        {
            case DecisionFate.Twisted:
                await WhileRunningAsync(outcome.Program, client, ct).ConfigureAwait(false);
                return false;
            case DecisionFate.Aborted:
                // A banner that libwrap would have given up on (its expansion too long): closed, no verdict line.
                return false;
        }
        log.Write(outcome.VerdictLine);
        if (outcome.Fate == DecisionFate.Refuse)
            return false;
        if (service.Forward is { } backend)
            return Forward(client, backend, service, relayState);
        if (service.Exec is { } argv)
        {
            var program = DecisionEngine.StartService(host, service.Daemon, [.. argv], outcome.State with { User = outcome.State.User ?? service.User }, (int)client.SafeHandle.DangerousGetHandle());
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
    /// <paramref name="noDelay"/>: the socket has TCP_NODELAY already (from its listener).
    /// <paramref name="fresh"/>: the check of the tables' files for the accept batch this connection came in.
    /// </summary>
    internal LoopOutcome TryServeOnLoop(int fd, AccessRequest request, IPAddress client, ServiceConfig service, object relayState, RelayLoop loop, bool noDelay, ref BatchRefresh fresh)
    {
        // Evaluated before the ban check (it has no effects), so that a connection sent the long way
        // is checked for bans there, once.
        if (service.Forward is not { } backend || decisions is not null || !tables.TryDecideNow(request, fresh.Of(tables), out var decision))
            return LoopOutcome.LongWay;
        if (decision.Actions.Count > 0 || decision.AclExec is not null || decision.Warnings.Count > 0)
            return LoopOutcome.LongWay;
        if (_judge.RefusedAsBanned(client, service, request))
            return LoopOutcome.Closed;
        GiftwrapMetrics.Decided(service.Daemon, VerdictWords.Of(decision.IsGranted), "tables");
        log.Write(LibwrapLog.Verdict(decision.IsGranted, request));
        if (!decision.IsGranted)
            return LoopOutcome.Closed;
        var error = relay.Start(fd, backend, limits.ConnectTimeout, relayState, loop, BackendSource.Of(service), noDelay);
        if (error == 0)
            return LoopOutcome.Relayed;
        LogBackendFailure(log, service, backend, error);
        return LoopOutcome.Closed;
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
        log.Daemon(service.Daemon, SyslogSeverity.Err, $"error: cannot connect to backend {backend}{from}: {reason}; closing the client");
    }
}
