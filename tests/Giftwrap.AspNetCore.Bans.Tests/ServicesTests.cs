// AddBans(): the store becomes the gatekeeper's one IBanList, bans made through it are found
// through it, and a store without a directory is refused when the application is wired.
using System.Net;
using Giftwrap.AspNetCore.Tests.Support;
using Giftwrap.Bans;
using Microsoft.Extensions.DependencyInjection;

namespace Giftwrap.AspNetCore.Bans.Tests;

public sealed class ServicesTests
{
    [Fact]
    public void AddBans_TheStoreIsTheIBanList()
    {
        using var tables = new TempTables("webapp : 127.0.0.1\n");
        var services = new ServiceCollection().AddLogging();
        services.AddGiftwrap().AddBans(new BanOptions { Store = tables.Path("first") }).AddBans(new BanOptions { Store = tables.Path("bans"), ProtectLoopback = false });
        using var provider = services.BuildServiceProvider();

        var bans = provider.GetRequiredService<IBanList>();
        var result = bans.Ban(IPAddress.Parse("127.0.0.9"), TimeSpan.FromHours(1), "probing");

        Assert.Same(provider.GetRequiredService<StoreBanList>(), bans);
        Assert.Single(provider.GetServices<IBanList>());
        Assert.Equal("probing", bans.Check(IPAddress.Parse("127.0.0.9"), "webapp"));
        Assert.Null(bans.Check(IPAddress.Parse("127.0.0.8"), "webapp"));
        Assert.True(Directory.Exists(tables.Path("bans")), result);
        Assert.False(Directory.Exists(tables.Path("first")));
    }

    [Fact]
    public void AddBans_StoreWithoutDirectory_Throws()
    {
        var giftwrap = new ServiceCollection().AddGiftwrap();

        var error = Assert.Throws<ArgumentException>(() => giftwrap.AddBans(new BanOptions { Store = " " }));

        Assert.Contains("Store", error.Message, StringComparison.Ordinal);
    }
}
