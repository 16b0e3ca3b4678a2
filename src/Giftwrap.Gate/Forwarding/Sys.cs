// The Linux system calls the relay is built from: epoll, eventfd, non-blocking TCP sockets,
// splice(2) through a pipe. Thin declarations only; errors come back as -1 and errno
// (Marshal.GetLastPInvokeError), and the relay decides what each means.
using System.Runtime.InteropServices;

namespace Giftwrap.Gate.Forwarding;

internal static unsafe partial class Sys
{
    /// <summary>struct epoll_event: packed on x86-64 (12 bytes), as the kernel reads it there.</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    public struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    public const uint EpollIn = 0x1;
    public const uint EpollOut = 0x4;
    public const uint EpollErr = 0x8;
    public const uint EpollHup = 0x10;
    public const uint EpollRdHup = 0x2000;
    public const uint EpollEt = 1u << 31;
    public const uint EpollExclusive = 1u << 28;
    public const int EpollCtlAdd = 1;
    public const int EpollCtlDel = 2;

    public const int AfInet = 2;
    public const int AfInet6 = 10;
    public const int SockStream = 1;
    public const int SockNonBlock = 0x800;
    public const int SockCloexec = 0x80000;
    /// <summary>O_NONBLOCK / O_CLOEXEC: the same bits for eventfd(2), pipe2(2) and epoll_create1(2).</summary>
    public const int ONonBlock = 0x800;
    public const int OCloexec = 0x80000;
    public const int SolSocket = 1;
    public const int SoError = 4;
    public const int IpProtoTcp = 6;
    public const int TcpNoDelay = 1;
    public const int ShutWr = 1;
    public const int MsgNoSignal = 0x4000;
    public const int FDupFdCloexec = 1030;
    public const int FSetPipeSize = 1031;
    public const ulong FionBio = 0x5421;
    public const uint SpliceMove = 1;
    public const uint SpliceNonBlock = 2;

    public const int EIntr = 4;
    public const int EAgain = 11;
    public const int EInval = 22;
    public const int ENoSys = 38;
    public const int EInProgress = 115;
    public const int ETimedOut = 110;
    public const int ECanceled = 125;
    public const int EConnAborted = 103;
    public const int EMFile = 24;
    public const int ENFile = 23;
    public const int ENoBufs = 105;
    public const int ENoMem = 12;

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial int epoll_create1(int flags);

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial int epoll_ctl(int epfd, int op, int fd, EpollEvent* ev);

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial int epoll_wait(int epfd, EpollEvent* events, int maxEvents, int timeout);

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial int eventfd(uint initval, int flags);

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial nint read(int fd, void* buf, nuint count);

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial nint write(int fd, void* buf, nuint count);

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial int accept4(int fd, byte* addr, uint* length, int flags);

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial int getsockname(int fd, byte* addr, uint* length);

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial int getpeername(int fd, byte* addr, uint* length);

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial int connect(int fd, byte* addr, uint length);

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial nint recv(int fd, byte* buf, nuint length, int flags);

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial nint send(int fd, byte* buf, nuint length, int flags);

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial int shutdown(int fd, int how);

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial int setsockopt(int fd, int level, int name, int* value, uint length);

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial int getsockopt(int fd, int level, int name, int* value, uint* length);

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial int ioctl(int fd, ulong request, int* arg);

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial int fcntl(int fd, int cmd, int arg);

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial int pipe2(int* fds, int flags);

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial nint splice(int fdIn, long* offIn, int fdOut, long* offOut, nuint length, uint flags);

    public static int Errno => Marshal.GetLastPInvokeError();

    /// <summary>O_NONBLOCK on or off (FIONBIO: one call, no F_GETFL first).</summary>
    public static int SetNonBlocking(int fd, bool on)
    {
        var value = on ? 1 : 0;
        return ioctl(fd, FionBio, &value);
    }
}
