// One burst of datagrams on a UDP service (inetd's `dgram udp wait`), judged as tcpd judges
// it on the socket inetd hands over: the client is the first queued datagram's source, the
// server the socket's own address, no RFC 1413 lookup (eval.c), the same options and log
// lines as a connection. Granted, the program (or a twist) gets the socket on its stdio and
// reads the burst itself; refused, the caller reads the datagram away (socket.c sock_sink).
// The socket is never connected and nothing is ever sent on it by the gate. Bans, the decision
// and the options are GateJudge's, the same path as a connection's.
using System.Net;
using System.Net.Sockets;
using Giftwrap.Decisions;
using Giftwrap.Gate.Actions;
using Giftwrap.Gate.Config;
using Giftwrap.Gate.Logging;
using Giftwrap.Hosting;
using Giftwrap.Tables;

namespace Giftwrap.Gate.Connections;

internal sealed class DatagramHandler(AccessTables tables, IRequestLookups lookups, GateLog log, LimitsConfig limits, DecisionLog? decisions, IGateBans? bans, ProgramLimits? programs)
{
    private readonly GateJudge _judge = new(tables, lookups, log, limits, decisions, bans, programs, traps: null);

    // The program's task when no program could take the socket: tcpd's clean_exit() after a failed exec.
    private static readonly Task<int> NoProgram = Task.FromResult(-1);

    /// <summary>
    /// Judges the burst whose first datagram came from <paramref name="remote"/> and carries out the
    /// decision. Returns the program that took the socket (the service, or a twist) as the task of
    /// its exit status (-1 when none could be started), or null when the burst was refused: the
    /// caller then sinks the datagram. The socket must be blocking (the program's stdio) on the way
    /// in. <paramref name="ct"/> cancels the judging only: the caller waits for the program itself,
    /// so that a stop need not wait for it and yet knows when the socket is no longer the program's.
    /// </summary>
    public async Task<Task<int>?> HandleAsync(Socket socket, IPEndPoint remote, IPEndPoint local, ServiceConfig service, CancellationToken ct)
    {
        // eval.c eval_user(): with a sink (a datagram service) the user is never asked for: unknown.
        var request = AccessRequest.ForConnection(service.Daemon, remote, local) with { ClientUser = AccessRequest.Unknown };
        var client = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
        if (await _judge.JudgeAsync(request, client, socket, service, ct).ConfigureAwait(false) is not { } judged)
            return null;
        var (outcome, host) = judged;
        switch (outcome.Fate)
        {
            case DecisionFate.Twisted:
                return outcome.Program ?? NoProgram;
            case DecisionFate.Aborted:
                // A banner expansion too long: libwrap's percent_x() exits without clean_exit(), and
                // the gate does not start the service either; the datagram is read away all the same,
                // or the same datagram would be judged again at once.
                return null;
        }
        log.Write(outcome.VerdictLine);
        if (outcome.Fate == DecisionFate.Refuse)
            return null;
        if (service.Exec is not { } argv)
            return NoProgram;
        var fd = (int)socket.SafeHandle.DangerousGetHandle();
        return DecisionEngine.StartService(host, service.Daemon, [.. argv], outcome.State with { User = outcome.State.User ?? service.User }, fd);
    }
}
