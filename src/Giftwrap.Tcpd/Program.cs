// `giftwrap-tcpd`: the same tcpd mode as `giftwrap tcpd`, in a binary of its own that
// starts in about the time libwrap's tcpd does. inetd.conf: `... nowait root
// /usr/local/sbin/giftwrap-tcpd in.fingerd`. Help and the full option parser live in
// `giftwrap tcpd --help`.
using Giftwrap.Gate.Connections;
using Giftwrap.Gate.Tcpd;

if (TcpdArguments.Parse(args, out var error) is not { } parsed)
{
    await Console.Error.WriteLineAsync($"giftwrap-tcpd: {error}\n{TcpdArguments.Usage.Replace("giftwrap tcpd", "giftwrap-tcpd", StringComparison.Ordinal)}").ConfigureAwait(false);
    return 2;
}
var lookups = GateLookups.Create(parsed.DnsServer, TimeSpan.FromSeconds(5), parsed.IdentPort);
return await TcpdMode.RunAsync(parsed.Daemon, parsed.Options, lookups).ConfigureAwait(false);
