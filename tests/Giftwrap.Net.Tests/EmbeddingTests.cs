// The embedding path of docs/library.md, run for real: tables on disk, the network lookups
// against a DNS peer on loopback, DecideAsync, then the verdict, actions and %-expansion read
// back. Uses only the public API of Giftwrap.Core and Giftwrap.Net.
using System.Net;
using Giftwrap.Decisions;
using Giftwrap.Expansion;
using Giftwrap.Net.Dns;
using Giftwrap.Net.Ident;
using Giftwrap.Net.Tests.Peers;
using Giftwrap.Options;
using Giftwrap.Tables;

namespace Giftwrap.Net.Tests;

public sealed class EmbeddingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("giftwrap-embed-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task DecideAsync_NameRule_LooksUpAndGrantsWithExpandedActions()
    {
        await using var dns = new DnsTestServer();
        dns.AddPtr(IPAddress.Parse("127.0.0.7"), "web.example.org");
        dns.AddAddress("web.example.org", IPAddress.Parse("127.0.0.7"));
        using var tables = Open("myapp : .example.org : spawn echo %c %d : ban 10m\n", "ALL : ALL\n");

        var judgement = await tables.DecideAsync(Request("127.0.0.7"), Lookups(dns), CancellationToken.None);

        Assert.True(judgement.Decision.IsGranted);
        Assert.Equal(new RuleLocation(Path.Combine(_dir, "hosts.allow"), 1), judgement.Decision.Match);
        Assert.Equal("web.example.org", judgement.Request.ClientName);
        Assert.Equal(
            [new SpawnAction("echo web.example.org myapp"), new BanAction(TimeSpan.FromMinutes(10), "10m")],
            judgement.Decision.Actions);
        Assert.Empty(judgement.Decision.Warnings);
    }

    [Fact]
    public async Task DecideAsync_NoAllowRule_DeniedByDenyTableAndClientExpands()
    {
        await using var dns = new DnsTestServer();
        using var tables = Open("myapp : 10.0.0.0/8\n", "ALL : ALL\n");

        var judgement = await tables.DecideAsync(Request("127.0.0.8"), Lookups(dns), CancellationToken.None);

        Assert.Equal(Verdict.Denied, judgement.Decision.Verdict);
        Assert.Equal(new RuleLocation(Path.Combine(_dir, "hosts.deny"), 1), judgement.Decision.Match);
        Assert.Equal("127.0.0.8", PercentExpander.Expand("%c", judgement.Request));
        Assert.Empty(dns.Questions);
    }

    [Fact]
    public void Decide_DryRunWithoutNames_NameRuleSeesUnknown()
    {
        using var tables = Open("myapp : .example.org\nmyapp : UNKNOWN : deny\n", "");

        var decision = tables.Decide(Request("127.0.0.7"));

        Assert.Equal(Verdict.Denied, decision.Verdict);
        Assert.Equal(2, decision.Match!.Line);
    }

    private AccessTables Open(string allow, string deny)
    {
        File.WriteAllText(Path.Combine(_dir, "hosts.allow"), allow);
        File.WriteAllText(Path.Combine(_dir, "hosts.deny"), deny);
        return new AccessTables(Path.Combine(_dir, "hosts.allow"), Path.Combine(_dir, "hosts.deny"));
    }

    private static AccessRequest Request(string client) => new()
    {
        Daemon = "myapp",
        ClientAddress = client,
        ClientPort = 50123,
        ServerAddress = "127.0.0.1",
        ServerPort = 8080,
    };

    private static RequestLookups Lookups(DnsTestServer dns) =>
        new(new HostNameVerifier(new UdpDnsClient(dns.EndPoint), new HostNameVerifierOptions { Timeout = TimeSpan.FromSeconds(1) }), new IdentClient());
}
