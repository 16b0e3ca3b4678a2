// The path every client of the gate takes, a connection or a datagram burst alike: bans first (a
// banned client is refused whatever the rules say), a trap, then the tables with their lookups
// within the decision timeout (no decision in time refuses: fail closed), then the options carried
// out by DecisionEngine, the ban options, the decision log and the metrics. The verdict line and the
// service (forward, exec, the datagram's program) are left to the handlers.
using System.Net;
using System.Net.Sockets;
using Giftwrap.Decisions;
using Giftwrap.Diagnostics;
using Giftwrap.Gate.Actions;
using Giftwrap.Gate.Config;
using Giftwrap.Gate.Logging;
using Giftwrap.Hosting;
using Giftwrap.Options;
using Giftwrap.Tables;

namespace Giftwrap.Gate.Connections;

/// <summary>A client judged and its options carried out: what it came to, and the host that carried them out (for the service's program).</summary>
internal readonly record struct Judged(DecisionOutcome Outcome, GateDecisionHost Host);

internal sealed class GateJudge(AccessTables tables, IRequestLookups lookups, GateLog log, LimitsConfig limits, DecisionLog? decisions, IGateBans? bans, ProgramLimits? programs, Traps? traps)
{
    private readonly DecisionEngine _engine = new(lookups);

    /// <summary>
    /// Judges <paramref name="request"/> from <paramref name="client"/> on <paramref name="socket"/> and carries out
    /// the options. Null when it was refused before the tables (banned, a trap, no decision in time), which is said.
    /// The caller holds a reference on the tables (<see cref="AccessTables.TryAcquire"/>): it is given back once decided.
    /// </summary>
    public async Task<Judged?> JudgeAsync(AccessRequest request, IPAddress client, Socket socket, ServiceConfig service, CancellationToken ct)
    {
        Judgement judgement;
        try
        {
            if (RefusedAsBanned(client, service, request))
                return null;
            // A trap: no tables, no backend; the source is banned and the connection closed by the caller.
            if (traps is not null && service.Trap is not null)
            {
                traps.Caught(client, request, service, bans);
                return null;
            }
            if (await DecideAsync(request, service, ct).ConfigureAwait(false) is not { } decided)
                return null;
            judgement = decided;
        }
        finally
        {
            // Decided (or given up): these tables are no longer needed by this client, however long it stays.
            tables.Release();
        }
        var host = new GateDecisionHost(socket, log, limits.BannerTimeout, programs);
        var outcome = await _engine.CarryOutAsync(judgement.Decision, judgement.Request, host, ct).ConfigureAwait(false);
        foreach (var ban in outcome.Decision.Actions.OfType<BanAction>())
        {
            var said = bans?.Ban(client, ban.Duration, $"ban option, {outcome.Decision.Match}", service.Daemon) ?? "no ban store configured";
            log.Write(LibwrapLog.Banned(outcome.Request, ban.Text, said));
        }
        decisions?.Write(outcome.Request, outcome.Decision, outcome.Verdict);
        GiftwrapMetrics.Decided(service.Daemon, outcome.Verdict, "tables");
        return new Judged(outcome, host);
    }

    /// <summary>The decision with its lookups, bounded in time; null (and the refusal said) when it took too long.</summary>
    private async ValueTask<Judgement?> DecideAsync(AccessRequest request, ServiceConfig service, CancellationToken ct)
    {
        var pending = tables.DecideAsync(request, lookups, ct);
        // No lookup was needed: decided on this thread, no timer armed.
        if (pending.IsCompletedSuccessfully)
            return pending.Result;
        try
        {
            // The lookups have their own time limits; the decision as a whole has this one.
            return await pending.AsTask().WaitAsync(limits.DecisionTimeout, ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Fail closed: no decision in time is a refusal.
            log.Write(LibwrapLog.RefusedNoDecision(request, limits.DecisionTimeout));
            GiftwrapMetrics.Decided(service.Daemon, VerdictWords.Denied, "timeout");
            return null;
        }
    }

    /// <summary>Whether <paramref name="client"/> is banned; if so, says the refusal (the tables are not asked).</summary>
    public bool RefusedAsBanned(IPAddress client, ServiceConfig service, AccessRequest request)
    {
        if (bans?.Check(client, service.Daemon) is not { } banned)
            return false;
        log.Write(LibwrapLog.RefusedBanned(request, banned));
        GiftwrapMetrics.Decided(service.Daemon, VerdictWords.Denied, "ban");
        return true;
    }
}
