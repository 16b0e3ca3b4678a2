// The relay's event loops through the gate, on loopback: a backend that does not read holds the
// client back and then gets every byte; a backend that never answers the handshake runs out of
// time; a stop whose drain runs out closes what is relayed; a reload that drops a service stops
// its accepting but not its open connections; counts per source go back down.
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Giftwrap.Gate.Config;

namespace Giftwrap.Gate.Tests;

public sealed class RelayTests
{
    private static ServiceConfig Forward(string daemon, int port, int backend) => new()
    {
        Name = daemon,
        Daemon = daemon,
        Listen = [new IPEndPoint(IPAddress.Loopback, port)],
        Forward = new IPEndPoint(IPAddress.Loopback, backend),
    };

    [Fact]
    public async Task SlowBackend_HoldsTheClientBack_ThenEveryByteArrives()
    {
        await using var gate = new GateFixture("ALL: ALL\n");
        using var listener = Backend(backlog: 4);
        var port = GateFixture.FreePort();
        gate.Start(gate.Config(Forward("sink", port, ((IPEndPoint)listener.LocalEndPoint!).Port)));

        // 64 MiB: far more than the socket buffers of three sockets on the way can take.
        var data = new byte[64 << 20];
        new Random(7).NextBytes(data);
        using var client = await GateFixture.ConnectAsync(port);
        using var backend = await listener.AcceptAsync();
        var sending = Task.Run(async () =>
        {
            await client.SendAsync(data, SocketFlags.None);
            client.Shutdown(SocketShutdown.Send);
        });
        await Task.Delay(1000);
        Assert.False(sending.IsCompleted, "the client wrote 64 MiB into a backend that reads nothing: no backpressure");

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        long received = 0;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        int n;
        while ((n = await backend.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
        {
            hash.AppendData(buffer, 0, n);
            received += n;
        }
        await sending;
        Assert.Equal(data.Length, received);
        Assert.Equal(SHA256.HashData(data), hash.GetHashAndReset());
    }

    [Fact]
    public async Task SlowClient_HoldsTheBackendBack_ThenEveryByteArrives()
    {
        // The other way: the client's buffer fills, and the backend is held back until the client reads.
        await using var gate = new GateFixture("ALL: ALL\n");
        using var listener = Backend(backlog: 4);
        var port = GateFixture.FreePort();
        gate.Start(gate.Config(Forward("source", port, ((IPEndPoint)listener.LocalEndPoint!).Port)));

        var data = new byte[64 << 20];
        new Random(11).NextBytes(data);
        using var client = await GateFixture.ConnectAsync(port);
        using var backend = await listener.AcceptAsync();
        var sending = Task.Run(async () =>
        {
            await backend.SendAsync(data, SocketFlags.None);
            backend.Shutdown(SocketShutdown.Send);
        });
        await Task.Delay(1000);
        Assert.False(sending.IsCompleted, "the backend wrote 64 MiB to a client that reads nothing: no backpressure");

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        long received = 0;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        int n;
        while ((n = await client.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
        {
            hash.AppendData(buffer, 0, n);
            received += n;
        }
        await sending;
        Assert.Equal(data.Length, received);
        Assert.Equal(SHA256.HashData(data), hash.GetHashAndReset());
    }

    [Fact]
    public async Task BackendThatNeverAnswers_ConnectTimesOut_AndTheClientIsClosed()
    {
        await using var gate = new GateFixture("ALL: ALL\n");
        // A listener whose accept queue is full: the kernel drops further SYNs, so a connect to it
        // neither succeeds nor fails until its caller gives up.
        using var full = Backend(backlog: 1);
        var target = (IPEndPoint)full.LocalEndPoint!;
        var fillers = new List<Socket>();
        try
        {
            // Non-blocking connects watched by poll(2) on this thread: on loopback the handshake is done
            // within connect() itself, so one still not writable after 300 ms had its SYN dropped. (An
            // awaited ConnectAsync with a cancellation timer could be cancelled by a busy thread pool
            // after its handshake had finished, and the queue then had room for the gate's connect.)
            for (var i = 0; i < 8; i++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
                fillers.Add(s);
                try
                {
                    s.Connect(target);
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
                {
                    // In progress: poll below says whether it completes.
                }
                if (!s.Poll(TimeSpan.FromMilliseconds(300), SelectMode.SelectWrite))
                    break; // This one hangs: the queue is full.
            }
            var port = GateFixture.FreePort();
            var config = gate.Config(Forward("hang", port, target.Port));
            gate.Start(config with { Limits = config.Limits with { ConnectTimeout = TimeSpan.FromSeconds(1) } });
            // Timed from before the connect: its continuation may run late on a busy thread pool, after the gate's clock started.
            var started = DateTime.UtcNow;
            using var client = await GateFixture.ConnectAsync(port);
            Assert.Equal("", await GateFixture.ReadAllAsync(client));
            Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(8));
            Assert.Contains("timed out; closing the client", await gate.WaitForLogAsync("cannot connect to backend"), StringComparison.Ordinal);
            await WaitUntilAsync(() => gate.Server!.OpenConnections == 0);
        }
        finally
        {
            foreach (var s in fillers)
                s.Dispose();
        }
    }

    [Fact]
    public async Task Stop_WhenTheDrainRunsOut_ClosesRelayedConnections()
    {
        await using var gate = new GateFixture("ALL: ALL\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        var server = gate.Start(gate.Config(Forward("echo", port, echo.Port)));
        using var client = await GateFixture.ConnectAsync(port);
        await client.SendAsync("ping"u8.ToArray(), SocketFlags.None);
        var buffer = new byte[16];
        Assert.Equal(4, await client.ReceiveAsync(buffer, SocketFlags.None));
        Assert.Equal(1, server.OpenConnections);

        await server.StopAsync(TimeSpan.FromMilliseconds(300));
        // The idle connection was ended: the client reads its end (or a reset), and nothing is left open.
        Assert.Equal("", await GateFixture.ReadAllAsync(client));
        Assert.Equal(0, server.OpenConnections);
        await Assert.ThrowsAnyAsync<SocketException>(() => GateFixture.ConnectAsync(port));
    }

    [Fact]
    public async Task Reload_RemovingAService_StopsItsAccepting_ButNotItsOpenConnections()
    {
        await using var gate = new GateFixture("ALL: ALL\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        var kept = GateFixture.FreePort();
        var server = gate.Start(gate.Config(Forward("gone", port, echo.Port), Forward("kept", kept, echo.Port)));
        using var open = await GateFixture.ConnectAsync(port);
        await open.SendAsync("1"u8.ToArray(), SocketFlags.None);

        server.Reload(gate.Config(Forward("kept", kept, echo.Port)));
        await WaitUntilAsync(() => !IsListening(port));
        var refused = await Assert.ThrowsAnyAsync<SocketException>(() => GateFixture.ConnectAsync(port));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);

        await open.SendAsync("2"u8.ToArray(), SocketFlags.None);
        open.Shutdown(SocketShutdown.Send);
        Assert.Equal("12", await GateFixture.ReadAllAsync(open));
        using var other = await GateFixture.ConnectAsync(kept);
        other.Shutdown(SocketShutdown.Send);
        Assert.Equal("", await GateFixture.ReadAllAsync(other));
    }

    [Fact]
    public async Task PerSourceCounts_GoBackDown_SoRoundAfterRoundIsAdmitted()
    {
        await using var gate = new GateFixture("ALL: ALL\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        var server = gate.Start(gate.Config(Forward("echo", port, echo.Port)));
        // The fixture's limit is 16 per source: five rounds of 16 at once from one address are all
        // served only if every connection's count is given back when it ends.
        for (var round = 0; round < 5; round++)
        {
            var replies = await Task.WhenAll(Enumerable.Range(0, 16).Select(async i =>
            {
                using var c = await GateFixture.ConnectAsync(port);
                var text = $"r{round}c{i}";
                await c.SendAsync(System.Text.Encoding.ASCII.GetBytes(text), SocketFlags.None);
                c.Shutdown(SocketShutdown.Send);
                return (text, reply: await GateFixture.ReadAllAsync(c));
            }));
            Assert.All(replies, r => Assert.Equal(r.text, r.reply));
            await WaitUntilAsync(() => server.OpenConnections == 0);
        }
        Assert.DoesNotContain(gate.LogLines, l => l.Contains("connections from one address", StringComparison.Ordinal));
    }

    /// <summary>A listening socket on loopback that nobody accepts on unless the test does.</summary>
    private static Socket Backend(int backlog)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        s.Listen(backlog);
        return s;
    }

    private static bool IsListening(int port)
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            probe.Connect(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++)
            await Task.Delay(25);
        Assert.True(condition(), "the condition did not come true within 5 s");
    }
}
