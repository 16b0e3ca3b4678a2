// Checks of a rule's options: the errors libwrap reports only when the rule
// matches (and then refuses access), unknown users and groups, options that mean
// something else in the other table, and Giftwrap's own extensions (the rows of
// OptionTable marked Extension). Parsing the options is RuleOptions' job.
using Giftwrap.Options;
using Giftwrap.Rules;

namespace Giftwrap.Checks;

internal static class OptionChecks
{
    /// <summary>Reports the rule's option problems; true when libwrap refuses access whenever the rule matches.</summary>
    public static bool Check(RuleOptions opts, TableEntry e, string file, bool isDeny, CheckOptions options, List<Diagnostic> d)
    {
        var before = d.Count(x => x.Severity == DiagnosticSeverity.Error);
        var column = e.OptionsOffset + 1;
        var explicitAllow = false;
        foreach (var w in opts.ParseWarnings)
            d.Add(PatternChecks.Warn(file, e.Line, column, "options", w));
        foreach (var s in opts.Steps)
        {
            column = e.OptionsOffset + s.Offset + 1;
            if (s.Error is not null)
            {
                d.Add(PatternChecks.Error(file, e.Line, column, "option",
                    $"{s.Error}: libwrap refuses access whenever this rule matches", Fix(s)));
                break;
            }
            switch (s.Definition!.Kind)
            {
                case OptionKind.User:
                    var dot = Patterns.Tokens.SplitAt(s.Value!, '.');
                    var user = dot < 0 ? s.Value! : s.Value![..dot];
                    if (!options.Accounts.UserExists(user))
                        d.Add(PatternChecks.Error(file, e.Line, column, "option", $"unknown user \"{user}\": libwrap refuses access whenever this rule matches"));
                    if (dot >= 0 && !options.Accounts.GroupExists(s.Value![(dot + 1)..]))
                        d.Add(PatternChecks.Error(file, e.Line, column, "option", $"unknown group \"{s.Value![(dot + 1)..]}\": libwrap refuses access whenever this rule matches"));
                    break;
                case OptionKind.Group when !options.Accounts.GroupExists(s.Value!):
                    d.Add(PatternChecks.Error(file, e.Line, column, "option", $"unknown group \"{s.Value}\": libwrap refuses access whenever this rule matches"));
                    break;
                case OptionKind.Rfc931 when s.Value is not null && (!OptionHandlers.ParseInt(s.Value, out var t) || t <= 0):
                    d.Add(PatternChecks.Error(file, e.Line, column, "option", $"bad rfc931 timeout \"{s.Value}\": libwrap refuses access whenever this rule matches", "rfc931 10"));
                    break;
                case OptionKind.SetEnv when !s.Value!.Contains('%', StringComparison.Ordinal) && s.Value.Split([' ', '\t'], 2)[0].Contains('=', StringComparison.Ordinal):
                    d.Add(PatternChecks.Error(file, e.Line, column, "option", "setenv: a variable name cannot contain '=': libwrap refuses access whenever this rule matches", "setenv NAME value"));
                    break;
                case OptionKind.Banners when !Directory.Exists(s.Value):
                    d.Add(PatternChecks.Warn(file, e.Line, column, "banners", $"banners directory {s.Value} does not exist: no banner is sent"));
                    break;
                case OptionKind.Allow:
                    explicitAllow = true;
                    if (isDeny)
                        d.Add(PatternChecks.Warn(file, e.Line, column, "allow-in-deny", "allow in hosts.deny grants access from the deny table", "move the rule to hosts.allow"));
                    break;
                case OptionKind.Deny when !isDeny:
                    d.Add(PatternChecks.Info(file, e.Line, column, "deny-in-allow", "deny in hosts.allow refuses access from the allow table"));
                    break;
            }
            if (s.Definition.Extension)
                Extension(s.Definition, file, e.Line, column, d);
            if (s.Definition.Expands && s.Value is not null)
                UnknownPercents(s.Value, file, e.Line, column, d);
        }
        if (!isDeny && !explicitAllow && options.RequireExplicitAllow && !opts.Steps.Any(s => s.Definition?.Kind is OptionKind.Deny or OptionKind.Twist))
            d.Add(PatternChecks.Warn(file, e.Line, 1, "implicit-allow", "grants access without an explicit allow option", "end the rule with : allow"));
        return d.Count(x => x.Severity == DiagnosticSeverity.Error) > before || opts.Steps.Any(s => s.Definition?.Extension == true);
    }

    /// <summary>
    /// A libwrap-linked daemon (sshd, tcpd) reading the same table stops at "bad option name"
    /// (options.c process_options) and refuses whoever the rule matches: the table marks which
    /// keywords are Giftwrap's own.
    /// </summary>
    private static void Extension(OptionDefinition option, string file, int line, int column, List<Diagnostic> d) =>
        d.Add(PatternChecks.Warn(file, line, column, "extension",
            $"{option.Keyword} is a Giftwrap extension: libwrap rejects it as a bad option name and refuses access whenever this rule matches",
            $"keep rules with {option.Keyword} in tables that only Giftwrap reads"));

    /// <summary>percent_x(): a '%' before any character but the known letters expands to nothing, with a warning.</summary>
    private static void UnknownPercents(string value, string file, int line, int column, List<Diagnostic> d)
    {
        for (var i = 0; i + 1 < value.Length; i++)
        {
            if (value[i] != '%')
                continue;
            var letter = value[++i];
            if (!"aAcdhHnNprRsu%".Contains(letter, StringComparison.Ordinal))
            {
                d.Add(PatternChecks.Warn(file, line, column, "percent", $"unrecognized %{letter}: it expands to nothing",
                    "known: %a %A %c %d %h %H %n %N %p %r %R %s %u %%"));
            }
        }
    }

    private static string? Fix(OptionStep s)
    {
        if (s.Definition is null)
        {
            var known = string.Join(", ", OptionTable.All.Select(o => o.Keyword));
            return s.Key.Length == 0 ? "remove the empty option (a ':' too many?)" : $"known options: {known}";
        }
        if (s.Error!.Contains("must be at end", StringComparison.Ordinal))
            return $"move {s.Key} to the end of the rule";
        if (s.Error.Contains("requires value", StringComparison.Ordinal))
            return $"give {s.Key} a value";
        if (s.Error.Contains("requires no value", StringComparison.Ordinal))
            return $"write {s.Key} alone";
        return null;
    }
}
