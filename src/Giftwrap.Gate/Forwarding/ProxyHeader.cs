// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) that a forward
// service with `proxy_protocol = v1|v2` sends its backend before the first byte of the client:
// the client's address and port, and the address and port the client connected to. The relay
// queues it as the first thing held for the backend (RelayLoop sends what is held before it reads
// the client), so it is whole on the wire before any client byte, splice(2) or not.
// Only TCP over IPv4 and IPv6 are spoken; anything else is said as the spec's "unknown".
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Giftwrap.Gate.Config;

namespace Giftwrap.Gate.Forwarding;

internal static class ProxyHeader
{
    /// <summary>The longest header written: v1's 107 bytes (spec section 2.1); v2 with TCP6 is 52.</summary>
    public const int MaxLength = 107;

    // Spec section 2.2: the 12-byte signature that no v1 header or protocol start can begin with.
    private static ReadOnlySpan<byte> Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    /// <summary>
    /// Writes the header for a connection from <paramref name="source"/> to <paramref name="destination"/>
    /// into <paramref name="dest"/> (at least <see cref="MaxLength"/> bytes); returns its length.
    /// Either endpoint null, or the two of different families, is a connection the gate cannot
    /// describe: v1 says UNKNOWN and v2 LOCAL, and the backend then uses the connection's own
    /// endpoints, as both versions tell a receiver to.
    /// </summary>
    public static int Write(ProxyProtocolVersion version, IPEndPoint? source, IPEndPoint? destination, Span<byte> dest)
    {
        source = Unmapped(source);
        destination = Unmapped(destination);
        var known = source is not null && destination is not null && source.AddressFamily == destination.AddressFamily
            && source.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6;
        return version == ProxyProtocolVersion.V1
            ? WriteV1(known ? source : null, destination, dest)
            : WriteV2(known ? source : null, destination, dest);
    }

    /// <summary>Version 1 (section 2.1): one line of text, "PROXY TCP4 src dst sport dport\r\n".</summary>
    private static int WriteV1(IPEndPoint? source, IPEndPoint? destination, Span<byte> dest)
    {
        // The spec's "UNKNOWN" form: a receiver ignores the rest of the line.
        var line = source is null
            ? "PROXY UNKNOWN\r\n"
            : $"PROXY {(source.AddressFamily == AddressFamily.InterNetworkV6 ? "TCP6" : "TCP4")} {Text(source.Address)} {Text(destination!.Address)} {source.Port} {destination.Port}\r\n";
        return Encoding.ASCII.GetBytes(line, dest);
    }

    /// <summary>
    /// Version 2 (section 2.2): the signature, version 2 with the PROXY command (0x21) or LOCAL
    /// (0x20) when the gate cannot say who the client is, the family and protocol byte (0x11
    /// TCP over IPv4, 0x21 TCP over IPv6, 0x00 unspecified), the length of what follows in network
    /// order, then the two addresses and the two ports in network order. No TLVs.
    /// </summary>
    private static int WriteV2(IPEndPoint? source, IPEndPoint? destination, Span<byte> dest)
    {
        Signature.CopyTo(dest);
        if (source is null)
        {
            dest[12] = 0x20;
            dest[13] = 0x00;
            BinaryPrimitives.WriteUInt16BigEndian(dest[14..], 0);
            return 16;
        }
        var v6 = source.AddressFamily == AddressFamily.InterNetworkV6;
        var size = v6 ? 16 : 4;
        dest[12] = 0x21;
        dest[13] = v6 ? (byte)0x21 : (byte)0x11;
        BinaryPrimitives.WriteUInt16BigEndian(dest[14..], (ushort)(2 * size + 4));
        source.Address.TryWriteBytes(dest[16..], out _);
        destination!.Address.TryWriteBytes(dest[(16 + size)..], out _);
        BinaryPrimitives.WriteUInt16BigEndian(dest[(16 + 2 * size)..], (ushort)source.Port);
        BinaryPrimitives.WriteUInt16BigEndian(dest[(18 + 2 * size)..], (ushort)destination.Port);
        return 16 + 2 * size + 4;
    }

    /// <summary>An IPv4 client on a dual-stack socket is an IPv4 client (TCP4), as the tables see it.</summary>
    private static IPEndPoint? Unmapped(IPEndPoint? ep) =>
        ep is { Address.IsIPv4MappedToIPv6: true } ? new IPEndPoint(ep.Address.MapToIPv4(), ep.Port) : ep;

    /// <summary>The address as the spec writes it: dotted quad, or IPv6 without scope or brackets.</summary>
    private static string Text(IPAddress a) =>
        a.AddressFamily == AddressFamily.InterNetworkV6 && a.ScopeId != 0 ? new IPAddress(a.GetAddressBytes()).ToString() : a.ToString();
}
