// AddressRules per pattern kind: what the kernel may drop for one daemon, and what is
// held back with its reason and rule. Each table is read by the real AccessTables.
using System.Net;
using Giftwrap.Analysis;

namespace Giftwrap.Tests.Analysis;

public sealed class AddressRulesTests
{
    private static AddressVerdicts Compile(string allow, string deny, string daemon = "sshd", int port = 22)
    {
        using var files = new TableFiles(allow, deny);
        using var tables = files.Open();
        return AddressRules.Compile(tables, daemon, port);
    }

    private static string Refused(AddressVerdicts v) => string.Join(" ", v.Refused);

    private static bool IsRefused(AddressVerdicts v, string address) => v.IsRefused(IPAddress.Parse(address));

    [Theory]
    [InlineData("ALL: 10.0.0.0/8\n", "10.0.0.0/8")]
    [InlineData("ALL: 10.0.0.0/255.255.255.0\n", "10.0.0.0/24")]
    [InlineData("ALL: 192.168.\n", "192.168.0.0/16")]
    [InlineData("ALL: 1.2.3.4\n", "1.2.3.4/32")]
    [InlineData("sshd: 1.2.3.4 5.6.7.8, 10.0.0.0/31\n", "1.2.3.4/32 5.6.7.8/32 10.0.0.0/31")]
    [InlineData("ALL: 10.0.*\n", "10.0.0.0/16")]
    [InlineData("ALL: 1?.*\n", "10.0.0.0/7 12.0.0.0/6 16.0.0.0/6")]
    [InlineData("ALL: 1.2.3.?\n", "1.2.3.0/29 1.2.3.8/31")]
    [InlineData("ALL: [2001:db8::]/32\n", "2001:db8::/32")]
    [InlineData("ALL: [2001:db8::5]\n", "2001:db8::5/128")]
    [InlineData("22: 10.0.0.0/8\n", "10.0.0.0/8")]
    [InlineData("ALL EXCEPT in.ftpd: 10.0.0.0/8\n", "10.0.0.0/8")]
    [InlineData("ALL: ALL@10.0.0.0/8\n", "10.0.0.0/8")]
    [InlineData("sshd@ALL: 10.0.0.0/8\n", "10.0.0.0/8")]
    [InlineData("ALL: 10.0.0.0/8 : deny\n", "10.0.0.0/8")]
    public void Compile_AddressOnlyDenyRule_RefusesExactlyItsRange(string deny, string refused) =>
        Assert.Equal(refused, Refused(Compile("", deny)));

    [Theory]
    // Text that no connection's address has: "010.0.0.1" and a non-canonical IPv6 spelling never match.
    [InlineData("ALL: 010.0.0.1\n")]
    [InlineData("ALL: 2001:0db8::5\n")]
    [InlineData("ALL: 10.0.0.0/33\n")]
    [InlineData("ALL: 10.0.0.5/255.0.0.0\n")]
    [InlineData("in.ftpd: 10.0.0.0/8\n")]
    [InlineData("21: 10.0.0.0/8\n")]
    // Depends on a lookup: in hosts.deny such a rule may or may not match, and nothing after it refuses.
    [InlineData("ALL: KNOWN\n")]
    [InlineData("ALL: UNKNOWN\n")]
    [InlineData("ALL: PARANOID\n")]
    [InlineData("ALL: LOCAL\n")]
    [InlineData("ALL: .example.com\n")]
    [InlineData("ALL: @admins\n")]
    [InlineData("ALL: /etc/giftwrap-test-patterns\n")]
    [InlineData("ALL: root@10.0.0.0/8\n")]
    [InlineData("sshd@127.0.0.1: 10.0.0.0/8\n")]
    // [fe80::]/10 never matches a scoped link-local address's text ("fe80::1%2"): left to user space.
    [InlineData("ALL: [fe80::]/10\n")]
    public void Compile_RuleThatCannotRefuseByAddress_RefusesNothing(string deny) =>
        Assert.Empty(Compile("", deny).Refused);

    [Fact]
    public void Compile_NumericDaemonWithAnyPort_DependsOnThePort()
    {
        Assert.Empty(Compile("", "22: 10.0.0.0/8\n", port: 0).Refused);
        Assert.Equal("10.0.0.0/8", Refused(Compile("", "22: 10.0.0.0/8\n", port: 22)));
    }

