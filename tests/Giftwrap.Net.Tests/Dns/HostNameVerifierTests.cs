// The double-reverse check against a real DNS server on loopback: verified names, paranoid,
// unknown, the cache, the bound on lookups in flight, and hostile names.
using System.Net;
using System.Text;
using Giftwrap.Net.Dns;
using Giftwrap.Net.Tests.Peers;

namespace Giftwrap.Net.Tests;

public sealed class HostNameVerifierTests
{
    private const int Ptr = 12;
    private static readonly IPAddress Client = IPAddress.Parse("127.0.0.7");
    private static readonly HostNameVerifierOptions Quick = new() { Timeout = TimeSpan.FromSeconds(1) };

    private static HostNameVerifier Verifier(DnsTestServer server, HostNameVerifierOptions? options = null) =>
        new(new UdpDnsClient(server.EndPoint), options ?? Quick);

    [Fact]
    public async Task VerifiedNameAsync_ForwardContainsAddress_Name()
    {
        await using var server = new DnsTestServer();
        server.AddPtr(Client, "client.example");
        server.AddAddress("client.example", Client);
        Assert.Equal("client.example", await Verifier(server).VerifiedNameAsync(Client, CancellationToken.None));
    }

    [Fact]
    public async Task VerifiedNameAsync_ForwardLacksAddress_Paranoid()
    {
        await using var server = new DnsTestServer();
        server.AddPtr(Client, "bank.example");
        server.AddAddress("bank.example", IPAddress.Parse("192.0.2.10"));
        Assert.Equal("paranoid", await Verifier(server).VerifiedNameAsync(Client, CancellationToken.None));
    }

    [Fact]
    public async Task VerifiedNameAsync_ForwardNxDomain_Paranoid()
    {
        await using var server = new DnsTestServer();
        server.AddPtr(Client, "nowhere.example");
        Assert.Equal("paranoid", await Verifier(server).VerifiedNameAsync(Client, CancellationToken.None));
    }

    [Fact]
    public async Task VerifiedNameAsync_NoPtr_Unknown()
    {
        await using var server = new DnsTestServer();
        Assert.Equal("unknown", await Verifier(server).VerifiedNameAsync(Client, CancellationToken.None));
    }

    [Theory]
    [InlineData(DnsServerMode.Silent)]
    [InlineData(DnsServerMode.WrongId)]
    [InlineData(DnsServerMode.Garbage)]
    [InlineData(DnsServerMode.Truncated)]
    [InlineData(DnsServerMode.ServerFailure)]
    [InlineData(DnsServerMode.CompressionLoop)]
    public async Task VerifiedNameAsync_ServerMisbehaves_UnknownAndReturns(DnsServerMode mode)
    {
        await using var server = new DnsTestServer { Mode = mode };
        server.AddPtr(Client, "client.example");
        server.AddAddress("client.example", Client);
        Assert.Equal("unknown", await Verifier(server).VerifiedNameAsync(Client, CancellationToken.None));
    }

    [Fact]
    public async Task VerifiedNameAsync_DeadServer_Unknown()
    {
        IPEndPoint dead;
        await using (var server = new DnsTestServer())
        {
            dead = server.EndPoint;
        }
        var verifier = new HostNameVerifier(new UdpDnsClient(dead), Quick);
        Assert.Equal("unknown", await verifier.VerifiedNameAsync(Client, CancellationToken.None));
    }

    [Fact]
    public async Task VerifiedNameAsync_Ipv4Mapped_LookedUpAsIpv4()
    {
        await using var server = new DnsTestServer();
        server.AddPtr(Client, "client.example");
        server.AddAddress("client.example", Client);
        Assert.Equal("client.example", await Verifier(server).VerifiedNameAsync(Client.MapToIPv6(), CancellationToken.None));
        Assert.Contains(("7.0.0.127.in-addr.arpa", Ptr), server.Questions);
    }

