// The lookups the gate and tcpd mode perform: verified reverse DNS (through the
// system resolver, or the DNS server the configuration names) and RFC 1413 ident.
using Giftwrap.Decisions;
using Giftwrap.Gate.Config;
using Giftwrap.Net;
using Giftwrap.Net.Dns;
using Giftwrap.Net.Ident;

namespace Giftwrap.Cli.Commands;

internal static class GateLookups
{
    public static IRequestLookups Create(GateConfig config) =>
        Create(config.DnsServer, config.DnsTimeout, config.IdentPort);

    public static IRequestLookups Create(System.Net.IPEndPoint? dnsServer, TimeSpan dnsTimeout, int identPort)
    {
        IDnsClient dns = dnsServer is null ? SystemDnsClient.Instance : new UdpDnsClient(dnsServer);
        var verifier = new HostNameVerifier(dns, new HostNameVerifierOptions { Timeout = dnsTimeout });
        return new RequestLookups(verifier, new IdentClient(identPort));
    }
}
