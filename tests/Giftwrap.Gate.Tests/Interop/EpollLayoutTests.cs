// struct epoll_event per architecture: 12 bytes packed with data at 4 on x86-64, 16 with data at 8
// on arm64 (and riscv64, loongarch64). Both definitions are checked whatever this machine is, and
// the running kernel is asked to write an event: the layout of this machine's architecture reads it
// back, the other one does not (on arm64 the packed one would let the kernel write past the buffer).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Giftwrap.Gate.Interop;

namespace Giftwrap.Gate.Tests.Interop;

public sealed class EpollLayoutTests
{
    [Fact]
    public void BothDefinitions_HaveTheKernelsSizesAndOffsets()
    {
        Assert.Equal(12, Unsafe.SizeOf<Epoll.EpollEventPacked>());
        Assert.Equal(4, (int)Marshal.OffsetOf<Epoll.EpollEventPacked>(nameof(Epoll.EpollEventPacked.Data)));
        Assert.Equal(16, Unsafe.SizeOf<Epoll.EpollEventAligned>());
        Assert.Equal(8, (int)Marshal.OffsetOf<Epoll.EpollEventAligned>(nameof(Epoll.EpollEventAligned.Data)));
    }

    [Fact]
    public void KernelLayout_PerArchitecture()
    {
        Assert.Equal((12, 4), Epoll.KernelLayout(Architecture.X64));
        Assert.Equal((16, 8), Epoll.KernelLayout(Architecture.Arm64));
        Assert.Equal((16, 8), Epoll.KernelLayout(Architecture.RiscV64));
        // 32-bit and unverified architectures: unknown, so the relay refuses to start there.
        Assert.Null(Epoll.KernelLayout(Architecture.X86));
        Assert.Null(Epoll.KernelLayout(Architecture.Arm));
        Assert.Null(Epoll.KernelLayout(Architecture.S390x));
    }

    [Fact]
    public void ThisProcess_UsesItsArchitecturesLayout_AndTheCheckPasses()
    {
        var (size, _) = Epoll.KernelLayout(RuntimeInformation.ProcessArchitecture)!.Value;
        Assert.Equal(size, Epoll.EventSize);
        Assert.Equal(RuntimeInformation.ProcessArchitecture == Architecture.X64, Epoll.Packed);
        Assert.Null(Epoll.LayoutError());
    }

    [Fact]
    public void Probe_ReadsBackWithThisArchitecturesLayout_NotTheOther()
    {
        var here = Epoll.KernelLayout(RuntimeInformation.ProcessArchitecture)!.Value;
        var other = here.Size == 12 ? (Size: 16, DataOffset: 8) : (Size: 12, DataOffset: 4);
        Assert.Null(Epoll.Probe(here.Size, here.DataOffset));
        var error = Epoll.Probe(other.Size, other.DataOffset);
        Assert.NotNull(error);
        Assert.DoesNotContain('\n', error);
    }

    [Fact]
    public unsafe void EventAccessors_ReadEachEventOfABuffer()
    {
        // Three events written as the kernel would on this architecture; read back by index.
        var size = Epoll.EventSize;
        var offset = Epoll.KernelLayout(RuntimeInformation.ProcessArchitecture)!.Value.DataOffset;
        var buffer = new byte[3 * size];
        for (var i = 0; i < 3; i++)
        {
            BitConverter.TryWriteBytes(buffer.AsSpan(i * size), (uint)(0x10 + i));
            BitConverter.TryWriteBytes(buffer.AsSpan(i * size + offset), 0x1122334455667700UL + (ulong)i);
        }
        fixed (byte* p = buffer)
        {
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal((uint)(0x10 + i), Epoll.EventFlags(p, i));
                Assert.Equal(0x1122334455667700UL + (ulong)i, Epoll.EventData(p, i));
            }
        }
    }
}
