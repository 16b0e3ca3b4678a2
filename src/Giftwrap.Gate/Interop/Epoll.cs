// struct epoll_event, the one layout of the gate's that differs per architecture: both
// definitions, the table of which the kernel uses where, accessors that pick one, and a check
// of the choice against the running kernel before the relay starts. The calls are in Libc.
using System.Runtime.InteropServices;

namespace Giftwrap.Gate.Interop;

internal static unsafe class Epoll
{
    // struct epoll_event is { u32 events; u64 data; }, declared __EPOLL_PACKED on x86-64 only
    // (include/uapi/linux/eventpoll.h): 12 bytes there, data at 4. On arm64, riscv64 and
    // loongarch64 it has natural alignment: 16 bytes, data at 8, and epoll_wait(2) writes 16 bytes
    // per event. The relay reads events through EventFlags/EventData and writes them through
    // Ctl, which pick the layout by RuntimeInformation.ProcessArchitecture: a constant to the
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
    public static (int Size, int DataOffset)? KernelLayout(Architecture arch) => arch switch
    {
        Architecture.X64 => (12, 4),
        Architecture.Arm64 or Architecture.RiscV64 or Architecture.LoongArch64 => (16, 8),
        _ => null,
    };

    /// <summary>Whether this process uses the packed (x86-64) layout.</summary>
    public static bool Packed => RuntimeInformation.ProcessArchitecture == Architecture.X64;

    /// <summary>The size of one struct epoll_event in this process.</summary>
    public static int EventSize => Packed ? sizeof(EpollEventPacked) : sizeof(EpollEventAligned);

    public static uint EventFlags(void* events, int i) =>
        Packed ? ((EpollEventPacked*)events)[i].Events : ((EpollEventAligned*)events)[i].Events;

    public static ulong EventData(void* events, int i) =>
        Packed ? ((EpollEventPacked*)events)[i].Data : ((EpollEventAligned*)events)[i].Data;

    /// <summary>epoll_ctl(2) with an event built in this architecture's layout.</summary>
    public static int Ctl(int epfd, int op, int fd, uint events, ulong data)
    {
        if (Packed)
        {
            var packed = new EpollEventPacked { Events = events, Data = data };
            return Libc.epoll_ctl(epfd, op, fd, &packed);
        }
        var aligned = new EpollEventAligned { Events = events, Data = data };
        return Libc.epoll_ctl(epfd, op, fd, &aligned);
    }

    private static readonly Lazy<string?> LazyLayoutError = new(CheckLayout);

    /// <summary>
    /// Null when the struct epoll_event this process uses is the running kernel's, else one line saying
    /// what differs: the architecture must be one whose layout is known, the struct must have that size
    /// and offset, and <see cref="Probe"/> must read an event back at them. Computed once.
    /// </summary>
    public static string? LayoutError() => LazyLayoutError.Value;

    private static string? CheckLayout()
    {
        var arch = RuntimeInformation.ProcessArchitecture;
        string? error;
        if (KernelLayout(arch) is not var (size, dataOffset))
        {
            error = $"the relay does not know struct epoll_event on {arch}";
        }
        else
        {
            var (name, actualSize, actualOffset) = Packed
                ? (nameof(EpollEventPacked), sizeof(EpollEventPacked), (int)Marshal.OffsetOf<EpollEventPacked>(nameof(EpollEventPacked.Data)))
                : (nameof(EpollEventAligned), sizeof(EpollEventAligned), (int)Marshal.OffsetOf<EpollEventAligned>(nameof(EpollEventAligned.Data)));
            error = actualSize != size || actualOffset != dataOffset
                ? $"{name} is {actualSize} bytes with data at {actualOffset}; the kernel's on {arch} is {size} with data at {dataOffset}"
                : Probe(size, dataOffset);
        }
        return error;
    }

    /// <summary>Throws PlatformNotSupportedException with one line when <see cref="LayoutError"/> has something to say.</summary>
    public static void EnsureLayout()
    {
        if (LayoutError() is { } error)
            throw new PlatformNotSupportedException($"{error}; the relay will not start rather than misread the kernel's events");
    }

    /// <summary>
    /// Asks the kernel for one event (an eventfd made readable, registered with a known data word) into
    /// a buffer of two events' room filled with a marker, and reads it back as a struct of
    /// <paramref name="size"/> bytes with data at <paramref name="dataOffset"/>: null when the flags and
    /// data read back and the kernel wrote nothing past the first <paramref name="size"/> bytes.
    /// </summary>
    public static string? Probe(int size, int dataOffset)
    {
        const ulong magic = 0x0123_4567_89AB_CDEF;
        const byte marker = 0xA5;
        const int room = 32;
        var epfd = Libc.epoll_create1(Libc.OCloexec);
        if (epfd < 0)
            return $"epoll_create1 failed: {Marshal.GetPInvokeErrorMessage(Libc.Errno)}";
        var efd = Libc.eventfd(1, Libc.ONonBlock | Libc.OCloexec);
        try
        {
            if (efd < 0)
                return $"eventfd failed: {Marshal.GetPInvokeErrorMessage(Libc.Errno)}";
            // Registered through a buffer of the layout under test: the kernel reads data from its own offset.
            var buffer = stackalloc byte[room];
            new Span<byte>(buffer, room).Clear();
            *(uint*)buffer = Libc.EpollIn;
            System.Runtime.CompilerServices.Unsafe.WriteUnaligned(buffer + dataOffset, magic);
            if (Libc.epoll_ctl(epfd, Libc.EpollCtlAdd, efd, buffer) != 0)
                return $"epoll_ctl failed: {Marshal.GetPInvokeErrorMessage(Libc.Errno)}";
            new Span<byte>(buffer, room).Fill(marker);
            var n = Libc.epoll_wait(epfd, buffer, 1, 0);
            if (n != 1)
                return $"epoll_wait returned {n} events for one ready eventfd";
            var flags = *(uint*)buffer;
            var data = System.Runtime.CompilerServices.Unsafe.ReadUnaligned<ulong>(buffer + dataOffset);
            if (flags != Libc.EpollIn || data != magic)
                return $"an epoll event read as {size} bytes with data at {dataOffset} came back as events {flags:x}, data {data:x} (wanted {Libc.EpollIn:x}, {magic:x})";
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
                _ = Libc.close(efd);
            _ = Libc.close(epfd);
        }
    }
}
