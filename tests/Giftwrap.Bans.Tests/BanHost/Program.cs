// `giftwrap ban|unban|bans` exactly as the CLI defines them (Giftwrap.Cli.Commands.BanCommands), in a host of their own for the tests.
using System.CommandLine;
using Giftwrap.Cli.Commands;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

if (args is ["stream", .. var rest])
    return StoreStream.Run(rest);

var root = new RootCommand("giftwrap ban commands (test host)");
foreach (var c in BanCommands.Create())
    root.Subcommands.Add(c);
return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
