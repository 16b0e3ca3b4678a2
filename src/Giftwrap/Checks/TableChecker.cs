// tcpdchk: reads both tables and reports, like a compiler, every problem with file,
// line and column and a suggested fix. Beyond tcpdchk: rules shadowed by earlier
// ones, patterns that silently match nothing, IPv6 without brackets, allow/deny
// in the wrong table. Reports only; never changes a table.
using Giftwrap.Decisions;
using Giftwrap.Options;
using Giftwrap.Patterns;
using Giftwrap.Rules;
using Giftwrap.Tables;

namespace Giftwrap.Checks;

/// <summary>Checks a pair of tables (tcpdchk).</summary>
internal static class TableChecker
{
    /// <summary>Checks <paramref name="allowPath"/> and <paramref name="denyPath"/>.</summary>
    public static CheckReport Check(string allowPath, string denyPath, CheckOptions? options = null)
    {
        options ??= new CheckOptions();
        var diagnostics = new List<Diagnostic>();
        var rules = new List<RuleSummary>();
        var allow = Read(allowPath, diagnostics);
        var deny = Read(denyPath, diagnostics);
        var allowDecisive = new List<(TableEntry Entry, string File)>();
        var critique = new TcpdchkCritique(options.Lookups, InetdConf.Read(options.InetdConf, options.WrappedDaemons, diagnostics).WithLibwrapPrograms());
        if (allow is not null)
            CheckTable(allow, isDeny: false, options, critique, diagnostics, rules, allowDecisive);
        if (deny is not null)
            CheckTable(deny, isDeny: true, options, critique, diagnostics, rules, allowDecisive);
        return new CheckReport(diagnostics, rules);
    }

    private static CompiledTable? Read(string path, List<Diagnostic> diagnostics)
    {
        if (Directory.Exists(path))
        {
            diagnostics.Add(PatternChecks.Warn(path, 0, 0, "not-a-file", "is a directory: libwrap reads it as an empty table"));
            return null;
        }
        switch (TableFile.TryRead(path, out var data, out var error))
        {
            case ReadOutcome.Missing:
                diagnostics.Add(PatternChecks.Info(path, 0, 0, "missing", "no such file: an empty table"));
                return null;
            case ReadOutcome.Failed:
                diagnostics.Add(PatternChecks.Error(path, 0, 0, "unreadable",
                    $"{error}: libwrap skips this table with an error, and an unreadable hosts.deny refuses everyone", "make the file readable"));
                return null;
        }
        if (data.AsSpan().IndexOf((byte)0) >= 0)
            diagnostics.Add(PatternChecks.Warn(path, 0, 0, "nul", "the file contains NUL bytes: libwrap cuts lines there"));
        return CompiledTable.Compile(path, data);
    }

    private static void CheckTable(CompiledTable table, bool isDeny, CheckOptions options, TcpdchkCritique critique, List<Diagnostic> d,
        List<RuleSummary> rules, List<(TableEntry Entry, string File)> allowDecisive)
    {
        var file = table.Path;
        var broad = new List<TableEntry>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        int? stoppedAt = null;
        foreach (var e in table.Entries)
        {
            if (stoppedAt is { } stop)
            {
                d.Add(PatternChecks.Error(file, e.Line, 1, "unreachable", $"never read: libwrap stops reading this table at line {stop}"));
                continue;
            }
            switch (e.Kind)
            {
                case EntryKind.Stop:
                    stoppedAt = e.Line;
                    // Reported at libwrap's line count, as tcpd and tcpdchk log it: xgets() counts a line
                    // only when it reads its newline, so that is the last complete line before this one.
                    d.Add(PatternChecks.Error(file, e.Line, 1, "line-too-long",
                        $"missing newline or line longer than {LogicalLineReader.BufferLength - 1} bytes at physical line {e.FirstLine}: libwrap ignores this line and every line after it"
                        + (isDeny ? ", and refuses every client that reaches it" : ""),
                        "end the file with a newline and split long lines with a backslash"));
                    continue;
                case EntryKind.Skip:
                    d.Add(PatternChecks.Warn(file, e.Line, 1, "missing-colon",
                        "missing \":\" separator: libwrap ignores this line", "write daemon_list : client_list [: options]"));
                    continue;
            }
            var clientEnd = e.OptionsOffset < 0 ? e.Text.Length : e.OptionsOffset - 1;
            critique.Rule(e.Text[..(e.ClientOffset - 1)], e.Text[e.ClientOffset..clientEnd], e.ClientOffset, file, e.Line, d);
            var refused = CheckRule(e, file, isDeny, options, d);
            Shadowed(e, file, broad, seen, isDeny ? allowDecisive : null, d);
            // A rule whose options end in a command the host runs (aclexec) may still fall through to hosts.deny.
            if (!isDeny && !(e.Options?.Steps.Any(s => s.Definition?.Phase == OptionPhase.CarryOut) ?? false))
                allowDecisive.Add((e, file));
            rules.Add(Summary(e, file, isDeny, refused));
        }
    }

