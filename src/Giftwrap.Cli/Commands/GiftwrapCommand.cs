// The whole command tree of `giftwrap`: every subcommand under one root, which also carries
// System.CommandLine's --help, --version and [suggest] directive (shell completion asks it).
// Kept apart from Program.cs so tests can walk the tree and check every symbol is described.
using System.CommandLine;

namespace Giftwrap.Cli.Commands;

internal static class GiftwrapCommand
{
    public static RootCommand Create()
    {
        var root = new RootCommand("Giftwrap: TCP Wrappers access control (hosts.allow / hosts.deny) for modern Linux hosts.")
        {
            MatchCommand.Create(),
            CheckCommand.Create(),
            ExplainCommand.Create(),
            ReplayCommand.Create(),
            ServeCommand.Create(),
            TcpdCommand.Create(),
            KernelCommand.Create(),
        };
        foreach (var c in EditCommand.Create())
            root.Add(c);
        foreach (var c in BanCommands.Create())
            root.Add(c);
        root.Add(CompletionCommand.Create());
        return root;
    }
}
