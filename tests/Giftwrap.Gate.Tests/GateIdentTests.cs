// RFC 1413 through the gate: the rfc931 option and user@host patterns ask a real ident server
// the test runs; a lying, flooding or silent ident server leaves the user "unknown", never stuck.
using System.Net;
using Giftwrap.Gate.Listening;
using Giftwrap.Net.Dns;
using Giftwrap.Net.Ident;
using Giftwrap.Net.Tests.Peers;
using static Giftwrap.Gate.Tests.GateProbes;

namespace Giftwrap.Gate.Tests;

public sealed class GateIdentTests
{
    private static GateServer StartWithIdent(GateFixture gate, IdentTestServer ident, params Giftwrap.Gate.Config.ServiceConfig[] services)
    {
        // No DNS server answers here: names stay unknown, which these rules never ask about.
        var dns = new UdpDnsClient(new IPEndPoint(IPAddress.Loopback, 9));
        var lookups = new Giftwrap.Net.RequestLookups(new HostNameVerifier(dns), new IdentClient(ident.Port));
        var config = gate.Config(services) with { Limits = new() { DecisionTimeout = TimeSpan.FromSeconds(60) } };
        return gate.Start(config, lookups);
    }

    [Fact]
    public async Task Rfc931_Option_PutsTheIdentUserInPercentU()
    {
        await using var ident = new IdentTestServer { Answer = "alice" };
        await using var gate = new GateFixture();
        var mark = Path.Combine(gate.Directory, "user");
        File.WriteAllText(gate.Allow, $"sshd: ALL: rfc931 2: spawn echo %u > {mark}\n");
        var port = GateFixture.FreePort();
        StartWithIdent(gate, ident, Shell("sshd", port, "echo served"));
        using var c = await GateFixture.ConnectAsync(port);
        Assert.Equal("served\n", await GateFixture.ReadAllAsync(c));
        Assert.Equal("alice\n", await ReadWhenWrittenAsync(mark));
        var (query, _) = await ident.Asked.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal($"{((IPEndPoint)c.LocalEndPoint!).Port},{port}\r\n", query); // as rfc931.c sends it
        Assert.Contains("connect from alice@127.0.0.1", await gate.WaitForLogAsync("connect from alice@"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Twist_WithTheUserKnown_LogsUserAtHost_AsTcpdDoes()
    {
        // options.c twist_option(): syslog(deny_severity, "twist %s to %s", eval_client(), command).
        await using var ident = new IdentTestServer { Answer = "alice" };
        await using var gate = new GateFixture();
        File.WriteAllText(gate.Allow, "sshd: ALL: rfc931 2: twist echo twisted\n");
        var port = GateFixture.FreePort();
        StartWithIdent(gate, ident, Shell("sshd", port, "echo served"));
        using var c = await GateFixture.ConnectAsync(port);
        Assert.Equal("twisted\n", await GateFixture.ReadAllAsync(c));
        var line = await gate.WaitForLogAsync("twist alice@");
        Assert.StartsWith("<28>", line, StringComparison.Ordinal); // daemon (3) * 8 + warning (4)
        Assert.EndsWith("]: twist alice@127.0.0.1 to echo twisted", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bob", "granted\n")]
    [InlineData("alice", "")]
    public async Task UserAtHostPattern_AsksIdent_AndGrantsOnlyThatUser(string user, string expected)
    {
        await using var ident = new IdentTestServer { Answer = user };
        await using var gate = new GateFixture("sshd: bob@127.0.0.0/255.0.0.0\n", "sshd: ALL\n");
        var port = GateFixture.FreePort();
        StartWithIdent(gate, ident, Shell("sshd", port, "echo granted"));
        using var c = await GateFixture.ConnectAsync(port);
        Assert.Equal(expected, await GateFixture.ReadAllAsync(c));
        await ident.Asked.Task.WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Theory]
    [InlineData(IdentMode.Error)]
    [InlineData(IdentMode.Huge)]
    [InlineData(IdentMode.Malformed)]
    [InlineData(IdentMode.WrongPorts)]
    [InlineData(IdentMode.NoNewline)]
    [InlineData(IdentMode.Slow)]
    public async Task BadIdentReply_CountsAsUnknown_AndTheDecisionCompletes(IdentMode mode)
    {
        await using var ident = new IdentTestServer { Mode = mode };
        await using var gate = new GateFixture();
        var mark = Path.Combine(gate.Directory, "user");
        File.WriteAllText(gate.Allow, $"sshd: ALL: rfc931 2: spawn echo %u > {mark}\n");
        var port = GateFixture.FreePort();
        StartWithIdent(gate, ident, Shell("sshd", port, "echo served"));
        using var c = await GateFixture.ConnectAsync(port);
        Assert.Equal("served\n", await GateFixture.ReadAllAsync(c));
        Assert.Equal("unknown\n", await ReadWhenWrittenAsync(mark));
    }

    [Fact]
    public async Task UserAtHostPattern_HugeIdentReply_RefusesAsUnknownUser()
    {
        await using var ident = new IdentTestServer { Mode = IdentMode.Huge };
        await using var gate = new GateFixture("sshd: bob@127.0.0.1\nsshd: UNKNOWN@127.0.0.1: twist echo user %u\n");
        var port = GateFixture.FreePort();
        StartWithIdent(gate, ident, Shell("sshd", port, "echo granted"));
        using var c = await GateFixture.ConnectAsync(port);
        Assert.Equal("user unknown\n", await GateFixture.ReadAllAsync(c));
    }

    [Fact]
    public async Task SilentIdentServer_DoesNotHoldUpOtherClients()
    {
        await using var gate = new GateFixture("plain: ALL\nsshd: ALL: rfc931 60: spawn echo %u > MARK\n");
        var mark = Path.Combine(gate.Directory, "user");
        File.WriteAllText(gate.Allow, File.ReadAllText(gate.Allow).Replace("MARK", mark, StringComparison.Ordinal));
        var ident = new IdentTestServer { Mode = IdentMode.Slow };
        var sshPort = GateFixture.FreePort();
        var plainPort = GateFixture.FreePort();
        StartWithIdent(gate, ident, Shell("sshd", sshPort, "echo served"), Shell("plain", plainPort, "echo plain"));
        using var waiting = await GateFixture.ConnectAsync(sshPort);
        await ident.Asked.Task.WaitAsync(TimeSpan.FromSeconds(20));
        // The ident question hangs (its timeout is a minute): other clients are served meanwhile.
        for (var i = 0; i < 5; i++)
        {
            using var other = await GateFixture.ConnectAsync(plainPort, from: $"127.0.0.{30 + i}");
            Assert.Equal("plain\n", await GateFixture.ReadAllAsync(other));
        }
        Assert.False(File.Exists(mark));
        // The ident server hangs up without a reply: the waiting decision completes, user unknown.
        await ident.DisposeAsync();
        Assert.Equal("served\n", await GateFixture.ReadAllAsync(waiting));
        Assert.Equal("unknown\n", await ReadWhenWrittenAsync(mark));
    }
}
