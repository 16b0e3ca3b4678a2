// Explicit differential cases for option values at the C library's edges: numbers as glibc's
// sscanf reads them (wrap-around through 64-bit strtol/strtoul, not clamping) and every syslog
// facility and level name a severity option could be given. Each case is one rule of one table
// (daemon dN for rule N), asked of the real libwrap and of Giftwrap: verdict, line and the
// words libwrap logs must agree.
using System.Text;

namespace Giftwrap.Tests.Conformance;

public sealed class OptionValueTests
{
    private static readonly string[] NumericOptions =
    [
        // The four of issue 10: each had the opposite verdict before.
        "linger 2147483648", "rfc931 4294967296", "linger -4294967295", "umask 40000000022",
        "linger 0", "linger 2147483647", "linger -1", "linger 4294967296", "linger 4294967295", "linger -2147483648",
        "linger 9223372036854775807", "linger 9223372036854775808", "linger -9223372036854775808", "linger -9223372036854775809",
        "linger 99999999999999999999", "linger -99999999999999999999", "linger +5", "linger \f5", "linger 5x", "linger -", "linger +",
        "linger 0x10", "linger 010", "linger 18446744073709551616",
        "rfc931 1", "rfc931 0", "rfc931 -1", "rfc931 4294967297", "rfc931 -4294967295", "rfc931 2147483648", "rfc931 99999999999999999999",
        "rfc931 18446744073709551617", "rfc931 +3",
        "umask 022", "umask 777", "umask 1000", "umask 037777777777", "umask 040000000777", "umask -0", "umask -1", "umask -777",
        "umask 1777777777777777777777", "umask 2000000000000000000000", "umask 17777777777777777777777", "umask 8", "umask 0778",
        "umask +22", "umask 20000000000000000000022",
        "nice 5", "nice -5", "nice 4294967297", "nice 2147483648", "nice -9223372036854775809", "nice 99999999999999999999",
        "nice 0x5", "nice 5 ", "nice",
    ];

    private static readonly string[] Facilities =
    [
        "kern", "user", "mail", "daemon", "auth", "security", "authpriv", "syslog", "lpr", "news", "uucp", "cron", "ftp",
        "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7", "mark", "AUTH", "Local7", "", "bogus",
    ];

    private static readonly string[] Levels =
    [
        "emerg", "alert", "crit", "err", "error", "warning", "warn", "notice", "info", "debug", "panic", "none", "INFO", "", "info.x",
    ];

    [Fact]
    public void NumericOptionValues_AgreeWithLibwrap()
    {
        var disagreements = Compare(NumericOptions);
        Assert.True(disagreements.Count == 0, string.Join("\n", disagreements));
    }

    [Fact]
    public void EveryFacilityAndLevelName_AgreesWithLibwrap()
    {
        var options = new List<string>();
        foreach (var level in Levels)
            options.Add($"severity {level}");
        foreach (var facility in Facilities)
        {
            foreach (var level in Levels)
                options.Add($"severity {facility}.{level}");
        }
        var disagreements = Compare([.. options.Where(o => o.Trim() != "severity")]);
        Assert.True(disagreements.Count == 0, string.Join("\n", disagreements));
    }

    [Theory]
    [InlineData("severity authpriv.info")]
    [InlineData("severity ftp.notice")]
    [InlineData("linger 2147483648")]
    [InlineData("rfc931 4294967296")]
    public void IssueExamples_AreRefused(string option)
    {
        using var files = new TableFiles(allow: $"sshd: ALL: {option}\n");
        using var tables = files.Open();
        var (verdict, _, decision) = Ours.Ask(tables, "sshd\t-\t10.0.0.1\t-\t-\t-\t0");
        Assert.Equal("denied", verdict);
        Assert.Contains(decision.Warnings, w => w.Severity == Giftwrap.Rules.DiagnosticSeverity.Error);
    }

    [Theory]
    [InlineData("linger -4294967295")]
    [InlineData("umask 40000000022")]
    public void IssueExamples_AreGranted(string option)
    {
        using var files = new TableFiles(allow: $"sshd: ALL: {option}\n");
        using var tables = files.Open();
        var (verdict, _, decision) = Ours.Ask(tables, "sshd\t-\t10.0.0.1\t-\t-\t-\t0");
        Assert.Equal("granted", verdict);
        Assert.Empty(decision.Warnings);
    }

    [Fact]
    public void NumericDaemonTokens_AgreeWithLibwrap()
    {
        // daemon_or_port_match(): sscanf("%u%c") through strtoul, low 32 bits, then "port > 65535" makes
        // the token a daemon name again.
        string[] tokens = ["22", "+22", "4294967318", "-4294967274", "18446744073709551638", "99999999999999999999", "70000", "65535", "65536", "-0", "022", "0x16"];
        var table = new StringBuilder();
        var requests = new List<string>();
        for (var i = 0; i < tokens.Length; i++)
        {
            table.Append($"{tokens[i]}: 10.0.0.{i + 1}\n");
            requests.Add($"sshd\t-\t10.0.0.{i + 1}\t-\t-\t-\t22");
            requests.Add($"{tokens[i]}\t-\t10.0.0.{i + 1}\t-\t-\t-\t65535");
        }
        using var files = new TableFiles(deny: table.ToString());
        using var tables = files.Open();
        var theirs = LibwrapOracle.Ask(files.Allow, files.Deny, requests);
        var disagreements = new List<string>();
        for (var i = 0; i < requests.Count; i++)
        {
            var (verdict, match, _) = Ours.Ask(tables, requests[i]);
            if (verdict != theirs[i].Verdict || match != theirs[i].Match)
                disagreements.Add($"{requests[i]}: libwrap {theirs[i].Verdict} {theirs[i].Match}, giftwrap {verdict} {match}");
        }
        Assert.True(disagreements.Count == 0, string.Join("\n", disagreements));
        Assert.Equal("denied", theirs[2].Verdict); // "4294967318" is port 22
    }

    /// <summary>One rule per option (daemon dN), one request per rule; the disagreements, if any.</summary>
    private static List<string> Compare(IReadOnlyList<string> options)
    {
        var disagreements = new List<string>();
        var answers = OptionProbe.Ask(options);
        for (var i = 0; i < options.Count; i++)
        {
            var (theirs, verdict, match, ourWarnings) = answers[i];
            var theirWarnings = WithoutRunTimeWarnings(theirs.Warnings);
            if (verdict != theirs.Verdict || match != theirs.Match || ourWarnings != theirWarnings)
                disagreements.Add($"{options[i]}: libwrap {theirs.Verdict} {theirs.Match} [{theirWarnings}], giftwrap {verdict} {match} [{ourWarnings}]");
        }
        return disagreements;
    }

    // nice() failing in the harness's child ("nice(-5): ...") is the host's business when it carries
    // the option out, not part of the decision.
    private static string WithoutRunTimeWarnings(string warnings)
    {
        var kept = warnings.Split(" | ").Where(w => !System.Text.RegularExpressions.Regex.IsMatch(w, @"^warning: allow, line \d+: nice\(")).ToList();
        return kept.Count == 0 || warnings == "-" ? "-" : string.Join(" | ", kept);
    }
}