    /// <summary>Checks one rule; true when libwrap refuses access whenever it matches (an option it rejects).</summary>
    private static bool CheckRule(TableEntry e, string file, bool isDeny, CheckOptions options, List<Diagnostic> d)
    {
        foreach (var group in e.Daemons!.Groups)
        {
            foreach (var p in group)
            {
                if (p.Host is not null)
                    PatternChecks.Host(p.Host, p.Token[(p.Token.IndexOf('@', 1) + 1)..], file, e.Line, p.Column, d);
            }
        }
        foreach (var group in e.Clients!.Groups)
        {
            foreach (var p in group)
                PatternChecks.Host(p.Host, p.User is null ? p.Token : p.Token[(p.Token.IndexOf('@', 1) + 1)..], file, e.Line, p.Column, d);
        }
        PatternChecks.UnbracketedIpv6(e.Text, e.ClientOffset, file, e.Line, d);
        if (e.Options is { } opts)
            return OptionChecks.Check(opts, e, file, isDeny, options, d);
        if (!isDeny && options.RequireExplicitAllow)
            d.Add(PatternChecks.Warn(file, e.Line, 1, "implicit-allow", "grants access without an explicit allow option", "end the rule with : allow"));
        return false;
    }

    private static void Shadowed(TableEntry e, string file, List<TableEntry> broad, Dictionary<string, int> seen,
        List<(TableEntry Entry, string File)>? allowDecisive, List<Diagnostic> d)
    {
        var key = Shadowing.Key(e);
        if (key is not null && seen.TryGetValue(key, out var dup))
        {
            d.Add(PatternChecks.Warn(file, e.Line, 1, "shadowed", $"never matches: line {dup} has the same daemon and client lists", "remove this line"));
            return;
        }
        foreach (var b in broad)
        {
            if (Shadowing.Covers(b, e))
            {
                d.Add(PatternChecks.Warn(file, e.Line, 1, "shadowed", $"never matches: line {b.Line} above matches everything it matches", "move it above that line, or remove it"));
                return;
            }
        }
        if (allowDecisive is not null)
        {
            foreach (var (a, allowFile) in allowDecisive)
            {
                if (Shadowing.IsBroad(a) && Shadowing.Covers(a, e))
                {
                    d.Add(PatternChecks.Warn(file, e.Line, 1, "shadowed", $"never matches: {allowFile} line {a.Line} decides every request it matches first"));
                    return;
                }
            }
        }
        if (key is not null)
            seen.TryAdd(key, e.Line);
        if (Shadowing.IsBroad(e))
            broad.Add(e);
    }

    private static RuleSummary Summary(TableEntry e, string file, bool isDeny, bool refused)
    {
        var colon = Tokens.SplitAt(e.Text, ':');
        var daemons = string.Join(' ', Tokens.Split(e.Text[..colon], 0).Select(t => t.Token));
        var clientEnd = e.OptionsOffset > 0 ? e.OptionsOffset - 1 : e.Text.Length;
        var clients = string.Join(' ', Tokens.Split(e.Text[e.ClientOffset..clientEnd], 0).Select(t => t.Token));
        var opts = e.Options?.Steps.Select(s => s.Value is null ? s.Key : $"{s.Key} {s.Value}").ToList() ?? [];
        var access = VerdictWords.Of(!isDeny);
        if (e.Options is { } o)
        {
            foreach (var s in o.Steps)
            {
                if (s.Error is not null)
                {
                    access = VerdictWords.Denied;
                    break;
                }
                // allow and deny settle the verdict whichever table they are in (the table's Settles column).
                if (s.Definition?.Settles is { } settled)
                    access = VerdictWords.Of(settled == Verdict.Granted);
                // twist: tcpdchk's dry run only clears dry_run, so the listing keeps the table's own verdict
                // (granted in hosts.allow, denied in hosts.deny); "delegated" is tcpdmatch's word, not tcpdchk's.
            }
        }
        // tcpdchk -v: any option libwrap rejects (tcpd_jump) makes the verdict "denied" (tcpdchk.c parse_table).
        return new RuleSummary(file, e.Line, daemons, clients, opts, refused ? VerdictWords.Denied : access);
    }
}
