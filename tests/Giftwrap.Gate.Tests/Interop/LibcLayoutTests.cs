// The gate's C structures other than epoll_event (see EpollLayoutTests) at glibc's sizes and
// offsets on both architectures Giftwrap ships for, x86-64 and arm64 (both LP64: the same numbers,
// asserted per architecture so a third one has to be added here on purpose), and read back from
// the system's own user and group databases against id(1) and getent(1).
using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Giftwrap.Gate.Interop;

namespace Giftwrap.Gate.Tests.Interop;

public sealed class LibcLayoutTests
{
    // (struct, size, field, offset) as glibc lays them out on each architecture.
    private static readonly Dictionary<Architecture, (string Struct, int Size, string Field, int Offset)[]> Glibc = new()
    {
        [Architecture.X64] = [("passwd", 48, "Uid", 16), ("passwd", 48, "Gid", 20), ("passwd", 48, "Shell", 40), ("group", 32, "Gid", 16), ("group", 32, "Members", 24)],
        [Architecture.Arm64] = [("passwd", 48, "Uid", 16), ("passwd", 48, "Gid", 20), ("passwd", 48, "Shell", 40), ("group", 32, "Gid", 16), ("group", 32, "Members", 24)],
    };

    [Theory]
    [InlineData(Architecture.X64)]
    [InlineData(Architecture.Arm64)]
    public void PasswdAndGroup_HaveGlibcsLayout(Architecture arch)
    {
        foreach (var (name, size, field, offset) in Glibc[arch])
        {
            var (actualSize, actualOffset) = name == "passwd"
                ? (Unsafe.SizeOf<Passwd>(), (int)Marshal.OffsetOf<Passwd>(field))
                : (Unsafe.SizeOf<Group>(), (int)Marshal.OffsetOf<Group>(field));
            Assert.Equal(size, actualSize);
            Assert.Equal(offset, actualOffset);
        }
    }

    [Fact]
    public void ThisArchitecture_IsOneWhoseLayoutsAreKnown() =>
        Assert.True(Glibc.ContainsKey(RuntimeInformation.ProcessArchitecture), $"no layouts for {RuntimeInformation.ProcessArchitecture}");

    [Fact]
    public unsafe void Getrlimit_ReadsTheSoftLimit_AsProcSelfLimitsShowsIt()
    {
        // struct rlimit: two rlim_t (unsigned long), 16 bytes on both LP64 architectures.
        Assert.Equal(16, sizeof(Libc.RLimit));
        Libc.RLimit limit;
        Assert.Equal(0, Libc.getrlimit(Libc.RlimitNofile, &limit));
        var line = File.ReadAllLines("/proc/self/limits").Single(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        Assert.Equal(line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0], limit.Current.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public unsafe void Getpwnam_ReadsUidAndGid_AsId1Does()
    {
        var pw = Libc.getpwnam("nobody");
        Assert.True(pw is not null);
        Assert.Equal(uint.Parse(Run("id", "-u", "nobody")), pw->Uid);
        Assert.Equal(uint.Parse(Run("id", "-g", "nobody")), pw->Gid);
        Assert.Equal("nobody", Marshal.PtrToStringUTF8(pw->Name));
        Assert.True(Libc.getpwnam("no-such-user-giftwrap") is null);
    }

    [Fact]
    public unsafe void Getgrnam_ReadsGid_AsGetentDoes()
    {
        var gr = Libc.getgrnam("nogroup");
        Assert.True(gr is not null);
        Assert.Equal(uint.Parse(Run("getent", "group", "nogroup").Split(':')[2]), gr->Gid);
        Assert.True(Libc.getgrnam("no-such-group-giftwrap") is null);
    }

    [Theory]
    [InlineData("127.0.0.1", 80)]
    [InlineData("::1", 8080)]
    [InlineData("fe80::1%1", 22)]
    public void SockAddr_WritesWhatDotNetSerializes_AndReadsItBack(string address, int port)
    {
        var ep = new IPEndPoint(IPAddress.Parse(address), port);
        var expected = ep.Serialize();
        Span<byte> sa = stackalloc byte[SockAddr.In6Size];
        var length = SockAddr.Write(ep, sa);
        Assert.Equal(expected.Size, (int)length);
        Assert.True(expected.Buffer.Span[..expected.Size].SequenceEqual(sa[..(int)length]));
        Assert.Equal(ep, SockAddr.ToEndPoint(sa[..(int)length]));
        Assert.True(SockAddr.StorageSize >= SockAddr.In6Size);
    }

    private static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return output.Trim();
    }
}