    [Fact]
    public async Task VerifiedNameAsync_TwoLookups_OneQuery()
    {
        await using var server = new DnsTestServer();
        server.AddPtr(Client, "client.example");
        server.AddAddress("client.example", Client);
        var verifier = Verifier(server);
        Assert.Equal("client.example", await verifier.VerifiedNameAsync(Client, CancellationToken.None));
        Assert.Equal("client.example", await verifier.VerifiedNameAsync(Client, CancellationToken.None));
        Assert.Equal(1, server.CountQuestions(Ptr));
        // The forward question is asked in the client's family only (A here), as libwrap's getaddrinfo is.
        Assert.Equal(2, server.Questions.Count);
    }

    [Fact]
    public async Task VerifiedNameAsync_NegativeAnswer_Cached()
    {
        await using var server = new DnsTestServer();
        var verifier = Verifier(server);
        Assert.Equal("unknown", await verifier.VerifiedNameAsync(Client, CancellationToken.None));
        Assert.Equal("unknown", await verifier.VerifiedNameAsync(Client, CancellationToken.None));
        Assert.Equal(1, server.CountQuestions(Ptr));
    }

    [Fact]
    public async Task VerifiedNameAsync_AfterTtl_AsksAgain()
    {
        await using var server = new DnsTestServer();
        var clock = new ManualClock(DateTimeOffset.UnixEpoch);
        var verifier = new HostNameVerifier(new UdpDnsClient(server.EndPoint), Quick, clock);
        await verifier.VerifiedNameAsync(Client, CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(59));
        await verifier.VerifiedNameAsync(Client, CancellationToken.None);
        Assert.Equal(1, server.CountQuestions(Ptr));
        clock.Advance(TimeSpan.FromSeconds(2));
        await verifier.VerifiedNameAsync(Client, CancellationToken.None);
        Assert.Equal(2, server.CountQuestions(Ptr));
    }

    [Fact]
    public async Task VerifiedNameAsync_CacheFull_OldestDropped()
    {
        await using var server = new DnsTestServer();
        var verifier = Verifier(server, Quick with { CacheSize = 2 });
        foreach (var address in new[] { "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.1" })
        {
            await verifier.VerifiedNameAsync(IPAddress.Parse(address), CancellationToken.None);
        }
        Assert.Equal(4, server.CountQuestions(Ptr));
    }

    [Fact]
    public async Task VerifiedNameAsync_ConcurrentSameAddress_ShareOneQuery()
    {
        await using var server = new DnsTestServer();
        server.AddPtr(Client, "client.example");
        server.AddAddress("client.example", Client);
        var hold = new TaskCompletionSource();
        server.Hold = hold;
        var verifier = Verifier(server, Quick with { Timeout = TimeSpan.FromSeconds(30) });
        var first = verifier.VerifiedNameAsync(Client, CancellationToken.None).AsTask();
        var second = verifier.VerifiedNameAsync(Client, CancellationToken.None).AsTask();
        server.Hold = null;
        hold.SetResult();
        Assert.Equal(["client.example", "client.example"], await Task.WhenAll(first, second));
        Assert.Equal(1, server.CountQuestions(Ptr));
    }

    [Fact]
    public async Task VerifiedNameAsync_BeyondInFlightBound_UnknownAtOnce()
    {
        await using var server = new DnsTestServer();
        var names = new[] { "127.0.0.10", "127.0.0.11", "127.0.0.12" }.Select(IPAddress.Parse).ToArray();
        foreach (var address in names)
        {
            server.AddPtr(address, $"h{address.GetAddressBytes()[3]}.example");
            server.AddAddress($"h{address.GetAddressBytes()[3]}.example", address);
        }
        var hold = new TaskCompletionSource();
        server.Hold = hold;
        var verifier = Verifier(server, Quick with { Timeout = TimeSpan.FromSeconds(30), MaxLookupsInFlight = 2 });
        var first = verifier.VerifiedNameAsync(names[0], CancellationToken.None);
        var second = verifier.VerifiedNameAsync(names[1], CancellationToken.None);
        var third = verifier.VerifiedNameAsync(names[2], CancellationToken.None);
        Assert.True(third.IsCompletedSuccessfully);
        Assert.Equal("unknown", await third);
        Assert.Equal(2, verifier.LookupsInFlight);
        server.Hold = null;
        hold.SetResult();
        Assert.Equal("h10.example", await first);
        Assert.Equal("h11.example", await second);
        // Shed lookups are not cached: once there is room, the address is looked up for real.
        Assert.Equal("h12.example", await verifier.VerifiedNameAsync(names[2], CancellationToken.None));
    }

