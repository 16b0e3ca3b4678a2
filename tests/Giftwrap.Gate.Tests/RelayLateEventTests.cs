// The relay closes a connection's descriptors without EPOLL_CTL_DEL: where another descriptor still
// holds the socket (here a duplicate the test keeps, as a child between fork and exec would), the
// socket stays in the loop's interest list, and its events come after the connection ended. They
// must be ignored: no second end, no harm to the connections that took the freed slots.
using System.Net;
using System.Net.Sockets;
using System.Text;
using Giftwrap.Gate.Forwarding;
using Giftwrap.Gate.Interop;

namespace Giftwrap.Gate.Tests;

public sealed class RelayLateEventTests
{
    private sealed class Owner(IPEndPoint backend) : IRelayOwner
    {
        public Relay? Relay;
        public readonly List<int> Kept = [];
        public readonly List<RelayResult> Results = [];
        public volatile bool Keep = true;

        public void Accepted(RelayListener listener, in AcceptedBatch batch, RelayLoop loop)
        {
            foreach (var (fd, _, noDelay) in batch.Sockets)
            {
                // The copy a forked child would hold: the relay's close does not end the socket.
                if (Keep)
                {
                    lock (Kept)
                        Kept.Add(Libc.fcntl(fd, Libc.FDupFdCloexec, 0));
                }
                if (Relay!.Start(fd, backend, TimeSpan.FromSeconds(5), null, loop, default, noDelay) != 0)
                    _ = Libc.close(fd);
            }
        }

        public void AcceptFailed(RelayListener listener, int errno, int ceiling)
        {
        }

        public void Ended(object? state, in RelayResult result)
        {
            lock (Results)
                Results.Add(result);
        }

        public int Ended()
        {
            lock (Results)
                return Results.Count;
        }
    }

    [Fact]
    public async Task EventsAfterTheEnd_OfASocketStillHeldElsewhere_AreIgnored()
    {
        using var backend = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        backend.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        backend.Listen(64);
        var owner = new Owner((IPEndPoint)backend.LocalEndPoint!);
        using var relay = new Relay(16 * 1024, owner);
        owner.Relay = relay;
        using var front = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        front.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        front.Listen(64);
        var listening = relay.Listen(front, new object());
        var clients = new List<Socket>();
        try
        {
            // Ended by the backend's reset, while the client's socket lives on in the kept copy.
            const int Early = 6;
            for (var i = 0; i < Early; i++)
            {
                var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(c);
                await c.ConnectAsync(front.LocalEndPoint!);
                using var b = await backend.AcceptAsync();
                b.LingerState = new LingerOption(true, 0);
                b.Close();
                await WaitUntilAsync(() => owner.Ended() == i + 1);
            }
            // New connections take the freed slots (not kept: the relay's close must be the last,
            // to say the end to the client).
            owner.Keep = false;
            var pairs = new List<(Socket Client, Socket Backend)>();
            for (var i = 0; i < Early; i++)
            {
                var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(c);
                await c.ConnectAsync(front.LocalEndPoint!);
                var b = await backend.AcceptAsync();
                clients.Add(b);
                pairs.Add((c, b));
            }
            // Now the late events, while the slots are taken again: bytes and a FIN on each ended
            // connection's socket. Taken for a new connection's, the FIN would end its upstream early.
            for (var i = 0; i < Early; i++)
            {
                await clients[i].SendAsync(Encoding.ASCII.GetBytes("late"), SocketFlags.None);
                clients[i].Shutdown(SocketShutdown.Send);
            }
            // Time for the late events to reach the loops (the test passes either way; it only catches less).
            await Task.Delay(200);
            // Every new connection is relayed whole, both ways, its upstream open until its own FIN.
            foreach (var (c, b) in pairs)
            {
                await c.SendAsync(Encoding.ASCII.GetBytes("ping"), SocketFlags.None);
                Assert.Equal("ping", await ReadExactlyAsync(b, 4));
                await b.SendAsync(Encoding.ASCII.GetBytes("pong"), SocketFlags.None);
                Assert.Equal("pong", await ReadExactlyAsync(c, 4));
                await c.SendAsync(Encoding.ASCII.GetBytes("more"), SocketFlags.None);
                c.Shutdown(SocketShutdown.Send);
                Assert.Equal("more", await ReadAllAsync(b));
                b.Shutdown(SocketShutdown.Send);
                Assert.Equal("", await ReadAllAsync(c));
            }
            await WaitUntilAsync(() => owner.Ended() == 2 * Early);
            await relay.UnlistenAsync(listening);
            lock (owner.Results)
            {
                Assert.Equal(2 * Early, owner.Results.Count);
                Assert.All(owner.Results.Take(Early), r => Assert.NotEqual(0, r.Error));
                Assert.All(owner.Results.Skip(Early), r => Assert.Equal((0, 8L, 4L), (r.Error, r.ToBackend, r.ToClient)));
            }
        }
        finally
        {
            foreach (var c in clients)
                c.Dispose();
            lock (owner.Kept)
            {
                foreach (var fd in owner.Kept)
                    _ = Libc.close(fd);
            }
        }
    }

    private static async Task<string> ReadExactlyAsync(Socket s, int count)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[count];
        var got = 0;
        while (got < count)
        {
            var n = await s.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None, cts.Token);
            if (n == 0)
                break;
            got += n;
        }
        return Encoding.ASCII.GetString(buffer, 0, got);
    }

    private static async Task<string> ReadAllAsync(Socket s)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var all = new MemoryStream();
        var buffer = new byte[256];
        int n;
        while ((n = await s.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
            all.Write(buffer, 0, n);
        return Encoding.ASCII.GetString(all.ToArray());
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 400 && !condition(); i++)
            await Task.Delay(25);
        Assert.True(condition(), "the condition did not come true within 10 s");
    }
}
