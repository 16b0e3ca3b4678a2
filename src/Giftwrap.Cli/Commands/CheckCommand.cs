// `giftwrap check`: tcpdchk. Placeholder wiring; the checks live in the core.
using System.CommandLine;

namespace Giftwrap.Cli.Commands;

internal static class CheckCommand
{
    public static Command Create()
    {
        var tables = new TableOptions();
        var command = new Command("check", "Examine the tables for problems (tcpdchk).");
        tables.AddTo(command);
        command.SetAction(result => 0);
        return command;
    }
}
