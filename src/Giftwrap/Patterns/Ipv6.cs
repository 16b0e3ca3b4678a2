// IPv6 text as inet_pton(AF_INET6) reads it, and prefix comparison. .NET's parser
// is more liberal (scope ids, brackets, IPv4 text), so its input is screened first.
using System.Net;
using System.Net.Sockets;

namespace Giftwrap.Patterns;

internal static class Ipv6
{
    public static bool TryParse(ReadOnlySpan<char> s, out UInt128 address)
    {
        address = 0;
        if (s.Length < 2 || s.Length > 45 || s.IndexOf(':') < 0)
            return false;
        foreach (var c in s)
        {
            if (!(char.IsAsciiHexDigit(c) || c == ':' || c == '.'))
                return false;
        }
        // inet_pton allows at most 4 hex digits per group.
        var run = 0;
        foreach (var c in s)
        {
            run = c is ':' or '.' ? 0 : run + 1;
            if (run > 4)
                return false;
        }
        if (!IPAddress.TryParse(s, out var ip) || ip.AddressFamily != AddressFamily.InterNetworkV6)
            return false;
        Span<byte> bytes = stackalloc byte[16];
        ip.TryWriteBytes(bytes, out _);
        address = System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(bytes);
        return true;
    }

    public static UInt128 Mask(int prefixLength) =>
        prefixLength <= 0 ? UInt128.Zero : prefixLength >= 128 ? UInt128.MaxValue : UInt128.MaxValue << (128 - prefixLength);
}
