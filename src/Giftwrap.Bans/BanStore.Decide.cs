// Deciding what a request writes: escalation of repeat offenders (Fail2ban's
// bantime.increment: time * factor^(offences-1), capped), merging with a ban still in
// force (never shortened, daemon lists joined), IPv6 /64 aggregation, and the checks
// that refuse protected or malformed targets. Runs under the writers' lock against a
// state that has just caught up with the journal; writes nothing itself.
using System.Globalization;

namespace Giftwrap.Bans;

public sealed partial class BanStore
{
    private (IReadOnlyList<BanResult>, List<BanChange>) DecideBans(IReadOnlyList<BanRequest> requests)
    {
        var now = Now();
        var results = new List<BanResult>(requests.Count);
        var changes = new List<BanChange>(requests.Count);
        // Requests earlier in the same batch count as known: two bans of one target escalate.
        var pending = new Dictionary<BanTarget, BanEntry>();
        foreach (var request in requests)
        {
            var (result, entry) = DecideOne(request, now, pending);
            results.Add(result);
            if (entry is null)
                continue;
            pending[entry.Target] = entry;
            changes.Add(Banned(entry, remote: false));
            if (Aggregate(entry, now, pending) is { } aggregated)
            {
                changes.AddRange(aggregated.Changes);
                results[^1] = result with { Entry = aggregated.Entry, Message = $"{result.Message}; {aggregated.Message}" };
            }
        }
        return (results, changes);
    }

    /// <summary>
    /// Why <paramref name="target"/> meets the protected <paramref name="p"/>. An IPv6 prefix of /96 or shorter
    /// holds the IPv4-mapped ::ffff:0:0/96, so it meets every protected IPv4 address: said so, as "::/0 overlaps
    /// 127.0.0.0/8" alone reads like a mistake.
    /// </summary>
    internal static string Overlap(BanTarget target, BanTarget p) =>
        !target.IsIPv4 && p.IsIPv4
            ? $"it holds {p} as the IPv4-mapped ::ffff:{p.Address}/{(p.PrefixLength + 96).ToString(CultureInfo.InvariantCulture)}"
            : $"it overlaps {p}";

    private (BanResult Result, BanEntry? Entry) DecideOne(BanRequest request, DateTimeOffset now, Dictionary<BanTarget, BanEntry> pending)
    {
        var target = request.Target;
        if (ProtectedBy(target) is { } p)
            return (new BanResult(BanOutcome.Protected, null, $"{target} is protected ({Overlap(target, p)}): not banned"), null);
        if (DaemonError(request.Daemons) is { } bad)
            return (new BanResult(BanOutcome.Invalid, null, bad), null);
        if (request.Duration < TimeSpan.Zero)
            return (new BanResult(BanOutcome.Invalid, null, $"a ban of {target} for a negative time ends before it starts"), null);
        var known = pending.TryGetValue(target, out var pend) ? pend : (_table.TryGet(target, out var e) ? e : null);
        var active = known is not null && known.IsActive(now) ? known : null;
        // Saturating: a count of int.MaxValue (a rogue fleet member's) wrapped to a negative one, which the journal refuses to read back.
        var offences = known?.Offences is { } n ? (n >= int.MaxValue ? int.MaxValue : Math.Max(n, 0) + 1) : 1;
        var length = request.Duration ?? Options.BanTime;
        DateTimeOffset? expires = request.Permanent ? null : Until(now, request.Escalate ? Escalate(length, offences) : length);
        if (active is not null && expires is { } x && (active.Expires is null || active.Expires > x))
            expires = active.Expires; // a ban in force is never shortened by a new one
        IReadOnlyList<string>? daemons = request.Daemons is { Count: > 0 } d ? d.Distinct(StringComparer.OrdinalIgnoreCase).ToArray() : null;
        if (active is not null)
            daemons = Union(active.Daemons, daemons);
        var entry = new BanEntry
        {
            Target = target,
            Daemons = daemons,
            Reason = request.Reason.Length > 0 ? Clip(request.Reason) : known?.Reason ?? "",
            Origin = Options.Origin,
            Created = now,
            Expires = expires,
            Offences = offences,
        };
        var what = expires is { } until ? $"for {BanDuration.Format(until - now)}" : "permanently";
        return (new BanResult(BanOutcome.Banned, entry, $"banned {target} {what} (offence {offences})"), entry);
    }

    /// <summary>
    /// The last instant a record can hold (what JournalFormat reads back): a longer ban (a feed's
    /// decision of ten thousand years, a caller's TimeSpan.MaxValue) ends there instead of failing.
    /// </summary>
    private static readonly DateTimeOffset LastInstant = DateTimeOffset.FromUnixTimeMilliseconds(253402300799999);

    private static DateTimeOffset Until(DateTimeOffset now, TimeSpan length) => length >= LastInstant - now ? LastInstant : now + length;

    /// <summary>Reasons and origins longer than this are cut: every journal record stays far below the 4 MiB a reader takes as one line.</summary>
    internal const int MaxText = 1024;

    /// <summary>More daemon names than this in one ban is no daemon list (and would make a record without bound).</summary>
    internal const int MaxDaemons = 64;

    private static string Clip(string text)
    {
        if (text.Length <= MaxText)
            return text;
        var cut = char.IsHighSurrogate(text[MaxText - 1]) ? MaxText - 1 : MaxText;
        return string.Concat(text.AsSpan(0, cut), "…");
    }

