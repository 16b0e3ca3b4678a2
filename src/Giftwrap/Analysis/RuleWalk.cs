// The first-match walk over address ranges: hosts.allow then hosts.deny, rule by rule.
// Each address takes the first rule that either surely matches it or may match it and
// would grant or carry out options; a rule that may match and would only deny is passed
// over (the walk goes on either way). An address ends refused only when that first rule
// surely matches and plainly denies. Ranges are painted first-wins in one sweep.
using System.Net;
using Giftwrap.Options;
using Giftwrap.Rules;
using Giftwrap.Tables;

namespace Giftwrap.Analysis;

internal static class RuleWalk
{
    private sealed record Outcome(bool Refused, string Reason, string File, int Line);

    private enum RuleKind
    {
        Grant,
        Deny,
        Effects,
    }

    public static AddressVerdicts Compile(CompiledTable allow, CompiledTable deny, string daemon, int serverPort)
    {
        var refused = new List<IPNetwork>();
        var held = new List<HeldRange>();
        foreach (var family in new[] { AddressFamilySpace.V4, AddressFamilySpace.V6 })
            Walk(family, allow, deny, daemon, serverPort, refused, held);
        return new AddressVerdicts(daemon, serverPort, refused, held);
    }

    private static void Walk(AddressFamilySpace family, CompiledTable allow, CompiledTable deny, string daemon, int serverPort,
        List<IPNetwork> refused, List<HeldRange> held)
    {
        var outcomes = new List<Outcome> { new(false, "no rule matches: granted by default", "", 0) };
        var painter = new Painter(family);
        var globs = new Dictionary<string, (TriMap, bool)>(StringComparer.OrdinalIgnoreCase);
        if (!family.IsV4)
        {
            // IPv4-mapped addresses are compared as IPv4 (EvalContext.Address): decided by the IPv4 walk.
            var mapped = (UInt128)0xffff << 32;
            painter.Paint(TriMap.Range(mapped, mapped | uint.MaxValue), -1, Outcomes(outcomes, new(false, "", "", 0)), -1);
        }
        var unreadable = new[] { allow, deny }.FirstOrDefault(t => t.State == TableState.Unreadable);
        if (unreadable is not null)
        {
            // Fail closed is user space's business; the kernel must not freeze a refusal of everyone.
            var o = Outcomes(outcomes, new(false, $"the table cannot be read ({unreadable.Error}): every client is refused in user space", unreadable.Path, 0));
            painter.Paint(TriMap.Constant(Tri.Yes, family.Max), 0, o, o);
        }
        else
        {
            var order = 0;
            foreach (var (table, inAllow) in new[] { (allow, true), (deny, false) })
            {
                foreach (var entry in table.Entries)
                    Rule(new PatternRanges(family, daemon, serverPort, globs), family, table, inAllow, entry, painter, outcomes, order++);
            }
        }
        var segments = painter.Resolve(0);
        Emit(family, segments, outcomes, refused, held);
    }

    private static void Rule(PatternRanges ranges, AddressFamilySpace family, CompiledTable table, bool inAllow, TableEntry entry,
        Painter painter, List<Outcome> outcomes, int order)
    {
        if (entry.Kind == EntryKind.Skip)
            return;
        if (entry.Kind == EntryKind.Stop)
        {
            // table_match() ends the table with an error here; the line is being written, most likely.
            var o = Outcomes(outcomes, new(false, "the table ends here with an error (missing newline or line too long)", table.Path, entry.Line));
            painter.Paint(TriMap.Constant(Tri.Yes, family.Max), order, o, o);
            return;
        }
        var daemons = ranges.Daemons(entry.Daemons!);
        if (daemons == Tri.No)
            return;
        var match = TriMap.And(TriMap.Constant(daemons, family.Max), ranges.Clients(entry.Clients!), family.Max);
        if (match.IsNone)
            return;
        var (kind, what) = Kind(entry, inAllow);
        var depends = ranges.Depends.Count == 0 ? "" : ": depends on " + string.Join(", ", ranges.Depends);
        switch (kind)
        {
            case RuleKind.Deny:
                painter.Paint(match, order, Outcomes(outcomes, new(true, "refused", table.Path, entry.Line)), -1);
                break;
            case RuleKind.Grant:
                painter.Paint(match, order, Outcomes(outcomes, new(false, "granted", table.Path, entry.Line)),
                    Outcomes(outcomes, new(false, "may be granted" + depends, table.Path, entry.Line)));
                break;
            default:
                painter.Paint(match, order, Outcomes(outcomes, new(false, what, table.Path, entry.Line)),
                    Outcomes(outcomes, new(false, what + depends, table.Path, entry.Line)));
                break;
        }
    }

