// What the linked Net-test peers need from Giftwrap.Net's internals, which are visible
// only to Giftwrap.Net.Tests: DnsTestServer names reverse zones with DnsMessage.ReverseName.
using System.Net;
using System.Text;

namespace Giftwrap.Net.Dns;

/// <summary>The one helper DnsTestServer uses, restated (RFC 1035 3.5, RFC 3596 2.5).</summary>
internal static class DnsMessage
{
    internal static string ReverseName(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        var text = new StringBuilder(72);
        if (bytes.Length == 4)
        {
            for (var i = 3; i >= 0; i--)
                text.Append(bytes[i]).Append('.');
            return text.Append("in-addr.arpa").ToString();
        }
        const string Hex = "0123456789abcdef";
        for (var i = bytes.Length - 1; i >= 0; i--)
            text.Append(Hex[bytes[i] & 0xF]).Append('.').Append(Hex[bytes[i] >> 4]).Append('.');
        return text.Append("ip6.arpa").ToString();
    }
}
