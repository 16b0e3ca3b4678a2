// The table selection every table command shares: --allow, --deny, and -d for the
// files in the current directory, as tcpdmatch and tcpdchk have it.
using System.CommandLine;

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

    public (string Allow, string Deny) Resolve(ParseResult result)
    {
        var local = result.GetValue(Local);
        var allow = result.GetValue(Allow) ?? (local ? "hosts.allow" : DefaultAllow);
        var deny = result.GetValue(Deny) ?? (local ? "hosts.deny" : DefaultDeny);
        return (allow, deny);
    }
}
