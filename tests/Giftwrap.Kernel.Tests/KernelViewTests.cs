// What the kernel's sets must hold, as data: addresses and prefixes in their sets with the
// bans' expiries, protected addresses cut out, nested prefixes kept outermost (interval sets
// refuse overlaps) with the time to look again, daemon-specific bans left to user space,
// and the nft script that carries them.
using System.Net;
using Giftwrap.Bans;

namespace Giftwrap.Kernel.Tests;

public sealed class KernelViewTests
{
    private const long Now = 1_800_000_000_000;

    private static BanEntry Ban(string target, long? expiresInMs, IReadOnlyList<string>? daemons = null) => new()
    {
        Target = BanTarget.Parse(target),
        Created = DateTimeOffset.FromUnixTimeMilliseconds(Now),
        Expires = expiresInMs is { } x ? DateTimeOffset.FromUnixTimeMilliseconds(Now + x) : null,
        Daemons = daemons,
    };

    [Fact]
    public void Build_AddressesAndPrefixes_GoToTheirSetsWithTheirExpiry()
    {
        var view = KernelView.Build([Ban("192.0.2.1", 1000), Ban("2001:db8::1", null), Ban("10.0.0.0/8", 5000), Ban("2001:db8:1::/48", 7000)], [], Now);
        Assert.Equal(Now + 1000, view.Elements["a4 192.0.2.1"].ExpiresMs);
        Assert.Null(view.Elements["a6 2001:db8::1"].ExpiresMs);
        Assert.Equal(Now + 5000, view.Elements["n4 10.0.0.0/8"].ExpiresMs);
        Assert.Equal(Now + 7000, view.Elements["n6 2001:db8:1::/48"].ExpiresMs);
        Assert.Equal(4, view.Elements.Count);
    }

    [Fact]
    public void Build_IPv6PrefixCutAroundAProtectedIPv4Address_NoIPv4PiecesInTheKernel()
    {
        // ::/64 holds the IPv4-mapped space, where the store never matches an IPv4 client for an IPv6
        // ban (only /96 and longer count). Cut around a protected IPv4 address (the SSH client of a
        // `kernel sync` session), its mapped pieces became IPv4 prefixes: the kernel dropped every
        // IPv4 source but that one, which the store refuses none of.
        var view = KernelView.Build([Ban("::/64", 60_000), Ban("::/0", 60_000)], [BanTarget.Parse("198.51.100.7")], Now);
        Assert.DoesNotContain(view.Elements.Values, e => e.Set is KernelView.Addresses4 or KernelView.Networks4);
        // Nor does such a ban hide an IPv4 prefix ban as nested in it: that one goes to its own set.
        var both = KernelView.Build([Ban("::/64", 60_000), Ban("10.0.0.0/8", 30_000)], [], Now);
        Assert.Equal(Now + 30_000, both.Elements["n4 10.0.0.0/8"].ExpiresMs);
        Assert.Null(both.NextChangeMs);
        Assert.Contains(view.Elements.Values, e => e.Set == KernelView.Networks6);
        Assert.All(view.Elements.Values, e => Assert.False(BanTarget.Parse(e.Value).Contains(IPAddress.Parse("::ffff:198.51.100.7"))));
    }

    [Fact]
    public void Build_ProtectedAddress_NeverInASet_APrefixIsCutAroundIt()
    {
        var protect = new[] { BanTarget.Parse("198.51.100.77"), BanTarget.Parse("192.0.2.9") };
        var view = KernelView.Build([Ban("192.0.2.9", 1000), Ban("198.51.100.0/24", 1000)], protect, Now);
        Assert.DoesNotContain(view.Elements.Keys, k => k.StartsWith("a4", StringComparison.Ordinal));
        var pieces = view.Elements.Values.Select(e => BanTarget.Parse(e.Value)).ToList();
        Assert.DoesNotContain(pieces, p => p.Contains(IPAddress.Parse("198.51.100.77")));
        // Every other address of the /24 is still covered, by the largest prefixes around the hole.
        for (var i = 0; i < 256; i++)
            Assert.Equal(i != 77, pieces.Any(p => p.Contains(IPAddress.Parse($"198.51.100.{i}"))));
        Assert.Equal(8, pieces.Count);
    }

