// The lookups the gate and tcpd mode perform: verified reverse DNS (through the
// system resolver, or the DNS server the configuration names) and RFC 1413 ident.
using Giftwrap.Decisions;
using Giftwrap.Gate.Config;
using Giftwrap.Net;
using Giftwrap.Net.Dns;
using Giftwrap.Net.Ident;

namespace Giftwrap.Gate.Connections;

/// <summary>Builds the lookups of the gate and of tcpd mode.</summary>
public static class GateLookups
{
    /// <summary>The lookups a gate configuration asks for.</summary>
    public static IRequestLookups Create(GateConfig config) =>
        Create(config.DnsServer, config.DnsTimeout, config.IdentPort);

    /// <summary>Verified reverse DNS through <paramref name="dnsServer"/> (null: the system resolver) and ident on <paramref name="identPort"/>.</summary>
    public static IRequestLookups Create(System.Net.IPEndPoint? dnsServer, TimeSpan dnsTimeout, int identPort)
    {
        IDnsClient dns = dnsServer is null ? SystemDnsClient.Instance : new UdpDnsClient(dnsServer);
        var verifier = new HostNameVerifier(dns, new HostNameVerifierOptions { Timeout = dnsTimeout });
        return new RequestLookups(verifier, new IdentClient(identPort));
    }
}
