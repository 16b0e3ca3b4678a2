// Bad input at the gate: garbage then a reset, connect-and-reset, and a flooding ident server,
// from many clients at once. The gate keeps serving, and afterwards holds no extra descriptor,
// connection or child. Runs alone: it counts this process's descriptors.
using System.Net;
using System.Net.Sockets;
using Giftwrap.Hosting;
using Giftwrap.Gate.Listening;
using Giftwrap.Net.Dns;
using Giftwrap.Net.Ident;
using Giftwrap.Net.Tests.Peers;
using static Giftwrap.Gate.Tests.GateProbes;

namespace Giftwrap.Gate.Tests;

[CollectionDefinition(nameof(DescriptorCounting), DisableParallelization = true)]
public sealed class DescriptorCounting;

[Collection(nameof(DescriptorCounting))]
public sealed class GateHostileClientTests
{
    private const string Rules = "cat: ALL\necho: ALL\nsshd: ALL: rfc931 5: spawn echo %u\n";

    private sealed record Ports(int Cat, int Echo, int Sshd);

    private static GateServer Start(GateFixture gate, IdentTestServer ident, EchoServer echo, Ports ports)
    {
        var dns = new UdpDnsClient(new IPEndPoint(IPAddress.Loopback, 9));
        var lookups = new Giftwrap.Net.RequestLookups(new HostNameVerifier(dns), new IdentClient(ident.Port));
        var config = gate.Config(Exec("cat", ports.Cat, "/bin/cat"), Forward("echo", ports.Echo, echo.Port), Shell("sshd", ports.Sshd, "echo served"))
            with { Limits = new() { MaxPerSource = 10_000, DecisionTimeout = TimeSpan.FromSeconds(60) } };
        return gate.Start(config, lookups);
    }

    /// <summary>Each service once, properly: the gate serves all three.</summary>
    private static async Task ServeEachAsync(Ports ports, string from)
    {
        using (var c = await GateFixture.ConnectAsync(ports.Cat, from))
        {
            await c.SendAsync("meow"u8.ToArray(), SocketFlags.None);
            c.Shutdown(SocketShutdown.Send);
            Assert.Equal("meow", await GateFixture.ReadAllAsync(c));
        }
        using (var c = await GateFixture.ConnectAsync(ports.Echo, from))
        {
            await c.SendAsync("ping"u8.ToArray(), SocketFlags.None);
            c.Shutdown(SocketShutdown.Send);
            Assert.Equal("ping", await GateFixture.ReadAllAsync(c));
        }
        using (var c = await GateFixture.ConnectAsync(ports.Sshd, from))
            Assert.Equal("served\n", await GateFixture.ReadAllAsync(c));
    }

    private static async Task GarbageThenResetAsync(int port, string from, int seed)
    {
        using var c = await GateFixture.ConnectAsync(port, from);
        var junk = new byte[1 + seed % 5000];
        new Random(seed).NextBytes(junk);
        await c.SendAsync(junk, SocketFlags.None);
        c.LingerState = new LingerOption(true, 0);
        c.Close();
    }

    private static async Task ResetAtOnceAsync(int port, string from)
    {
        using var c = await GateFixture.ConnectAsync(port, from);
        c.LingerState = new LingerOption(true, 0);
        c.Close();
    }

    private static async Task<bool> SettledAsync(GateServer server, int descriptors) =>
        await EventuallyAsync(() => ChildReaper.Running == 0 && server.OpenConnections == 0 && OpenDescriptors() <= descriptors);

    [Theory]
    [InlineData(IdentMode.Huge)]
    [InlineData(IdentMode.Malformed)]
    [InlineData(IdentMode.Slow)]
    public async Task GarbageAndResets_FromManyClients_LeakNothingAndServingGoesOn(IdentMode mode)
    {
        await using var ident = new IdentTestServer { Mode = IdentMode.Normal };
        using var echo = new EchoServer();
        await using var gate = new GateFixture(Rules);
        var ports = new Ports(GateFixture.FreePort(), GateFixture.FreePort(), GateFixture.FreePort());
        var server = Start(gate, ident, echo, ports);
        await ServeEachAsync(ports, "127.0.0.1");
        await ServeEachAsync(ports, "127.0.0.60");
        Assert.True(await SettledAsync(server, int.MaxValue), "the warm-up connections never finished");
        var baseline = OpenDescriptors();
        var before = DescribeDescriptors();

        ident.Mode = mode;
        var attacks = new List<Task>();
        for (var i = 0; i < 40; i++)
        {
            var from = i % 2 == 0 ? "127.0.0.1" : $"127.0.1.{1 + i}";
            foreach (var port in new[] { ports.Cat, ports.Echo, ports.Sshd })
            {
                attacks.Add(GarbageThenResetAsync(port, from, i * 7919 + port));
                attacks.Add(ResetAtOnceAsync(port, from));
            }
        }
        await Task.WhenAll(attacks);
        await ServeEachAsync(ports, "127.0.0.61");

        var settled = await SettledAsync(server, baseline);
        Assert.True(settled, $"after the attack: {ChildReaper.Running} children, {server.OpenConnections} connections, {OpenDescriptors()} descriptors (baseline {baseline}); new:\n{NewDescriptors(before, DescribeDescriptors())}");
        Assert.DoesNotContain(gate.LogLines, l => l.Contains("error: accept", StringComparison.Ordinal));
    }
}
