// The gate's one doorway into the C library, apart from Actions/ (the process launcher, which
// carries its own): the relay's epoll, eventfd, non-blocking sockets and splice(2); a datagram
// service's recvfrom; tcpd mode's last steps before execve(). Thin declarations only, each once:
// errors come back as -1 and errno (Errno), and the caller decides what each means. Constants
// carry their C header's name in PascalCase; they are the same on x86-64 and arm64 (Linux's
// asm-generic values). Struct layouts live beside: Epoll.cs (which differs per architecture),
// SockAddr.cs, Passwd and Group below; tests assert their sizes.
using System.Runtime.InteropServices;

namespace Giftwrap.Gate.Interop;

internal static unsafe partial class Libc
{
    private const string Library = "libc.so.6";

    // errno.h
    public const int EPerm = 1;
    public const int EIntr = 4;
    public const int EAgain = 11;
    public const int ENoMem = 12;
    public const int EInval = 22;
    public const int ENFile = 23;
    public const int EMFile = 24;
    public const int ENoSys = 38;
    public const int EAfNoSupport = 97;
    public const int EConnAborted = 103;
    public const int ENoBufs = 105;
    public const int ENotConn = 107;
    public const int ETimedOut = 110;
    public const int EInProgress = 115;
    public const int ECanceled = 125;

    // sys/epoll.h
    public const uint EpollIn = 0x1;
    public const uint EpollOut = 0x4;
    public const uint EpollErr = 0x8;
    public const uint EpollHup = 0x10;
    public const uint EpollRdHup = 0x2000;
    public const uint EpollExclusive = 1u << 28;
    public const uint EpollEt = 1u << 31;
    public const int EpollCtlAdd = 1;
    public const int EpollCtlDel = 2;

    // sys/socket.h, netinet/in.h, netinet/tcp.h
    public const int AfInet = 2;
    public const int AfInet6 = 10;
    public const int SockStream = 1;
    public const int SockDgram = 2;
    public const int SockNonBlock = 0x800;
    public const int SockCloexec = 0x80000;
    public const int SolSocket = 1;
    public const int SoReuseAddr = 2;
    public const int SoType = 3;
    public const int SoError = 4;
    public const int SoAcceptConn = 30;
    public const int IpProtoTcp = 6;
    public const int TcpNoDelay = 1;
    // Transparent connects (ip(7), ipv6(7)): IP_TRANSPARENT at SOL_IP, IPV6_TRANSPARENT at SOL_IPV6;
    // IP_BIND_ADDRESS_NO_PORT (SOL_IP, IPv6 sockets too) leaves the port to connect(2).
    public const int SolIp = 0;
    public const int SolIpv6 = 41;
    public const int IpTransparent = 19;
    public const int IpBindAddressNoPort = 24;
    public const int Ipv6Transparent = 75;
    public const int ShutWr = 1;
    public const int MsgPeek = 0x2;
    public const int MsgDontWait = 0x40;
    public const int MsgNoSignal = 0x4000;
    public const int MsgMore = 0x8000;

    // fcntl.h, asm-generic/ioctls.h. O_NONBLOCK / O_CLOEXEC: the same bits for eventfd(2), pipe2(2) and epoll_create1(2).
    public const int ONonBlock = 0x800;
    public const int OCloexec = 0x80000;
    public const int FDupFdCloexec = 1030;
    public const int FSetFd = 2;
    public const int FdCloexec = 1;
    public const int FSetPipeSize = 1031;
    public const ulong FionBio = 0x5421;

    // fcntl.h (splice)
    public const uint SpliceFMove = 1;
    public const uint SpliceFNonBlock = 2;

    public static int Errno => Marshal.GetLastPInvokeError();

    /// <summary>O_NONBLOCK on or off (FIONBIO: one call, no F_GETFL first).</summary>
    public static int SetNonBlocking(int fd, bool on)
    {
        var value = on ? 1 : 0;
        return ioctl(fd, FionBio, &value);
    }

    /// <summary>TCP_NODELAY on or off.</summary>
    public static int SetNoDelay(int fd, bool on)
    {
        var value = on ? 1 : 0;
        return setsockopt(fd, IpProtoTcp, TcpNoDelay, &value, sizeof(int));
    }

    [LibraryImport(Library, SetLastError = true)]
    public static partial int epoll_create1(int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int epoll_ctl(int epfd, int op, int fd, void* ev);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int epoll_wait(int epfd, void* events, int maxEvents, int timeout);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int eventfd(uint initval, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint read(int fd, void* buf, nuint count);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint write(int fd, void* buf, nuint count);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int close(int fd);

    // sys/resource.h
    public const int RlimitNofile = 7;

    /// <summary>struct rlimit: rlim_t (unsigned long) soft and hard limits, 16 bytes on 64-bit Linux.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport(Library, SetLastError = true)]
    public static partial int getrlimit(int resource, RLimit* limit);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int accept4(int fd, byte* addr, uint* length, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int getsockname(int fd, byte* addr, uint* length);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int getpeername(int fd, byte* addr, uint* length);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int bind(int fd, byte* addr, uint length);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int connect(int fd, byte* addr, uint length);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint recv(int fd, byte* buf, nuint length, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint recvfrom(int fd, byte* buf, nuint length, int flags, byte* addr, uint* addrLength);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint send(int fd, byte* buf, nuint length, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int shutdown(int fd, int how);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int setsockopt(int fd, int level, int name, int* value, uint length);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int getsockopt(int fd, int level, int name, int* value, uint* length);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int ioctl(int fd, ulong request, int* arg);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int fcntl(int fd, int cmd, int arg);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int pipe2(int* fds, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint splice(int fdIn, long* offIn, int fdOut, long* offOut, nuint length, uint flags);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int execve(string path, byte** argv, byte** envp);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int execv(string path, byte** argv);

    /// <summary>signal(2), for SIGPIPE before an execve(): SIG_DFL is 0.</summary>
    [LibraryImport(Library)]
    public static partial nint signal(int signal, nint handler);

    [LibraryImport(Library)]
    public static partial int umask(int mask);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int nice(int inc);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int setuid(uint uid);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int setgid(uint gid);

    [LibraryImport(Library)]
    public static partial uint getegid();

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int initgroups(string user, uint group);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial Passwd* getpwnam(string name);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial Group* getgrnam(string name);
}

/// <summary>struct passwd (pwd.h), glibc LP64: 48 bytes, pw_uid at 16, pw_gid at 20.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Passwd
{
    public nint Name;
    public nint Password;
    public uint Uid;
    public uint Gid;
    public nint Gecos;
    public nint Dir;
    public nint Shell;
}

/// <summary>struct group (grp.h), glibc LP64: 32 bytes, gr_gid at 16.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Group
{
    public nint Name;
    public nint Password;
    public uint Gid;
    public nint Members;
}
