// The gate end to end on loopback: real sockets, real processes, a real syslog
// socket. Clients bind 127.0.0.x source addresses to play different hosts.
using System.Net;
using System.Net.Sockets;
using System.Text;
using Giftwrap.Decisions;
using Giftwrap.Gate.Config;

namespace Giftwrap.Gate.Tests;

public sealed class GateTests
{
    private static ServiceConfig Forward(string daemon, int port, int backend, string host = "127.0.0.1") => new()
    {
        Name = daemon,
        Daemon = daemon,
        Listen = [new IPEndPoint(IPAddress.Parse(host), port)],
        Forward = new IPEndPoint(IPAddress.Loopback, backend),
    };

    private static ServiceConfig Exec(string daemon, int port, params string[] argv) => new()
    {
        Name = daemon,
        Daemon = daemon,
        Listen = [new IPEndPoint(IPAddress.Loopback, port)],
        Exec = argv,
    };

    [Fact]
    public async Task Forward_AllowedClient_IsProxiedWithHalfClose()
    {
        await using var gate = new GateFixture("echo: 127.0.0.1\n", "ALL: ALL\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        gate.Start(gate.Config(Forward("echo", port, echo.Port)));
        using var c = await GateFixture.ConnectAsync(port);
        await c.SendAsync(Encoding.ASCII.GetBytes("hello through the gate"), SocketFlags.None);
        c.Shutdown(SocketShutdown.Send);
        Assert.Equal("hello through the gate", await GateFixture.ReadAllAsync(c));
        Assert.Contains("echo[", await gate.WaitForLogAsync("connect from 127.0.0.1"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forward_RefusedClient_IsClosedAndLoggedLikeTcpd()
    {
        await using var gate = new GateFixture("echo: 127.0.0.1\n", "ALL: ALL\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        gate.Start(gate.Config(Forward("echo", port, echo.Port)));
        using var c = await GateFixture.ConnectAsync(port, from: "127.0.0.2");
        await c.SendAsync(Encoding.ASCII.GetBytes("let me in"), SocketFlags.None);
        Assert.Equal("", await GateFixture.ReadAllAsync(c));
        var line = await gate.WaitForLogAsync("refused connect from 127.0.0.2");
        Assert.StartsWith("<28>", line, StringComparison.Ordinal); // daemon.warning
        Assert.Equal(0, echo.Accepted);
    }

    [Fact]
    public async Task Tables_EditedWhileRunning_ApplyToTheNextConnection()
    {
        await using var gate = new GateFixture("echo: 127.0.0.0/255.0.0.0\n", "ALL: ALL\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        gate.Start(gate.Config(Forward("echo", port, echo.Port)));
        using (var c = await GateFixture.ConnectAsync(port, from: "127.0.0.3"))
        {
            await c.SendAsync("a"u8.ToArray(), SocketFlags.None);
            c.Shutdown(SocketShutdown.Send);
            Assert.Equal("a", await GateFixture.ReadAllAsync(c));
        }
        File.WriteAllText(gate.Allow, "echo: 127.0.0.1\n");
        using (var c = await GateFixture.ConnectAsync(port, from: "127.0.0.3"))
            Assert.Equal("", await GateFixture.ReadAllAsync(c));
    }

    [Fact]
    public async Task Tables_EditedBeforeAConnectionQueuedForTheFirstAcceptBatch_ApplyToIt()
    {
        // A connection queued on an activated listener after an edit, before the gate accepts: the
        // batch's one check of the tables comes after the accept, so its decision sees the edit.
        // (One connection: two decided at once on two threads may meet a recompile under way, and
        // AccessTables lets the other decide with the tables as they were meanwhile.)
        await using var gate = new GateFixture("echo: 127.0.0.0/255.0.0.0\n", "ALL: ALL\n");
        using var echo = new EchoServer();
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(16);
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        await using var server = new Listening.GateServer(gate.Config(Forward("echo", port, echo.Port)), gate.Log, new GateFixture.NoLookups(), [(listener, null)]);
        File.WriteAllText(gate.Allow, "echo: 127.0.0.4\n");
        using var refused = await GateFixture.ConnectAsync(port, from: "127.0.0.5");
        server.Start();
        Assert.Equal("", await GateFixture.ReadAllAsync(refused));
        await gate.WaitForLogAsync("refused connect from 127.0.0.5");
    }

    [Fact]
    public async Task Forward_DeadBackend_ClosesTheClientAndSaysWhy()
    {
        await using var gate = new GateFixture("ALL: ALL\n");
        var port = GateFixture.FreePort();
        gate.Start(gate.Config(Forward("echo", port, GateFixture.FreePort())));
        using var c = await GateFixture.ConnectAsync(port);
        Assert.Equal("", await GateFixture.ReadAllAsync(c));
        await gate.WaitForLogAsync("cannot connect to backend");
    }

    [Fact]
    public async Task Exec_SocketIsTheProgramsStdio_WithSetenv()
    {
        await using var gate = new GateFixture("greet: ALL: setenv WHO %a_%d\n");
        var port = GateFixture.FreePort();
        gate.Start(gate.Config(Exec("greet", port, "/bin/sh", "-c", "read line; echo \"$WHO says $line\"")));
        using var c = await GateFixture.ConnectAsync(port, from: "127.0.0.4");
        await c.SendAsync("hi\n"u8.ToArray(), SocketFlags.None);
        Assert.Equal("127.0.0.4_greet says hi\n", await GateFixture.ReadAllAsync(c));
    }

    [Fact]
    public async Task Exec_ManyClientsAtOnce_EachHasItsOwnProgram()
    {
        // Every program waits for its client's line: all of them run at once, more than the thread pool has
        // workers (the clients come from 8 addresses: the fixture's max_per_source is 16).
        await using var gate = new GateFixture("greet: ALL\n");
        var port = GateFixture.FreePort();
        gate.Start(gate.Config(Exec("greet", port, "/bin/sh", "-c", "read line; echo \"got $line\"")));
        var clients = new List<Socket>();
        try
        {
            for (var i = 0; i < 48; i++)
                clients.Add(await GateFixture.ConnectAsync(port, from: $"127.0.0.{20 + (i % 8)}"));
            for (var i = 0; i < clients.Count; i++)
                await clients[i].SendAsync(Encoding.ASCII.GetBytes($"line {i}\n"), SocketFlags.None);
            for (var i = 0; i < clients.Count; i++)
                Assert.Equal($"got line {i}\n", await GateFixture.ReadAllAsync(clients[i]));
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task Twist_ReplacesTheService()
    {
        await using var gate = new GateFixture("in.fingerd: ALL: twist /bin/echo \"no finger for %a\"\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        gate.Start(gate.Config(Forward("in.fingerd", port, echo.Port)));
        using var c = await GateFixture.ConnectAsync(port, from: "127.0.0.5");
        Assert.Equal("no finger for 127.0.0.5\n", await GateFixture.ReadAllAsync(c));
        Assert.Equal(0, echo.Accepted);
        await gate.WaitForLogAsync("twist 127.0.0.5 to /bin/echo");
    }

    [Fact]
    public async Task Banners_SendTheDaemonsFileWithCrlf_ThenTheService()
    {
        await using var gate = new GateFixture();
        var banners = Directory.CreateDirectory(Path.Combine(gate.Directory, "banners")).FullName;
        File.WriteAllText(Path.Combine(banners, "echo"), "Welcome %a\nAuthorised use only\n");
        File.WriteAllText(gate.Allow, $"echo: ALL: banners {banners}\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        gate.Start(gate.Config(Forward("echo", port, echo.Port)));
        using var c = await GateFixture.ConnectAsync(port, from: "127.0.0.6");
        await c.SendAsync("x"u8.ToArray(), SocketFlags.None);
        c.Shutdown(SocketShutdown.Send);
        Assert.Equal("Welcome 127.0.0.6\r\nAuthorised use only\r\nx", await GateFixture.ReadAllAsync(c));
    }

    [Fact]
    public async Task Banners_AsLibwrapSendsThem_LeadingEmptyLinesNulAndTheLookupsOfPercentN()
    {
        // banners_option(): empty lines kept, a NUL ends its line (the rest of it is lost), a line ending
        // in '%' loses its CR to percent_x(), and %n looks the name up, which the connect line then shows.
        await using var gate = new GateFixture();
        var banners = Directory.CreateDirectory(Path.Combine(gate.Directory, "banners")).FullName;
        File.WriteAllBytes(Path.Combine(banners, "echo"), "\n\nname %n\nab\0cd\nends in %\nlast"u8.ToArray());
        File.WriteAllText(gate.Allow, $"echo: ALL: banners {banners}\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        gate.Start(gate.Config(Forward("echo", port, echo.Port)), new NamedLookups());
        using var c = await GateFixture.ConnectAsync(port, from: "127.0.0.26");
        c.Shutdown(SocketShutdown.Send);
        Assert.Equal("\r\n\r\nname host26.test\r\nabends in \nlast", await GateFixture.ReadAllAsync(c));
        Assert.EndsWith("]: connect from host26.test (127.0.0.26)", await gate.WaitForLogAsync("connect from host26"), StringComparison.Ordinal);
    }

    /// <summary>Every address is host&lt;last byte&gt;.test.</summary>
    private sealed class NamedLookups : IRequestLookups
    {
        public ValueTask<string> HostNameAsync(string address, CancellationToken cancellationToken) =>
            ValueTask.FromResult($"host{address[(address.LastIndexOf('.') + 1)..]}.test");

        public ValueTask<string> UserAsync(AccessRequest request, TimeSpan timeout, CancellationToken cancellationToken) =>
            ValueTask.FromResult(AccessRequest.Unknown);
    }

    [Fact]
    public async Task Spawn_RunsTheCommandWithExpansions_AndTheRefusalStands()
    {
        await using var gate = new GateFixture();
        var mark = Path.Combine(gate.Directory, "spawned");
        File.WriteAllText(gate.Deny, $"ALL: ALL: spawn echo %d %a > {mark}\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        gate.Start(gate.Config(Forward("echo", port, echo.Port)));
        using var c = await GateFixture.ConnectAsync(port, from: "127.0.0.7");
        Assert.Equal("", await GateFixture.ReadAllAsync(c));
        for (var i = 0; i < 100 && !File.Exists(mark); i++)
            await Task.Delay(50);
        Assert.Equal("echo 127.0.0.7\n", File.ReadAllText(mark));
    }

    [Fact]
    public async Task AclExec_FailingCommand_RefusesThroughHostsDeny()
    {
        await using var gate = new GateFixture("echo: ALL: aclexec test %a = 127.0.0.8\n", "ALL: ALL\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        gate.Start(gate.Config(Forward("echo", port, echo.Port)));
        using (var ok = await GateFixture.ConnectAsync(port, from: "127.0.0.8"))
        {
            await ok.SendAsync("y"u8.ToArray(), SocketFlags.None);
            ok.Shutdown(SocketShutdown.Send);
            Assert.Equal("y", await GateFixture.ReadAllAsync(ok));
        }
        using var no = await GateFixture.ConnectAsync(port, from: "127.0.0.9");
        Assert.Equal("", await GateFixture.ReadAllAsync(no));
        await gate.WaitForLogAsync("refused connect from 127.0.0.9");
    }

    [Fact]
    public async Task AclExec_HasTheConnectionOnItsStdio_AsDebiansTcpdGivesIt()
    {
        // Debian's aclexec_option() runs the shell on tcpd's own descriptors: what the command writes
        // reaches the client, before the service's bytes when it lets the client in.
        await using var gate = new GateFixture("echo: 127.0.0.8: aclexec echo checked %a\necho: 127.0.0.9: aclexec echo no; exit 1\n", "ALL: ALL\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        gate.Start(gate.Config(Forward("echo", port, echo.Port)));
        using (var ok = await GateFixture.ConnectAsync(port, from: "127.0.0.8"))
        {
            await ok.SendAsync("y"u8.ToArray(), SocketFlags.None);
            ok.Shutdown(SocketShutdown.Send);
            Assert.Equal("checked 127.0.0.8\ny", await GateFixture.ReadAllAsync(ok));
        }
        using var no = await GateFixture.ConnectAsync(port, from: "127.0.0.9");
        Assert.Equal("no\n", await GateFixture.ReadAllAsync(no));
        await gate.WaitForLogAsync("refused connect from 127.0.0.9");
    }

    [Fact]
    public async Task Ipv6Loopback_IsJudgedAsIpv6()
    {
        await using var gate = new GateFixture("echo: [::1]\n", "ALL: ALL\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        gate.Start(gate.Config(Forward("echo", port, echo.Port, host: "::1")));
        using var c = await GateFixture.ConnectAsync(port, from: "::1", to: "::1");
        await c.SendAsync("six"u8.ToArray(), SocketFlags.None);
        c.Shutdown(SocketShutdown.Send);
        Assert.Equal("six", await GateFixture.ReadAllAsync(c));
    }

    [Fact]
    public async Task StalledClient_DoesNotHoldUpOthers()
    {
        await using var gate = new GateFixture("echo: ALL\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        gate.Start(gate.Config(Forward("echo", port, echo.Port)));
        // Silent clients: connected, never send, never read.
        var silent = new List<Socket>();
        for (var i = 0; i < 10; i++)
            silent.Add(await GateFixture.ConnectAsync(port, from: "127.0.0.10"));
        using var c = await GateFixture.ConnectAsync(port, from: "127.0.0.11");
        await c.SendAsync("fine"u8.ToArray(), SocketFlags.None);
        c.Shutdown(SocketShutdown.Send);
        Assert.Equal("fine", await GateFixture.ReadAllAsync(c));
        silent.ForEach(s => s.Dispose());
    }

    [Fact]
    public async Task PerSourceLimit_RefusesTheExcess()
    {
        await using var gate = new GateFixture("echo: ALL\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        var config = gate.Config(Forward("echo", port, echo.Port)) with { Limits = new LimitsConfig { MaxPerSource = 2 } };
        gate.Start(config);
        using var a = await GateFixture.ConnectAsync(port, from: "127.0.0.12");
        using var b = await GateFixture.ConnectAsync(port, from: "127.0.0.12");
        await Task.Delay(200);
        using var c = await GateFixture.ConnectAsync(port, from: "127.0.0.12");
        Assert.Equal("", await GateFixture.ReadAllAsync(c));
        await gate.WaitForLogAsync("more than 2 connections from one address");
    }

    [Fact]
    public async Task Reload_AddsAServiceWithoutDroppingOpenConnections()
    {
        await using var gate = new GateFixture("ALL: ALL\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        var server = gate.Start(gate.Config(Forward("echo", port, echo.Port)));
        using var open = await GateFixture.ConnectAsync(port);
        await open.SendAsync("1"u8.ToArray(), SocketFlags.None);
        var port2 = GateFixture.FreePort();
        server.Reload(gate.Config(Forward("echo", port, echo.Port), Forward("echo2", port2, echo.Port)));
        using var second = await GateFixture.ConnectAsync(port2);
        await second.SendAsync("2"u8.ToArray(), SocketFlags.None);
        second.Shutdown(SocketShutdown.Send);
        Assert.Equal("2", await GateFixture.ReadAllAsync(second));
        await open.SendAsync("3"u8.ToArray(), SocketFlags.None);
        open.Shutdown(SocketShutdown.Send);
        Assert.Equal("13", await GateFixture.ReadAllAsync(open));
    }
}
