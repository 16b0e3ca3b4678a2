// Reverse DNS through the gate, against a DNS server the test runs: verified names match
// .domain rules, a name that does not map back is PARANOID, and a hostile name is made
// shell-safe by %-expansion before any command sees it.
using System.Net;
using Giftwrap.Gate.Listening;
using Giftwrap.Net.Dns;
using Giftwrap.Net.Ident;
using Giftwrap.Net.Tests.Peers;
using static Giftwrap.Gate.Tests.GateProbes;

namespace Giftwrap.Gate.Tests;

public sealed class GateDnsTests
{
    private static GateServer StartWithDns(GateFixture gate, DnsTestServer dns, params Giftwrap.Gate.Config.ServiceConfig[] services)
    {
        // Port 9 (discard) has no ident server: users stay unknown, which these rules never ask about.
        var lookups = new Giftwrap.Net.RequestLookups(new HostNameVerifier(new UdpDnsClient(dns.EndPoint)), new IdentClient(9));
        return gate.Start(gate.Config(services), lookups);
    }

    private static async Task<string> AskAsync(int port, string from)
    {
        using var c = await GateFixture.ConnectAsync(port, from);
        return await GateFixture.ReadAllAsync(c);
    }

    [Fact]
    public async Task VerifiedName_MatchesDomainRule_AndExpands()
    {
        await using var dns = new DnsTestServer();
        dns.AddPtr(IPAddress.Parse("127.0.0.41"), "host41.example.com");
        dns.AddAddress("host41.example.com", IPAddress.Parse("127.0.0.41"));
        dns.AddPtr(IPAddress.Parse("127.0.0.42"), "host42.example.org");
        dns.AddAddress("host42.example.org", IPAddress.Parse("127.0.0.42"));
        await using var gate = new GateFixture("greet: .example.com: twist /bin/echo name=%n host=%h\n", "greet: ALL\n");
        var port = GateFixture.FreePort();
        StartWithDns(gate, dns, Shell("greet", port, "echo served"));
        Assert.Equal("name=host41.example.com host=host41.example.com\n", await AskAsync(port, "127.0.0.41"));
        Assert.Equal("", await AskAsync(port, "127.0.0.42"));
        Assert.Equal("", await AskAsync(port, "127.0.0.43")); // no PTR at all: unknown
        await gate.WaitForLogAsync("refused connect from host42.example.org");
        await gate.WaitForLogAsync("refused connect from 127.0.0.43");
    }

    [Fact]
    public async Task ForwardLookupWithoutTheAddress_IsParanoid_NotTheDomain()
    {
        await using var dns = new DnsTestServer();
        dns.AddPtr(IPAddress.Parse("127.0.0.44"), "liar.example.com");
        dns.AddAddress("liar.example.com", IPAddress.Parse("127.0.0.99"));
        await using var gate = new GateFixture("greet: .example.com: twist /bin/echo trusted\ngreet: PARANOID: twist /bin/echo %n from %a\n", "greet: ALL\n");
        var port = GateFixture.FreePort();
        StartWithDns(gate, dns, Shell("greet", port, "echo served"));
        Assert.Equal("paranoid from 127.0.0.44\n", await AskAsync(port, "127.0.0.44"));
    }

    [Fact]
    public async Task ForwardLandsOnAnotherName_ParanoidRefused_WithLibwrapWarning()
    {
        // Issue 10: the PTR name is an alias (CNAME) of another name that does have the address. libwrap
        // calls that a host name/name mismatch: the client is paranoid and "ALL: PARANOID" refuses it.
        await using var dns = new DnsTestServer();
        dns.AddPtr(IPAddress.Parse("127.0.0.46"), "alias.example.com");
        dns.AddCname("alias.example.com", "real.example.com");
        dns.AddAddress("real.example.com", IPAddress.Parse("127.0.0.46"));
        await using var gate = new GateFixture("", "greet: PARANOID\n");
        var port = GateFixture.FreePort();
        StartWithDns(gate, dns, Shell("greet", port, "echo served"));
        Assert.Equal("", await AskAsync(port, "127.0.0.46"));
        await gate.WaitForLogAsync($"warning: {gate.Deny}, line 1: host name/name mismatch: alias.example.com != real.example.com");
        await gate.WaitForLogAsync("refused connect from 127.0.0.46");
    }

    [Fact]
    public async Task HostileName_IsNoName_AndRunsNothing()
    {
        // glibc's resolver refuses a PTR target that is not a host name (res_hnok), so libwrap has no name
        // for the client; the gate's own DNS client does the same. (Before: the name reached %h, made
        // shell-safe; %-expansion's safety is tested with names that can arrive, from /etc/hosts.)
        var victim = $"/tmp/gw-{Guid.NewGuid():N}"[..16];
        var hostile = $"a;touch${{IFS}}{victim}.example.com";
        await using var dns = new DnsTestServer();
        dns.AddPtr(IPAddress.Parse("127.0.0.45"), hostile);
        dns.AddAddress(hostile, IPAddress.Parse("127.0.0.45"));
        await using var gate = new GateFixture();
        var mark = Path.Combine(gate.Directory, "host");
        File.WriteAllText(gate.Allow, $"greet: .example.com: spawn echo %h %n > {mark}\ngreet: UNKNOWN: spawn echo %h %n > {mark}\n");
        File.WriteAllText(gate.Deny, "greet: ALL\n");
        var port = GateFixture.FreePort();
        StartWithDns(gate, dns, Shell("greet", port, "echo served"));
        Assert.Equal("served\n", await AskAsync(port, "127.0.0.45"));
        Assert.Equal("127.0.0.45 unknown\n", await ReadWhenWrittenAsync(mark));
        Assert.False(File.Exists(victim), $"{victim} was created from the host name");
    }
}
