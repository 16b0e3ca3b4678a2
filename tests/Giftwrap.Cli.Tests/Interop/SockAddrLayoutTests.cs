// The socket addresses tcpdmatch's getnameinfo() is handed (HostLookups builds them as bytes):
// sizes and offsets as the kernel's, checked against what .NET serialises for the same endpoint.
using System.Net;
using Giftwrap.Cli.Interop;

namespace Giftwrap.Cli.Tests.Interop;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SockAddrLayoutTests
{
    [Fact]
    public void SockaddrIn_IsWhatDotNetSerializes()
    {
        var sa = new IPEndPoint(IPAddress.Parse("192.0.2.7"), 0).Serialize();
        Assert.Equal(Libc.SockAddrInSize, sa.Size);
        Assert.Equal(Libc.AfInet, BitConverter.ToUInt16(sa.Buffer.Span));
        Assert.Equal([192, 0, 2, 7], sa.Buffer.Span.Slice(Libc.SinAddrOffset, 4).ToArray());
    }

    [Fact]
    public void SockaddrIn6_IsWhatDotNetSerializes()
    {
        var address = IPAddress.Parse("fe80::1%3");
        var sa = new IPEndPoint(address, 0).Serialize();
        Assert.Equal(Libc.SockAddrIn6Size, sa.Size);
        Assert.Equal(Libc.AfInet6, BitConverter.ToUInt16(sa.Buffer.Span));
        Assert.Equal(address.GetAddressBytes(), sa.Buffer.Span.Slice(Libc.Sin6AddrOffset, 16).ToArray());
        Assert.Equal(3u, BitConverter.ToUInt32(sa.Buffer.Span[Libc.Sin6ScopeIdOffset..]));
    }
}
