// hosts_access(): hosts.allow first, then hosts.deny, first match wins; a matched
// rule's options may still grant, deny or fail. Pure: it reads compiled tables and
// the request and returns a Decision, or asks for a lookup it needs.
using Giftwrap.Options;
using Giftwrap.Rules;
using Giftwrap.Tables;

namespace Giftwrap.Decisions;

internal enum TableResult
{
    NoMatch,
    Match,
    Error,
}

internal static class Evaluator
{
    [ThreadStatic]
    private static List<int>? t_candidates;

    public static Decision Evaluate(CompiledTable allow, CompiledTable deny, EvalContext ctx)
    {
        // hosts.allow: only a match grants; no match or an error moves on to hosts.deny.
        var (result, entry) = Search(allow, ctx);
        if (ctx.Pending != LookupKind.None)
            return Decision.Needs(ctx.Pending, ctx.PendingTimeout);
        if (ctx.Failed)
            return new Decision(Verdict.Denied, null, ctx.Warnings, null);
        if (result == TableResult.Match)
            return Matched(allow, entry!, Verdict.Granted, ctx);
        // hosts.deny: no match grants; a match or an error (an unreadable table) refuses.
        (result, entry) = Search(deny, ctx);
        if (ctx.Pending != LookupKind.None)
            return Decision.Needs(ctx.Pending, ctx.PendingTimeout);
        if (ctx.Failed)
            return new Decision(Verdict.Denied, null, ctx.Warnings, null);
        if (result == TableResult.Match)
            return Matched(deny, entry!, Verdict.Denied, ctx);
        var verdict = result == TableResult.Error ? Verdict.Denied : Verdict.Granted;
        if (ctx.Warnings is null && verdict == Verdict.Granted)
            return Decision.GrantedByDefault;
        return new Decision(verdict, null, ctx.Warnings, null);
    }

    private static Decision Matched(CompiledTable table, TableEntry entry, Verdict verdict, EvalContext ctx)
    {
        var where = new RuleLocation(table.Path, entry.Line);
        if (entry.Options is null)
            return ctx.Warnings is null ? entry.Cached(where, verdict) : new Decision(verdict, where, ctx.Warnings, null);
        ctx.File = table.Path;
        ctx.Line = entry.Line;
        var outcome = entry.Options.Apply(ctx);
        if (ctx.Pending != LookupKind.None)
            return Decision.Needs(ctx.Pending, ctx.PendingTimeout);
        if (outcome.Error is not null)
            ctx.Error("option", outcome.Error);
        return new Decision(outcome.Verdict ?? verdict, where, ctx.Warnings, outcome.Actions);
    }

    /// <summary>table_match(): the first entry whose daemon list and client list both match.</summary>
    private static (TableResult, TableEntry?) Search(CompiledTable table, EvalContext ctx)
    {
        if (table.State == TableState.Unreadable)
        {
            ctx.File = table.Path;
            ctx.Line = 0;
            ctx.Warn("cannot-open", table.Error!);
            return (TableResult.Error, null);
        }
        var entries = table.Entries;
        if (entries.Length == 0)
            return (TableResult.NoMatch, null);
        ctx.File = table.Path;
        var general = table.General;
        if (table.IndexedCount == 0)
        {
            foreach (var i in general)
            {
                if (Try(entries[i], ctx))
                    return (TableResult.Match, entries[i]);
                if (ctx.Pending != LookupKind.None || ctx.Failed)
                    return (TableResult.NoMatch, null);
            }
            return (TableResult.NoMatch, null);
        }
        var candidates = t_candidates ??= [];
        candidates.Clear();
        table.Candidates(ctx.ClientAddress, candidates);
        if (candidates.Count > 1)
            candidates.Sort();
        // Walk the general entries and the indexed candidates together, in line order.
        var g = 0;
        var c = 0;
        while (g < general.Length || c < candidates.Count)
        {
            int next;
            if (c >= candidates.Count || (g < general.Length && general[g] < candidates[c]))
                next = general[g++];
            else
                next = candidates[c++];
            if (Try(entries[next], ctx))
                return (TableResult.Match, entries[next]);
            if (ctx.Pending != LookupKind.None || ctx.Failed)
                return (TableResult.NoMatch, null);
        }
        return (TableResult.NoMatch, null);
    }

    private static bool Try(TableEntry e, EvalContext ctx)
    {
        ctx.Line = e.Line;
        if (e.Kind == EntryKind.Skip)
        {
            ctx.Warn("line", e.Warning!);
            return false;
        }
        return e.Daemons!.IsMatch(ctx) && e.Clients!.IsMatch(ctx);
    }
}
