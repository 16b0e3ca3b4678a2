// Bulk data through the forward proxy: every byte arrives, in order, both ways at
// once, whether splice(2) or the buffered copy carries it.
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Giftwrap.Gate.Config;

namespace Giftwrap.Gate.Tests;

public sealed class BulkForwardTests
{
    [Fact]
    public async Task Forward_TwentyMegabytesBothWays_ArriveIntact()
    {
        await using var gate = new GateFixture("ALL: ALL\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        gate.Start(gate.Config(new ServiceConfig
        {
            Name = "bulk",
            Daemon = "bulk",
            Listen = [new IPEndPoint(IPAddress.Loopback, port)],
            Forward = new IPEndPoint(IPAddress.Loopback, echo.Port),
        }));
        var data = RandomNumberGenerator.GetBytes(20 * 1024 * 1024);
        using var c = await GateFixture.ConnectAsync(port);
        var send = Task.Run(async () =>
        {
            for (var off = 0; off < data.Length; off += 100_000)
                await c.SendAsync(data.AsMemory(off, Math.Min(100_000, data.Length - off)), SocketFlags.None);
            c.Shutdown(SocketShutdown.Send);
        });
        using var received = new MemoryStream();
        var buf = new byte[1 << 16];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        int n;
        while ((n = await c.ReceiveAsync(buf, SocketFlags.None, cts.Token)) > 0)
            received.Write(buf, 0, n);
        await send;
        Assert.Equal(data.Length, received.Length);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(received.ToArray()));
    }
}
