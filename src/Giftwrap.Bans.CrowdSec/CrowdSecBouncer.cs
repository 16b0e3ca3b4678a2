// Follows CrowdSec's Local API decision stream into the local ban store, as CrowdSec's own
// bouncers do with their firewalls: ban decisions of scope Ip and Range become bans for the
// decision's remaining time (not escalated: CrowdSec chose the length), with the origin and
// scenario as the reason; a deleted decision lifts the ban once no other decision holds the
// target. The store then does what it does with any ban: the gate refuses, the fleet shares.
//
// Restarts and outages: the first call, the first after any failure, and one every `resync`
// (the deltas can miss decisions) ask for the full list (startup=true) and reconcile the
// store's CrowdSec bans with it: bans for decisions
// gone meanwhile are lifted (none resurrected), missing ones are added, ones already in force
// are left as they are (no journal record per decision at every start). Which bans are the
// bouncer's: a reason starting with "crowdsec/" written by this host (its Origin): a ban an
// operator or another fleet member made is never lifted here. During an outage every ban stays
// in force until its own expiry; the bouncer retries with a doubling pause, logs the outage and
// its end once each, and counts each failure (CrowdSecMetrics).
// Not here: talking HTTP (LapiClient), the configuration (CrowdSecOptionsReader).
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Giftwrap.Bans.CrowdSec;

/// <summary>A bouncer running in the background until disposed.</summary>
public sealed partial class CrowdSecBouncer : IAsyncDisposable
{
    /// <summary>The reason prefix that marks a ban as CrowdSec's (followed by ORIGIN: SCENARIO).</summary>
    public const string ReasonPrefix = "crowdsec/";

    /// <summary>Store writes are cut into batches of this many: each is one fsync, and the gate's lookups wait for none long.</summary>
    private const int Batch = 5000;

    private readonly BanStore _store;
    private readonly CrowdSecOptions _options;
    private readonly ILogger _log;
    private readonly LapiClient _client;
    private readonly CancellationTokenSource _stop = new();
    private readonly HashSet<string> _origins;

    // Decision id -> its target, and how many current decisions hold each target: a target is
    // unbanned when its last decision goes. Touched by the loop only.
    private readonly Dictionary<long, BanTarget> _decisions = [];
    private readonly Dictionary<BanTarget, int> _holders = [];
    private readonly Task _running;
    private int _polls;

    private CrowdSecBouncer(BanStore store, CrowdSecOptions options, ILogger log, HttpMessageHandler? handler)
    {
        _store = store;
        _options = options;
        _log = log;
        _origins = new HashSet<string>(options.Origins, StringComparer.OrdinalIgnoreCase);
        _client = new LapiClient(options, handler);
        _running = Task.Run(() => RunAsync(_stop.Token));
    }

    /// <summary>Starts following the Local API and returns at once.</summary>
    public static CrowdSecBouncer Start(BanStore store, CrowdSecOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        return new CrowdSecBouncer(store, options, logger ?? NullLogger.Instance, null);
    }

    /// <summary>Successful calls of the stream so far (the first one is the full list).</summary>
    public int Polls => Volatile.Read(ref _polls);

