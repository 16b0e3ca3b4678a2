// The fleet through AddGiftwrap(): the application's store joins a fleet on a real
// redis-server (Debian's, started on a free loopback port), and a ban made on another
// member, another host with its own store, refuses the client here.
using Giftwrap.AspNetCore.Tests.Support;
using Giftwrap.Bans;
using Giftwrap.Bans.Redis;
using Giftwrap.Bans.Redis.Tests;
using Microsoft.Extensions.DependencyInjection;
using static Giftwrap.AspNetCore.Tests.Support.Clients;

namespace Giftwrap.AspNetCore.Redis.Tests;

public sealed class FleetTests
{
    [Fact]
    public async Task BanOnAnotherMember_RefusesHere()
    {
        using var redis = new RedisServer();
        using var tables = new TempTables("webapp : 127.0.0.1\n");
        var fleet = new FleetOptions { Redis = redis.ConnectionString, KeyPrefix = "aspnet-test" };
        await using var app = await GuardedApp.StartSampleAsync(tables, extend: g => g
            .AddBans(new BanOptions { Store = tables.Path("here"), ProtectLoopback = false, Origin = "here" })
            .AddFleet(fleet));
        Assert.Equal(200, (await TlsGetAsync(Source("127.0.0.1"), app.HttpsPort)).Status);

        using var elsewhere = BanStore.Open(new BanOptions { Store = tables.Path("elsewhere"), ProtectLoopback = false, Origin = "elsewhere" });
        await using var member = await BanFleet.JoinAsync(elsewhere, fleet);
        Assert.True(elsewhere.Ban(new BanRequest { Target = BanTarget.Parse("127.0.0.1"), Duration = TimeSpan.FromHours(1), Reason = "seen elsewhere" }).Succeeded);
        Exchange last;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        do
        {
            last = await TlsGetAsync(Source("127.0.0.1"), app.HttpsPort);
        }
        while (last.Failure is null && DateTime.UtcNow < deadline);

        Assert.NotNull(last.Failure);
        Assert.Contains(app.Logs.Giftwrap, e => e.EventId == 3 && e.Message == "webapp: refused connect from 127.0.0.1 (banned: seen elsewhere)");
    }
}
