// `giftwrap-tcpd`: the same tcpd mode as `giftwrap tcpd`, in a binary of its own that
// starts in about the time libwrap's tcpd does. It reads its arguments the way tcpd(8)
// does when inetd names the real daemon as argv[0] (`... nowait root
// /usr/local/sbin/giftwrap-tcpd in.fingerd -w`, tcpd's own line with the path changed),
// and as `giftwrap tcpd` does when argv[0] is its own name (`giftwrap-tcpd [options]
// /usr/sbin/in.fingerd -w`). Help and the full option parser live in `giftwrap tcpd --help`.
using Giftwrap.Gate.Connections;
using Giftwrap.Gate.Tcpd;

var argv0 = Environment.GetCommandLineArgs()[0];
var words = Path.GetFileName(argv0).StartsWith("giftwrap-tcpd", StringComparison.Ordinal) ? args : ["--", argv0, .. args];
if (TcpdArguments.Parse(words, out var error) is not { } parsed)
{
    StandardError.WriteLine($"giftwrap-tcpd: {error}\n{TcpdArguments.Usage.Replace("giftwrap tcpd", "giftwrap-tcpd", StringComparison.Ordinal)}");
    return 2;
}
var lookups = GateLookups.Create(parsed.DnsServer, TimeSpan.FromSeconds(5), parsed.IdentPort);
return await TcpdMode.RunAsync(parsed.Daemon, parsed.Options, lookups).ConfigureAwait(false);