    /// <summary>Whether <paramref name="entry"/> is a ban this host's bouncer made.</summary>
    public bool IsOurs(BanEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return entry.Reason.StartsWith(ReasonPrefix, StringComparison.Ordinal) && entry.Origin == _store.Options.Origin;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _running.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopped while waiting or asking: the expected end.
        }
        _client.Dispose();
        _stop.Dispose();
    }

    private async Task RunAsync(CancellationToken ct)
    {
        var startup = true;
        var failures = 0;
        var delay = _options.FirstBackoff;
        var time = _store.Options.Time;
        var lastFull = time.GetTimestamp();
        while (!ct.IsCancellationRequested)
        {
            try
            {
                // The full list again now and then: the deltas can miss a decision (CrowdSecOptions.Resync).
                startup |= time.GetElapsedTime(lastFull) >= _options.Resync;
                var stream = await _client.StreamAsync(startup, ct).ConfigureAwait(false);
                if (startup)
                {
                    Reconcile(stream.New ?? [], first: _polls == 0);
                    lastFull = time.GetTimestamp();
                }
                else
                {
                    Apply(stream.New ?? [], stream.Deleted ?? []);
                }
                CrowdSecMetrics.Succeeded();
                Interlocked.Increment(ref _polls);
                if (failures > 0)
                    Restored(_log, _options.Lapi.ToString(), failures);
                (startup, failures, delay) = (false, 0, _options.FirstBackoff);
                await Task.Delay(_options.Poll, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is LapiException or IOException or UnauthorizedAccessException)
            {
                // The LAPI is down or the store cannot be written: the bans in force stay. The next
                // success starts from the full list, so nothing said meanwhile is missed.
                CrowdSecMetrics.Failed(ex is LapiException ? "lapi" : "store");
                if (failures++ == 0)
                    Outage(_log, ex.Message);
                startup = true;
                await Task.Delay(delay, ct).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxBackoff.Ticks));
            }
        }
    }

    /// <summary>A decision the gate can enforce: its target, until when, and the reason to record; null for one to leave alone.</summary>
    private (BanTarget Target, TimeSpan Left, string Reason)? Enforceable(LapiDecision? d, List<string> invalid)
    {
        if (d is null)
        {
            // A null in the list ("new":[null]): no real LAPI's, and nothing to enforce.
            invalid.Add("null");
            return null;
        }
        if (!string.Equals(d.Type, "ban", StringComparison.OrdinalIgnoreCase)
            || d.Scope is not { } scope || !(scope.Equals("Ip", StringComparison.OrdinalIgnoreCase) || scope.Equals("Range", StringComparison.OrdinalIgnoreCase))
            || (_origins.Count > 0 && !_origins.Contains(d.Origin ?? "")))
        {
            return null;
        }
        // Scope Ip holds one address, Range a prefix; BanTarget reads both (and refuses host bits set).
        var isRange = scope.Equals("Range", StringComparison.OrdinalIgnoreCase);
        if (d.Value is not { } value || value.Contains('/', StringComparison.Ordinal) != isRange
            || !BanTarget.TryParse(value, out var target, out _) || !GoDuration.TryParse(d.Duration, out var left))
        {
            invalid.Add($"{d.Scope} {d.Value} for {d.Duration}");
            return null;
        }
        var reason = $"{ReasonPrefix}{Clean(d.Origin, "unknown")}: {Clean(d.Scenario, "no scenario")}";
        return (target, left, reason);
    }

    /// <summary>Text from the LAPI as one printable line of bounded length: it goes into journal records and logs.</summary>
    private static string Clean(string? text, string empty)
    {
        var chars = (text ?? "").Where(c => c >= ' ' && c != (char)127).Take(200).ToArray();
        return chars.Length == 0 ? empty : new string(chars);
    }

    /// <summary>The full list (startup=true): the store's CrowdSec bans made to match it.</summary>
    private void Reconcile(List<LapiDecision?> current, bool first)
    {
        _decisions.Clear();
        _holders.Clear();
        var invalid = new List<string>();
        var wanted = new Dictionary<BanTarget, (TimeSpan Left, string Reason)>();
        foreach (var d in current)
        {
            if (Enforceable(d, invalid) is not { } e || e.Left <= TimeSpan.Zero)
                continue;
            Hold(d!.Id, e.Target);
            if (!wanted.TryGetValue(e.Target, out var w) || w.Left < e.Left)
                wanted[e.Target] = (e.Left, e.Reason);
        }
        var now = _store.Options.Time.GetUtcNow();
        var stale = _store.List(now).Where(e => IsOurs(e) && !wanted.ContainsKey(e.Target)).Select(e => e.Target).ToList();
        var missing = wanted.Where(w => NeedsBan(w.Key, w.Value.Left)).ToList();
        var (banned, refused) = Ban(missing.Select(w => (w.Key, w.Value.Left, w.Value.Reason)));
        var unbanned = Unban(stale);
        Report(invalid, refused);
        // After the first, a full list that changed nothing is the usual case: said only when it did.
        if (first || banned + unbanned > 0)
            Reconciled(_log, wanted.Count, banned, unbanned);
    }

    /// <summary>A delta: new decisions banned, deleted ones lifted when no other decision holds their target.</summary>
    private void Apply(List<LapiDecision?> added, List<LapiDecision?> deleted)
    {
        var invalid = new List<string>();
        var ban = new List<(BanTarget, TimeSpan, string)>();
        var now = _store.Options.Time.GetUtcNow();
        foreach (var d in added)
        {
            if (Enforceable(d, invalid) is not { } e || e.Left <= TimeSpan.Zero)
                continue;
            Hold(d!.Id, e.Target);
            if (NeedsBan(e.Target, e.Left))
                ban.Add((e.Target, e.Left, e.Reason));
        }
        var lift = new List<BanTarget>();
        foreach (var d in deleted)
        {
            if (d is null || !_decisions.Remove(d.Id, out var target))
                continue; // a decision never enforced here (another scope, type or origin)
            if (--_holders[target] > 0)
                continue;
            _holders.Remove(target);
            if (_store.Get(target) is { } entry && entry.IsActive(now) && IsOurs(entry))
                lift.Add(target);
        }
        var (banned, refused) = Ban(ban);
        var unbanned = Unban(lift);
        Report(invalid, refused);
        if (banned + unbanned > 0)
            Changed(_log, banned, unbanned);
    }

    private void Hold(long id, BanTarget target)
    {
        if (_decisions.TryGetValue(id, out var old))
        {
            if (old == target)
                return;
            _holders[old]--;
        }
        _decisions[id] = target;
        _holders[target] = _holders.GetValueOrDefault(target) + 1;
    }

    /// <summary>
    /// Whether a ban for <paramref name="left"/> from now would change the store: not when a ban in force
    /// already lasts as long (a few seconds' difference is the time the answer took, not a new decision).
    /// Compared as lengths: now + left can lie past the year 9999 (a decision of ten thousand years).
    /// </summary>
    private bool NeedsBan(BanTarget target, TimeSpan left)
    {
        var now = _store.Options.Time.GetUtcNow();
        return _store.Get(target) is not { } e || !e.IsActive(now) || (e.Expires is { } x && x - now < left - TimeSpan.FromSeconds(5));
    }

    private (int Banned, List<string> Refused) Ban(IEnumerable<(BanTarget Target, TimeSpan Left, string Reason)> bans)
    {
        var banned = 0;
        var refused = new List<string>();
        foreach (var chunk in bans.Chunk(Batch))
        {
            var results = _store.BanMany(chunk.Select(b => new BanRequest { Target = b.Target, Duration = b.Left, Reason = b.Reason, Escalate = false }));
            foreach (var r in results)
            {
                if (r.Outcome == BanOutcome.Banned)
                    banned++;
                else
                    refused.Add(r.Message);
            }
        }
        CrowdSecMetrics.Applied("banned", banned);
        return (banned, refused);
    }

    private int Unban(List<BanTarget> targets)
    {
        var unbanned = 0;
        foreach (var chunk in targets.Chunk(Batch))
            unbanned += _store.UnbanMany(chunk).Count(r => r.Outcome == BanOutcome.Unbanned);
        CrowdSecMetrics.Applied("unbanned", unbanned);
        return unbanned;
    }

    /// <summary>Decisions left out, in one line each kind: a flood of them must not flood the log.</summary>
    private void Report(List<string> invalid, List<string> refused)
    {
        CrowdSecMetrics.Applied("invalid", invalid.Count);
        CrowdSecMetrics.Applied("protected", refused.Count);
        if (invalid.Count > 0)
            Invalid(_log, invalid.Count, invalid[0]);
        if (refused.Count > 0)
            Refused(_log, refused.Count, refused[0]);
    }

    [LoggerMessage(3201, LogLevel.Warning, "crowdsec: the Local API cannot be used: {Message}; the bans in force stay, retrying")]
    private static partial void Outage(ILogger logger, string message);

    [LoggerMessage(3202, LogLevel.Information, "crowdsec: the Local API at {Lapi} answers again after {Failures} failed attempt(s)")]
    private static partial void Restored(ILogger logger, string lapi, int failures);

    [LoggerMessage(3203, LogLevel.Information, "crowdsec: {Decisions} decision(s) in force; {Banned} ban(s) added, {Unbanned} lifted to match")]
    private static partial void Reconciled(ILogger logger, int decisions, int banned, int unbanned);

    [LoggerMessage(3204, LogLevel.Information, "crowdsec: {Banned} ban(s) added, {Unbanned} lifted")]
    private static partial void Changed(ILogger logger, int banned, int unbanned);

    [LoggerMessage(3205, LogLevel.Warning, "crowdsec: {Count} decision(s) with a value or duration that does not parse left out (first: {First})")]
    private static partial void Invalid(ILogger logger, int count, string first);

    [LoggerMessage(3206, LogLevel.Warning, "crowdsec: {Count} decision(s) not enforced (first: {First})")]
    private static partial void Refused(ILogger logger, int count, string first);
}
