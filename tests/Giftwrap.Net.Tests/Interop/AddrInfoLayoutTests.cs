// glibc's struct addrinfo as SystemDnsClient reads getaddrinfo's list through it: 48 bytes with the
// pointers at 24, 32 and 40 on both architectures Giftwrap ships for (LP64), and a real lookup of
// "localhost" walked through it.
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Giftwrap.Net.Dns;
using Giftwrap.Net.Interop;

namespace Giftwrap.Net.Tests.Interop;

public sealed class AddrInfoLayoutTests
{
    private static readonly Dictionary<Architecture, (int Size, int Addr, int CanonName, int Next)> Glibc = new()
    {
        [Architecture.X64] = (48, 24, 32, 40),
        [Architecture.Arm64] = (48, 24, 32, 40),
    };

    [Theory]
    [InlineData(Architecture.X64)]
    [InlineData(Architecture.Arm64)]
    public void AddrInfo_HasGlibcsLayout(Architecture arch)
    {
        var (size, addr, canon, next) = Glibc[arch];
        Assert.Equal(size, Unsafe.SizeOf<AddrInfo>());
        Assert.Equal(16, (int)Marshal.OffsetOf<AddrInfo>(nameof(AddrInfo.AddrLen)));
        Assert.Equal(addr, (int)Marshal.OffsetOf<AddrInfo>(nameof(AddrInfo.Addr)));
        Assert.Equal(canon, (int)Marshal.OffsetOf<AddrInfo>(nameof(AddrInfo.CanonName)));
        Assert.Equal(next, (int)Marshal.OffsetOf<AddrInfo>(nameof(AddrInfo.Next)));
    }

    [Fact]
    public void ThisArchitecture_IsOneWhoseLayoutIsKnown() => Assert.Contains(RuntimeInformation.ProcessArchitecture, Glibc.Keys);

    [Fact]
    public void GetAddrInfo_WalksARealAnswer()
    {
        var answer = SystemDnsClient.GetAddrInfo("localhost", AddressFamily.InterNetwork);
        Assert.Contains(IPAddress.Loopback, answer.Addresses);
        Assert.False(string.IsNullOrEmpty(answer.CanonicalName));
    }

}
