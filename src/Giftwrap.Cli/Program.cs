// The `giftwrap` command: one program, one subcommand per job. This file only wires
// the subcommands; each lives in Commands/.
using System.CommandLine;
using Giftwrap.Cli.Commands;

if (await TcpdCommand.TryRunFastAsync(args).ConfigureAwait(false) is { } tcpdStatus)
    return tcpdStatus;

var root = new RootCommand("Giftwrap: TCP Wrappers access control (hosts.allow / hosts.deny) for modern Linux hosts.")
{
    MatchCommand.Create(),
    CheckCommand.Create(),
    ExplainCommand.Create(),
    ReplayCommand.Create(),
    ServeCommand.Create(),
    TcpdCommand.Create(),
};
foreach (var c in EditCommand.Create())
    root.Add(c);
foreach (var c in BanCommands.Create())
    root.Add(c);
return await root.Parse(TcpdCommand.Protect(args)).InvokeAsync().ConfigureAwait(false);
