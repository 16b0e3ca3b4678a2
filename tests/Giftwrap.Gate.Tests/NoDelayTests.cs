// TCP_NODELAY set once on a forward service's listener instead of once per connection: the kernel
// fact it rests on (an accepted socket copies its listener's option when its handshake completes),
// the relay's word on which accepted sockets surely have it, and the long way's promise that a
// program given the socket gets it as accept(2) always gave it (without the option).
using System.Net;
using System.Net.Sockets;
using Giftwrap.Gate.Config;
using Giftwrap.Gate.Forwarding;
using Giftwrap.Gate.Interop;

namespace Giftwrap.Gate.Tests;

public sealed class NoDelayTests
{
    [Fact]
    public async Task AcceptedSocket_CopiesTheListenersNoDelay_WhenItsHandshakeCompletes()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(8);
        using var before = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await before.ConnectAsync(listener.LocalEndPoint!);
        listener.NoDelay = true;
        using var after = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await after.ConnectAsync(listener.LocalEndPoint!);
        using var first = await listener.AcceptAsync();
        using var second = await listener.AcceptAsync();
        // Queued before the listener had it: without (hence the relay's "pending" until the queue is seen empty).
        Assert.False(first.NoDelay);
        Assert.True(second.NoDelay);
    }

    [Fact]
    public async Task ForwardListener_SaysNoDelay_OnlyOfSocketsThatHaveIt()
    {
        using var front = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        front.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        front.Listen(64);
        var clients = new List<Socket>();
        var owner = new Recorder();
        using var relay = new Relay(16 * 1024, owner);
        try
        {
            // Queued before the relay sets the option on the listener.
            clients.Add(await ConnectAsync(front));
            var listening = relay.Listen(front, new object(), forwards: true);
            Assert.True(listening.RaisedNoDelay);
            Assert.True(front.NoDelay);
            await owner.WaitForAsync(1);
            for (var i = 0; i < 20; i++)
            {
                clients.Add(await ConnectAsync(front));
                await owner.WaitForAsync(i + 2);
            }
            await relay.UnlistenAsync(listening);
            lock (owner.Seen)
            {
                Assert.Equal((false, false), owner.Seen[0]);
                // Never said of a socket without it; said once the queue was seen empty.
                Assert.All(owner.Seen, s => Assert.True(!s.Said || s.Has));
                Assert.Contains(owner.Seen, s => s.Said);
            }
        }
        finally
        {
            foreach (var c in clients)
                c.Dispose();
        }
    }

    [Fact]
    public async Task Twist_OnAForwardService_GetsTheSocketWithoutNoDelay_AsAccepted()
    {
        const string Probe = "perl -MSocket=IPPROTO_TCP,TCP_NODELAY -e 'print \"nodelay=\", unpack(\"i\", getsockopt(STDIN, IPPROTO_TCP, TCP_NODELAY)), \"\\n\"'";
        await using var gate = new GateFixture($"echo: 127.0.0.3: twist {Probe}\n", "");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        gate.Start(gate.Config(new ServiceConfig
        {
            Name = "echo",
            Daemon = "echo",
            Listen = [new IPEndPoint(IPAddress.Loopback, port)],
            Forward = new IPEndPoint(IPAddress.Loopback, echo.Port),
        }));
        // A forwarded connection first, so that the listener's option is in force for the next.
        using (var forwarded = await GateFixture.ConnectAsync(port))
        {
            await forwarded.SendAsync("x"u8.ToArray(), SocketFlags.None);
            forwarded.Shutdown(SocketShutdown.Send);
            Assert.Equal("x", await GateFixture.ReadAllAsync(forwarded));
        }
        using var twisted = await GateFixture.ConnectAsync(port, from: "127.0.0.3");
        Assert.Equal("nodelay=0\n", await GateFixture.ReadAllAsync(twisted));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ActivatedListener_IsLeftAsSystemdGaveIt(bool noDelay)
    {
        // systemd holds the socket too: an option set on it would outlive this gate, and the next
        // one could not tell it from NoDelay=yes.
        await using var gate = new GateFixture("ALL: ALL\n");
        using var echo = new EchoServer();
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = noDelay };
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(16);
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        var config = gate.Config(new ServiceConfig
        {
            Name = "echo",
            Daemon = "echo",
            Listen = [new IPEndPoint(IPAddress.Loopback, port)],
            Forward = new IPEndPoint(IPAddress.Loopback, echo.Port),
        });
        await using var server = new Listening.GateServer(config, gate.Log, new GateFixture.NoLookups(), [(listener, null)]);
        server.Start();
        using (var c = await GateFixture.ConnectAsync(port))
        {
            await c.SendAsync("x"u8.ToArray(), SocketFlags.None);
            c.Shutdown(SocketShutdown.Send);
            Assert.Equal("x", await GateFixture.ReadAllAsync(c));
        }
        Assert.Equal(noDelay, listener.NoDelay);
    }

    private static async Task<Socket> ConnectAsync(Socket listener)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync(listener.LocalEndPoint!);
        return s;
    }

    // Records, per accepted socket, what the relay said and what the socket has; then closes it.
    private sealed class Recorder : IRelayOwner
    {
        public readonly List<(bool Said, bool Has)> Seen = [];

        public unsafe void Accepted(RelayListener listener, in AcceptedBatch batch, RelayLoop loop)
        {
            foreach (var (fd, _, noDelay) in batch.Sockets)
            {
                var on = 0;
                uint length = sizeof(int);
                _ = Libc.getsockopt(fd, Libc.IpProtoTcp, Libc.TcpNoDelay, &on, &length);
                _ = Libc.close(fd);
                lock (Seen)
                    Seen.Add((noDelay, on != 0));
            }
        }

        public void AcceptFailed(RelayListener listener, int errno, int ceiling)
        {
        }

        public void Ended(object? state, in RelayResult result)
        {
        }

        public async Task WaitForAsync(int count)
        {
            for (var i = 0; i < 400; i++)
            {
                lock (Seen)
                {
                    if (Seen.Count >= count)
                        return;
                }
                await Task.Delay(25);
            }
            Assert.Fail($"fewer than {count} connections accepted within 10 s");
        }
    }
}
