// The option field of a rule (everything after the second ':'): split into options
// once when the table is read (get_field, keyword and value, the table's checks),
// then carried out per request in order (process_options) into RuleActions. What
// each keyword means is OptionTable's; this file only runs its rows in order. An
// error denies access, as tcpd_jump() does, after the options before it took effect.
using Giftwrap.Decisions;
using Giftwrap.Expansion;

namespace Giftwrap.Options;

internal sealed record OptionStep(string Key, string? Value, OptionDefinition? Definition, string? Error, RuleAction? Ready)
{
    /// <summary>Offset of the option in the option field (0-based), for diagnostics.</summary>
    public int Offset { get; init; }
}

/// <summary>What carrying out a rule's options gave.</summary>
internal readonly record struct OptionOutcome(List<RuleAction> Actions, Verdict? Verdict, string? Error, string? AclExec);

internal sealed class RuleOptions
{
    private const string Whitespace = " \t\r\n";

    private RuleOptions(OptionStep[] steps, List<string> warnings)
    {
        Steps = steps;
        ParseWarnings = warnings;
    }

    public OptionStep[] Steps { get; }

    /// <summary>Warnings get_field() gives while splitting (a rule ending in ':').</summary>
    public List<string> ParseWarnings { get; }

    public bool HasErrors => Steps.Any(s => s.Error is not null);

    public static RuleOptions Parse(string field)
    {
        var warnings = new List<string>();
        var fields = SplitFields(field, warnings);
        var steps = new OptionStep[fields.Count];
        for (var i = 0; i < fields.Count; i++)
        {
            var (text, start) = fields[i];
            var lead = text.AsSpan().IndexOfAnyExcept(Whitespace);
            steps[i] = Compile(text, i + 1 < fields.Count) with { Offset = start + Math.Max(lead, 0) };
        }
        return new RuleOptions(steps, warnings);
    }

    /// <summary>get_field(): ':' separates options; "\:" stands for a ':' inside one.</summary>
    private static List<(string Text, int Start)> SplitFields(string s, List<string> warnings)
    {
        var fields = new List<(string, int)>();
        var pos = 0;
        while (pos < s.Length)
        {
            var start = pos;
            var sb = new System.Text.StringBuilder();
            while (pos < s.Length)
            {
                var c = s[pos];
                if (c == ':')
                {
                    pos++;
                    if (pos == s.Length)
                        warnings.Add("rule ends in \":\"");
                    break;
                }
                if (c == '\\' && pos + 1 < s.Length && s[pos + 1] == ':')
                    pos++;
                sb.Append(s[pos++]);
            }
            fields.Add((sb.ToString(), start));
        }
        return fields;
    }

    internal static string Chop(string s) => s.Trim(Whitespace.ToCharArray());

    private static OptionStep Compile(string field, bool hasNext)
    {
        var opt = Chop(field);
        // Keyword, then one optional '=' between keyword and value, blanks around it ignored.
        var keyEnd = opt.AsSpan().IndexOfAny(" \t\r\n=");
        string key;
        string? value = null;
        if (keyEnd < 0)
        {
            key = opt;
        }
        else
        {
            key = opt[..keyEnd];
            var rest = opt.AsSpan(keyEnd);
            if (rest[0] != '=')
                rest = rest[1..].TrimStart(Whitespace);
            if (rest.Length > 0 && rest[0] == '=')
                rest = rest[1..].TrimStart(Whitespace);
            if (rest.Length > 0)
                value = rest.ToString();
        }
        if (key.Length == 0)
            return new OptionStep(key, value, null, "missing option name", null);
        var def = OptionTable.Find(key);
        if (def is null)
            return new OptionStep(key, value, null, $"bad option name: \"{key}\"", null);
        if (value is null && def.NeedsValue)
            return new OptionStep(key, value, def, $"option \"{key}\" requires value", null);
        if (value is not null && !def.PermitsValue)
            return new OptionStep(key, value, def, $"option \"{key}\" requires no value", null);
        if (hasNext && def.MustBeLast)
            return new OptionStep(key, value, def, $"option \"{key}\" must be at end", null);
        if (def.Phase != OptionPhase.Parse)
            return new OptionStep(key, value, def, null, null);
        var (ready, error) = def.Parse!(value);
        return new OptionStep(key, value, def, error, ready);
    }

    /// <summary>process_options(): carry out the steps for one request.</summary>
    public OptionOutcome Apply(EvalContext ctx)
    {
        var actions = new List<RuleAction>(Steps.Length);
        string? aclexec = null;
        foreach (var w in ParseWarnings)
            ctx.Warn("options", w);
        foreach (var step in Steps)
        {
            if (step.Error is not null)
                return new OptionOutcome(actions, Verdict.Denied, step.Error, null);
            var def = step.Definition!;
            if (step.Ready is { } ready)
            {
                actions.Add(ready);
                if (def.MustBeLast)
                    return new OptionOutcome(actions, def.Settles, null, null);
                continue;
            }
            var value = step.Value;
            if (value is not null && def.Expands)
            {
                value = Chop(PercentExpander.Expand(value, ctx));
                if (ctx.Exited)
                    return new OptionOutcome(actions, Verdict.Denied, null, null);
            }
            if (def.Phase == OptionPhase.CarryOut)
            {
                // Debian defers aclexec until the other options are done; only the last one runs.
                aclexec = value;
                continue;
            }
            var error = def.Decide!(value, ctx, actions);
            if (error is not null)
                return new OptionOutcome(actions, Verdict.Denied, error, null);
            // A last option (twist) ends the options: a pending aclexec never runs.
            if (def.MustBeLast)
                return new OptionOutcome(actions, def.Settles, null, null);
        }
        return new OptionOutcome(actions, null, null, aclexec);
    }
}
