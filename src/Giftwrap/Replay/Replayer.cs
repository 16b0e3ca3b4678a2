// `replay`: past connections decided again against the current tables and the new
// ones, and every client whose verdict would change, grouped by daemon with counts.
// Identical connections are decided once; names and users are taken from the log,
// nothing is looked up.
using Giftwrap.Decisions;
using Giftwrap.Tables;

namespace Giftwrap.Replay;

/// <summary>A client whose verdict changes, with how many past connections it made.</summary>
internal sealed record VerdictChange(string Daemon, string Client, bool Before, bool After, long Connections, RuleLocation? AfterRule);

/// <summary>What replaying a log gave.</summary>
internal sealed record ReplayReport(IReadOnlyList<VerdictChange> Changes, long Connections, long Distinct, LogStats Stats);

/// <summary>Replays past connections against two pairs of tables.</summary>
internal static class Replayer
{
    public static ReplayReport Run(IEnumerable<PastConnection> past, LogStats stats, AccessTables current, AccessTables proposed)
    {
        ArgumentNullException.ThrowIfNull(past);
        var counts = new Dictionary<PastConnection, long>();
        long total = 0;
        foreach (var c in past)
        {
            total++;
            counts[c] = counts.GetValueOrDefault(c) + 1;
        }
        var changes = new List<VerdictChange>();
        foreach (var (c, n) in counts)
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
            var before = current.Decide(request);
            var after = proposed.Decide(request);
            if (before.IsGranted != after.IsGranted)
                changes.Add(new VerdictChange(c.Daemon, Describe(c), before.IsGranted, after.IsGranted, n, after.Match));
        }
        var merged = changes
            .GroupBy(x => (x.Daemon, x.Client, x.Before, x.After))
            .Select(g => g.First() with { Connections = g.Sum(x => x.Connections) })
            .OrderBy(x => x.Daemon, StringComparer.Ordinal).ThenByDescending(x => x.Connections).ThenBy(x => x.Client, StringComparer.Ordinal)
            .ToList();
        return new ReplayReport(merged, total, counts.Count, stats);
    }

    private static string Describe(PastConnection c)
    {
        var host = c.Address is not null && c.Name is not null && c.Name != AccessRequest.Unknown ? $"{c.Name} ({c.Address})" : c.Address ?? c.Name ?? AccessRequest.Unknown;
        return c.User is { } u && u != AccessRequest.Unknown ? $"{u}@{host}" : host;
    }
}
