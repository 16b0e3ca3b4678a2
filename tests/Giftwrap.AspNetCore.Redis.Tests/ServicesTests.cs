// AddFleet(): a fleet shares the bans of a local store, so it needs AddBans() first and says
// so when the application is wired, not when the first ban fails to travel.
using Giftwrap.AspNetCore.Tests.Support;
using Giftwrap.Bans;
using Giftwrap.Bans.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Giftwrap.AspNetCore.Redis.Tests;

public sealed class ServicesTests
{
    [Fact]
    public void AddFleet_WithoutAddBans_Throws()
    {
        var giftwrap = new ServiceCollection().AddGiftwrap();

        var error = Assert.Throws<InvalidOperationException>(() => giftwrap.AddFleet(new FleetOptions { Redis = "127.0.0.1:6379" }));

        Assert.Contains("AddBans", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddFleet_Twice_OneMember()
    {
        using var tables = new TempTables("webapp : 127.0.0.1\n");
        var services = new ServiceCollection().AddLogging();
        services.AddGiftwrap().AddBans(new BanOptions { Store = tables.Path("bans") })
            .AddFleet(new FleetOptions { Redis = "127.0.0.1:1" })
            .AddFleet(new FleetOptions { Redis = "127.0.0.1:2" });
        // The member is IAsyncDisposable only, as the host disposes it.
        await using var provider = services.BuildServiceProvider();

        Assert.Single(provider.GetServices<IHostedService>().OfType<FleetMember>());
    }
}
