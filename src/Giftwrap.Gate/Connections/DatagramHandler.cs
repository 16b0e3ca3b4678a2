// One burst of datagrams on a UDP service (inetd's `dgram udp wait`), judged as tcpd judges
// it on the socket inetd hands over: the client is the first queued datagram's source, the
// server the socket's own address, no RFC 1413 lookup (eval.c), the same options and log
// lines as a connection. Granted, the program (or a twist) gets the socket on its stdio and
// reads the burst itself; refused, the caller reads the datagram away (socket.c sock_sink).
// The socket is never connected and nothing is ever sent on it by the gate.
using System.Net;
using System.Net.Sockets;
using Giftwrap.Decisions;
using Giftwrap.Diagnostics;
using Giftwrap.Gate.Actions;
using Giftwrap.Gate.Config;
using Giftwrap.Gate.Logging;
using Giftwrap.Logging;
using Giftwrap.Tables;

namespace Giftwrap.Gate.Connections;

internal sealed class DatagramHandler(AccessTables tables, IRequestLookups lookups, GateLog log, LimitsConfig limits, DecisionLog? decisions, IGateBans? bans, ProgramLimits? programs)
{
    private readonly ActionRunner _actions = new(log, limits.BannerTimeout, programs: programs, lookups: lookups);

    /// <summary>
    /// Judges the burst whose first datagram came from <paramref name="remote"/> and carries out the
    /// decision. Returns the exit status of the program that took the socket (the service, or a
    /// twist), -1 when none could be started, or null when the burst was refused: the caller then
    /// sinks the datagram. The socket must be blocking (the program's stdio) on the way in.
    /// </summary>
    public async Task<int?> HandleAsync(Socket socket, IPEndPoint remote, IPEndPoint local, ServiceConfig service, CancellationToken ct)
    {
        // eval.c eval_user(): with a sink (a datagram service) the user is never asked for: unknown.
        var request = AccessRequest.ForConnection(service.Daemon, remote, local) with { ClientUser = AccessRequest.Unknown };
        var client = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
        Judgement judgement;
        try
        {
            if (bans?.Check(client, service.Daemon) is { } banned)
            {
                log.Daemon(service.Daemon, Severity.Warning, Refusal(request, $"banned: {banned}"));
                GiftwrapMetrics.Decided(service.Daemon, "denied", "ban");
                return null;
            }
            // The lookups have their own time limits; the decision as a whole has this one.
            judgement = await tables.DecideAsync(request, lookups, ct).AsTask().WaitAsync(limits.DecisionTimeout, ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Fail closed: no decision in time is a refusal.
            log.Daemon(service.Daemon, Severity.Warning, Refusal(request, $"no decision within {limits.DecisionTimeout.TotalSeconds:0}s"));
            GiftwrapMetrics.Decided(service.Daemon, "denied", "timeout");
            return null;
        }
        finally
        {
            // Decided (or given up): the caller took a reference on these tables for this burst.
            tables.Release();
        }
        request = judgement.Request;
        foreach (var w in judgement.Decision.Warnings)
            log.Daemon(service.Daemon, LibwrapLines.DiagnosticLevel, LibwrapLines.Diagnostic(w));
        var outcome = await _actions.RunAsync(judgement.Decision, request, socket, ct).ConfigureAwait(false);
        request = outcome.Request ?? request;
        foreach (var ban in outcome.Decision.Actions.OfType<Giftwrap.Options.BanAction>())
        {
            var said = bans?.Ban(client, ban.Duration, $"ban option, {outcome.Decision.Match}", service.Daemon) ?? "no ban store configured";
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
        switch (outcome.Fate)
        {
            case ConnectionFate.Twisted:
                return outcome.Program is { } twist ? await twist.WaitAsync(ct).ConfigureAwait(false) : -1;
            case ConnectionFate.Aborted:
                // A banner expansion too long: libwrap's percent_x() exits without clean_exit(), and
                // the gate does not start the service either; the datagram is read away all the same,
                // or the same datagram would be judged again at once.
                return null;
            case ConnectionFate.Refuse:
                log.Daemon(service.Daemon, outcome.Level ?? LibwrapLines.DenyLevel, LibwrapLines.Refused(request), outcome.Facility);
                return null;
        }
        log.Daemon(service.Daemon, outcome.Level ?? LibwrapLines.AllowLevel, LibwrapLines.Connect(request), outcome.Facility);
        if (service.Exec is not { } argv)
            return -1;
        var fd = (int)socket.SafeHandle.DangerousGetHandle();
        return await _actions.Start([.. argv], outcome.State with { User = outcome.State.User ?? service.User }, fd, request).WaitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>A refusal of the gate's own in tcpd's form, name then address, as Fail2ban's filters count them.</summary>
    private static string Refusal(AccessRequest request, string reason) =>
        GateLog.Refusal(LibwrapLines.Client(request), LibwrapLines.Address(request), reason);
}