    [Fact]
    public void Compile_AllowBeforeDeny_FirstMatchWins()
    {
        var v = Compile("sshd: 10.0.0.1\n", "ALL: 10.0.0.0/30\n");
        Assert.Equal("10.0.0.0/32 10.0.0.2/31", Refused(v));
        var held = v.HeldFor(IPAddress.Parse("10.0.0.1"))!;
        Assert.Equal(("granted", 1), (held.Reason, held.Line));
        Assert.EndsWith("hosts.allow", held.File);
        Assert.Equal("no rule matches: granted by default", v.HeldFor(IPAddress.Parse("10.0.0.4"))!.Reason);
    }

    [Fact]
    public void Compile_DenyAll_RefusesBothFamiliesButNotMappedOnes()
    {
        var v = Compile("", "ALL: ALL\n");
        Assert.Contains(v.Refused, n => n.ToString() == "0.0.0.0/0");
        Assert.True(IsRefused(v, "2001:db8::1"));
        Assert.True(IsRefused(v, "::"));
        Assert.True(IsRefused(v, "::ffff:10.0.0.1"));
        // ::ffff:0:0/96 is decided as IPv4: in neither list.
        var mapped = IPAddress.Parse("::ffff:10.0.0.1");
        Assert.DoesNotContain(v.Refused, n => AddressVerdicts.Covers(n, mapped));
        Assert.DoesNotContain(v.Held, h => AddressVerdicts.Covers(h.Range, mapped));
        Assert.Contains(v.Refused, n => AddressVerdicts.Covers(n, IPAddress.Parse("::fffe:10.0.0.1")));
        Assert.DoesNotContain(v.Held, h => h.Reason.Length == 0);
    }

    [Fact]
    public void Compile_MappedAddress_DecidedAsIpv4()
    {
        var v = Compile("", "ALL: 10.0.0.1\n");
        Assert.True(IsRefused(v, "::ffff:10.0.0.1"));
        Assert.False(IsRefused(v, "::ffff:10.0.0.2"));
        Assert.Equal("10.0.0.1/32", Refused(v));
    }

    [Fact]
    public void Compile_ExceptNesting_FollowsListMatch()
    {
        // ALL EXCEPT (10/8 EXCEPT 10.1/16): refused everywhere but 10/8, and again inside 10.1/16.
        var v = Compile("", "ALL: ALL EXCEPT 10.0.0.0/8 EXCEPT 10.1.0.0/16\n");
        Assert.True(IsRefused(v, "11.0.0.1"));
        Assert.False(IsRefused(v, "10.2.0.1"));
        Assert.True(IsRefused(v, "10.1.2.3"));
        Assert.True(IsRefused(v, "2001:db8::1"));
    }

    [Fact]
    public void Compile_NonContiguousNetmask_ExpandedExactly()
    {
        var v = Compile("", "ALL: 10.0.0.0/255.255.0.255\n");
        Assert.Equal(256, v.Refused.Count);
        Assert.True(IsRefused(v, "10.0.7.0"));
        Assert.False(IsRefused(v, "10.0.7.1"));
    }

    [Fact]
    public void Compile_NonContiguousNetmaskWithManyFreeBits_Held()
    {
        var v = Compile("sshd: 10.0.0.0/255.0.0.255\n", "ALL: ALL\n");
        Assert.False(IsRefused(v, "10.7.7.0"));
        Assert.False(IsRefused(v, "10.7.7.1"));
        Assert.Contains("non-contiguous", v.HeldFor(IPAddress.Parse("10.7.7.1"))!.Reason);
        Assert.True(IsRefused(v, "11.0.0.0"));
    }

    [Fact]
    public void Compile_NetmaskNeverMatchesBroadcastAddress()
    {
        // dot_quad_addr() reads 255.255.255.255 as INADDR_NONE: no net/mask matches it.
        var v = Compile("", "ALL: 0.0.0.0/0.0.0.0\n");
        Assert.True(IsRefused(v, "255.255.255.254"));
        Assert.False(IsRefused(v, "255.255.255.255"));
        Assert.DoesNotContain(v.Refused, n => n.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6);
    }

    [Theory]
    [InlineData("sshd: KNOWN\n", "the client host name (KNOWN)")]
    [InlineData("sshd: LOCAL\n", "the client host name (LOCAL)")]
    [InlineData("sshd: PARANOID\n", "the client host name")]
    [InlineData("sshd: .example.com\n", "the client host name")]
    [InlineData("sshd: @admins\n", "netgroup @admins")]
    [InlineData("sshd: root@ALL\n", "the client user (RFC 1413)")]
    [InlineData("sshd@127.0.0.1: ALL\n", "the server address or name (daemon@host)")]
    [InlineData("sshd: /etc/giftwrap-test-patterns\n", "the pattern file /etc/giftwrap-test-patterns")]
    public void Compile_AllowRuleThatDependsOnALookup_HoldsEverythingWithItsReason(string allow, string reason)
    {
        var v = Compile(allow, "ALL: ALL\n");
        Assert.Empty(v.Refused);
        var held = v.HeldFor(IPAddress.Parse("192.0.2.1"))!;
        Assert.StartsWith("may be granted: depends on", held.Reason);
        Assert.Contains(reason, held.Reason);
        Assert.Equal(1, held.Line);
    }