    [Fact]
    public async Task VerifiedNameAsync_ShellMetacharacters_Unknown()
    {
        // glibc's resolver refuses a PTR target that is not a host name; libwrap then has no name. (Before:
        // returned as is, which libwrap never sees through DNS.)
        const string Hostile = "x`reboot`$(id);rm|cat&<>'\"*?.evil.example";
        await using var server = new DnsTestServer();
        server.AddPtr(Client, Hostile);
        server.AddAddress(Hostile, Client);
        Assert.Equal("unknown", await Verifier(server).VerifiedNameAsync(Client, CancellationToken.None));
    }

    [Theory]
    [InlineData("evil\0.example")]
    [InlineData("evil\n.example")]
    [InlineData("evil\r.example")]
    [InlineData("evil host.example")]
    [InlineData("\u00e9vil.example")]
    [InlineData("evil\u007f.example")]
    public async Task VerifiedNameAsync_UnprintableName_Unknown(string name)
    {
        await using var server = new DnsTestServer();
        server.AddPtrLabels(Client, [.. name.Split('.').Select(Encoding.Latin1.GetBytes)]);
        server.AddAddress(name, Client);
        Assert.Equal("unknown", await Verifier(server).VerifiedNameAsync(Client, CancellationToken.None));
        Assert.Single(server.Questions);
    }

    [Fact]
    public async Task VerifyAsync_NameOver127_CutThenNotVerified_Paranoid()
    {
        // sock_hostname() cuts the name to host->name's 127 bytes before the forward lookup, which then
        // asks for the cut name: it does not exist, so the client is paranoid (was: the cut name, verified
        // as the whole name, which then matched patterns such as LOCAL).
        var name = string.Join('.', Enumerable.Repeat(new string('a', 60), 3)) + ".example";
        await using var server = new DnsTestServer();
        server.AddPtr(Client, name);
        server.AddAddress(name, Client);
        var found = await Verifier(server).VerifyAsync(Client, CancellationToken.None);
        Assert.Equal("paranoid", found.Name);
        Assert.Equal($"can't verify hostname: getaddrinfo({name[..127]}, AF_INET) failed", found.Warning);
    }

    [Fact]
    public async Task VerifyAsync_ForwardGivesAnotherCanonicalName_ParanoidWithLibwrapWords()
    {
        // A CNAME: the forward lookup of the PTR name lands on another name. libwrap compares the two
        // names (strcasecmp) and calls it a name/name mismatch, even though the address is there.
        await using var server = new DnsTestServer();
        server.AddPtr(Client, "alias.example");
        server.AddCname("alias.example", "real.example");
        server.AddAddress("real.example", Client);
        var found = await Verifier(server).VerifyAsync(Client, CancellationToken.None);
        Assert.Equal("paranoid", found.Name);
        Assert.Equal("host name/name mismatch: alias.example != real.example", found.Warning);
    }

    [Fact]
    public async Task VerifyAsync_ForwardLacksAddress_AddressMismatchWords()
    {
        await using var server = new DnsTestServer();
        server.AddPtr(Client, "bank.example");
        server.AddAddress("bank.example", IPAddress.Parse("192.0.2.10"));
        var found = await Verifier(server).VerifyAsync(Client, CancellationToken.None);
        Assert.Equal(("paranoid", "host name/address mismatch: 127.0.0.7 != bank.example"), (found.Name, found.Warning));
    }

    [Fact]
    public async Task VerifyAsync_NameDiffersOnlyInCase_Verified()
    {
        await using var server = new DnsTestServer();
        server.AddPtr(Client, "Client.Example");
        server.AddAddress("Client.Example", Client);
        var found = await Verifier(server).VerifyAsync(Client, CancellationToken.None);
        Assert.Equal(("Client.Example", (string?)null), (found.Name, found.Warning));
    }

    [Fact]
    public async Task VerifyAsync_Ipv4ClientNameHasOnlyAaaa_CannotVerify()
    {
        // getaddrinfo asks in the client's family only.
        await using var server = new DnsTestServer();
        server.AddPtr(Client, "six.example");
        server.AddAddress("six.example", IPAddress.Parse("2001:db8::7"));
        var found = await Verifier(server).VerifyAsync(Client, CancellationToken.None);
        Assert.Equal(("paranoid", "can't verify hostname: getaddrinfo(six.example, AF_INET) failed"), (found.Name, found.Warning));
    }

