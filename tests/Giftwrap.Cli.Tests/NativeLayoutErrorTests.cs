// A native layout the build does not know for the running machine (the relay's struct epoll_event,
// struct statx) stops the command with the check's own line, not as an "internal error".
using Giftwrap.Cli.Commands;

namespace Giftwrap.Cli.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class NativeLayoutErrorTests
{
    [Fact]
    public void LayoutMismatch_IsTheOperatorsLine()
    {
        var ex = new PlatformNotSupportedException("the relay does not know struct epoll_event on S390x; the relay will not start rather than misread the kernel's events");
        Assert.Equal(ex.Message, OperatorError.Describe(ex));
    }
}
