// The compiler from access tables to kernel address rules: for one daemon, which client
// address ranges hosts.allow then hosts.deny refuse whatever the lookups (names, user,
// server, netgroups, /file lists) would say. Every pattern is evaluated three-valued
// (yes, no, depends) over address ranges in libwrap's first-match order, EXCEPT
// included. SECURITY: it errs one way only: a range is refused only when no outcome of
// any lookup could grant it and no rule that can match it has options to carry out;
// anything in doubt is held (left to user space). docs/design/kernel-rules.md.
using Giftwrap.Tables;

namespace Giftwrap.Analysis;

/// <summary>Compiles what the access tables decide from the client address alone.</summary>
public static class AddressRules
{
    /// <summary>
    /// The client address ranges that <paramref name="tables"/> (as they are now) refuse for
    /// <paramref name="daemon"/> whatever the lookups say, and the ranges held back with their reasons.
    /// </summary>
    /// <param name="tables">hosts.allow and hosts.deny.</param>
    /// <param name="daemon">The daemon process name, as a connection to it carries it (e.g. <c>sshd</c>).</param>
    /// <param name="serverPort">The port the daemon listens on (numeric daemon tokens name it); 0 when any port.</param>
    public static AddressVerdicts Compile(AccessTables tables, string daemon, int serverPort = 0)
    {
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentNullException.ThrowIfNull(daemon);
        ArgumentOutOfRangeException.ThrowIfNegative(serverPort);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(serverPort, 65535);
        var (allow, deny) = tables.Compiled();
        return RuleWalk.Compile(allow, deny, daemon, serverPort);
    }
}
