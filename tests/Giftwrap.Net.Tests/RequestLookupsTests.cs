// The core's lookup interface served by DNS and ident peers on loopback.
using System.Net;
using Giftwrap.Decisions;
using Giftwrap.Net.Dns;
using Giftwrap.Net.Ident;
using Giftwrap.Net.Tests.Peers;

namespace Giftwrap.Net.Tests;

public sealed class RequestLookupsTests
{
    [Fact]
    public async Task HostNameAsync_Address_VerifiedName()
    {
        await using var dns = new DnsTestServer();
        dns.AddPtr(IPAddress.Parse("127.0.0.9"), "nine.example");
        dns.AddAddress("nine.example", IPAddress.Parse("127.0.0.9"));
        var lookups = Lookups(dns, 113);
        Assert.Equal("nine.example", await lookups.HostNameAsync("127.0.0.9", CancellationToken.None));
    }

    [Fact]
    public async Task DecideAsync_NameMismatch_ParanoidDeniedWithLibwrapWarningOnTheRuleLine()
    {
        // Issue 10's first example: the reverse name's forward lookup gives another canonical name. libwrap
        // makes the client paranoid, so "ALL: PARANOID" in hosts.deny refuses it, and logs the mismatch in
        // the context of the rule that needed the name. (Before: the name was accepted and the client let in.)
        await using var dns = new DnsTestServer();
        var client = IPAddress.Parse("127.0.0.9");
        dns.AddPtr(client, "alias.example");
        dns.AddCname("alias.example", "real.example");
        dns.AddAddress("real.example", client);
        var dir = Directory.CreateTempSubdirectory("giftwrap-lookups-").FullName;
        try
        {
            var allow = Path.Combine(dir, "hosts.allow");
            var deny = Path.Combine(dir, "hosts.deny");
            File.WriteAllText(allow, "sshd: 192.0.2.1\n");
            File.WriteAllText(deny, "# comment\nALL: PARANOID\n");
            using var tables = new Giftwrap.Tables.AccessTables(allow, deny, new Giftwrap.Tables.AccessTablesOptions { Live = false });
            var request = AccessRequest.ForConnection("sshd", new IPEndPoint(client, 40000), null);
            var judgement = await tables.DecideAsync(request, Lookups(dns, 113));
            Assert.False(judgement.Decision.IsGranted);
            Assert.Equal("paranoid", judgement.Request.ClientName);
            var warning = Assert.Single(judgement.Decision.Warnings);
            Assert.Equal($"warning: {deny}, line 2: host name/name mismatch: alias.example != real.example", warning.ToLogLine());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("not-an-address")]
    [InlineData("300.1.1.1")]
    public async Task HostNameAsync_Unparsable_UnknownWithoutAsking(string address)
    {
        await using var dns = new DnsTestServer();
        Assert.Equal("unknown", await Lookups(dns, 113).HostNameAsync(address, CancellationToken.None));
        Assert.Empty(dns.Questions);
    }

    [Fact]
    public async Task UserAsync_Request_IdentUser()
    {
        await using var dns = new DnsTestServer();
        await using var ident = new IdentTestServer { Answer = "carol" };
        var request = new AccessRequest { ClientAddress = "127.0.0.1", ClientPort = 50000, ServerAddress = "127.0.0.1", ServerPort = 2222, CanLookUp = true };
        Assert.Equal("carol", await Lookups(dns, ident.Port).UserAsync(request, TimeSpan.FromSeconds(10), CancellationToken.None));
        Assert.Equal("50000,2222\r\n", (await ident.Asked.Task).Query);
    }

    [Fact]
    public async Task UserAsync_MissingEndpoint_Unknown()
    {
        await using var dns = new DnsTestServer();
        await using var ident = new IdentTestServer();
        var request = new AccessRequest { ClientAddress = "127.0.0.1", ClientPort = 0, ServerAddress = "127.0.0.1", ServerPort = 22 };
        Assert.Equal("unknown", await Lookups(dns, ident.Port).UserAsync(request, TimeSpan.FromSeconds(10), CancellationToken.None));
        Assert.False(ident.Asked.Task.IsCompleted);
    }

    private static RequestLookups Lookups(DnsTestServer dns, int identPort) =>
        new(new HostNameVerifier(new UdpDnsClient(dns.EndPoint), new HostNameVerifierOptions { Timeout = TimeSpan.FromSeconds(1) }), new IdentClient(identPort));
}
