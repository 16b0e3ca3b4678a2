// Giftwrap.Net's doorway into the C library: the syslog socket (socket, connect, send, close on a
// plain descriptor), the system resolver (getaddrinfo, getnameinfo) and the kernel's random bytes
// (getrandom, for DNS query ids), each declared once, with the constants they take under their C
// header's names and glibc's struct addrinfo as a type whose size and offsets tests assert. Linux (glibc) on 64-bit: the same values on x86-64 and arm64.
using System.Runtime.InteropServices;

namespace Giftwrap.Net.Interop;

internal static partial class Libc
{
    private const string Library = "libc.so.6";

    // errno.h
    public const int EIntr = 4;
    public const int EAgain = 11;
    public const int ENoBufs = 105;
    public const int ENotConn = 107;

    // sys/socket.h, sys/un.h
    public const int AfUnix = 1;
    public const int AfInet = 2;
    public const int AfInet6 = 10;
    public const int SockStream = 1;
    public const int SockDgram = 2;
    public const int SockNonBlock = 0x800;
    public const int SockCloExec = 0x80000;
    public const int MsgNoSignal = 0x4000;
    /// <summary>sizeof(sockaddr_un.sun_path); the path follows the 2-byte family.</summary>
    public const int SunPathLength = 108;

    // netdb.h
    public const int NiMaxHost = 1025;
    public const int NiNameReqd = 8;
    public const int AiPassive = 1;
    public const int AiCanonName = 2;
    public const int EaiNoName = -2;
    public const int EaiNoData = -5;
    public const int EaiAddrFamily = -9;

    [LibraryImport(Library, SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int connect(int fd, byte[] address, uint length);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint send(int fd, byte[] buffer, nuint length, int flags);

    [LibraryImport(Library)]
    public static partial int close(int fd);

    /// <summary>getrandom(2), GLIBC_2.25: flags 0 reads the urandom source, blocking only until it is first seeded.</summary>
    [LibraryImport(Library, SetLastError = true)]
    public static partial nint getrandom(ref byte buffer, nuint length, uint flags);

    [LibraryImport(Library)]
    public static partial int getaddrinfo(ref byte node, nint service, ref AddrInfo hints, out nint res);

    [LibraryImport(Library)]
    public static partial void freeaddrinfo(nint res);

    [LibraryImport(Library)]
    public static partial int getnameinfo(ref byte sa, uint salen, ref byte host, uint hostlen, nint serv, uint servlen, int flags);
}

/// <summary>glibc's struct addrinfo (netdb.h). LP64: 48 bytes, the pointers at 24, 32 and 40.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct AddrInfo
{
    public int Flags;
    public int Family;
    public int SockType;
    public int Protocol;
    public uint AddrLen;
    public nint Addr;
    public nint CanonName;
    public nint Next;
}
