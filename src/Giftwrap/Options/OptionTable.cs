// The hosts_options(5) keywords as one table, as libwrap's options.c keeps them: per row the
// keyword, its argument rule, the phase in which the core does its work, the handler, whether it is
// a Giftwrap extension and one line for the manual. Parsing (RuleOptions), `check` (OptionChecks)
// and the manual page (a test renders giftwrap(8)'s RULE OPTIONS from these rows) all read it;
// carrying the resulting actions out is left to the hosts.
using Giftwrap.Decisions;
using static Giftwrap.Options.OptionArgument;
using static Giftwrap.Options.OptionFlags;
using static Giftwrap.Options.OptionPhase;

namespace Giftwrap.Options;

/// <summary>Whether an option takes a value (options.c's NEED_ARG / USE_ARG).</summary>
internal enum OptionArgument
{
    None,
    Required,
    Optional,
}

/// <summary>When the core does an option's work.</summary>
internal enum OptionPhase
{
    /// <summary>The value needs nothing from the request: checked and made an action once, when the table is read.</summary>
    Parse,

    /// <summary>The value is %-expanded or needs a lookup: made an action per request, in rule order.</summary>
    Decide,

    /// <summary>Left whole to the host after the other options (Debian's aclexec): the core only hands the command on.</summary>
    CarryOut,
}

[Flags]
internal enum OptionFlags
{
    None = 0,

    /// <summary>options.c's OPT_ARG last: any option after it is an error; carrying it out ends the options.</summary>
    MustBeLast = 1,

    /// <summary>The value is %-expanded (options.c's EXPAND_ARG).</summary>
    Expands = 2,

    /// <summary>Giftwrap's own: libwrap rejects the keyword as a bad option name and refuses access.</summary>
    Extension = 4,
}

internal enum OptionKind
{
    User,
    Group,
    Umask,
    Linger,
    KeepAlive,
    Spawn,
    Twist,
    Rfc931,
    SetEnv,
    Nice,
    Severity,
    Allow,
    Deny,
    Banners,
    AclExec,
    /// <summary>Giftwrap's booby trap (issue 4); libwrap rejects it as a bad option name.</summary>
    Ban,
}

/// <summary>A <see cref="OptionPhase.Parse"/> handler: the value checked and made an action, or the error libwrap reports.</summary>
internal delegate (RuleAction? Action, string? Error) ParseHandler(string? value);

/// <summary>A <see cref="OptionPhase.Decide"/> handler: the (expanded) value applied for one request; null or libwrap's error.</summary>
internal delegate string? DecideHandler(string? value, EvalContext ctx, List<RuleAction> actions);

/// <summary>One row of <see cref="OptionTable"/>.</summary>
/// <param name="keyword">As hosts_options(5) spells it; matched without regard to case.</param>
/// <param name="kind">Which option it is, for the checks that single one out.</param>
/// <param name="argument">Whether the keyword takes a value; the handler checks the value itself.</param>
/// <param name="phase">When the core does the option's work, and so which handler the row has.</param>
/// <param name="flags">Must be last, %-expanded, Giftwrap extension.</param>
/// <param name="syntax">The value as the manual writes it (empty when none; in [] when optional).</param>
/// <param name="description">One line for the manual page.</param>
/// <remarks>A class, not a record: rows are not compared, and a record's Equals and GetHashCode over the handlers
/// were on giftwrap-tcpd's start (docs/benchmarks.md, third round).</remarks>
internal sealed class OptionDefinition(
    string keyword, OptionKind kind, OptionArgument argument, OptionPhase phase, OptionFlags flags, string syntax, string description)
{
    public string Keyword { get; } = keyword;
    public OptionKind Kind { get; } = kind;
    public OptionArgument Argument { get; } = argument;
    public OptionPhase Phase { get; } = phase;
    public OptionFlags Flags { get; } = flags;
    public string Syntax { get; } = syntax;
    public string Description { get; } = description;

    /// <summary>The handler of a <see cref="OptionPhase.Parse"/> row.</summary>
    public ParseHandler? Parse { get; init; }

    /// <summary>The handler of a <see cref="OptionPhase.Decide"/> row.</summary>
    public DecideHandler? Decide { get; init; }

    /// <summary>For a <see cref="OptionFlags.MustBeLast"/> row, the verdict carrying it out settles (null: the rule's own, or a twist's hand-over).</summary>
    public Verdict? Settles { get; init; }

    public bool NeedsValue => Argument == Required;
    public bool PermitsValue => Argument != OptionArgument.None;
    public bool MustBeLast => (Flags & OptionFlags.MustBeLast) != 0;
    public bool Expands => (Flags & OptionFlags.Expands) != 0;
    public bool Extension => (Flags & OptionFlags.Extension) != 0;
}

