// struct sockaddr_in and sockaddr_in6 as the kernel reads and writes them (family in host
// order, port in network order), to and from IPEndPoint. Other families are not ours: null.
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Giftwrap.Gate.Forwarding;

internal static unsafe class SockAddr
{
    /// <summary>The endpoint in <paramref name="sa"/>, or null when it is not a whole IPv4/IPv6 address.</summary>
    public static IPEndPoint? ToEndPoint(ReadOnlySpan<byte> sa)
    {
        if (sa.Length < 2)
            return null;
        var port = sa.Length >= 4 ? BinaryPrimitives.ReadUInt16BigEndian(sa[2..]) : 0;
        return BitConverter.ToUInt16(sa) switch
        {
            Sys.AfInet when sa.Length >= 16 => new IPEndPoint(new IPAddress(sa.Slice(4, 4)), port),
            Sys.AfInet6 when sa.Length >= 28 => new IPEndPoint(new IPAddress(sa.Slice(8, 16), BinaryPrimitives.ReadUInt32LittleEndian(sa[24..])), port),
            _ => null,
        };
    }

    /// <summary>Writes <paramref name="ep"/> into <paramref name="sa"/> (28 bytes of room); returns the length used.</summary>
    public static uint Write(IPEndPoint ep, Span<byte> sa)
    {
        sa.Clear();
        if (ep.AddressFamily == AddressFamily.InterNetworkV6)
        {
            BitConverter.TryWriteBytes(sa, (ushort)Sys.AfInet6);
            BinaryPrimitives.WriteUInt16BigEndian(sa[2..], (ushort)ep.Port);
            ep.Address.TryWriteBytes(sa[8..24], out _);
            BitConverter.TryWriteBytes(sa[24..], (uint)ep.Address.ScopeId);
            return 28;
        }
        BitConverter.TryWriteBytes(sa, (ushort)Sys.AfInet);
        BinaryPrimitives.WriteUInt16BigEndian(sa[2..], (ushort)ep.Port);
        ep.Address.TryWriteBytes(sa[4..8], out _);
        return 16;
    }

    /// <summary>getsockname(2) of <paramref name="fd"/>, or null.</summary>
    public static IPEndPoint? Local(int fd) => Read(fd, peer: false);

    /// <summary>getpeername(2) of <paramref name="fd"/>, or null.</summary>
    public static IPEndPoint? Peer(int fd) => Read(fd, peer: true);

    private static IPEndPoint? Read(int fd, bool peer)
    {
        // Room for a sockaddr_in6 (28 bytes) and more.
        var sa = stackalloc byte[128];
        var length = 128u;
        var rc = peer ? Sys.getpeername(fd, sa, &length) : Sys.getsockname(fd, sa, &length);
        return rc == 0 ? ToEndPoint(new ReadOnlySpan<byte>(sa, (int)Math.Min(length, 128u))) : null;
    }
}
