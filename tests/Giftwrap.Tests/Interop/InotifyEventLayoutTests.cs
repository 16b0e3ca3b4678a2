// struct inotify_event's fixed part as the table watcher reads the kernel's events through it:
// 16 bytes, the same on every architecture (include/uapi/linux/inotify.h: four 32-bit fields),
// asserted for the two Giftwrap ships for.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Giftwrap.Interop;

namespace Giftwrap.Tests.Interop;

public sealed class InotifyEventLayoutTests
{
    [Theory]
    [InlineData(Architecture.X64)]
    [InlineData(Architecture.Arm64)]
    public void InotifyEvent_HasTheKernelsLayout(Architecture arch)
    {
        _ = arch; // the kernel's struct is the same on both; listed so a new architecture is added on purpose
        Assert.Equal(16, Unsafe.SizeOf<InotifyEvent>());
        Assert.Equal(0, (int)Marshal.OffsetOf<InotifyEvent>(nameof(InotifyEvent.Wd)));
        Assert.Equal(4, (int)Marshal.OffsetOf<InotifyEvent>(nameof(InotifyEvent.Mask)));
        Assert.Equal(8, (int)Marshal.OffsetOf<InotifyEvent>(nameof(InotifyEvent.Cookie)));
        Assert.Equal(12, (int)Marshal.OffsetOf<InotifyEvent>(nameof(InotifyEvent.Len)));
    }
}
