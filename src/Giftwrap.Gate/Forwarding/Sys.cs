// The Linux system calls the relay is built from: epoll, eventfd, non-blocking TCP sockets,
// splice(2) through a pipe. Thin declarations only; errors come back as -1 and errno
// (Marshal.GetLastPInvokeError), and the relay decides what each means.
using System.Runtime.InteropServices;

namespace Giftwrap.Gate.Forwarding;

internal static unsafe partial class Sys
{
    // struct epoll_event is { u32 events; u64 data; }, declared __EPOLL_PACKED on x86-64 only
    // (include/uapi/linux/eventpoll.h): 12 bytes there, data at 4. On arm64, riscv64 and
    // loongarch64 it has natural alignment: 16 bytes, data at 8, and epoll_wait(2) writes 16 bytes
    // per event. The relay reads events through EventFlags/EventData and writes them through
    // EpollCtl, which pick the layout by RuntimeInformation.ProcessArchitecture: a constant to the
    // JIT and to NativeAOT (CoreLib is built per architecture), so the x86-64 code is the packed
    // struct's alone, as before. CheckEpoll proves the choice against the running kernel once.

    /// <summary>struct epoll_event on x86-64: packed, 12 bytes, data at offset 4.</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    public struct EpollEventPacked
    {
        public uint Events;
        public ulong Data;
    }

    /// <summary>struct epoll_event on the other 64-bit architectures (arm64, riscv64, loongarch64): 16 bytes, data at offset 8.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 16)]
    public struct EpollEventAligned
    {
        [FieldOffset(0)] public uint Events;
        [FieldOffset(8)] public ulong Data;
    }

    /// <summary>The kernel's struct epoll_event on <paramref name="arch"/>: size and offset of data; null where the relay does not know it.</summary>
    public static (int Size, int DataOffset)? KernelEpollLayout(Architecture arch) => arch switch
    {
        Architecture.X64 => (12, 4),
        Architecture.Arm64 or Architecture.RiscV64 or Architecture.LoongArch64 => (16, 8),
        _ => null,
    };

    /// <summary>Whether this process uses the packed (x86-64) layout.</summary>
    public static bool EpollPacked => RuntimeInformation.ProcessArchitecture == Architecture.X64;

    /// <summary>The size of one struct epoll_event in this process.</summary>
    public static int EpollEventSize => EpollPacked ? sizeof(EpollEventPacked) : sizeof(EpollEventAligned);

    public static uint EventFlags(void* events, int i) =>
        EpollPacked ? ((EpollEventPacked*)events)[i].Events : ((EpollEventAligned*)events)[i].Events;

    public static ulong EventData(void* events, int i) =>
        EpollPacked ? ((EpollEventPacked*)events)[i].Data : ((EpollEventAligned*)events)[i].Data;

    /// <summary>epoll_ctl(2) with an event built in this architecture's layout.</summary>
    public static int EpollCtl(int epfd, int op, int fd, uint events, ulong data)
    {
        if (EpollPacked)
        {
            var packed = new EpollEventPacked { Events = events, Data = data };
            return epoll_ctl(epfd, op, fd, &packed);
        }
        var aligned = new EpollEventAligned { Events = events, Data = data };
        return epoll_ctl(epfd, op, fd, &aligned);
    }

    private static string? s_epollError;
    private static int s_epollChecked;

    /// <summary>
    /// Null when the struct epoll_event this process uses is the running kernel's, else one line saying
    /// what differs: the architecture must be one whose layout is known, the struct must have that size
    /// and offset, and <see cref="ProbeEpoll"/> must read an event back at them. Computed once.
    /// </summary>
    public static string? EpollLayoutError()
    {
        if (Volatile.Read(ref s_epollChecked) != 0)
            return s_epollError;
        var arch = RuntimeInformation.ProcessArchitecture;
        string? error;
        if (KernelEpollLayout(arch) is not var (size, dataOffset))
        {
            error = $"the relay does not know struct epoll_event on {arch}";
        }
        else
        {
            var (name, actualSize, actualOffset) = EpollPacked
                ? (nameof(EpollEventPacked), sizeof(EpollEventPacked), (int)Marshal.OffsetOf<EpollEventPacked>(nameof(EpollEventPacked.Data)))
                : (nameof(EpollEventAligned), sizeof(EpollEventAligned), (int)Marshal.OffsetOf<EpollEventAligned>(nameof(EpollEventAligned.Data)));
            error = actualSize != size || actualOffset != dataOffset
                ? $"{name} is {actualSize} bytes with data at {actualOffset}; the kernel's on {arch} is {size} with data at {dataOffset}"
                : ProbeEpoll(size, dataOffset);
        }
        s_epollError = error;
        Volatile.Write(ref s_epollChecked, 1);
        return error;
    }