    private TimeSpan Escalate(TimeSpan first, int offences)
    {
        var factor = Math.Pow(Options.IncrementFactor, Math.Min(offences - 1, 64));
        var cap = Options.MaxTime > first ? Options.MaxTime : first;
        var seconds = first.TotalSeconds * factor;
        return double.IsFinite(seconds) && seconds < cap.TotalSeconds ? TimeSpan.FromSeconds(seconds) : cap;
    }

    private (List<BanChange> Changes, BanEntry Entry, string Message)? Aggregate(BanEntry entry, DateTimeOffset now, Dictionary<BanTarget, BanEntry> pending)
    {
        var threshold = Options.AggregateV6Threshold;
        if (threshold < 2 || entry.Target.IsIPv4 || !entry.Target.IsSingleAddress)
            return null;
        var slash64 = new BanTarget(entry.Target.Bits, 64);
        if (ProtectedBy(slash64) is not null)
            return null; // the /64 holds a protected address: its members stay single bans
        if (pending.TryGetValue(slash64, out var p64) ? p64.IsActive(now) : _table.TryGet(slash64, out var t64) && t64.IsActive(now))
            return null;
        var members = new Dictionary<BanTarget, BanEntry>();
        if (_table.CountInSlash64(entry.Target) + pending.Count >= threshold - 1)
        {
            foreach (var m in _table.ActiveInSlash64(entry.Target, now.ToUnixTimeMilliseconds()))
                members[m.Target] = m;
        }
        foreach (var (t, m) in pending)
        {
            if (t.IsSingleAddress && !t.IsIPv4 && slash64.Contains(t.Bits) && m.IsActive(now))
                members[t] = m;
        }
        if (members.Count < threshold)
            return null;
        var all = members.Values.ToList();
        var aggregated = new BanEntry
        {
            Target = slash64,
            Daemons = all.Select(m => m.Daemons).Aggregate(Union),
            Reason = $"{all.Count} addresses of {slash64} banned",
            Origin = Options.Origin,
            Created = now,
            Expires = all.Any(m => m.Expires is null) ? null : all.Max(m => m.Expires),
            Offences = all.Max(m => m.Offences),
        };
        pending[slash64] = aggregated;
        var changes = new List<BanChange> { Banned(aggregated, remote: false) };
        foreach (var m in all)
        {
            changes.Add(new BanChange { Kind = BanChangeKind.Unbanned, Target = m.Target, At = now, Origin = Options.Origin });
            pending[m.Target] = m with { Expires = now };
        }
        return (changes, aggregated, $"{all.Count} addresses of {slash64} aggregated into one ban");
    }

    private (IReadOnlyList<BanResult>, List<BanChange>) DecideRemote(BanChange change)
    {
        if (ProtectedBy(change.Target) is { } p)
            return ([new BanResult(BanOutcome.Protected, null, $"remote {change.Kind} of {change.Target} from {change.Origin} refused: protected ({p})")], []);
        var known = _table.TryGet(change.Target, out var e) ? e : null;
        if (change.Kind == BanChangeKind.Banned)
        {
            if (change.Entry is not { } sent || sent.Target != change.Target || DaemonError(sent.Daemons) is not null)
                return ([new BanResult(BanOutcome.Invalid, null, $"remote ban of {change.Target}: malformed entry")], []);
            var entry = sent with { Reason = Clip(sent.Reason), Origin = Clip(sent.Origin) };
            if (known is not null && known.Created > entry.Created)
                return ([new BanResult(BanOutcome.Stale, known, $"remote ban of {change.Target} is older than the known one")], []);
            return ([new BanResult(BanOutcome.Banned, entry, $"banned {change.Target} (from {entry.Origin})")], [Banned(entry, remote: true)]);
        }
        if (known is null || !known.IsActive(change.At) || known.Created > change.At)
            return ([new BanResult(BanOutcome.Stale, known, $"remote unban of {change.Target}: nothing newer to end")], []);
        var unban = change with { IsRemote = true, Entry = null, Origin = Clip(change.Origin) };
        return ([new BanResult(BanOutcome.Unbanned, known with { Expires = change.At }, $"unbanned {change.Target} (from {change.Origin})")], [unban]);
    }

    private static BanChange Banned(BanEntry e, bool remote) =>
        new() { Kind = BanChangeKind.Banned, Target = e.Target, Entry = e, At = e.Created, Origin = e.Origin, IsRemote = remote };

    private static IReadOnlyList<string>? Union(IReadOnlyList<string>? a, IReadOnlyList<string>? b) =>
        a is null || b is null ? null : [.. a.Concat(b).Distinct(StringComparer.OrdinalIgnoreCase)];

    /// <summary>A daemon name that hosts.deny could not carry, or null when all are fine.</summary>
    internal static string? DaemonError(IReadOnlyList<string>? daemons)
    {
        if (daemons?.Count > MaxDaemons)
            return $"{daemons.Count} daemon names: at most {MaxDaemons} (leave the list out for every daemon)";
        foreach (var d in daemons ?? [])
        {
            if (d.Length is 0 or > 64 || d.Any(c => c <= ' ' || c is ',' or ':' or '#' or '\\' or (char)127) || d.Equals("ALL", StringComparison.OrdinalIgnoreCase))
                return $"\"{d}\" is not a daemon name (a process name such as sshd; leave the list out for every daemon)";
        }
        return null;
    }
}
