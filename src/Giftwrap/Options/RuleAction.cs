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
/// <param name="Command">The shell command, %-expanded.</param>
public sealed record SpawnAction(string Command) : RuleAction
{
    /// <inheritdoc/>
    public override string Keyword => "spawn";
    /// <inheritdoc/>
    public override string Value => Command;
}

/// <summary><c>twist</c>: replace the service by <see cref="Command"/>, stdio on the client connection.</summary>
/// <param name="Command">The shell command, %-expanded.</param>
public sealed record TwistAction(string Command) : RuleAction
{
    /// <inheritdoc/>
    public override string Keyword => "twist";
    /// <inheritdoc/>
    public override string Value => Command;
}

/// <summary><c>banners</c>: send the file named after the daemon in <see cref="Directory"/>, %-expanded, with CRLF.</summary>
/// <param name="Directory">The banners directory as the rule names it.</param>
/// <param name="Path">The banner file to send: <paramref name="Directory"/>/daemon.</param>
public sealed record BannersAction(string Directory, string Path) : RuleAction
{
    /// <inheritdoc/>
    public override string Keyword => "banners";
    /// <inheritdoc/>
    public override string Value => Directory;
}

/// <summary><c>setenv</c>: put <see cref="Name"/>=<see cref="VariableValue"/> in the environment of what runs next.</summary>
/// <param name="Name">The variable name.</param>
/// <param name="VariableValue">Its value, %-expanded.</param>
public sealed record SetEnvAction(string Name, string VariableValue) : RuleAction
{
    /// <inheritdoc/>
    public override string Keyword => "setenv";
    /// <inheritdoc/>
    public override string Value => $"{Name} {VariableValue}";
}

/// <summary><c>umask</c>: the file creation mask.</summary>
/// <param name="Mask">The mask (the rule writes it in octal).</param>
public sealed record UmaskAction(int Mask) : RuleAction
{
    /// <inheritdoc/>
    public override string Keyword => "umask";
    /// <inheritdoc/>
    public override string Value => "0" + Convert.ToString(Mask, 8);
}

/// <summary><c>user</c>: run as <see cref="User"/> (and <see cref="Group"/> when given as user.group).</summary>
/// <param name="User">The user name.</param>
/// <param name="Group">The group name, or <c>null</c> when the rule gave only a user.</param>
public sealed record UserAction(string User, string? Group) : RuleAction
{
    /// <inheritdoc/>
    public override string Keyword => "user";
    /// <inheritdoc/>
    public override string Value => Group is null ? User : $"{User}.{Group}";
}

/// <summary><c>group</c>: run with group <see cref="Group"/>.</summary>
/// <param name="Group">The group name.</param>
public sealed record GroupAction(string Group) : RuleAction
{
    /// <inheritdoc/>
    public override string Keyword => "group";
    /// <inheritdoc/>
    public override string Value => Group;
}

/// <summary><c>nice</c>: change the nice value by <see cref="Increment"/> (default 10).</summary>
/// <param name="Increment">Added to the nice value.</param>
public sealed record NiceAction(int Increment) : RuleAction
{
    /// <inheritdoc/>
    public override string Keyword => "nice";
    /// <inheritdoc/>
    public override string Value => Increment.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary><c>severity</c>: log this event at <see cref="Level"/> (and <see cref="Facility"/> when given), syslog codes.</summary>
/// <param name="Facility">The syslog facility code, or <c>null</c> to keep the host's own.</param>
/// <param name="Level">The syslog severity code.</param>
/// <param name="Text">The option value as written, e.g. <c>mail.info</c>.</param>
public sealed record SeverityAction(int? Facility, int Level, string Text) : RuleAction
{
    /// <inheritdoc/>
    public override string Keyword => "severity";
    /// <inheritdoc/>
    public override string Value => Text;
}

/// <summary><c>rfc931</c>: look up the client user by RFC 1413 within <see cref="Timeout"/>.</summary>
/// <param name="Timeout">How long to wait for the ident reply.</param>
public sealed record Rfc931Action(TimeSpan Timeout) : RuleAction
{
    /// <inheritdoc/>
    public override string Keyword => "rfc931";
    /// <inheritdoc/>
    public override string Value => ((int)Timeout.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary><c>keepalive</c>: set SO_KEEPALIVE on the client socket.</summary>
public sealed record KeepAliveAction : RuleAction
{
    /// <inheritdoc/>
    public override string Keyword => "keepalive";
    /// <inheritdoc/>
    public override string Value => "";
}

/// <summary><c>linger</c>: set SO_LINGER on the client socket.</summary>
/// <param name="Seconds">The linger time in seconds.</param>
public sealed record LingerAction(int Seconds) : RuleAction
{
    /// <inheritdoc/>
    public override string Keyword => "linger";
    /// <inheritdoc/>
    public override string Value => Seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary><c>allow</c>: grant, whichever table the rule is in.</summary>
public sealed record AllowAction : RuleAction
{
    /// <inheritdoc/>
    public override string Keyword => "allow";
    /// <inheritdoc/>
    public override string Value => "";
}

/// <summary><c>deny</c>: refuse, whichever table the rule is in.</summary>
public sealed record DenyAction : RuleAction
{
    /// <inheritdoc/>
    public override string Keyword => "deny";
    /// <inheritdoc/>
    public override string Value => "";
}

/// <summary><c>ban DURATION</c> (Giftwrap extension): ban the client address for <see cref="Duration"/> from every service.</summary>
/// <param name="Duration">How long the ban lasts.</param>
/// <param name="Text">The duration as written, e.g. <c>10m</c>.</param>
public sealed record BanAction(TimeSpan Duration, string Text) : RuleAction
{
    /// <inheritdoc/>
    public override string Keyword => "ban";
    /// <inheritdoc/>
    public override string Value => Text;
}
