// The table selection every table command shares: --allow, --deny, and -d for the
// files in the current directory, as tcpdmatch and tcpdchk have it.
using System.CommandLine;
using Giftwrap.Tables;

namespace Giftwrap.Cli.Commands;

internal sealed class TableOptions
{
    public const string DefaultAllow = "/etc/hosts.allow";
    public const string DefaultDeny = "/etc/hosts.deny";

    public Option<string?> Allow { get; } = new("--allow") { Description = "The allow table (default /etc/hosts.allow)." };
    public Option<string?> Deny { get; } = new("--deny") { Description = "The deny table (default /etc/hosts.deny)." };
    public Option<bool> Local { get; } = new("-d") { Description = "Use hosts.allow and hosts.deny in the current directory." };

    public void AddTo(Command command)
    {
        command.Add(Allow);
        command.Add(Deny);
        command.Add(Local);
    }

    /// <summary>Reads and compiles the two tables once (no watching), with a progress note on a terminal.</summary>
    public static AccessTables Compile(string allow, string deny)
    {
        using var progress = TerminalProgress.Start($"compiling {allow} and {deny} ({TerminalProgress.Size(TerminalProgress.FileSize(allow) + TerminalProgress.FileSize(deny))})");
        return new AccessTables(allow, deny, new AccessTablesOptions { Live = false });
    }

    public (string Allow, string Deny) Resolve(ParseResult result)
    {
        var local = result.GetValue(Local);
        var allow = result.GetValue(Allow) ?? (local ? "hosts.allow" : DefaultAllow);
        var deny = result.GetValue(Deny) ?? (local ? "hosts.deny" : DefaultDeny);
        return (allow, deny);
    }

    /// <summary>
    /// Warns of a table that is missing or a directory: libwrap reads either as an empty table, so the
    /// prediction stands, but a misspelt --allow would otherwise predict "granted" without a word.
    /// </summary>
    public static void WarnUnusual(string allow, string deny, TextWriter error)
    {
        foreach (var path in new[] { allow, deny })
        {
            if (Directory.Exists(path))
                error.WriteLine($"giftwrap: warning: {path}: is a directory: libwrap reads it as an empty table");
            else if (!File.Exists(path))
                error.WriteLine($"giftwrap: warning: {path}: no such file: libwrap reads it as an empty table (check the path)");
        }
    }
}
