// `giftwrap tcpd`: tcpd(8) for inetd, xinetd and systemd Accept=yes units.
using System.CommandLine;
using Giftwrap.Gate.Connections;
using Giftwrap.Gate.Tcpd;

namespace Giftwrap.Cli.Commands;

internal static class TcpdCommand
{
    /// <summary>
    /// inetd passes the daemon's own switches after its name (`tcpd in.ftpd -l -a`): everything
    /// from the daemon name on belongs to the daemon, so a `--` is put before it.
    /// </summary>
    public static string[] Protect(string[] args)
    {
        if (args.Length == 0 || args[0] != "tcpd" || args.Contains("--"))
            return args;
        for (var i = 1; i < args.Length; i++)
        {
            if (TcpdArguments.ValueSwitches.Contains(args[i]))
            {
                i++;
                continue;
            }
            if (!args[i].StartsWith('-'))
                return [.. args[..i], "--", .. args[i..]];
        }
        return args;
    }

    /// <summary>
    /// tcpd mode runs once per connection, so it starts without building the whole command
    /// line model: the few options are read here. Returns null when the arguments need the
    /// full parser (help, or a mistake to report).
    /// </summary>
    public static async Task<int?> TryRunFastAsync(string[] args)
    {
        if (args.Length < 2 || args[0] != "tcpd" || TcpdArguments.Parse(args.AsSpan(1), out _) is not { } parsed)
            return null;
        var lookups = GateLookups.Create(parsed.DnsServer, TimeSpan.FromSeconds(5), parsed.IdentPort);
        return await TcpdMode.RunAsync(parsed.Daemon, parsed.Options, lookups).ConfigureAwait(false);
    }

    public static Command Create()
    {
        var allow = new Option<string?>("--allow") { Description = "The allow table (default /etc/hosts.allow)." };
        var deny = new Option<string?>("--deny") { Description = "The deny table (default /etc/hosts.deny)." };
        var dir = new Option<string?>("--dir") { Description = "Where a daemon given by name lives (default /usr/sbin, or $GIFTWRAP_DAEMON_DIR)." };
        var dns = new Option<string?>("--dns") { Description = "Resolve names through this DNS server (address:port) instead of the system resolver." };
        var decisionLog = new Option<string?>("--decision-log") { Description = "Append one JSON line per decision to this file." };
        var identPort = new Option<int>("--ident-port") { Description = "The RFC 1413 port to ask (default 113).", DefaultValueFactory = _ => 113 };
        var daemon = new Argument<string[]>("daemon") { Arity = ArgumentArity.OneOrMore, Description = "The real daemon (path or name) and its arguments." };
        var command = new Command("tcpd", "Wrap one connection on stdin/stdout like tcpd(8), then execute the real daemon.") { allow, deny, dir, dns, identPort, decisionLog, daemon };
        command.SetAction(async (result, ct) =>
        {
            // The options above are for help and for reporting mistakes; the reading itself is
            // TcpdArguments', the same as the fast path's (defaults and checks in one place).
            var words = result.Tokens.Skip(1).Select(t => t.Value).ToArray();
            if (TcpdArguments.Parse(words, out var error) is not { } parsed)
            {
                await Console.Error.WriteLineAsync($"giftwrap tcpd: {error}").ConfigureAwait(false);
                return 2;
            }
            var lookups = GateLookups.Create(parsed.DnsServer, TimeSpan.FromSeconds(5), parsed.IdentPort);
            return await TcpdMode.RunAsync(parsed.Daemon, parsed.Options, lookups).ConfigureAwait(false);
        });
        return command;
    }
}
