// The `giftwrap` command: one program, one subcommand per job. This file only starts it:
// tcpd mode first (it runs once per connection and skips the full parser), then the
// command tree that Commands/GiftwrapCommand.cs builds.
using Giftwrap.Cli.Commands;

if (await TcpdCommand.TryRunFastAsync(args).ConfigureAwait(false) is { } tcpdStatus)
    return tcpdStatus;

// No response files: "@1.2.3.4" is tcpdmatch's client with an empty user, never a file of arguments.
var configuration = new System.CommandLine.ParserConfiguration { ResponseFileTokenReplacer = null };
return await GiftwrapCommand.Create().Parse(TcpdCommand.Protect(args), configuration).InvokeAsync().ConfigureAwait(false);
