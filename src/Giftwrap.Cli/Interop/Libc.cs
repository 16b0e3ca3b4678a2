// The giftwrap command's own doorway into the C library: what tcpdmatch and tcpdchk ask the
// name service directly (getnameinfo, and the netgroup enumeration innetgr() does not offer).
// Each call declared once, constants under their netdb.h names; sockaddr_in and sockaddr_in6
// are written as bytes at the offsets below, which tests assert. glibc on 64-bit Linux.
using System.Runtime.InteropServices;

namespace Giftwrap.Cli.Interop;

internal static partial class Libc
{
    private const string Library = "libc.so.6";

    // netdb.h
    public const int NiMaxHost = 1025;
    public const int NiNameReqd = 8;

    // sys/socket.h, netinet/in.h: the two socket addresses, family first (host order).
    public const ushort AfInet = 2;
    public const ushort AfInet6 = 10;
    public const int SockAddrInSize = 16, SinAddrOffset = 4;
    public const int SockAddrIn6Size = 28, Sin6AddrOffset = 8, Sin6ScopeIdOffset = 24;

    [LibraryImport(Library)]
    public static partial int getnameinfo(byte[] sa, int salen, byte[] host, int hostlen, byte[]? serv, int servlen, int flags);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int setnetgrent(string netgroup);

    [LibraryImport(Library)]
    public static partial int getnetgrent(out nint host, out nint user, out nint domain);

    [LibraryImport(Library)]
    public static partial void endnetgrent();
}