    [Fact]
    public async Task VerifyAsync_CachedMismatch_WarnsAgain()
    {
        await using var server = new DnsTestServer();
        server.AddPtr(Client, "bank.example");
        server.AddAddress("bank.example", IPAddress.Parse("192.0.2.10"));
        var verifier = Verifier(server);
        await verifier.VerifyAsync(Client, CancellationToken.None);
        var again = await verifier.VerifyAsync(Client, CancellationToken.None);
        Assert.NotNull(again.Warning);
        Assert.Equal(2, server.Questions.Count);
    }

    [Fact]
    public async Task VerifiedNameAsync_NameOver255Octets_Unknown()
    {
        await using var server = new DnsTestServer();
        server.AddPtrLabels(Client, [.. Enumerable.Repeat(Encoding.ASCII.GetBytes(new string('a', 63)), 4)]);
        Assert.Equal("unknown", await Verifier(server).VerifiedNameAsync(Client, CancellationToken.None));
    }

    [Fact]
    public async Task VerifiedNameAsync_PtrNameIsAnAddress_Paranoid()
    {
        await using var server = new DnsTestServer();
        server.AddPtr(Client, "127.0.0.7");
        var found = await Verifier(server).VerifyAsync(Client, CancellationToken.None);
        Assert.Equal(("paranoid", "host name/name mismatch: reverse lookup results in non-FQDN 127.0.0.7"), (found.Name, found.Warning));
    }

    [Fact]
    public async Task VerifiedNameAsync_SystemResolverLocalhost_Localhost()
    {
        // /etc/hosts on Debian names 127.0.0.1 "localhost"; nsswitch consults it first.
        var verifier = new HostNameVerifier(SystemDnsClient.Instance);
        Assert.Equal("localhost", await verifier.VerifiedNameAsync(IPAddress.Loopback, CancellationToken.None));
    }

    [Fact]
    public async Task VerifiedNameAsync_CallerCancels_Throws()
    {
        await using var server = new DnsTestServer { Mode = DnsServerMode.Silent };
        using var cancel = new CancellationTokenSource();
        var lookup = Verifier(server).VerifiedNameAsync(Client, cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => lookup.AsTask());
    }

    [Theory]
    [InlineData("under_score.example", "under_score.example")]
    [InlineData("UPPER.Example", "UPPER.Example")]
    [InlineData("a-b.example", "a-b.example")]
    [InlineData("-lead.example", "unknown")]
    [InlineData("mid.-dash.example", "mid.-dash.example")]
    [InlineData("semi;colon.example", "unknown")]
    [InlineData("h\u00c3\u00b4te.example", "unknown")]
    public async Task VerifiedNameAsync_PtrNamesAsGlibcTakesThem(string name, string expected)
    {
        // Checked with the real libwrap through glibc and a loopback DNS server (docs/design/libwrap-behaviour.md §8).
        await using var server = new DnsTestServer();
        server.AddPtr(Client, name);
        server.AddAddress(name, Client);
        Assert.Equal(expected, await Verifier(server).VerifiedNameAsync(Client, CancellationToken.None));
    }

    [Fact]
    public async Task VerifiedNameAsync_DotInsideALabel_Unknown()
    {
        await using var server = new DnsTestServer();
        server.AddPtrLabels(Client, "dot.inlabel"u8.ToArray(), "example"u8.ToArray());
        server.AddAddress("dot.inlabel.example", Client);
        Assert.Equal("unknown", await Verifier(server).VerifiedNameAsync(Client, CancellationToken.None));
    }

    [Fact]
    public void Constructor_BadOptions_EveryErrorReported()
    {
        var options = new HostNameVerifierOptions { Timeout = TimeSpan.Zero, CacheSize = -1, MaxLookupsInFlight = 0 };
        Assert.Equal(3, options.Validate().Count);
        Assert.Throws<ArgumentException>(() => new HostNameVerifier(SystemDnsClient.Instance, options));
    }
}
