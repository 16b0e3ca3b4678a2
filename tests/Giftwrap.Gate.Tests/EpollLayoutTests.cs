// struct epoll_event per architecture: 12 bytes packed with data at 4 on x86-64, 16 with data at 8
// on arm64 (and riscv64, loongarch64). Both definitions are checked whatever this machine is, and
// the running kernel is asked to write an event: the layout of this machine's architecture reads it
// back, the other one does not (on arm64 the packed one would let the kernel write past the buffer).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Giftwrap.Gate.Forwarding;

namespace Giftwrap.Gate.Tests;

public sealed class EpollLayoutTests
{
    [Fact]
    public void BothDefinitions_HaveTheKernelsSizesAndOffsets()
    {
        Assert.Equal(12, Unsafe.SizeOf<Sys.EpollEventPacked>());
        Assert.Equal(4, (int)Marshal.OffsetOf<Sys.EpollEventPacked>(nameof(Sys.EpollEventPacked.Data)));
        Assert.Equal(16, Unsafe.SizeOf<Sys.EpollEventAligned>());
        Assert.Equal(8, (int)Marshal.OffsetOf<Sys.EpollEventAligned>(nameof(Sys.EpollEventAligned.Data)));
    }

    [Fact]
    public void KernelLayout_PerArchitecture()
    {
        Assert.Equal((12, 4), Sys.KernelEpollLayout(Architecture.X64));
        Assert.Equal((16, 8), Sys.KernelEpollLayout(Architecture.Arm64));
        Assert.Equal((16, 8), Sys.KernelEpollLayout(Architecture.RiscV64));
        // 32-bit and unverified architectures: unknown, so the relay refuses to start there.
        Assert.Null(Sys.KernelEpollLayout(Architecture.X86));
        Assert.Null(Sys.KernelEpollLayout(Architecture.Arm));
        Assert.Null(Sys.KernelEpollLayout(Architecture.S390x));
    }

    [Fact]
    public void ThisProcess_UsesItsArchitecturesLayout_AndTheCheckPasses()
    {
        var (size, _) = Sys.KernelEpollLayout(RuntimeInformation.ProcessArchitecture)!.Value;
        Assert.Equal(size, Sys.EpollEventSize);
        Assert.Equal(RuntimeInformation.ProcessArchitecture == Architecture.X64, Sys.EpollPacked);
        Assert.Null(Sys.EpollLayoutError());
    }

    [Fact]
    public void Probe_ReadsBackWithThisArchitecturesLayout_NotTheOther()
    {
        var here = Sys.KernelEpollLayout(RuntimeInformation.ProcessArchitecture)!.Value;
        var other = here.Size == 12 ? (Size: 16, DataOffset: 8) : (Size: 12, DataOffset: 4);
        Assert.Null(Sys.ProbeEpoll(here.Size, here.DataOffset));
        var error = Sys.ProbeEpoll(other.Size, other.DataOffset);
        Assert.NotNull(error);
        Assert.DoesNotContain('\n', error);
    }

    [Fact]
    public unsafe void EventAccessors_ReadEachEventOfABuffer()
    {
        // Three events written as the kernel would on this architecture; read back by index.
        var size = Sys.EpollEventSize;
        var offset = Sys.KernelEpollLayout(RuntimeInformation.ProcessArchitecture)!.Value.DataOffset;
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
                Assert.Equal((uint)(0x10 + i), Sys.EventFlags(p, i));
                Assert.Equal(0x1122334455667700UL + (ulong)i, Sys.EventData(p, i));
            }
        }
    }
}