    [Fact]
    public void Build_NestedPrefixes_KeepTheOutermost_AndSayWhenTheInnerComesOut()
    {
        var view = KernelView.Build([Ban("10.0.0.0/8", 1000), Ban("10.1.0.0/16", 9000), Ban("10.2.0.0/16", 500)], [], Now);
        Assert.Equal(["n4 10.0.0.0/8"], view.Elements.Keys);
        // The /16 that outlives the /8 must reach the kernel when the /8 expires.
        Assert.Equal(Now + 1000, view.NextChangeMs);
    }

    [Fact]
    public void Build_DaemonSpecificAndExpiredBans_StayOutOfTheKernel()
    {
        var view = KernelView.Build([Ban("192.0.2.1", 1000, ["sshd"]), Ban("192.0.2.2", -1)], [], Now);
        Assert.Empty(view.Elements);
        Assert.Equal(1, view.LeftToUserSpace);
    }

    [Fact]
    public void SshClient_FromSshConnectionOrSshClient()
    {
        Assert.Equal(IPAddress.Parse("203.0.113.5"), KernelOptions.SshClient(n => n == "SSH_CONNECTION" ? "203.0.113.5 50000 192.0.2.1 22" : null));
        Assert.Equal(IPAddress.Parse("2001:db8::5"), KernelOptions.SshClient(n => n == "SSH_CLIENT" ? "2001:db8::5 50000 22" : null));
        Assert.Null(KernelOptions.SshClient(_ => "garbage"));
        var protect = KernelOptions.ProtectedFor(new BanOptions(), n => n == "SSH_CONNECTION" ? "203.0.113.5 1 2 3" : null);
        Assert.Contains(BanTarget.Parse("203.0.113.5"), protect);
        Assert.Contains(BanTarget.Parse("127.0.0.0/8"), protect);
    }

    [Fact]
    public void Table_NamesOnlyOurTable_TimeoutsAreTheTimeLeft_PortsNarrowTheDrop()
    {
        var view = KernelView.Build([Ban("192.0.2.1", 90_000)], [], Now);
        var script = NftScript.Table(view, [22, 21], [new DaemonRefusals("in.ftpd\"x", [21], ["192.0.2.0/24"], [])], Now);
        foreach (var line in script.Split('\n').Where(l => l.Contains("table ", StringComparison.Ordinal) || l.Contains("element ", StringComparison.Ordinal)))
            Assert.Contains("inet giftwrap", line, StringComparison.Ordinal);
        Assert.Contains("192.0.2.1 timeout 90000ms", script, StringComparison.Ordinal);
        // Prerouting: only packets for this host are dropped, the route lookup last (only for banned sources).
        Assert.Contains("type filter hook prerouting priority raw - 10;", script, StringComparison.Ordinal);
        Assert.Contains("tcp dport { 22, 21 } ip saddr @a4 fib daddr type local drop", script, StringComparison.Ordinal);
        Assert.Contains("tcp dport { 21 } ip saddr @r0_4 fib daddr type local drop", script, StringComparison.Ordinal);
        // The input hook (a kernel without fib) sees local packets only: no fib there.
        var input = NftScript.Table(view, [22, 21], [], Now, KernelHook.Input);
        Assert.Contains("type filter hook input priority filter - 10;", input, StringComparison.Ordinal);
        Assert.Contains("tcp dport { 22, 21 } ip saddr @a4 drop", input, StringComparison.Ordinal);
        Assert.DoesNotContain("fib", input, StringComparison.Ordinal);
        // A daemon name cannot end the set's comment early.
        Assert.Contains("comment \"in.ftpdx\"", script, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(128, 'x', 128)]
    [InlineData(129, 'x', 128)]
    [InlineData(64, '\u00e9', 64)]
    [InlineData(65, '\u00e9', 64)]
    public void Comment_CutToNftsLimitOf128Bytes_AtACharactersBoundary(int count, char c, int kept)
    {
        // nft refuses a comment past 128 bytes (not characters): 'é' is two bytes in UTF-8.
        var comment = NftScript.Comment(new string(c, count));
        Assert.Equal(new string(c, kept), comment);
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(comment) <= 128);
    }
}
