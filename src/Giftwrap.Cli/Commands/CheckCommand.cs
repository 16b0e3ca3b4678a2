// `giftwrap check`: tcpdchk. Lists every problem in the tables as file:line:column
// with a suggested fix (and, with -v, every rule), and exits non-zero on errors. The
// configuration's errors are serve's own (Settings.ForTools), reported here, not re-checked.
using System.CommandLine;
using System.Text;
using System.Text.Json;
using Giftwrap.Checks;
using Giftwrap.Rules;

namespace Giftwrap.Cli.Commands;

internal static class CheckCommand
{
    public static Command Create()
    {
        var tables = new TableOptions();
        var verbose = new Option<bool>("-v") { Description = "List every rule: daemons, clients, options, access." };
        var explicitAllow = new Option<bool>("-a") { Description = "Report hosts.allow rules that grant access without an explicit allow option." };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };
        var config = new Option<string?>("--config") { Description = $"The configuration, checked by the rules serve holds it to; its [safety] keep lists clients that must stay granted (default {ServeCommand.DefaultConfig} when it exists)." };
        var inetd = new Option<string?>("-i") { Description = $"The inetd.conf that says which daemons are wrapped (default {InetdConf.DefaultPath}), as tcpdchk -i." };
        var noDns = new Option<bool>("--no-dns") { Description = "Skip tcpdchk's name service checks of host names, addresses and netgroups (for large tables)." };
        var command = new Command("check", "Examine the tables for problems (tcpdchk), and for lockouts.") { verbose, explicitAllow, json, config, inetd, noDns };
        tables.AddTo(command);
        command.SetAction(result =>
        {
            var (allow, deny) = tables.Resolve(result);
            CheckReport report;
            using (TerminalProgress.Start($"checking {allow} and {deny} ({TerminalProgress.Size(TerminalProgress.FileSize(allow) + TerminalProgress.FileSize(deny))})"))
            {
                var (configPath, settings) = ReadConfig(result.GetValue(config));
                report = TableChecker.Check(allow, deny, new CheckOptions
                {
                    RequireExplicitAllow = result.GetValue(explicitAllow),
                    Lookups = result.GetValue(noDns) ? null : HostLookups.Instance,
                    InetdConf = result.GetValue(inetd),
                    // The daemons of the gate's [service:NAME] sections: Giftwrap wraps them, whatever inetd.conf says.
                    WrappedDaemons = [.. settings.Gate.Services.Select(s => s.Daemon)],
                });
                report = report with { Diagnostics = [.. report.Diagnostics.Select(MissingIsWarning), .. Configuration(configPath, settings), .. Lockouts(allow, deny, configPath, settings)] };
            }
            Console.Out.Write(result.GetValue(json) ? Json(report) : Text(report, result.GetValue(verbose)));
            return report.HasErrors ? 1 : 0;
        });
        return command;
    }

    /// <summary>
    /// The configuration, read as serve reads it and held to serve's rules (one reader, one set of
    /// checks): an explicit --config must exist; the default one is used when it exists.
    /// </summary>
    private static (string Path, ServeSettings Settings) ReadConfig(string? configPath) =>
        (configPath ?? ServeCommand.DefaultConfig, Settings.ForTools(configPath ?? ServeCommand.DefaultConfig, missingIsEmpty: configPath is null));

    /// <summary>
    /// What serve would refuse that is not an error of the file itself (a ban store that is a
    /// file), and the one thing check allows that serve does not: no [service:NAME] at all. A
    /// configuration kept only for [safety] keep is a fine one to check with, so that is a note
    /// (shown with -v), not a warning an operator would learn to ignore.
    /// </summary>
    private static List<Diagnostic> Configuration(string configPath, ServeSettings settings)
    {
        var notes = new List<Diagnostic>();
        if (settings.File.Errors.Count == 0 && Settings.StoreKindError(settings) is { } kind)
            notes.Add(Settings.AsDiagnostic(kind));
        if (settings.File.Exists && settings.Gate.Services.Count == 0)
            notes.Add(new Diagnostic(configPath, 0, 0, DiagnosticSeverity.Info, "config", "no [service:NAME] section: check reads only [safety] keep from it; giftwrap serve would refuse it (nothing to guard)"));
        return notes;
    }

    /// <summary>
    /// A missing table is empty to libwrap, as a directory is; both deserve the same warning (a
    /// misspelt --allow would otherwise check nothing and pass).
    /// </summary>
    private static Diagnostic MissingIsWarning(Diagnostic d) =>
        d.Code == "missing" && d.Line == 0 && d.Severity == DiagnosticSeverity.Info
            ? d with { Severity = DiagnosticSeverity.Warning, Message = "no such file: libwrap reads it as an empty table (check the path)" }
            : d;

    /// <summary>The lockout check of edit: the configuration read and checked as check reads it.</summary>
    internal static List<Diagnostic> Lockouts(string allow, string deny, string? configPath)
    {
        var (path, settings) = ReadConfig(configPath);
        return Lockouts(allow, deny, path, settings);
    }

    /// <summary>The lockout check: this SSH session and [safety] keep must still be granted.</summary>
    private static List<Diagnostic> Lockouts(string allow, string deny, string configPath, ServeSettings settings)
    {
        var problems = new List<Diagnostic>();
        var keep = new List<KeepRule>();
        if (LockoutCheck.FromSshConnection(Environment.GetEnvironmentVariable("SSH_CONNECTION")) is { } ssh)
            keep.Add(ssh);
        // An explicit --config must be readable and valid; the default one is used when it exists,
        // and then it must be valid too: a broken configuration fails the check instead of
        // silently skipping the lockout check. Valid means what serve would take (serve's readers
        // collected every error), so a check that passes is not followed by a gate that refuses.
        var file = settings.File;
        if (file.Errors.Count > 0)
        {
            // Each mistake is one error, at its file:line; that the lockout check could not be made
            // is their consequence, said once as a warning (a second error would count one mistake twice).
            problems.AddRange(file.Errors.Select(Settings.AsDiagnostic));
            problems.Add(new Diagnostic(configPath, 0, 0, DiagnosticSeverity.Warning, "config", "the lockout check of [safety] keep was not made: the configuration has errors"));
            return problems;
        }
        // Parsed again only for its rules: a valid file has a valid keep.
        keep.AddRange(Settings.Keep(file));
        if (keep.Count == 0)
            return problems;
        using var tables = new Giftwrap.Tables.AccessTables(allow, deny, new Giftwrap.Tables.AccessTablesOptions { Live = false });
        problems.AddRange(LockoutCheck.Check(tables, keep));
        return problems;
    }

    internal static string Text(CheckReport report, bool verbose)
    {
        var sb = new StringBuilder();
        if (verbose)
        {
            foreach (var r in report.Rules)
            {
                sb.Append('\n').Append(">>> Rule ").Append(r.File).Append(" line ").Append(r.Line).Append(":\n");
                sb.Append("daemons:  ").Append(r.Daemons).Append('\n');
                sb.Append("clients:  ").Append(r.Clients).Append('\n');
                foreach (var o in r.Options)
                    sb.Append("option:   ").Append(o).Append('\n');
                sb.Append("access:   ").Append(r.Access).Append('\n');
            }
            if (report.Rules.Count > 0)
                sb.Append('\n');
        }
        foreach (var d in report.Diagnostics.Where(d => verbose || d.Severity != DiagnosticSeverity.Info))
            sb.Append(d).Append('\n');
        sb.Append(report.ErrorCount).Append(" error(s), ").Append(report.WarningCount).Append(" warning(s)\n");
        return sb.ToString();
    }

    internal static string Json(CheckReport report)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("diagnostics");
            foreach (var d in report.Diagnostics)
            {
                w.WriteStartObject();
                w.WriteString("file", d.File);
                w.WriteNumber("line", d.Line);
                w.WriteNumber("column", d.Column);
                w.WriteString("severity", d.Severity.ToString().ToLowerInvariant());
                w.WriteString("code", d.Code);
                w.WriteString("message", d.Message);
                if (d.Fix is not null)
                    w.WriteString("fix", d.Fix);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("rules");
            foreach (var r in report.Rules)
            {
                w.WriteStartObject();
                w.WriteString("file", r.File);
                w.WriteNumber("line", r.Line);
                w.WriteString("daemons", r.Daemons);
                w.WriteString("clients", r.Clients);
                w.WriteStartArray("options");
                foreach (var o in r.Options)
                    w.WriteStringValue(o);
                w.WriteEndArray();
                w.WriteString("access", r.Access);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNumber("errors", report.ErrorCount);
            w.WriteNumber("warnings", report.WarningCount);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }
}
