// The option actions a decision carries: one record per hosts_options(5) keyword,
// already checked and %-expanded. The hosts carry them out; the core never does.
namespace Giftwrap.Options;

/// <summary>One option of the matched rule, ready for the host to carry out.</summary>
public abstract record RuleAction
{
    /// <summary>The option keyword as in hosts_options(5).</summary>
    public abstract string Keyword { get; }

    /// <summary>The value as tcpdmatch prints it (empty when the option has none).</summary>
    public abstract string Value { get; }
}

/// <summary><c>spawn</c>: run <see cref="Command"/> with /bin/sh, stdio on /dev/null.</summary>
public sealed record SpawnAction(string Command) : RuleAction
{
    public override string Keyword => "spawn";
    public override string Value => Command;
}

/// <summary><c>twist</c>: replace the service by <see cref="Command"/>, stdio on the client connection.</summary>
public sealed record TwistAction(string Command) : RuleAction
{
    public override string Keyword => "twist";
    public override string Value => Command;
}

/// <summary><c>banners</c>: send the file named after the daemon in <see cref="Directory"/>, %-expanded, with CRLF.</summary>
public sealed record BannersAction(string Directory, string Path) : RuleAction
{
    public override string Keyword => "banners";
    public override string Value => Directory;
}

/// <summary><c>setenv</c>: put <see cref="Name"/>=<see cref="VariableValue"/> in the environment of what runs next.</summary>
public sealed record SetEnvAction(string Name, string VariableValue) : RuleAction
{
    public override string Keyword => "setenv";
    public override string Value => $"{Name} {VariableValue}";
}

/// <summary><c>umask</c>: the file creation mask.</summary>
public sealed record UmaskAction(int Mask) : RuleAction
{
    public override string Keyword => "umask";
    public override string Value => "0" + Convert.ToString(Mask, 8);
}

/// <summary><c>user</c>: run as <see cref="User"/> (and <see cref="Group"/> when given as user.group).</summary>
public sealed record UserAction(string User, string? Group) : RuleAction
{
    public override string Keyword => "user";
    public override string Value => Group is null ? User : $"{User}.{Group}";
}

/// <summary><c>group</c>: run with group <see cref="Group"/>.</summary>
public sealed record GroupAction(string Group) : RuleAction
{
    public override string Keyword => "group";
    public override string Value => Group;
}

/// <summary><c>nice</c>: change the nice value by <see cref="Increment"/> (default 10).</summary>
public sealed record NiceAction(int Increment) : RuleAction
{
    public override string Keyword => "nice";
    public override string Value => Increment.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary><c>severity</c>: log this event at <see cref="Level"/> (and <see cref="Facility"/> when given), syslog codes.</summary>
public sealed record SeverityAction(int? Facility, int Level, string Text) : RuleAction
{
    public override string Keyword => "severity";
    public override string Value => Text;
}

/// <summary><c>rfc931</c>: look up the client user by RFC 1413 within <see cref="Timeout"/>.</summary>
public sealed record Rfc931Action(TimeSpan Timeout) : RuleAction
{
    public override string Keyword => "rfc931";
    public override string Value => ((int)Timeout.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary><c>keepalive</c>: set SO_KEEPALIVE on the client socket.</summary>
public sealed record KeepAliveAction : RuleAction
{
    public override string Keyword => "keepalive";
    public override string Value => "";
}

/// <summary><c>linger</c>: set SO_LINGER on the client socket.</summary>
public sealed record LingerAction(int Seconds) : RuleAction
{
    public override string Keyword => "linger";
    public override string Value => Seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary><c>allow</c>: grant, whichever table the rule is in.</summary>
public sealed record AllowAction : RuleAction
{
    public override string Keyword => "allow";
    public override string Value => "";
}

/// <summary><c>deny</c>: refuse, whichever table the rule is in.</summary>
public sealed record DenyAction : RuleAction
{
    public override string Keyword => "deny";
    public override string Value => "";
}

/// <summary><c>ban DURATION</c> (Giftwrap extension): ban the client address for <see cref="Duration"/> from every service.</summary>
public sealed record BanAction(TimeSpan Duration, string Text) : RuleAction
{
    public override string Keyword => "ban";
    public override string Value => Text;
}
