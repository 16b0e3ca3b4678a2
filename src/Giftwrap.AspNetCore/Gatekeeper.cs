// Judges one client for Kestrel, as tcpd would: bans first (when a package registered an
// IBanList), then the tables (lookups included, bounded by the decision timeout: no decision
// in time refuses), then the rule's options carried out by Giftwrap.Hosting's DecisionEngine,
// then libwrap's log line. Shared by the connection middleware (before TLS) and the HTTP
// middleware (after forwarded headers). Refusing the client is left to them.
// SECURITY: every path that cannot finish a decision refuses; nothing read from the
// client is trusted except the address the transport (or ForwardedHeaders) gives.
using System.Net;
using System.Net.Sockets;
using Giftwrap.Decisions;
using Giftwrap.Hosting;
using Giftwrap.Tables;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Giftwrap.AspNetCore;

internal sealed partial class Gatekeeper
{
    public const string LogCategory = "Giftwrap.AspNetCore";

    private readonly AccessTables _tables;
    private readonly IRequestLookups _lookups;
    private readonly IBanList? _bans;
    private readonly TimeSpan _decisionTimeout;
    private readonly ILogger _log;
    private readonly DecisionEngine _engine = new();
    private readonly OnceReporter _once = new();

    /// <summary>The container leaves <paramref name="bans"/> null when no package registered an <see cref="IBanList"/>.</summary>
    public Gatekeeper(AccessTables tables, IOptions<GiftwrapOptions> options, ILoggerFactory loggers, IBanList? bans = null)
    {
        var o = options.Value;
        _tables = tables;
        _bans = bans;
        _decisionTimeout = o.DecisionTimeout;
        _lookups = o.Lookups ?? DefaultLookups.Create(o.DnsServer, o.DnsTimeout, o.IdentPort);
        _log = loggers.CreateLogger(LogCategory);
    }

    /// <summary>
    /// Decides <paramref name="request"/> and carries out its options. <paramref name="socket"/> is
    /// the client's own socket for keepalive and linger, or null where it is not ours to change.
    /// The request must have <see cref="AccessRequest.CanLookUp"/> set. True admits the client; false means it must be refused.
    /// </summary>
    public async ValueTask<bool> AdmitAsync(AccessRequest request, IPAddress? client, Socket? socket, CancellationToken ct)
    {
        // Bans come before the tables: a banned client is refused whatever the rules say.
        if (client is not null && _bans?.Check(client, request.Daemon) is { } banned)
        {
            RefusedBanned(_log, request.Daemon, request.ClientAddress ?? AccessRequest.Unknown, banned);
            return false;
        }
        // Most rules need no lookup: decided at once, without a timer. Otherwise the lookups
        // run under the decision timeout.
        var first = _tables.Decide(request);
        var judgement = first.Verdict == Verdict.NeedsLookup
            ? await DecideWithLookupsAsync(request, ct).ConfigureAwait(false)
            : new Judgement(first, request);
        if (judgement.Decision is not { } decided)
            return false;
        request = judgement.Request;
        DecisionOutcome outcome;
        try
        {
            outcome = await _engine.CarryOutAsync(decided, request, HostFor(decided, socket), ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The client went away while a spawn or aclexec ran (the program runs on, reaped
            // without us): nothing left to serve.
            return false;
        }
        if (client is not null)
        {
            foreach (var ban in outcome.Decision.Actions.OfType<Options.BanAction>())
            {
                var result = _bans?.Ban(client, ban.Duration, $"ban option, {outcome.Decision.Match}") ?? "no ban store configured";
                Log(LibwrapLog.Banned(outcome.Request, ban.Text, result));
            }
        }
        // An aborted expansion ends as libwrap exits there: closed, without a verdict line.
        if (outcome.Fate != DecisionFate.Aborted)
            Log(outcome.VerdictLine);
        return outcome.Fate == DecisionFate.Serve;
    }

    /// <summary>The decision with its lookups, bounded in time; a null decision refuses.</summary>
    private async ValueTask<Judgement> DecideWithLookupsAsync(AccessRequest request, CancellationToken ct)
    {
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            timeout.CancelAfter(_decisionTimeout);
            try
            {
                return await _tables.DecideAsync(request, _lookups, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                // Fail closed: no decision in time is a refusal.
                RefusedNoDecision(_log, request.Daemon, request.ClientAddress ?? AccessRequest.Unknown, _decisionTimeout.TotalSeconds);
                return default;
            }
            catch (OperationCanceledException)
            {
                // The client went away while its names were looked up: nothing left to serve.
                return default;
            }
        }
    }

    /// <summary>A connection reached the middleware after its TLS handshake: said once per endpoint.</summary>
    public void WarnAfterTls(string daemon, EndPoint? endPoint)
    {
        if (_once.First($"after-tls|{daemon}|{endPoint}"))
            AfterTls(_log, daemon, endPoint?.ToString() ?? "an endpoint");
    }

    /// <summary>libwrap's eval_client() (%c) as its log lines show it: user@host when the user is known, the host name when known, else the address.</summary>
    internal static string ClientInfo(AccessRequest r) => Logging.LibwrapLines.Client(r);
}
