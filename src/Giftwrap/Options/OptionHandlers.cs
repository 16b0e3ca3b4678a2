// The handlers of the option table's rows (options.c's *_option functions): parse-time ones
// check a value once and make its RuleAction, decide-time ones turn an expanded value into an
// action for one request. The error texts are libwrap's; the hosts carry the actions out.
using System.Globalization;
using Giftwrap.Decisions;

namespace Giftwrap.Options;

internal static class OptionHandlers
{
    private const string Whitespace = " \t\r\n";

    public static (RuleAction?, string?) Umask(string? value) =>
        ParseOctal(value!, out var mask) && (mask & ~0x1ff) == 0
            ? (new UmaskAction((int)mask), null)
            : (null, $"bad umask value: \"{value}\"");

    public static (RuleAction?, string?) Linger(string? value) =>
        ParseInt(value!, out var linger) && linger >= 0
            ? (new LingerAction(linger), null)
            : (null, $"bad linger value: \"{value}\"");

    public static (RuleAction?, string?) KeepAlive(string? value) => (new KeepAliveAction(), null);

    public static (RuleAction?, string?) Nice(string? value)
    {
        if (value is null)
            return (new NiceAction(10), null);
        return ParseInt(value, out var nice) ? (new NiceAction(nice), null) : (null, $"bad nice value: \"{value}\"");
    }

    public static (RuleAction?, string?) Ban(string? value) =>
        TryDuration(value!, out var duration)
            ? (new BanAction(duration, value!), null)
            : (null, $"bad ban duration: \"{value}\" (write 30s, 10m, 1h, 2d or 1w)");

    public static (RuleAction?, string?) Allow(string? value) => (new AllowAction(), null);

    public static (RuleAction?, string?) Deny(string? value) => (new DenyAction(), null);

    public static (RuleAction?, string?) Severity(string? text)
    {
        var value = text!;
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

    public static string? Spawn(string? value, EvalContext ctx, List<RuleAction> actions)
    {
        actions.Add(new SpawnAction(value!));
        return null;
    }

    public static string? Twist(string? value, EvalContext ctx, List<RuleAction> actions)
    {
        actions.Add(new TwistAction(value!));
        return null;
    }

    public static string? Banners(string? value, EvalContext ctx, List<RuleAction> actions)
    {
        actions.Add(new BannersAction(value!, $"{value}/{ctx.Daemon}"));
        return null;
    }

    public static string? Rfc931(string? value, EvalContext ctx, List<RuleAction> actions)
    {
        if (value is not null)
        {
            if (!ParseInt(value, out var seconds) || seconds <= 0)
                return $"bad rfc931 timeout: \"{value}\"";
            ctx.Rfc931Timeout = TimeSpan.FromSeconds(seconds);
        }
        actions.Add(new Rfc931Action(ctx.Rfc931Timeout));
        ctx.User();
        return null;
    }

    public static string? SetEnv(string? text, EvalContext ctx, List<RuleAction> actions)
    {
        var value = text!;
        var split = value.AsSpan().IndexOfAny(Whitespace);
        var name = RuleOptions.Chop(split < 0 ? value : value[..split]);
        var val = split < 0 ? "" : RuleOptions.Chop(value[(split + 1)..]);
        // setenv(3) refuses an empty name or one containing '='; libwrap reports that oddly.
        if (name.Length == 0 || name.Contains('=', StringComparison.Ordinal))
            return "memory allocation failure";
        actions.Add(new SetEnvAction(name, val));
        return null;
    }

    public static string? User(string? text, EvalContext ctx, List<RuleAction> actions)
    {
        var value = text!;
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

    public static string? Group(string? value, EvalContext ctx, List<RuleAction> actions)
    {
        // getgrnam() may ask a remote source: never on a thread that must not block.
        if (!ctx.MayLookUpSystem())
            return null;
        if (!ctx.Accounts.GroupExists(value!))
            return $"unknown group: \"{value}\"";
        actions.Add(new GroupAction(value!));
        return null;
    }

    /// <summary>A duration as the ban commands write it: a positive number and one of s, m, h, d, w.</summary>
    internal static bool TryDuration(string text, out TimeSpan duration)
    {
        duration = default;
        if (text.Length < 2 || !long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0 || n > 100_000_000)
            return false;
        var seconds = Patterns.Ascii.Lower(text[^1]) switch
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
    }

    /// <summary>sscanf("%d%c") == 1, as linger_option, nice_option and rfc931_option read their values.</summary>
    internal static bool ParseInt(string s, out int value) => Patterns.CNumbers.TryScanInt(s, out value);

    /// <summary>sscanf("%o%c") == 1 into an unsigned int, as umask_option reads its value.</summary>
    private static bool ParseOctal(string s, out uint value) => Patterns.CNumbers.TryScanUnsigned(s, 8, out value);
}
