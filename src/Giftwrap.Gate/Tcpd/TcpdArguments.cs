// tcpd mode's command line, read without a command-line library: tcpd mode starts once per
// connection, so its arguments are a handful of `--name value` switches and then the real
// daemon with its own arguments. Anything else is left to the caller to report.
using System.Net;

namespace Giftwrap.Gate.Tcpd;

/// <summary>What `giftwrap tcpd` and `giftwrap-tcpd` were asked to do.</summary>
public sealed record TcpdArguments(TcpdOptions Options, IPEndPoint? DnsServer, int IdentPort, string[] Daemon)
{
    /// <summary>The switches that take a value.</summary>
    public static readonly string[] ValueSwitches = ["--allow", "--deny", "--dir", "--dns", "--ident-port", "--decision-log"];

    /// <summary>The usage line.</summary>
    public const string Usage = "usage: giftwrap tcpd [--allow FILE] [--deny FILE] [--dir DIR] [--dns ADDR:PORT] [--ident-port N] [--decision-log FILE] daemon [args...]";

    /// <summary>
    /// Reads switches up to the daemon name (or `--`); everything from the daemon name on is
    /// the daemon's. Returns null with <paramref name="error"/> set for an unknown switch, a
    /// missing value, a bad value or no daemon.
    /// </summary>
    public static TcpdArguments? Parse(ReadOnlySpan<string> args, out string? error)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var i = 0;
        for (; i < args.Length; i++)
        {
            if (args[i] == "--")
            {
                i++;
                break;
            }
            if (!args[i].StartsWith('-'))
                break;
            if (!ValueSwitches.Contains(args[i]))
                return Fail($"unknown option {args[i]}", out error);
            if (i + 1 >= args.Length)
                return Fail($"{args[i]} needs a value", out error);
            values[args[i]] = args[++i];
        }
        if (i >= args.Length)
            return Fail("no daemon given", out error);
        IPEndPoint? server = null;
        if (values.TryGetValue("--dns", out var d) && !IPEndPoint.TryParse(d, out server))
            return Fail($"--dns {d}: not address:port", out error);
        var identPort = 113;
        if (values.TryGetValue("--ident-port", out var p) && (!int.TryParse(p, out identPort) || identPort is < 1 or > 65535))
            return Fail($"--ident-port {p}: not a port number", out error);
        error = null;
        var options = new TcpdOptions
        {
            Allow = values.GetValueOrDefault("--allow") ?? "/etc/hosts.allow",
            Deny = values.GetValueOrDefault("--deny") ?? "/etc/hosts.deny",
            DaemonDirectory = values.GetValueOrDefault("--dir") ?? Environment.GetEnvironmentVariable("GIFTWRAP_DAEMON_DIR") ?? "/usr/sbin",
            DecisionLog = values.GetValueOrDefault("--decision-log"),
        };
        return new TcpdArguments(options, server, identPort, args[i..].ToArray());
    }

    private static TcpdArguments? Fail(string message, out string? error)
    {
        error = message;
        return null;
    }
}
