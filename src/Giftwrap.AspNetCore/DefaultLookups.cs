// The lookups rules may need, built from GiftwrapOptions: verified reverse DNS (the system
// resolver, or the DNS server named) and RFC 1413 ident, all from Giftwrap.Net. The gate
// builds the same pair from its configuration file; neither needs the other's code.
using System.Net;
using Giftwrap.Decisions;
using Giftwrap.Net;
using Giftwrap.Net.Dns;
using Giftwrap.Net.Ident;

namespace Giftwrap.AspNetCore;

internal static class DefaultLookups
{
    /// <summary>Verified reverse DNS through <paramref name="dnsServer"/> (null: the system resolver) and ident on <paramref name="identPort"/>.</summary>
    public static IRequestLookups Create(IPEndPoint? dnsServer, TimeSpan dnsTimeout, int identPort)
    {
        IDnsClient dns = dnsServer is null ? SystemDnsClient.Instance : new UdpDnsClient(dnsServer);
        var verifier = new HostNameVerifier(dns, new HostNameVerifierOptions { Timeout = dnsTimeout });
        return new RequestLookups(verifier, new IdentClient(identPort));
    }
}
