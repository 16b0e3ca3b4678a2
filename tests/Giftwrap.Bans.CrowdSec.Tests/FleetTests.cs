// CrowdSec's decisions travel like any ban: the bouncer runs on one fleet member, and a
// member with no bouncer of its own (joined through a real redis-server) enforces them and
// lifts them when CrowdSec deletes them.
using Giftwrap.Bans.Redis.Tests;

namespace Giftwrap.Bans.CrowdSec.Tests;

public sealed class FleetTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("giftwrap-crowdsec-fleet-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Bouncer_OnOneMember_BansAndUnbansOnEveryMember()
    {
        using var redis = new RedisServer();
        using var lapi = new CrowdSecLapi();
        var key = File.ReadAllText(lapi.AddBouncer("gate-a")).Trim();
        lapi.Cscli("decisions", "add", "-i", "10.5.0.1", "-d", "4h");
        var prefix = "crowdsec-" + Guid.NewGuid().ToString("N");
        await using var a = await Member.StartAsync("gate-a", _dir, redis.ConnectionString, prefix);
        await using var b = await Member.StartAsync("gate-b", _dir, redis.ConnectionString, prefix);
        await using var bouncer = CrowdSecBouncer.Start(a.Store, new CrowdSecOptions
        {
            Lapi = new Uri(lapi.Url),
            ApiKey = key,
            Poll = TimeSpan.FromMilliseconds(200),
        });
        await Until(() => b.IsBanned("10.5.0.1"), "the startup decision on the other member");
        var copy = b.Store.Get(BanTarget.Parse("10.5.0.1"))!;
        Assert.Equal("gate-a", copy.Origin);
        Assert.StartsWith("crowdsec/cscli: ", copy.Reason);

        lapi.Cscli("decisions", "add", "-r", "10.6.0.0/24", "-d", "4h");
        await Until(() => b.IsBanned("10.6.0.9"), "a new range decision on the other member");
        lapi.Cscli("decisions", "delete", "-i", "10.5.0.1");
        await Until(() => !b.IsBanned("10.5.0.1"), "the deletion on the other member");
        Assert.True(b.IsBanned("10.6.0.9"));
    }

    private static async Task Until(Func<bool> condition, string what)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!condition())
        {
            if (cts.IsCancellationRequested)
                Assert.Fail($"still not so after 60 s: {what}");
            await Task.Delay(50);
        }
    }
}
