// `explain`: the whole path of a decision. Every rule of both tables in order, and
// for each why it matched or not: which pattern matched, which EXCEPT undid it,
// the lookups it needed, and whether the search ever reached it. The verdict and
// actions come from the real evaluation, so explain and match cannot disagree.
using Giftwrap.Decisions;
using Giftwrap.Patterns;
using Giftwrap.Rules;
using Giftwrap.Tables;

namespace Giftwrap.Explain;

/// <summary>How one rule fared.</summary>
internal enum RuleOutcome
{
    /// <summary>Both lists matched: this rule decided (or would have, had it been reached).</summary>
    Matched,
    /// <summary>The daemon list or the client list did not match.</summary>
    NoMatch,
    /// <summary>A line libwrap warns about and skips.</summary>
    Skipped,
    /// <summary>A line that ends the search of its table with an error.</summary>
    Stops,
}

/// <summary>One rule in the trace.</summary>
internal sealed record RuleTrace(
    string File,
    int Line,
    string Text,
    RuleOutcome Outcome,
    bool Reached,
    string Daemons,
    string? Clients,
    LookupUse Lookups);

/// <summary>The trace and the decision.</summary>
internal sealed record Explanation(IReadOnlyList<RuleTrace> Rules, Decision Decision);

/// <summary>Explains decisions of an <see cref="AccessTables"/>.</summary>
internal static class Explainer
{
    /// <summary>Traces every rule for <paramref name="request"/> (names and user as given; nothing is looked up).</summary>
    public static Explanation Explain(AccessTables tables, AccessRequest request)
    {
        ArgumentNullException.ThrowIfNull(tables);
        request = request with { CanLookUp = false };
        var decision = tables.Decide(request);
        var (allow, deny) = tables.Compiled();
        var traces = new List<RuleTrace>();
        var allowMatched = Walk(allow, reachable: true, traces, request, tables);
        // hosts.deny is searched when hosts.allow did not match (an error there moves on too),
        // or when the matched rule's aclexec may fail.
        Walk(deny, reachable: !allowMatched || decision.AclExec is not null, traces, request, tables);
        return new Explanation(traces, decision);
    }

    /// <summary>Traces a table; returns whether a reached rule matched.</summary>
    private static bool Walk(CompiledTable table, bool reachable, List<RuleTrace> traces, AccessRequest request, AccessTables tables)
    {
        var done = false;
        var matched = false;
        foreach (var e in table.Entries)
        {
            var ctx = new EvalContext(request, tables.Files, tables.Options.Netgroups, tables.Options.Accounts) { File = table.Path, Line = e.Line };
            var trace = Trace(table.Path, e, ctx, reached: reachable && !done);
            traces.Add(trace);
            if (trace.Reached && trace.Outcome is RuleOutcome.Matched or RuleOutcome.Stops)
            {
                done = true;
                matched = trace.Outcome == RuleOutcome.Matched;
            }
        }
        return matched;
    }

    private static RuleTrace Trace(string file, TableEntry e, EvalContext ctx, bool reached)
    {
        var text = e.Text.TrimEnd('\n', '\r');
        if (e.Kind != EntryKind.Rule)
        {
            var why = string.Join("; ", e.Warnings);
            return new RuleTrace(file, e.Line, text, e.Kind == EntryKind.Stop ? RuleOutcome.Stops : RuleOutcome.Skipped, reached, why, null, LookupUse.None);
        }
        var daemons = Describe(e.Daemons!, ctx, "daemon");
        if (!daemons.Matched)
            return new RuleTrace(file, e.Line, text, RuleOutcome.NoMatch, reached, daemons.Why, null, ctx.Used);
        var clients = Describe(e.Clients!, ctx, "client");
        return new RuleTrace(file, e.Line, text, clients.Matched ? RuleOutcome.Matched : RuleOutcome.NoMatch, reached, daemons.Why, clients.Why, ctx.Used);
    }

    /// <summary>list_match() with reasons: the token that matched in each group, and what an EXCEPT did.</summary>
    private static (bool Matched, string Why) Describe<T>(PatternList<T> list, EvalContext ctx, string what) where T : IListPattern
    {
        var parts = new List<string>();
        var matched = Group(list, ctx, 0, parts);
        if (parts.Count == 0)
            parts.Add($"no {what} pattern matches");
        return (matched, string.Join(", ", parts));
    }

    private static bool Group<T>(PatternList<T> list, EvalContext ctx, int i, List<string> parts) where T : IListPattern
    {
        if (i >= list.Groups.Length)
            return false;
        foreach (var p in list.Groups[i])
        {
            if (!p.IsMatch(ctx))
                continue;
            var prefix = i == 0 ? "matched by" : "EXCEPT matched by";
            parts.Add($"{prefix} \"{p.Token}\"");
            if (i + 1 >= list.Groups.Length)
                return true;
            var undone = Group(list, ctx, i + 1, parts);
            if (!undone && i == 0)
                parts.Add("no EXCEPT applies");
            return !undone;
        }
        if (i == 0)
            parts.Add($"none of {string.Join(" ", list.Groups[0].Select(p => p.Token))} matches");
        return false;
    }
}
