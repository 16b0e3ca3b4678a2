// What `check` (tcpdchk) finds in a pair of tables: every diagnostic with its place,
// and a summary of each rule for the verbose listing.
using Giftwrap.Rules;

namespace Giftwrap.Checks;

/// <summary>One rule as tcpdchk -v lists it.</summary>
internal sealed record RuleSummary(string File, int Line, string Daemons, string Clients, IReadOnlyList<string> Options, string Access);

/// <summary>The result of checking hosts.allow and hosts.deny.</summary>
internal sealed record CheckReport(IReadOnlyList<Diagnostic> Diagnostics, IReadOnlyList<RuleSummary> Rules)
{
    /// <summary>True when some diagnostic is an error.</summary>
    public bool HasErrors => Diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error);

    /// <summary>Number of warnings.</summary>
    public int WarningCount => Diagnostics.Count(d => d.Severity == DiagnosticSeverity.Warning);

    /// <summary>Number of errors.</summary>
    public int ErrorCount => Diagnostics.Count(d => d.Severity == DiagnosticSeverity.Error);
}

/// <summary>Settings of a check.</summary>
internal sealed record CheckOptions
{
    /// <summary>tcpdchk -a: report hosts.allow rules that grant access without an explicit allow option.</summary>
    public bool RequireExplicitAllow { get; init; }

    /// <summary>Users and groups for the user and group options.</summary>
    public Decisions.IAccounts Accounts { get; init; } = Decisions.SystemAccounts.Instance;

    /// <summary>DNS and netgroup lookups for tcpdchk's host checks; null skips them.</summary>
    public ICheckLookups? Lookups { get; init; }

    /// <summary>tcpdchk -i: the inetd.conf to read (null: /etc/inetd.conf when it exists).</summary>
    public string? InetdConf { get; init; }

    /// <summary>Daemon names Giftwrap itself wraps (the gate's services): never "no such process name".</summary>
    public IReadOnlyList<string> WrappedDaemons { get; init; } = [];
}
