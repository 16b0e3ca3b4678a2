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
            return Decision.Needs(ctx);
        if (ctx.Failed)
            return new Decision(Verdict.Denied, null, ctx.Warnings, null);
        if (result != TableResult.Match)
            return EvaluateDeny(deny, ctx, null, aclexecFailed: false);
        var (decision, aclexec) = Matched(allow, entry!, Verdict.Granted, ctx);
        if (aclexec is null || decision.Verdict == Verdict.NeedsLookup)
            return decision;
        ctx.Warn("aclexec", "aclexec returned 1");
        var fallback = EvaluateDeny(deny, ctx, decision.Match, aclexecFailed: true);
        return fallback.Verdict == Verdict.NeedsLookup ? fallback : decision.WithFallback(aclexec, fallback);
    }

    // hosts.deny: no match grants; a match or an error (an unreadable table) refuses.
    // libwrap keeps the aclexec outcome in a global: once an aclexec in hosts.allow failed, a
    // hosts.deny rule whose options run to their end counts as not matched either.
    private static Decision EvaluateDeny(CompiledTable deny, EvalContext ctx, RuleLocation? earlier, bool aclexecFailed)
    {
        var (result, entry) = Search(deny, ctx);
        if (ctx.Pending != LookupKind.None)
            return Decision.Needs(ctx);
        if (ctx.Failed)
            return new Decision(Verdict.Denied, null, ctx.Warnings, null);
        if (result == TableResult.Match)
        {
            var (decision, aclexec) = Matched(deny, entry!, Verdict.Denied, ctx);
            if (decision.Verdict == Verdict.NeedsLookup)
                return decision;
            if (aclexec is null && aclexecFailed && entry!.Options is not null && EndsNormally(decision))
            {
                ctx.Warn("aclexec", "aclexec returned 1");
                return new Decision(Verdict.Granted, decision.Match, ctx.Warnings, decision.Actions) { Sanitised = ctx.Sanitised };
            }
            if (aclexec is null)
                return decision;
            ctx.Warn("aclexec", "aclexec returned 1");
            return decision.WithFallback(aclexec, new Decision(Verdict.Granted, decision.Match, ctx.Warnings, null) { Sanitised = ctx.Sanitised });
        }
        var verdict = result == TableResult.Error ? Verdict.Denied : Verdict.Granted;
        if (ctx.Warnings is null && verdict == Verdict.Granted && earlier is null)
            return Decision.GrantedByDefault;
        return new Decision(verdict, earlier, ctx.Warnings, null);
    }

    private static bool EndsNormally(Decision d)
    {
        foreach (var a in d.Actions)
        {
            if (a is AllowAction or DenyAction or TwistAction)
                return false;
        }
        foreach (var w in d.Warnings)
        {
            if (w.Severity == DiagnosticSeverity.Error)
                return false;
        }
        return true;
    }

    /// <summary>The decision of a matched rule, and the deferred aclexec command if its options end on one.</summary>
    private static (Decision, string? AclExec) Matched(CompiledTable table, TableEntry entry, Verdict verdict, EvalContext ctx)
    {
        if (entry.Options is null)
            return (ctx.Warnings is null ? entry.Cached(table.Path, verdict) : new Decision(verdict, new RuleLocation(table.Path, entry.Line), ctx.Warnings, null), null);
        var where = new RuleLocation(table.Path, entry.Line);
        ctx.File = table.Path;
        ctx.Line = entry.Line;
        var outcome = entry.Options.Apply(ctx);
        if (ctx.Pending != LookupKind.None)
            return (Decision.Needs(ctx), null);
        if (outcome.Error is not null)
            ctx.Error("option", outcome.Error);
        var decision = new Decision(outcome.Verdict ?? verdict, where, ctx.Warnings, outcome.Actions) { Sanitised = ctx.Sanitised };
        // aclexec decides only when the options ran to their end (allow, deny, errors and twist end them first).
        return (decision, outcome.AclExec);
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
                var r = Try(entries[i], ctx);
                if (r != TableResult.NoMatch)
                    return (r, entries[i]);
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
            var r = Try(entries[next], ctx);
            if (r != TableResult.NoMatch)
                return (r, entries[next]);
            if (ctx.Pending != LookupKind.None || ctx.Failed)
                return (TableResult.NoMatch, null);
        }
        return (TableResult.NoMatch, null);
    }

    private static TableResult Try(TableEntry e, EvalContext ctx)
    {
        ctx.Line = e.Line;
        if (e.Kind != EntryKind.Rule)
        {
            foreach (var w in e.Warnings)
                ctx.Warn("line", w);
            return e.Kind == EntryKind.Stop ? TableResult.Error : TableResult.NoMatch;
        }
        return e.Daemons!.IsMatch(ctx) && e.Clients!.IsMatch(ctx) ? TableResult.Match : TableResult.NoMatch;
    }
}
