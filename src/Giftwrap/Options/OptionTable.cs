// The hosts_options(5) keywords as one table (libwrap's option_table): keyword,
// whether it takes a value, whether it must come last, whether its value is
// %-expanded. Everything that checks options reads this table.
namespace Giftwrap.Options;

[Flags]
internal enum OptionFlags
{
    None = 0,
    NeedsValue = 1,
    MustBeLast = 2,
    OptionalValue = 4,
    Expands = 8,
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

internal sealed record OptionDefinition(string Keyword, OptionKind Kind, OptionFlags Flags, bool Extension = false)
{
    public bool NeedsValue => (Flags & OptionFlags.NeedsValue) != 0;
    public bool PermitsValue => (Flags & (OptionFlags.NeedsValue | OptionFlags.OptionalValue)) != 0;
    public bool MustBeLast => (Flags & OptionFlags.MustBeLast) != 0;
    public bool Expands => (Flags & OptionFlags.Expands) != 0;
}

internal static class OptionTable
{
    public static readonly OptionDefinition[] All =
    [
        new("user", OptionKind.User, OptionFlags.NeedsValue),
        new("group", OptionKind.Group, OptionFlags.NeedsValue),
        new("umask", OptionKind.Umask, OptionFlags.NeedsValue),
        new("linger", OptionKind.Linger, OptionFlags.NeedsValue),
        new("keepalive", OptionKind.KeepAlive, OptionFlags.None),
        new("spawn", OptionKind.Spawn, OptionFlags.NeedsValue | OptionFlags.Expands),
        new("twist", OptionKind.Twist, OptionFlags.NeedsValue | OptionFlags.Expands | OptionFlags.MustBeLast),
        new("rfc931", OptionKind.Rfc931, OptionFlags.OptionalValue),
        new("setenv", OptionKind.SetEnv, OptionFlags.NeedsValue | OptionFlags.Expands),
        new("nice", OptionKind.Nice, OptionFlags.OptionalValue),
        new("severity", OptionKind.Severity, OptionFlags.NeedsValue),
        new("allow", OptionKind.Allow, OptionFlags.MustBeLast),
        new("deny", OptionKind.Deny, OptionFlags.MustBeLast),
        new("banners", OptionKind.Banners, OptionFlags.NeedsValue),
        new("aclexec", OptionKind.AclExec, OptionFlags.NeedsValue | OptionFlags.Expands),
        new("ban", OptionKind.Ban, OptionFlags.NeedsValue, Extension: true),
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

    /// <summary>syslog levels (options.c, log_sev): no aliases such as warn, error, panic or none.</summary>
    public static readonly (string Name, int Code)[] Levels =
    [
        ("emerg", 0), ("alert", 1), ("crit", 2), ("err", 3), ("warning", 4), ("notice", 5), ("info", 6), ("debug", 7),
    ];
}