    [Fact]
    public void Compile_UserPatternOnRange_HoldsOnlyThatRange()
    {
        var v = Compile("sshd: root@10.0.0.0/8\n", "ALL: ALL\n");
        Assert.False(IsRefused(v, "10.1.1.1"));
        Assert.True(IsRefused(v, "11.1.1.1"));
    }

    [Theory]
    [InlineData("", "ALL: 10.0.0.0/8 : spawn /bin/true\n", "options to carry out (spawn)")]
    [InlineData("", "ALL: 10.0.0.0/8 : twist /bin/echo no\n", "options to carry out (twist)")]
    [InlineData("", "ALL: 10.0.0.0/8 : banners /etc\n", "options to carry out (banners)")]
    [InlineData("", "ALL: 10.0.0.0/8 : ban 1h\n", "options to carry out (ban)")]
    [InlineData("", "ALL: 10.0.0.0/8 : severity auth.info : deny\n", "options to carry out (severity, deny)")]
    [InlineData("", "ALL: 10.0.0.0/8 : bogus\n", "options to carry out (bogus); option error: bad option name: \"bogus\"")]
    // An empty option field is libwrap's "missing option name": refused, and logged.
    [InlineData("", "ALL: 10.0.0.0/8 :\n", "an empty option; option error: missing option name")]
    [InlineData("ALL: 10.0.0.0/8 : aclexec /bin/false\n", "ALL: ALL\n", "options to carry out (aclexec)")]
    [InlineData("ALL: 10.0.0.0/8 : setenv A b : deny\n", "", "options to carry out (setenv, deny)")]
    public void Compile_RuleWithEffects_HeldWithItsOptions(string allow, string deny, string reason)
    {
        var v = Compile(allow, deny);
        Assert.False(IsRefused(v, "10.0.0.1"));
        var held = v.HeldFor(IPAddress.Parse("10.0.0.1"))!;
        Assert.StartsWith($"the rule has {reason}", held.Reason);
        Assert.Equal(1, held.Line);
    }

    [Fact]
    public void Compile_DenyRuleThatMayMatch_PassedOverToTheNextRule()
    {
        // The first rule may match (host name) and only denies: either way 10/8 is refused.
        var v = Compile("", "ALL: .example.com 10.1.0.0/16\nALL: 10.0.0.0/8\n");
        Assert.Equal("10.0.0.0/8", Refused(v));
    }

    [Fact]
    public void Compile_TableEndingWithoutNewline_Held()
    {
        var v = Compile("", "ALL: 10.0.0.0/8\nALL: ALL");
        Assert.True(IsRefused(v, "10.0.0.1"));
        var held = v.HeldFor(IPAddress.Parse("11.0.0.1"))!;
        // The line is libwrap's counter, which a line without its newline does not advance.
        Assert.Contains("missing newline", held.Reason);
        Assert.EndsWith("hosts.deny", held.File);
    }

    [Fact]
    public void Compile_ListsAreMergedIntoFewestPrefixes()
    {
        var v = Compile("", "ALL: 10.0.0.0/25 10.0.0.128/25 10.0.1.0/24\n");
        Assert.Equal("10.0.0.0/23", Refused(v));
    }
}

public sealed class CanonicalDottedQuadTests
{
    [Theory]
    [InlineData("1.2.3.4", 0x01020304u)]
    [InlineData("0.0.0.0", 0u)]
    [InlineData("255.255.255.255", 0xffffffffu)]
    [InlineData("10.0.0.10", 0x0a00000au)]
    [InlineData("01.2.3.4", null)]
    [InlineData("1.2.3.04", null)]
    [InlineData("256.1.1.1", null)]
    [InlineData("1.2.3", null)]
    [InlineData("1.2.3.4.5", null)]
    [InlineData("1..2.3", null)]
    [InlineData("1.2.3.", null)]
    [InlineData("1000.2.3.4", null)]
    public void CanonicalDottedQuad_OnlyTheTextTcpdShows(string text, uint? expected) =>
        Assert.Equal(expected, Giftwrap.Analysis.RuleWalk.CanonicalDottedQuad(text));
}