    /// <summary>Throws PlatformNotSupportedException with one line when <see cref="EpollLayoutError"/> has something to say.</summary>
    public static void EnsureEpollLayout()
    {
        if (EpollLayoutError() is { } error)
            throw new PlatformNotSupportedException($"{error}; the relay will not start rather than misread the kernel's events");
    }

    /// <summary>
    /// Asks the kernel for one event (an eventfd made readable, registered with a known data word) into
    /// a buffer of two events' room filled with a marker, and reads it back as a struct of
    /// <paramref name="size"/> bytes with data at <paramref name="dataOffset"/>: null when the flags and
    /// data read back and the kernel wrote nothing past the first <paramref name="size"/> bytes.
    /// </summary>
    public static string? ProbeEpoll(int size, int dataOffset)
    {
        const ulong magic = 0x0123_4567_89AB_CDEF;
        const byte marker = 0xA5;
        const int room = 32;
        var epfd = epoll_create1(OCloexec);
        if (epfd < 0)
            return $"epoll_create1 failed: {Marshal.GetPInvokeErrorMessage(Errno)}";
        var efd = eventfd(1, ONonBlock | OCloexec);
        try
        {
            if (efd < 0)
                return $"eventfd failed: {Marshal.GetPInvokeErrorMessage(Errno)}";
            // Registered through a buffer of the layout under test: the kernel reads data from its own offset.
            var buffer = stackalloc byte[room];
            new Span<byte>(buffer, room).Clear();
            *(uint*)buffer = EpollIn;
            System.Runtime.CompilerServices.Unsafe.WriteUnaligned(buffer + dataOffset, magic);
            if (epoll_ctl(epfd, EpollCtlAdd, efd, buffer) != 0)
                return $"epoll_ctl failed: {Marshal.GetPInvokeErrorMessage(Errno)}";
            new Span<byte>(buffer, room).Fill(marker);
            var n = epoll_wait(epfd, buffer, 1, 0);
            if (n != 1)
                return $"epoll_wait returned {n} events for one ready eventfd";
            var flags = *(uint*)buffer;
            var data = System.Runtime.CompilerServices.Unsafe.ReadUnaligned<ulong>(buffer + dataOffset);
            if (flags != EpollIn || data != magic)
                return $"an epoll event read as {size} bytes with data at {dataOffset} came back as events {flags:x}, data {data:x} (wanted {EpollIn:x}, {magic:x})";
            for (var i = size; i < room; i++)
            {
                if (buffer[i] != marker)
                    return $"the kernel wrote past the {size} bytes of one epoll event (byte {i})";
            }
            return null;
        }
        finally
        {
            if (efd >= 0)
                _ = close(efd);
            _ = close(epfd);
        }
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
    // Transparent connects (ip(7), ipv6(7)): IP_TRANSPARENT at SOL_IP, IPV6_TRANSPARENT at SOL_IPV6;
    // IP_BIND_ADDRESS_NO_PORT (SOL_IP, IPv6 sockets too) leaves the port to connect(2).
    public const int SolIp = 0;
    public const int SolIpv6 = 41;
    public const int IpTransparent = 19;
    public const int Ipv6Transparent = 75;
    public const int IpBindAddressNoPort = 24;
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
    public const int EPerm = 1;
    public const int EAfNoSupport = 97;
    public const int ENotConn = 107;

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial int epoll_create1(int flags);

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial int epoll_ctl(int epfd, int op, int fd, void* ev);

    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial int epoll_wait(int epfd, void* events, int maxEvents, int timeout);

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
    public static partial int bind(int fd, byte* addr, uint length);

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
