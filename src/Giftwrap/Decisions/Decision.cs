// The outcome of judging one request: verdict, the rule that decided, what was
// noticed on the way, and the option actions the host must carry out, in order.
// Computing it runs nothing; the hosts act on it.
using System.Collections.ObjectModel;
using Giftwrap.Options;
using Giftwrap.Rules;

namespace Giftwrap.Decisions;

/// <summary>Whether access is granted.</summary>
public enum Verdict
{
    /// <summary>Access is granted (subject to <see cref="Decision.AclExec"/> when set).</summary>
    Granted,
    /// <summary>Access is refused.</summary>
    Denied,
    /// <summary>Evaluation stopped because a name or user must be looked up first (see <see cref="Decision.PendingLookup"/>).</summary>
    NeedsLookup,
}

/// <summary>Where a rule is: table file and libwrap's line number for it.</summary>
/// <param name="File">The table's path, as the tables were opened with it.</param>
/// <param name="Line">The line libwrap reports for the rule: the last physical line of a continued rule.</param>
public sealed record RuleLocation(string File, int Line)
{
    /// <inheritdoc/>
    public override string ToString() => $"{File}:{Line}";
}

/// <summary>The result of one evaluation.</summary>
public sealed class Decision
{
    private static readonly IReadOnlyList<Diagnostic> NoWarnings = [];
    private static readonly IReadOnlyList<RuleAction> NoActions = [];

    internal static readonly Decision GrantedByDefault = new(Verdict.Granted, null, NoWarnings, NoActions);

    internal Decision WithFallback(string command, Decision fallback) =>
        new(Verdict, Match, Warnings, Actions, PendingLookup, LookupTimeout) { AclExec = command, AclExecFallback = fallback, Sanitised = Sanitised };

    /// <summary>The request's fields that expanding this decision's options rewrote in place, as percent_x() does.</summary>
    internal SanitisedFields Sanitised { get; init; }

    /// <summary>The request as libwrap holds it after the options were expanded: the rewritten fields sanitised.</summary>
    internal AccessRequest AsLeftByExpansion(AccessRequest request) => Sanitised == SanitisedFields.None ? request : request with
    {
        ClientName = (Sanitised & SanitisedFields.ClientName) != 0 && request.ClientName is { } n ? Expansion.PercentExpander.Sanitise(n) : request.ClientName,
        ClientUser = (Sanitised & SanitisedFields.ClientUser) != 0 && request.ClientUser is { } u ? Expansion.PercentExpander.Sanitise(u) : request.ClientUser,
    };

    internal Decision(Verdict verdict, RuleLocation? match, IReadOnlyList<Diagnostic>? warnings, IReadOnlyList<RuleAction>? actions,
        LookupKind pending = LookupKind.None, TimeSpan lookupTimeout = default)
    {
        Verdict = verdict;
        Match = match;
        Warnings = warnings is null || warnings.Count == 0 ? NoWarnings : Copy(warnings);
        Actions = actions ?? NoActions;
        PendingLookup = pending;
        LookupTimeout = lookupTimeout;
    }

    // A read-only copy, made without LINQ (its generic iterators cost giftwrap-tcpd's start; docs/benchmarks.md, issue 16).
    private static ReadOnlyCollection<Diagnostic> Copy(IReadOnlyList<Diagnostic> warnings)
    {
        var copy = new Diagnostic[warnings.Count];
        for (var i = 0; i < copy.Length; i++)
            copy[i] = warnings[i];
        return Array.AsReadOnly(copy);
    }

    internal static Decision Needs(EvalContext ctx) =>
        new(Verdict.NeedsLookup, null, null, null, ctx.Pending, ctx.PendingTimeout)
        {
            PendingStep = ctx.PendingStep,
            PendingFile = ctx.PendingFile,
            PendingLine = ctx.PendingLine,
            PendingWarnings = ctx.PendingWarnings,
        };

    /// <summary>The point of the evaluation at which the pending lookup was asked for.</summary>
    internal int PendingStep { get; private init; }

    /// <summary>The table and line being evaluated when the lookup was asked for (tcpd_context), for its warning.</summary>
    internal string PendingFile { get; private init; } = "";
    internal int PendingLine { get; private init; }

    /// <summary>How many warnings the evaluation had given before the lookup: its own warning comes next.</summary>
    internal int PendingWarnings { get; private init; }

    /// <summary>This decision with the lookups' warnings put where libwrap logged them, during the evaluation.</summary>
    internal Decision WithLookupWarnings(IReadOnlyList<(int At, Diagnostic Warning)> lookups)
    {
        if (lookups.Count == 0)
            return this;
        var merged = new List<Diagnostic>(Warnings.Count + lookups.Count);
        var next = 0;
        foreach (var (at, warning) in lookups)
        {
            while (next < at && next < Warnings.Count)
                merged.Add(Warnings[next++]);
            merged.Add(warning);
        }
        while (next < Warnings.Count)
            merged.Add(Warnings[next++]);
        return new Decision(Verdict, Match, merged, Actions, PendingLookup, LookupTimeout)
        {
            Sanitised = Sanitised,
            AclExec = AclExec,
            AclExecFallback = AclExecFallback?.WithLookupWarnings(lookups),
        };
    }

    /// <summary>Granted or denied (or <see cref="Verdict.NeedsLookup"/>).</summary>
    public Verdict Verdict { get; }

    /// <summary>True when access is granted.</summary>
    public bool IsGranted => Verdict == Verdict.Granted;

    /// <summary>The rule that matched, or <c>null</c> when none did.</summary>
    public RuleLocation? Match { get; }

    /// <summary>What libwrap would have logged while deciding: broken lines, bad patterns, option errors.</summary>
    public IReadOnlyList<Diagnostic> Warnings { get; }

    /// <summary>The options of the matched rule, expanded, in the order libwrap carries them out.</summary>
    public IReadOnlyList<RuleAction> Actions { get; }

    /// <summary>
    /// Debian's aclexec: the command (the rule's last aclexec option, expanded) that the host runs
    /// after carrying out <see cref="Actions"/>. Exit status 0 keeps this decision; any other outcome
    /// makes the rule count as not matched, and <see cref="AclExecFallback"/> applies instead.
    /// </summary>
    public string? AclExec { get; internal init; }

    /// <summary>
    /// The decision when <see cref="AclExec"/> fails: for a hosts.allow rule, what hosts.deny says;
    /// for a hosts.deny rule, access granted. Its actions follow those already carried out.
    /// </summary>
    public Decision? AclExecFallback { get; internal init; }

    /// <summary>For <see cref="Verdict.NeedsLookup"/>: which fact to look up before evaluating again.</summary>
    public LookupKind PendingLookup { get; }

    /// <summary>For a user lookup: the time limit that applies (rfc931 option or the default 10 s).</summary>
    public TimeSpan LookupTimeout { get; }

    /// <inheritdoc/>
    public override string ToString() => Verdict switch
    {
        Verdict.Granted => Match is null ? "granted" : $"granted by {Match}",
        Verdict.Denied => Match is null ? "denied" : $"denied by {Match}",
        _ => $"needs {PendingLookup}",
    };
}