internal static class OptionTable
{
    // libwrap's order (options.c), which `check` also uses to list the known options.
    public static readonly OptionDefinition[] All =
    [
        new("user", OptionKind.User, Required, Decide, OptionFlags.None, "*user*[.*group*]",
            "Run what follows as *user* (and *group*); an unknown name refuses access.")
            { Decide = OptionHandlers.User },
        new("group", OptionKind.Group, Required, Decide, OptionFlags.None, "*group*",
            "Run what follows with group *group*; an unknown name refuses access.")
            { Decide = OptionHandlers.Group },
        new("umask", OptionKind.Umask, Required, Parse, OptionFlags.None, "*mask*",
            "The file creation mask of what follows, in octal.")
            { Parse = OptionHandlers.Umask },
        new("linger", OptionKind.Linger, Required, Parse, OptionFlags.None, "*seconds*",
            "Set SO_LINGER on the client connection.")
            { Parse = OptionHandlers.Linger },
        new("keepalive", OptionKind.KeepAlive, OptionArgument.None, Parse, OptionFlags.None, "",
            "Set SO_KEEPALIVE on the client connection.")
            { Parse = OptionHandlers.KeepAlive },
        new("spawn", OptionKind.Spawn, Required, Decide, Expands, "*command*",
            "Run *command* (**%** expanded) with */bin/sh*, its standard input, output and error on */dev/null*.")
            { Decide = OptionHandlers.Spawn },
        new("twist", OptionKind.Twist, Required, Decide, Expands | MustBeLast, "*command*",
            "Hand the connection to *command* (**%** expanded) instead of the service.")
            { Decide = OptionHandlers.Twist },
        new("rfc931", OptionKind.Rfc931, Optional, Decide, OptionFlags.None, "[*timeout*]",
            "Look up the client's user name with RFC 1413 ident, waiting up to *timeout* seconds (default 10).")
            { Decide = OptionHandlers.Rfc931 },
        new("setenv", OptionKind.SetEnv, Required, Decide, Expands, "*name* *value*",
            "Set the variable *name* to *value* (**%** expanded) in the environment of what follows.")
            { Decide = OptionHandlers.SetEnv },
        new("nice", OptionKind.Nice, Optional, Parse, OptionFlags.None, "[*increment*]",
            "Add *increment* (default 10) to the nice value of what follows.")
            { Parse = OptionHandlers.Nice },
        new("severity", OptionKind.Severity, Required, Parse, OptionFlags.None, "[*facility*.]*level*",
            "Log this connection at the syslog *level* (and *facility*).")
            { Parse = OptionHandlers.Severity },
        new("allow", OptionKind.Allow, OptionArgument.None, Parse, MustBeLast, "",
            "Grant access, whichever table the rule is in.")
            { Parse = OptionHandlers.Allow, Settles = Verdict.Granted },
        new("deny", OptionKind.Deny, OptionArgument.None, Parse, MustBeLast, "",
            "Refuse access, whichever table the rule is in.")
            { Parse = OptionHandlers.Deny, Settles = Verdict.Denied },
        new("banners", OptionKind.Banners, Required, Decide, OptionFlags.None, "*directory*",
            "Send the client the file of *directory* named after the daemon, **%** expanded.")
            { Decide = OptionHandlers.Banners },
        new("aclexec", OptionKind.AclExec, Required, CarryOut, Expands, "*command*",
            "Debian's: after the other options, run *command* (**%** expanded); unless it exits 0, the rule counts as not matched."),
        new("ban", OptionKind.Ban, Required, Parse, Extension, "*duration*",
            "Ban the client address from every service for *duration* (**30s**, **10m**, **1h**, **2d** or **1w**).")
            { Parse = OptionHandlers.Ban },
    ];

    public static OptionDefinition? Find(string keyword)
    {
        foreach (var d in All)
        {
            if (Patterns.Ascii.EqualsIgnoreCase(d.Keyword, keyword))
                return d;
        }
        return null;
    }

    /// <summary>
    /// syslog facilities libwrap's severity option knows (options.c, log_fac), with their codes: exactly
    /// the classic list. authpriv, ftp, syslog and security are not in it, so "severity authpriv.info"
    /// is a bad option to libwrap (access refused), checked against the real libwrap.
    /// </summary>
    public static readonly (string Name, int Code)[] Facilities =
    [
        ("kern", 0 << 3), ("user", 1 << 3), ("mail", 2 << 3), ("daemon", 3 << 3), ("auth", 4 << 3),
        ("lpr", 6 << 3), ("news", 7 << 3), ("uucp", 8 << 3), ("cron", 9 << 3),
        ("local0", 16 << 3), ("local1", 17 << 3), ("local2", 18 << 3), ("local3", 19 << 3),
        ("local4", 20 << 3), ("local5", 21 << 3), ("local6", 22 << 3), ("local7", 23 << 3),
    ];

    /// <summary>
    /// syslog levels (options.c, log_sev): the names of the one severity type, <see cref="Logging.SyslogSeverity"/>,
    /// in lower case; no aliases such as warn, error, panic or none.
    /// </summary>
    public static readonly (string Name, int Code)[] Levels = LevelNames();

    private static (string Name, int Code)[] LevelNames()
    {
        var severities = Enum.GetValues<Logging.SyslogSeverity>();
        var levels = new (string Name, int Code)[severities.Length];
        for (var i = 0; i < severities.Length; i++)
            levels[i] = (severities[i].ToString().ToLowerInvariant(), (int)severities[i]);
        return levels;
    }
}
