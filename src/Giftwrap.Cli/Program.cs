// The `giftwrap` command: one program, one subcommand per job. This file only starts it:
// tcpd mode first (it runs once per connection and skips the full parser), then the
// command tree that Commands/GiftwrapCommand.cs builds. A usage error exits 2 with its
// reason, as giftwrap(8) says; an operator error that no command caught (a permission, a
// path, the disk) is one line in words and exit 1, never a .NET stack trace.
using System.CommandLine;
using System.CommandLine.Invocation;
using Giftwrap.Cli.Commands;

if (await TcpdCommand.TryRunFastAsync(args).ConfigureAwait(false) is { } tcpdStatus)
    return tcpdStatus;

// No response files: "@1.2.3.4" is tcpdmatch's client with an empty user, never a file of arguments.
var configuration = new ParserConfiguration { ResponseFileTokenReplacer = null };
var parsed = GiftwrapCommand.Create().Parse(TcpdCommand.Protect(args), configuration);
if (parsed.Errors.Count > 0 && parsed.Action is ParseErrorAction)
{
    foreach (var e in parsed.Errors)
        Console.Error.WriteLine($"giftwrap: {e.Message}");
    Console.Error.WriteLine($"giftwrap: usage error; see giftwrap {parsed.CommandResult.Command.Name switch { "giftwrap" => "", var n => n + " " }}--help");
    return 2;
}
try
{
    var invocation = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
    // serve takes SIGTERM and SIGINT itself and drains for --drain-seconds: System.CommandLine's own
    // handling would also end the process two seconds after the signal (status 143), whatever the drain.
    if (parsed.CommandResult.Command.Name == "serve")
        invocation.ProcessTerminationTimeout = null;
    var status = await parsed.InvokeAsync(invocation).ConfigureAwait(false);
    // serve --help also lists the configuration's keys, from the schema giftwrap.conf(5) documents.
    if (parsed.Action is System.CommandLine.Help.HelpAction && parsed.CommandResult.Command.Name == "serve")
        Console.Out.Write(ServeCommand.KeysHelp());
    return status;
}
catch (Exception ex) when (OperatorError.Describe(ex) is { } line)
{
    // Caught here because the command did not say it better; the reason is still the operator's to fix.
    Console.Error.WriteLine($"giftwrap {parsed.CommandResult.Command.Name}: {line}");
    return 1;
}
