// The first-match walk over address ranges: hosts.allow then hosts.deny, rule by rule.
// Each address takes the first rule that either surely matches it or may match it and
// would grant or carry out options; a rule that may match and would only deny is passed
// over (the walk goes on either way). An address ends refused only when that first rule
// surely matches and plainly denies. Ranges are painted first-wins in one sweep.
using Giftwrap.Options;
using Giftwrap.Rules;
using Giftwrap.Tables;

namespace Giftwrap.Analysis;

internal static class RuleWalk
{
    private enum RuleKind
    {
        Grant,
        Deny,
        Effects,
    }

    public static AddressVerdicts Compile(CompiledTable allow, CompiledTable deny, string daemon, int serverPort) =>
        new(daemon, serverPort,
            Walk(AddressFamilySpace.V4, allow, deny, daemon, serverPort),
            Walk(AddressFamilySpace.V6, allow, deny, daemon, serverPort));

    private static FamilyVerdicts Walk(AddressFamilySpace family, CompiledTable allow, CompiledTable deny, string daemon, int serverPort)
    {
        var outcomes = new List<RangeOutcome> { new(false, "no rule matches: granted by default", "", 0) };
        var painter = new Painter(family);
        var globs = new Dictionary<string, (TriMap, bool)>(StringComparer.OrdinalIgnoreCase);
        var daemonLists = new Dictionary<string, (Tri, string)>(StringComparer.Ordinal);
        if (!family.IsV4)
        {
            // IPv4-mapped addresses are compared as IPv4 (EvalContext.Address): decided by the IPv4 walk.
            var mapped = (UInt128)0xffff << 32;
            painter.Paint(TriMap.Range(mapped, mapped | uint.MaxValue), -1, Outcomes(outcomes, RangeOutcome.Elsewhere), -1);
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
                {
                    if (entry.PlainAddresses is { } plain)
                        Plain(family, table, inAllow, entry, plain, () => new PatternRanges(family, daemon, serverPort, globs), daemonLists, painter, outcomes, order++);
                    else
                        Rule(new PatternRanges(family, daemon, serverPort, globs), family, table, inAllow, entry, painter, outcomes, order++);
                }
            }
        }
        var segs = painter.Resolve(0);
        return new FamilyVerdicts(family, [.. segs], [.. outcomes]);
    }

    /// <summary>
    /// The common `daemons : a.b.c.d ...` rule (no options, EXCEPT or @; see RuleReader.PlainAddresses), read
    /// without compiling its patterns: a 100,000-line hosts.deny is mostly these, and the evaluator never
    /// compiles them either. The daemon list is settled once per distinct text.
    /// </summary>
    private static void Plain(AddressFamilySpace family, CompiledTable table, bool inAllow, TableEntry entry, string[] plain,
        Func<PatternRanges> newRanges, Dictionary<string, (Tri, string)> daemonLists, Painter painter, List<RangeOutcome> outcomes, int order)
    {
        if (!family.IsV4)
            return;
        var daemonText = entry.Text[..(entry.ClientOffset - 1)];
        if (!daemonLists.TryGetValue(daemonText, out var settled))
        {
            var list = Patterns.PatternList<Patterns.DaemonPattern>.Parse(Patterns.Tokens.Split(daemonText, 0), (t, col) => new Patterns.DaemonPattern(t, col));
            var ranges = newRanges();
            daemonLists[daemonText] = settled = (ranges.Daemons(list), string.Join(", ", ranges.Depends));
        }
        var (daemons, depends) = settled;
        if (daemons == Tri.No)
            return;
        var pieces = new List<Piece>(plain.Length);
        foreach (var token in plain)
        {
            // Only the dotted text tcpd shows matches: "010.0.0.1" or "1.2.3" match no address.
            if (CanonicalDottedQuad(token) is { } v)
                pieces.Add(new Piece(v, v, daemons));
        }
        if (pieces.Count == 0)
            return;
        if (pieces.Count > 1)
        {
            pieces.Sort((a, b) => a.Lo.CompareTo(b.Lo));
            pieces = [.. pieces.Where((p, i) => i == 0 || p.Lo != pieces[i - 1].Lo)];
        }
        var where = new RangeOutcome(false, "", table.Path, entry.Line);
        var yes = inAllow ? Outcomes(outcomes, where with { Reason = "granted" }) : Outcomes(outcomes, where with { Refused = true, Reason = "refused" });
        var maybe = inAllow && daemons == Tri.Maybe ? Outcomes(outcomes, where with { Reason = "may be granted: depends on " + depends }) : -1;
        painter.Paint(new TriMap([.. pieces]), order, yes, maybe);
    }

    /// <summary>The address of four decimal octets without leading zeros, the only text of an IPv4 client.</summary>
    internal static uint? CanonicalDottedQuad(string s)
    {
        uint value = 0;
        var parts = 0;
        var i = 0;
        while (parts < 4)
        {
            var start = i;
            var octet = 0;
            while (i < s.Length && char.IsAsciiDigit(s[i]) && i - start < 3)
                octet = octet * 10 + (s[i++] - '0');
            if (i == start || octet > 255 || (i - start > 1 && s[start] == '0'))
                return null;
            value = (value << 8) | (uint)octet;
            if (++parts < 4 && (i >= s.Length || s[i++] != '.'))
                return null;
        }
        return i == s.Length ? value : null;
    }

    private static void Rule(PatternRanges ranges, AddressFamilySpace family, CompiledTable table, bool inAllow, TableEntry entry,
        Painter painter, List<RangeOutcome> outcomes, int order)
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

    private static int Outcomes(List<RangeOutcome> outcomes, RangeOutcome o)
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
        var keywords = string.Join(", ", options.Steps.Select(s => s.Key).Where(k => k.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase));
        var reason = keywords.Length > 0 ? $"the rule has options to carry out ({keywords})" : "the rule has an empty option";
        if (options.Steps.FirstOrDefault(s => s.Error is not null)?.Error is { } error)
            reason += $"; option error: {error} (refused and logged in user space)";
        return (RuleKind.Effects, reason);
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
        var keys = new UInt128[_paints.Count];
        for (var k = 0; k < keys.Length; k++)
            keys[k] = _paints[k].Lo;
        var paints = _paints.ToArray();
        Array.Sort(keys, paints);
        var bounds = new List<UInt128>(paints.Length * 2 + 1) { 0 };
        foreach (var p in paints)
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
            while (next < paints.Length && paints[next].Lo == at)
            {
                var p = paints[next++];
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