    private static int Outcomes(List<Outcome> outcomes, Outcome o)
    {
        outcomes.Add(o);
        return outcomes.Count - 1;
    }

    /// <summary>
    /// What a match does: a rule without options grants in hosts.allow and denies in hosts.deny; a lone
    /// allow or deny option says so; any other option (or an option error, which denies after logging)
    /// has effects beyond the verdict that only user space carries out.
    /// </summary>
    private static (RuleKind, string) Kind(TableEntry entry, bool inAllow)
    {
        var options = entry.Options;
        if (options is null)
            return (inAllow ? RuleKind.Grant : RuleKind.Deny, "");
        if (options.ParseWarnings.Count == 0 && options.Steps is [{ Error: null, Ready: var ready }])
        {
            if (ready is AllowAction)
                return (RuleKind.Grant, "");
            if (ready is DenyAction)
                return (RuleKind.Deny, "");
        }
        var keywords = string.Join(", ", options.Steps.Select(s => s.Key).Distinct(StringComparer.OrdinalIgnoreCase));
        return (RuleKind.Effects, $"the rule has options to carry out ({keywords})");
    }

    private static void Emit(AddressFamilySpace family, List<(UInt128 Lo, UInt128 Hi, int Outcome)> segments, List<Outcome> outcomes,
        List<IPNetwork> refused, List<HeldRange> held)
    {
        // Refused: every refusing rule is one set; held: one entry per prefix, with its rule.
        (UInt128 Lo, UInt128 Hi)? run = null;
        foreach (var (lo, hi, index) in segments)
        {
            var o = outcomes[index];
            if (o.Refused)
            {
                run = run is { } r && r.Hi + 1 == lo ? (r.Lo, hi) : Flush(run, lo, hi);
                continue;
            }
            Flush(run, 0, 0);
            run = null;
            if (o.Reason.Length == 0)
                continue;
            var nets = new List<IPNetwork>();
            family.AddPrefixes(lo, hi, nets);
            held.AddRange(nets.Select(n => new HeldRange(n, o.Reason, o.File, o.Line)));
        }
        Flush(run, 0, 0);

        (UInt128, UInt128) Flush((UInt128 Lo, UInt128 Hi)? r, UInt128 lo, UInt128 hi)
        {
            if (r is { } x)
                family.AddPrefixes(x.Lo, x.Hi, refused);
            return (lo, hi);
        }
    }
}

/// <summary>First-wins painting of ranges: the lowest order covering an address gives its outcome.</summary>
internal sealed class Painter(AddressFamilySpace family)
{
    private readonly List<(UInt128 Lo, UInt128 Hi, int Order, int Outcome)> _paints = [];

    /// <summary>Paints the Yes pieces with <paramref name="yes"/> and the Maybe pieces with <paramref name="maybe"/> (-1: left clear).</summary>
    public void Paint(TriMap map, int order, int yes, int maybe)
    {
        foreach (var p in map.Pieces)
        {
            var o = p.Value == Tri.Yes ? yes : maybe;
            if (o >= 0)
                _paints.Add((p.Lo, p.Hi, order, o));
        }
    }

    /// <summary>The whole space as segments with their outcomes, adjacent equal ones merged.</summary>
    public List<(UInt128 Lo, UInt128 Hi, int Outcome)> Resolve(int unpainted)
    {
        _paints.Sort((a, b) => a.Lo.CompareTo(b.Lo));
        var bounds = new List<UInt128>(_paints.Count * 2 + 1) { 0 };
        foreach (var p in _paints)
        {
            bounds.Add(p.Lo);
            if (p.Hi < family.Max)
                bounds.Add(p.Hi + 1);
        }
        bounds.Sort();
        var active = new PriorityQueue<(UInt128 Hi, int Outcome), int>();
        var result = new List<(UInt128 Lo, UInt128 Hi, int Outcome)>();
        var next = 0;
        for (var i = 0; i < bounds.Count; i++)
        {
            var at = bounds[i];
            if (i > 0 && at == bounds[i - 1])
                continue;
            while (next < _paints.Count && _paints[next].Lo == at)
            {
                var p = _paints[next++];
                active.Enqueue((p.Hi, p.Outcome), p.Order);
            }
            while (active.TryPeek(out var top, out _) && top.Hi < at)
                active.Dequeue();
            var outcome = active.TryPeek(out var t, out _) ? t.Outcome : unpainted;
            var end = family.Max;
            for (var j = i + 1; j < bounds.Count; j++)
            {
                if (bounds[j] != at)
                {
                    end = bounds[j] - 1;
                    break;
                }
            }
            if (result.Count > 0 && result[^1].Outcome == outcome && result[^1].Hi + 1 == at)
                result[^1] = (result[^1].Lo, end, outcome);
            else
                result.Add((at, end, outcome));
        }
        return result;
    }
}
