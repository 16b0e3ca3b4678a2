// `replay`: past connections decided again against the current tables and the new
// ones, and every client whose verdict would change, grouped by daemon with counts.
// Identical connections are decided once; names and users are taken from the log,
// nothing is looked up. SECURITY: a log is hostile input (random sources, users, names
// make every line distinct), so at most MaxDistinct connections are held one by one;
// the rest are still decided, line by line, and counted by daemon, verdicts and rule.
using Giftwrap.Decisions;
using Giftwrap.Tables;

namespace Giftwrap.Replay;

/// <summary>A client whose verdict changes, with how many past connections it made.</summary>
internal sealed record VerdictChange(string Daemon, string Client, bool Before, bool After, long Connections, RuleLocation? AfterRule);

/// <summary>Changed connections beyond the limit, counted without their clients; a null daemon stands for all the daemons past <see cref="Replayer.MaxTallies"/>.</summary>
internal sealed record ChangeTally(string? Daemon, bool Before, bool After, RuleLocation? AfterRule, long Connections);

/// <summary>
/// The connections past the first <paramref name="MaxDistinct"/> distinct ones: how many lines,
/// about how many distinct connections, and their verdict changes by daemon and rule.
/// </summary>
internal sealed record ReplaySummary(int MaxDistinct, long Connections, long DistinctEstimate, IReadOnlyList<ChangeTally> Changes);

/// <summary>What replaying a log gave; <paramref name="Summary"/> is null when every distinct connection was held.</summary>
internal sealed record ReplayReport(IReadOnlyList<VerdictChange> Changes, long Connections, long Distinct, LogStats Stats, ReplaySummary? Summary = null);

/// <summary>Replays past connections against two pairs of tables.</summary>
internal static class Replayer
{
    /// <summary>Distinct connections held and listed one by one (each costs a few hundred bytes).</summary>
    public const int DefaultMaxDistinct = 100_000;

    /// <summary>Groups of summarised changes kept apart; daemons past it are counted together.</summary>
    public const int MaxTallies = 1_000;

    public static ReplayReport Run(IEnumerable<PastConnection> past, LogStats stats, AccessTables current, AccessTables proposed, int maxDistinct = DefaultMaxDistinct)
    {
        ArgumentNullException.ThrowIfNull(past);
        ArgumentOutOfRangeException.ThrowIfNegative(maxDistinct);
        // A held connection maps to its change (null: no change); changes of equal client text merge.
        var held = new Dictionary<PastConnection, Change?>();
        var changes = new Dictionary<(string, string, bool, bool), Change>();
        var tallies = new Dictionary<(string?, bool, bool, RuleLocation?), long>();
        var estimate = new DistinctEstimate();
        long total = 0, summarised = 0;
        foreach (var c in past)
        {
            total++;
            if (held.TryGetValue(c, out var known))
            {
                if (known is not null)
                    known.Connections++;
                continue;
            }
            var (before, after, rule) = Decide(c, current, proposed);
            if (held.Count < maxDistinct)
            {
                held[c] = before == after ? null : Merge(changes, c, before, after, rule);
                continue;
            }
            summarised++;
            estimate.Add(c.GetHashCode());
            if (before != after)
                Tally(tallies, c.Daemon, before, after, rule);
        }
        var merged = changes.Values
            .Select(x => new VerdictChange(x.Daemon, x.Client, x.Before, x.After, x.Connections, x.AfterRule))
            .OrderBy(x => x.Daemon, StringComparer.Ordinal).ThenByDescending(x => x.Connections).ThenBy(x => x.Client, StringComparer.Ordinal)
            .ToList();
        var summary = summarised == 0 ? null : new ReplaySummary(maxDistinct, summarised, estimate.Count(), tallies
            .Select(t => new ChangeTally(t.Key.Item1, t.Key.Item2, t.Key.Item3, t.Key.Item4, t.Value))
            .OrderBy(t => t.Daemon is null).ThenBy(t => t.Daemon, StringComparer.Ordinal).ThenByDescending(t => t.Connections).ThenBy(t => t.AfterRule?.ToString(), StringComparer.Ordinal)
            .ToList());
        return new ReplayReport(merged, total, held.Count, stats, summary);
    }

    private static (bool Before, bool After, RuleLocation? Rule) Decide(PastConnection c, AccessTables current, AccessTables proposed)
    {
        var request = new AccessRequest
        {
            Daemon = c.Daemon,
            ClientAddress = c.Address,
            ClientName = c.Name ?? AccessRequest.Unknown,
            ClientUser = c.User ?? AccessRequest.Unknown,
            ServerAddress = c.ServerAddress,
            ServerPort = c.ServerPort,
        };
        var after = proposed.Decide(request);
        return (current.Decide(request).IsGranted, after.IsGranted, after.Match);
    }

    // The first connection of a group gives its rule, as it always has.
    private static Change Merge(Dictionary<(string, string, bool, bool), Change> changes, PastConnection c, bool before, bool after, RuleLocation? rule)
    {
        var client = Describe(c);
        if (!changes.TryGetValue((c.Daemon, client, before, after), out var change))
            changes[(c.Daemon, client, before, after)] = change = new Change(c.Daemon, client, before, after, rule);
        change.Connections++;
        return change;
    }

    private static void Tally(Dictionary<(string?, bool, bool, RuleLocation?), long> tallies, string daemon, bool before, bool after, RuleLocation? rule)
    {
        // Daemon names come from the log too: past MaxTallies groups they are counted together.
        var key = (string?)daemon;
        if (!tallies.ContainsKey((key, before, after, rule)) && tallies.Count >= MaxTallies)
            key = null;
        tallies[(key, before, after, rule)] = tallies.GetValueOrDefault((key, before, after, rule)) + 1;
    }

    private static string Describe(PastConnection c)
    {
        var host = c.Address is not null && c.Name is not null && c.Name != AccessRequest.Unknown ? $"{c.Name} ({c.Address})" : c.Address ?? c.Name ?? AccessRequest.Unknown;
        return c.User is { } u && u != AccessRequest.Unknown ? $"{u}@{host}" : host;
    }

    private sealed class Change(string daemon, string client, bool before, bool after, RuleLocation? afterRule)
    {
        public string Daemon { get; } = daemon;
        public string Client { get; } = client;
        public bool Before { get; } = before;
        public bool After { get; } = after;
        public RuleLocation? AfterRule { get; } = afterRule;
        public long Connections { get; set; }
    }
}
