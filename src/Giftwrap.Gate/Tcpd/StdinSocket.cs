// The connection tcpd mode was started with, read straight from descriptor 0 with
// getpeername(2) and getsockname(2). No .NET Socket is built for it unless an option
// needs one: the first Socket of a process starts the runtime's I/O thread, which a
// program that lives for one decision and then execs has no use for.
using System.Net;
using System.Runtime.InteropServices;

namespace Giftwrap.Gate.Tcpd;

internal static partial class StdinSocket
{
    /// <summary>The peer and local TCP endpoints of descriptor 0, or null when it is not an IPv4/IPv6 socket.</summary>
    public static (IPEndPoint Remote, IPEndPoint Local)? Endpoints()
    {
        var remote = Read(peer: true);
        var local = Read(peer: false);
        return remote is null || local is null ? null : (remote, local);
    }

    private static IPEndPoint? Read(bool peer)
    {
        // Room for a sockaddr_in6 (28 bytes) and more.
        Span<byte> sa = stackalloc byte[128];
        var length = (uint)sa.Length;
        var rc = peer ? getpeername(0, ref MemoryMarshal.GetReference(sa), ref length) : getsockname(0, ref MemoryMarshal.GetReference(sa), ref length);
        if (rc != 0)
            return null;
        return Forwarding.SockAddr.ToEndPoint(sa[..(int)Math.Min(length, (uint)sa.Length)]);
    }

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int getpeername(int fd, ref byte address, ref uint length);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int getsockname(int fd, ref byte address, ref uint length);
}
