// A "Redis" that answers garbage (the one case a fake server plays: a real redis-server
// never does): a member joining it returns, enforces its bans locally, and stays up.
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Giftwrap.Bans.Redis.Tests;

public sealed class GarbageRedisTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("giftwrap-garbage-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory]
    [InlineData("*2000000000\r\n")]
    [InlineData("$2000000000\r\n")]
    [InlineData("\u0000\u00ff\u00fe garbage\r\n")]
    [InlineData("+OK\r\n:notanumber\r\n-ERR\r\n*-5\r\n")]
    public async Task Join_ServerAnswersGarbage_ReturnsAndEnforcesLocally(string answer)
    {
        using var server = new TcpListener(IPAddress.Loopback, 0);
        server.Start();
        var port = ((IPEndPoint)server.LocalEndpoint).Port;
        var held = new ConcurrentBag<Socket>();
        using var stop = new CancellationTokenSource();
        var bytes = answer.Select(c => (byte)c).ToArray();
        _ = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var s = await server.AcceptSocketAsync(stop.Token);
                held.Add(s);
                _ = Task.Run(async () =>
                {
                    var buffer = new byte[4096];
                    try
                    {
                        while (await s.ReceiveAsync(buffer) > 0)
                            await s.SendAsync(bytes);
                    }
                    catch (SocketException)
                    {
                        // The client hung up.
                    }
                });
            }
        });
        using var store = BanStore.Open(new BanOptions { Store = Path.Combine(_root, "store"), Origin = "g" });
        var fleet = await BanFleet.JoinAsync(store, new FleetOptions { Redis = $"127.0.0.1:{port}", KeyPrefix = "t:g" }).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(BanOutcome.Banned, store.Ban(new BanRequest { Target = BanTarget.Parse("203.0.113.9"), Duration = TimeSpan.FromHours(1) }).Outcome);
        await Task.Delay(3000);
        Assert.NotNull(store.Find(IPAddress.Parse("203.0.113.9"), "sshd", DateTimeOffset.UtcNow));
        Assert.False(await fleet.SyncAsync().WaitAsync(TimeSpan.FromSeconds(60)));
        await fleet.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
        await stop.CancelAsync();
        foreach (var s in held)
            s.Dispose();
    }
}
