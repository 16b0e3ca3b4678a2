// The two tools against the real ones: Debian's /usr/sbin/tcpdchk and /usr/sbin/tcpdmatch
// and `giftwrap check` / `giftwrap match` run on the same tables, /etc/hosts and arguments
// in a private namespace (ToolNamespace), libwrap's syslog lines collected from /dev/log.
// check must report every finding tcpdchk reports, on the same file and line, at least
// as severe; match must print the same lines, the same matched rule and options, and exit
// the same way. The corpus is committed under ToolCorpus/.
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Giftwrap.Cli.Tests;

public sealed partial class ToolComparisonTests
{
    private const string Tcpdchk = "/usr/sbin/tcpdchk";
    private const string Tcpdmatch = "/usr/sbin/tcpdmatch";

    private static string Corpus => Path.Combine(AppContext.BaseDirectory, "ToolCorpus");

    public static TheoryData<string> BrokenTables() => Tables("broken");

    public static TheoryData<string> WarningTables() => Tables("warning");

    public static TheoryData<string, string> MatchCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var line in File.ReadAllLines(Path.Combine(Corpus, "match", "cases.tsv")).Where(l => l.Length > 0))
        {
            var f = line.Split('\t');
            data.Add(f[0], f[1]);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(BrokenTables))]
    public void Check_BrokenTable_ReportsEveryErrorTcpdchkReports(string table)
    {
        var (tcpdchk, ours) = CheckBoth(Path.Combine("broken", table));
        Assert.Contains(tcpdchk, f => f.Severity == "error");
        AssertCovered(tcpdchk, ours);
    }

    [Theory]
    [MemberData(nameof(WarningTables))]
    public void Check_WarningTable_ReportsEveryWarningTcpdchkReports(string table)
    {
        var (tcpdchk, ours) = CheckBoth(Path.Combine("warning", table));
        Assert.DoesNotContain(tcpdchk, f => f.Severity == "error");
        // Every table meets the corpus inetd.conf's own warnings; all but that case warn about the table itself.
        var about = table.Contains("inetd", StringComparison.Ordinal) ? tcpdchk : tcpdchk.Where(f => !f.File.EndsWith("inetd.conf", StringComparison.Ordinal)).ToList();
        Assert.Contains(about, f => f.Severity == "warning");
        AssertCovered(tcpdchk, ours);
    }

    [Theory]
    [MemberData(nameof(MatchCases))]
    public void Match_SameArguments_SameLinesVerdictAndExitAsTcpdmatch(string daemon, string client)
    {
        RequireTool(Tcpdmatch);
        using var ns = new ToolNamespace(Path.Combine(Corpus, "hosts"));
        var allow = File.ReadAllText(Path.Combine(Corpus, "match", "hosts.allow"));
        var deny = File.ReadAllText(Path.Combine(Corpus, "match", "hosts.deny"));
        var real = ns.Run(allow, deny, Tcpdmatch, daemon, client);
        var ours = ns.Run(allow, deny, "dotnet", CliRunner.Dll, "match", daemon, client);
        // Debian's tcpdmatch logs the matched line and the options through syslog (hosts_access.c,
        // options.c at hosts_access_verbose); giftwrap prints them among the other lines.
        static bool Verbose(string l) => l.StartsWith("matched:", StringComparison.Ordinal) || l.StartsWith("option:", StringComparison.Ordinal);
        // options.c logs "option:   %s %s" even when the value is empty: that trailing blank is not compared.
        var realVerbose = real.Syslog.Select(m => SyslogText().Match(m)).Where(m => m.Success).Select(m => m.Groups[1].Value.TrimEnd(' ')).Where(Verbose).ToList();
        var ourLines = ours.Stdout.Split('\n');
        Assert.Equal(real.ExitCode, ours.ExitCode);
        Assert.Equal(real.Stdout, string.Join('\n', ourLines.Where(l => !Verbose(l))));
        Assert.Equal(realVerbose, ourLines.Where(Verbose).ToList());
    }

    /// <summary>tcpdchk's findings and giftwrap's diagnostics on one corpus table, with the corpus inetd.conf.</summary>
    private static (List<Finding> Tcpdchk, List<Finding> Ours) CheckBoth(string table)
    {
        RequireTool(Tcpdchk);
        var allowPath = Path.Combine(Corpus, table);
        var denyPath = Path.ChangeExtension(allowPath, ".deny");
        var allow = File.ReadAllText(allowPath);
        var deny = File.Exists(denyPath) ? File.ReadAllText(denyPath) : "";
        var inetd = Path.Combine(Corpus, "inetd.conf");
        using var ns = new ToolNamespace(Path.Combine(Corpus, "hosts"));
        File.Copy(Path.Combine(Corpus, "warning", "clients.txt"), Path.Combine(ns.Dir.Path, "clients.txt"));
        var real = ns.Run(allow, deny, Tcpdchk, "-i", inetd);
        var ours = ns.Run(allow, deny, "dotnet", CliRunner.Dll, "check", "-i", inetd, "--json");
        Assert.True(ours.ExitCode is 0 or 1, $"giftwrap check failed ({ours.ExitCode}): {ours.Stderr}");
        var tcpdchk = new List<Finding>();
        foreach (var m in real.Syslog.Select(s => TcpdchkLine().Match(s)).Where(m => m.Success))
        {
            // "(use EXCEPT or DENY instead)" and the like continue the line before.
            if (!m.Groups["msg"].Value.StartsWith('('))
                tcpdchk.Add(new Finding(m.Groups["file"].Value, m.Groups["line"].Success ? int.Parse(m.Groups["line"].Value) : 0, m.Groups["sev"].Value, "", m.Groups["msg"].Value));
        }
        Assert.NotEmpty(tcpdchk);
        using var doc = JsonDocument.Parse(ours.Stdout);
        var ourFindings = doc.RootElement.GetProperty("diagnostics").EnumerateArray()
            .Select(d => new Finding(d.GetProperty("file").GetString()!, d.GetProperty("line").GetInt32(), d.GetProperty("severity").GetString()!,
                d.GetProperty("code").GetString()!, d.GetProperty("message").GetString()!))
            .ToList();
        return (tcpdchk, ourFindings);
    }

    /// <summary>Each tcpdchk finding paired with a distinct one of ours: same file and line, as severe (ban: a warning, by design).</summary>
    private static void AssertCovered(List<Finding> tcpdchk, List<Finding> ours)
    {
        var unused = ours.Where(o => o.Severity != "info").ToList();
        var missing = new List<Finding>();
        foreach (var t in tcpdchk.OrderByDescending(t => t.Severity == "error"))
        {
            var pair = unused.FirstOrDefault(o => o.File == t.File && o.Line == t.Line
                && (t.Severity == "warning" || o.Severity == "error" || o.Code == "extension"));
            if (pair is null)
                missing.Add(t);
            else
                unused.Remove(pair);
        }
        Assert.True(missing.Count == 0,
            "tcpdchk reports what giftwrap check does not:\n" + string.Join('\n', missing) + "\ngiftwrap check reports:\n" + string.Join('\n', ours));
    }

    private static TheoryData<string> Tables(string kind)
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Path.Combine(Corpus, kind), "*.allow").Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(f));
        return data;
    }

    private static void RequireTool(string path)
    {
        if (!File.Exists(path))
            throw new InvalidOperationException($"{path} is missing: install Debian's tcpd package (scripts/test.sh does)");
    }

    public sealed record Finding(string File, int Line, string Severity, string Code, string Message)
    {
        public override string ToString() => $"{File}:{Line}: {Severity}: {Message}" + (Code.Length > 0 ? $" [{Code}]" : "");
    }

    // <11>Nov 30 16:50:42 tcpdchk: warning: /etc/hosts.allow, line 4: nogroup: unknown or empty netgroup
    [GeneratedRegex(@"tcpdchk(?:\[\d+\])?: (?<sev>warning|error): (?:(?<file>[^,]+), line (?<line>\d+): )?(?<msg>.*)$", RegexOptions.Singleline)]
    private static partial Regex TcpdchkLine();

    [GeneratedRegex(@"^<\d+>\w{3} [ \d]\d \d\d:\d\d:\d\d tcpdmatch(?:\[\d+\])?: (.*)$", RegexOptions.Singleline)]
    private static partial Regex SyslogText();
}
