// The `giftwrap` command: one program, one subcommand per job. This file only starts it:
// tcpd mode first (it runs once per connection and skips the full parser), then the
// command tree that Commands/GiftwrapCommand.cs builds.
using Giftwrap.Cli.Commands;

if (await TcpdCommand.TryRunFastAsync(args).ConfigureAwait(false) is { } tcpdStatus)
    return tcpdStatus;

return await GiftwrapCommand.Create().Parse(TcpdCommand.Protect(args)).InvokeAsync().ConfigureAwait(false);
