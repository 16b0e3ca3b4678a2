// struct sockaddr_in and sockaddr_in6 as the kernel reads and writes them (family in host
// order, port in network order), to and from IPEndPoint. Other families are not ours: null.
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Giftwrap.Gate.Interop;

internal static unsafe class SockAddr
{
    /// <summary>sizeof(struct sockaddr_in): family, port, 4-byte address at 4, zero padding.</summary>
    public const int In4Size = 16;
    /// <summary>sizeof(struct sockaddr_in6): family, port, flow info, 16-byte address at 8, scope id at 24.</summary>
    public const int In6Size = 28;
    /// <summary>sizeof(struct sockaddr_storage): room for any address the kernel hands back.</summary>
    public const int StorageSize = 128;
    private const int In4Address = 4, In6Address = 8, In6ScopeId = 24;

    /// <summary>The endpoint in <paramref name="sa"/>, or null when it is not a whole IPv4/IPv6 address.</summary>
    public static IPEndPoint? ToEndPoint(ReadOnlySpan<byte> sa)
    {
        if (sa.Length < 2)
            return null;
        var port = sa.Length >= 4 ? BinaryPrimitives.ReadUInt16BigEndian(sa[2..]) : 0;
        return BitConverter.ToUInt16(sa) switch
        {
            Libc.AfInet when sa.Length >= In4Size => new IPEndPoint(new IPAddress(sa.Slice(In4Address, 4)), port),
            Libc.AfInet6 when sa.Length >= In6Size => new IPEndPoint(new IPAddress(sa.Slice(In6Address, 16), BinaryPrimitives.ReadUInt32LittleEndian(sa[In6ScopeId..])), port),
            _ => null,
        };
    }

    /// <summary>Writes <paramref name="ep"/> into <paramref name="sa"/> (<see cref="In6Size"/> bytes of room); returns the length used.</summary>
    public static uint Write(IPEndPoint ep, Span<byte> sa)
    {
        sa.Clear();
        if (ep.AddressFamily == AddressFamily.InterNetworkV6)
        {
            BitConverter.TryWriteBytes(sa, (ushort)Libc.AfInet6);
            BinaryPrimitives.WriteUInt16BigEndian(sa[2..], (ushort)ep.Port);
            ep.Address.TryWriteBytes(sa[In6Address..In6ScopeId], out _);
            BitConverter.TryWriteBytes(sa[In6ScopeId..], (uint)ep.Address.ScopeId);
            return In6Size;
        }
        BitConverter.TryWriteBytes(sa, (ushort)Libc.AfInet);
        BinaryPrimitives.WriteUInt16BigEndian(sa[2..], (ushort)ep.Port);
        ep.Address.TryWriteBytes(sa[In4Address..(In4Address + 4)], out _);
        return In4Size;
    }

    /// <summary>getsockname(2) of <paramref name="fd"/>, or null.</summary>
    public static IPEndPoint? Local(int fd) => Read(fd, peer: false);

    /// <summary>getpeername(2) of <paramref name="fd"/>, or null.</summary>
    public static IPEndPoint? Peer(int fd) => Read(fd, peer: true);

    private static IPEndPoint? Read(int fd, bool peer)
    {
        var sa = stackalloc byte[StorageSize];
        var length = (uint)StorageSize;
        var rc = peer ? Libc.getpeername(fd, sa, &length) : Libc.getsockname(fd, sa, &length);
        return rc == 0 ? ToEndPoint(new ReadOnlySpan<byte>(sa, (int)Math.Min(length, (uint)StorageSize))) : null;
    }
}
