// The option field of a rule (everything after the second ':'): split into options
// once when the table is read (get_field, keyword and value, the table's checks),
// then carried out per request in order (process_options) into RuleActions. An
// error denies access, as tcpd_jump() does, after the options before it took effect.
using System.Globalization;
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
        if (def.Expands || def.Kind is OptionKind.User or OptionKind.Group or OptionKind.Rfc931 or OptionKind.Banners)
            return new OptionStep(key, value, def, null, null);
        var (ready, error) = Static(def.Kind, value);
        return new OptionStep(key, value, def, error, ready);
    }

    /// <summary>Options whose value needs nothing from the request are checked once, here.</summary>
    private static (RuleAction? Action, string? Error) Static(OptionKind kind, string? value) => kind switch
    {
        OptionKind.Umask => ParseOctal(value!, out var mask) && (mask & ~0x1ff) == 0
            ? (new UmaskAction((int)mask), null)
            : (null, $"bad umask value: \"{value}\""),
        OptionKind.Linger => ParseInt(value!, out var linger) && linger >= 0
            ? (new LingerAction(linger), null)
            : (null, $"bad linger value: \"{value}\""),
        OptionKind.KeepAlive => (new KeepAliveAction(), null),
        OptionKind.Nice => value is null
            ? (new NiceAction(10), null)
            : ParseInt(value, out var nice) ? (new NiceAction(nice), null) : (null, $"bad nice value: \"{value}\""),
        OptionKind.Severity => ParseSeverity(value!),
        OptionKind.Ban => TryDuration(value!, out var duration)
            ? (new BanAction(duration, value!), null)
            : (null, $"bad ban duration: \"{value}\" (write 30s, 10m, 1h, 2d or 1w)"),
        OptionKind.Allow => (new AllowAction(), null),
        OptionKind.Deny => (new DenyAction(), null),
        _ => (null, $"option handler missing for {kind}"),
    };

    private static (RuleAction?, string?) ParseSeverity(string value)
    {
        var dot = Patterns.Tokens.SplitAt(value, '.');
        if (dot < 0)
        {
            return Lookup(OptionTable.Levels, value) is { } level
                ? (new SeverityAction(null, level, value), null)
                : (null, $"bad syslog facility or severity: \"{value}\"");
        }
        var facName = value[..dot];
        var levName = value[(dot + 1)..];
        if (Lookup(OptionTable.Facilities, facName) is not { } fac)
            return (null, $"bad syslog facility or severity: \"{facName}\"");
        if (Lookup(OptionTable.Levels, levName) is not { } lev)
            return (null, $"bad syslog facility or severity: \"{levName}\"");
        return (new SeverityAction(fac, lev, value), null);
    }

    private static int? Lookup((string Name, int Code)[] table, string name)
    {
        foreach (var (n, code) in table)
        {
            if (Patterns.Ascii.EqualsIgnoreCase(n, name))
                return code;
        }
        return null;
    }

    /// <summary>A duration as the ban commands write it: a positive number and one of s, m, h, d, w.</summary>
    internal static bool TryDuration(string text, out TimeSpan duration)
    {
        duration = default;
        if (text.Length < 2 || !long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0 || n > 100_000_000)
            return false;
        var seconds = Ascii(text[^1]) switch
        {
            's' => 1L,
            'm' => 60L,
            'h' => 3600L,
            'd' => 86400L,
            'w' => 604800L,
            _ => 0L,
        };
        duration = TimeSpan.FromSeconds(n * seconds);
        return seconds > 0;

        static char Ascii(char c) => Patterns.Ascii.Lower(c);
    }

    /// <summary>sscanf("%d%c") == 1, as linger_option, nice_option and rfc931_option read their values.</summary>
    internal static bool ParseInt(string s, out int value) => Patterns.CNumbers.TryScanInt(s, out value);

    /// <summary>sscanf("%o%c") == 1 into an unsigned int, as umask_option reads its value.</summary>
    private static bool ParseOctal(string s, out uint value) => Patterns.CNumbers.TryScanUnsigned(s, 8, out value);

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
            if (step.Ready is { } ready)
            {
                actions.Add(ready);
                if (ready is AllowAction)
                    return new OptionOutcome(actions, Verdict.Granted, null, null);
                if (ready is DenyAction)
                    return new OptionOutcome(actions, Verdict.Denied, null, null);
                continue;
            }
            var def = step.Definition!;
            var value = step.Value;
            if (value is not null && def.Expands)
            {
                value = Chop(PercentExpander.Expand(value, ctx));
                if (ctx.Exited)
                    return new OptionOutcome(actions, Verdict.Denied, null, null);
            }
            if (def.Kind == OptionKind.AclExec)
            {
                // Debian defers aclexec until the other options are done; only the last one runs.
                aclexec = value;
                continue;
            }
            var error = Dynamic(def.Kind, value, ctx, actions);
            if (error is not null)
                return new OptionOutcome(actions, Verdict.Denied, error, null);
            if (def.Kind == OptionKind.Twist)
                return new OptionOutcome(actions, null, null, null);
        }
        return new OptionOutcome(actions, null, null, aclexec);
    }

    private static string? Dynamic(OptionKind kind, string? value, EvalContext ctx, List<RuleAction> actions)
    {
        switch (kind)
        {
            case OptionKind.Spawn:
                actions.Add(new SpawnAction(value!));
                return null;
            case OptionKind.Twist:
                actions.Add(new TwistAction(value!));
                return null;
            case OptionKind.Banners:
                actions.Add(new BannersAction(value!, $"{value}/{ctx.Daemon}"));
                return null;
            case OptionKind.SetEnv:
                return SetEnv(value!, actions);
            case OptionKind.Rfc931:
                if (value is not null)
                {
                    if (!ParseInt(value, out var seconds) || seconds <= 0)
                        return $"bad rfc931 timeout: \"{value}\"";
                    ctx.Rfc931Timeout = TimeSpan.FromSeconds(seconds);
                }
                actions.Add(new Rfc931Action(ctx.Rfc931Timeout));
                ctx.User();
                return null;
            case OptionKind.User:
                return User(value!, ctx, actions);
            case OptionKind.Group:
                // getgrnam() may ask a remote source: never on a thread that must not block.
                if (!ctx.MayLookUpSystem())
                    return null;
                if (!ctx.Accounts.GroupExists(value!))
                    return $"unknown group: \"{value}\"";
                actions.Add(new GroupAction(value!));
                return null;
            default:
                return $"option handler missing for {kind}";
        }
    }

    private static string? SetEnv(string value, List<RuleAction> actions)
    {
        var split = value.AsSpan().IndexOfAny(Whitespace);
        var name = Chop(split < 0 ? value : value[..split]);
        var val = split < 0 ? "" : Chop(value[(split + 1)..]);
        // setenv(3) refuses an empty name or one containing '='; libwrap reports that oddly.
        if (name.Length == 0 || name.Contains('=', StringComparison.Ordinal))
            return "memory allocation failure";
        actions.Add(new SetEnvAction(name, val));
        return null;
    }

    private static string? User(string value, EvalContext ctx, List<RuleAction> actions)
    {
        var dot = Patterns.Tokens.SplitAt(value, '.');
        var user = dot < 0 ? value : value[..dot];
        var group = dot < 0 ? null : value[(dot + 1)..];
        // getpwnam() may ask a remote source: never on a thread that must not block.
        if (!ctx.MayLookUpSystem())
            return null;
        if (group is not null && !ctx.Accounts.GroupExists(group))
            return $"unknown group: \"{group}\"";
        if (!ctx.Accounts.UserExists(user))
            return $"unknown user: \"{user}\"";
        actions.Add(new UserAction(user, group));
        return null;
    }
}
