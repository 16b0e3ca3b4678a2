// The fleet's link to Redis as an operator sees it: a Redis that accepts TCP and never
// answers delays nothing; losing Redis and regaining it are one log line and one count
// each, however often the client retries; bans held back by fleet_rate are summed up in
// one line per interval, not one per ban, and counted; a Redis that fails every exchange
// (paused past its timeouts, a list key of the wrong type) is said once, and malformed records
// one line per interval. Real redis-server, real sockets.
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Giftwrap.Bans.Redis.Tests;

public sealed class FleetLinkTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("giftwrap-fleetlink-").FullName;
    private readonly string _origin = "link-" + Guid.NewGuid().ToString("N")[..8];
    private readonly ListLog _log = new();
    private readonly MeterListener _meters = new();
    private readonly ConcurrentDictionary<string, long> _counts = new();

    public FleetLinkTests()
    {
        _meters.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == "Giftwrap" && i.Name.StartsWith("giftwrap.fleet.", StringComparison.Ordinal))
                l.EnableMeasurementEvents(i);
        };
        _meters.SetMeasurementEventCallback<long>((i, value, tags, _) =>
        {
            string? origin = null, state = null;
            foreach (var t in tags)
            {
                if (t.Key == "origin")
                    origin = t.Value as string;
                if (t.Key == "state")
                    state = t.Value as string;
            }
            if (origin == _origin)
                _counts.AddOrUpdate(state is null ? i.Name : $"{i.Name}:{state}", value, (_, v) => v + value);
        });
        _meters.Start();
    }

    private BanStore OpenStore() => BanStore.Open(new BanOptions { Store = Path.Combine(_root, "store"), Origin = _origin });

    private long Count(string key) => _counts.TryGetValue(key, out var v) ? v : 0;

    [Fact]
    public async Task Start_RedisAcceptsTcpButNeverAnswers_ReturnsAtOnceEnforcesLocallyAndSaysSo()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        var held = new ConcurrentBag<Socket>();
        _ = Task.Run(async () =>
        {
            while (true)
                held.Add(await silent.AcceptSocketAsync()); // accepted, never answered
        });
        using var store = OpenStore();
        await using var fleet = BackgroundFleet.Start(store, new FleetOptions { Redis = $"127.0.0.1:{port}", KeyPrefix = "t:" + _origin }, _log);
        // The host goes on at once: nothing waited for Redis, and bans are enforced locally.
        Assert.Equal(BanOutcome.Banned, store.Ban(new BanRequest { Target = BanTarget.Parse("203.0.113.7"), Duration = TimeSpan.FromHours(1) }).Outcome);
        Assert.NotNull(store.Find(IPAddress.Parse("203.0.113.7"), "sshd", DateTimeOffset.UtcNow));
        // The join ends within its bounded connect timeout, not connected, and says so once.
        var member = await fleet.Joined.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.False(member.IsConnected);
        Assert.NotEmpty(held); // it did reach the silent server
        Assert.Single(_log.Lines, l => l.Id == 3111 && l.Text.Contains($"127.0.0.1:{port}", StringComparison.Ordinal));
        Assert.Equal(1, Count("giftwrap.fleet.link:unreachable"));
        silent.Stop();
        foreach (var s in held)
            s.Dispose();
    }

    [Fact]
    public async Task RedisLostAndRegained_OneLineAndOneCountEach()
    {
        using var redis = new RedisServer();
        using var store = OpenStore();
        var member = await BanFleet.JoinAsync(store, new FleetOptions { Redis = redis.ConnectionString, KeyPrefix = "t:" + _origin }, _log);
        try
        {
            Assert.True(member.IsConnected);
            redis.Kill();
            await Eventually.TrueAsync(() => _log.Lines.Any(l => l.Id == 3100), "the loss logged");
            // Several reconnect attempts fail while Redis is down: still one line.
            await Task.Delay(1500);
            redis.Start();
            await Eventually.TrueAsync(() => _log.Lines.Any(l => l.Id == 3110), "the return logged");
            await Eventually.TrueAsync(() => member.IsConnected, "connected again");
            Assert.Single(_log.Lines, l => l.Id == 3100);
            Assert.Single(_log.Lines, l => l.Id == 3110);
            Assert.Equal(1, Count("giftwrap.fleet.link:lost"));
            Assert.Equal(1, Count("giftwrap.fleet.link:restored"));
        }
        finally
        {
            await member.DisposeAsync();
        }
    }

    [Fact]
    public async Task RateCap_ManyBansHeldBack_OneLinePerIntervalAndCounted()
    {
        using var redis = new RedisServer();
        using var store = OpenStore();
        var member = await BanFleet.JoinAsync(store, new FleetOptions { Redis = redis.ConnectionString, KeyPrefix = "t:" + _origin, Rate = new FleetRate(3, TimeSpan.FromHours(1)) }, _log);
        member.KeptLocalLogInterval = TimeSpan.FromHours(1);
        for (var i = 1; i <= 40; i++)
            store.Ban(new BanRequest { Target = BanTarget.Parse($"198.51.100.{i}"), Duration = TimeSpan.FromHours(1) });
        await Eventually.TrueAsync(() => member.Status.KeptLocal == 37, "37 bans held back");
        Assert.Single(_log.Lines, l => l.Id == 3105); // the first at once; the rest wait for the interval's end
        await member.DisposeAsync(); // leaving says what the interval held
        var lines = _log.Lines.Where(l => l.Id == 3105).ToList();
        Assert.Equal(2, lines.Count);
        Assert.StartsWith("1 ban(s) kept local", lines[0].Text, StringComparison.Ordinal);
        Assert.StartsWith("36 ban(s) kept local", lines[1].Text, StringComparison.Ordinal);
        Assert.Equal(37, Count("giftwrap.fleet.kept_local"));
    }

    [Fact]
    public async Task ListKeyOfTheWrongType_SaidOnceEnforcedLocally_SentOnceRepaired()
    {
        using var redis = new RedisServer();
        await using var raw = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = raw.GetDatabase();
        var key = "t:" + _origin + ":list";
        await db.StringSetAsync(key, "planted by someone with Redis access");
        using var store = OpenStore();
        var member = await BanFleet.JoinAsync(store, new FleetOptions { Redis = redis.ConnectionString, KeyPrefix = "t:" + _origin }, _log);
        try
        {
            Assert.Equal(BanOutcome.Banned, store.Ban(new BanRequest { Target = BanTarget.Parse("192.0.2.30"), Duration = TimeSpan.FromHours(1) }).Outcome);
            // Every exchange and send fails (WRONGTYPE) while the key stays: it was logged every 200 ms.
            await Task.Delay(3000);
            Assert.NotNull(store.Find(IPAddress.Parse("192.0.2.30"), "sshd", DateTimeOffset.UtcNow));
            Assert.Single(_log.Lines, l => l.Id is 3102 or 3103);
            await db.KeyDeleteAsync(key);
            await Eventually.TrueAsync(() => db.HashExists(key, "192.0.2.30"), "the ban sent once the key is a hash again");
        }
        finally
        {
            await member.DisposeAsync();
        }
    }

    [Fact]
    public async Task RedisPaused_PastItsTimeouts_SaidOnceEnforcedLocally_SentOnResume()
    {
        using var redis = new RedisServer();
        using var store = OpenStore();
        var member = await BanFleet.JoinAsync(store, new FleetOptions { Redis = redis.ConnectionString, KeyPrefix = "t:" + _origin }, _log);
        try
        {
            redis.Pause();
            store.Ban(new BanRequest { Target = BanTarget.Parse("192.0.2.31"), Duration = TimeSpan.FromHours(1) });
            Assert.True(await member.SyncAsync().WaitAsync(TimeSpan.FromSeconds(60)) is false);
            store.Ban(new BanRequest { Target = BanTarget.Parse("192.0.2.32"), Duration = TimeSpan.FromHours(1) });
            // Past three of the connection string's 3 s timeouts, each failing a send or an exchange.
            await Task.Delay(10_000);
            Assert.NotNull(store.Find(IPAddress.Parse("192.0.2.32"), "sshd", DateTimeOffset.UtcNow));
            redis.Resume();
            await using var raw = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
            var db = raw.GetDatabase();
            await Eventually.TrueAsync(() => db.HashExists("t:" + _origin + ":list", "192.0.2.31") && db.HashExists("t:" + _origin + ":list", "192.0.2.32"), "both bans sent after the pause");
            Assert.Single(_log.Lines, l => l.Id is 3102 or 3103);
        }
        finally
        {
            redis.Resume();
            await member.DisposeAsync();
        }
    }

    [Fact]
    public async Task ThousandMalformedRecordsInTheList_OneLinePerIntervalTheGoodOneApplied()
    {
        // Garbage planted in the list stays there and is read again at every exchange: one line each was 1,000 lines per exchange.
        using var redis = new RedisServer();
        await using var raw = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = raw.GetDatabase();
        var key = "t:" + _origin + ":list";
        await db.HashSetAsync(key, [.. Enumerable.Range(0, 1000).Select(i => new StackExchange.Redis.HashEntry($"junk{i}", $"{{\"t\":\"junk {i}\"}}"))]);
        var now = DateTimeOffset.UtcNow;
        await db.HashSetAsync(key, "192.0.2.40", FleetRecord.FromEntry(new BanEntry
        {
            Target = BanTarget.Parse("192.0.2.40"), Origin = "elsewhere", Created = now, Expires = now.AddHours(1),
        }).ToJson());
        using var store = OpenStore();
        var member = await BanFleet.JoinAsync(store, new FleetOptions { Redis = redis.ConnectionString, KeyPrefix = "t:" + _origin }, _log);
        try
        {
            Assert.NotNull(store.Find(IPAddress.Parse("192.0.2.40"), "sshd", DateTimeOffset.UtcNow));
            Assert.True(await member.SyncAsync());
            Assert.Equal(2000, member.Status.Malformed); // counted every time it is read
            Assert.Single(_log.Lines, l => l.Id == 3106); // the first at once; the rest wait for the interval's end
        }
        finally
        {
            await member.DisposeAsync(); // leaving says what the interval held
        }
        var lines = _log.Lines.Where(l => l.Id == 3106).Select(l => l.Text).ToList();
        Assert.Equal(2, lines.Count);
        Assert.StartsWith("Ignored 1 malformed fleet record(s) (the first: ", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("Ignored 1999 malformed fleet record(s)", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChannelFlood_WhileTheWorkerIsBusy_QueueBoundedAndEveryListedRecordApplied()
    {
        using var redis = new RedisServer();
        await using var raw = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = raw.GetDatabase();
        var channel = StackExchange.Redis.RedisChannel.Literal("t:" + _origin + ":changes");
        using var store = OpenStore();
        var member = await BanFleet.JoinAsync(store, new FleetOptions { Redis = redis.ConnectionString, KeyPrefix = "t:" + _origin }, _log);
        member.RemoteQueueLimit = 50;
        using var busy = new ManualResetEventSlim();
        member.Notice += (_, n) =>
        {
            if (n.Kind == FleetNoticeKind.Malformed)
                busy.Wait(TimeSpan.FromSeconds(60)); // the worker raises notices: held here, it applies nothing
        };
        var now = DateTimeOffset.UtcNow;
        var targets = Enumerable.Range(0, 500).Select(i => $"10.1.{i >> 8}.{i & 255}").ToList();
        try
        {
            await raw.GetSubscriber().PublishAsync(channel, "{not json");
            await Eventually.TrueAsync(() => member.Status.Malformed == 1, "the worker held");
            foreach (var t in targets)
            {
                // What the fleet's script does: store, then publish.
                var json = FleetRecord.FromEntry(new BanEntry { Target = BanTarget.Parse(t), Origin = "elsewhere", Created = now, Expires = now.AddHours(1) }).ToJson();
                await db.HashSetAsync("t:" + _origin + ":list", t, json);
                await raw.GetSubscriber().PublishAsync(channel, json);
            }
            await Eventually.TrueAsync(() => _log.Lines.Any(l => l.Id == 3114), "records dropped past the limit");
            // Every record delivered before the worker goes on: one still in flight then would find room
            // and be queued, not dropped (449, about once in six runs).
            await Eventually.TrueAsync(() => member.RemoteDropped == 450, "the channel's records all delivered");
            busy.Set();
            await Eventually.TrueAsync(() => targets.All(t => store.Find(IPAddress.Parse(t), "sshd", DateTimeOffset.UtcNow) is not null), "every listed record applied");
        }
        finally
        {
            busy.Set();
            await member.DisposeAsync();
        }
        // 50 waited; the other 450 were dropped (and read from the list), said in two lines.
        Assert.Equal(450, _log.Lines.Where(l => l.Id == 3114).Sum(l => long.Parse(l.Text.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture)));
    }

    public void Dispose()
    {
        _meters.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private sealed class ListLog : ILogger
    {
        private readonly List<(int Id, string Text)> _lines = [];

        public List<(int Id, string Text)> Lines
        {
            get
            {
                lock (_lines)
                    return [.. _lines];
            }
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_lines)
                _lines.Add((eventId.Id, formatter(state, exception)));
        }
    }
}
