// Bans through the local store: one made by another process (here another store on the same
// directory, as `giftwrap ban` opens it) refuses before the tables; the `ban` rule option
// bans the client for every service, so a later grant in hosts.allow does not let it back in;
// a store that cannot be written leaves the verdict standing and says why.
using Giftwrap.AspNetCore.Tests.Support;
using Giftwrap.Bans;
using Microsoft.Extensions.DependencyInjection;
using static Giftwrap.AspNetCore.Tests.Support.Clients;

namespace Giftwrap.AspNetCore.Bans.Tests;

public sealed class BanTests
{
    private static BanOptions StoreIn(TempTables tables) =>
        // Tests play hosts on 127/8, which the store protects by default.
        new() { Store = tables.Path("bans"), ProtectLoopback = false };

    [Fact]
    public async Task BanFromAnotherProcess_RefusesAnAllowedClient()
    {
        using var tables = new TempTables("webapp : 127.0.0.1\n");
        await using var app = await GuardedApp.StartSampleAsync(tables, extend: g => g.AddBans(StoreIn(tables)));
        Assert.Equal(200, (await TlsGetAsync(Source("127.0.0.1"), app.HttpsPort)).Status);

        using (var cli = BanStore.Open(StoreIn(tables), watch: false))
            Assert.True(cli.Ban(new BanRequest { Target = BanTarget.Parse("127.0.0.1"), Duration = TimeSpan.FromHours(1), Reason = "probing" }).Succeeded);
        // The application's store follows the journal on its own poll; wait for it to see the ban.
        Exchange last;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        do
        {
            last = await TlsGetAsync(Source("127.0.0.1"), app.HttpsPort);
        }
        while (last.Failure is null && DateTime.UtcNow < deadline);

        Assert.NotNull(last.Failure);
        Assert.Null(last.ServerCertificate);
        Assert.Contains(app.Logs.Giftwrap, e => e.EventId == 3 && e.Message == "webapp: refused connect from 127.0.0.1 (banned: probing)");
    }

    [Fact]
    public async Task BanOption_BansTheClientBeyondTheRule()
    {
        using var tables = new TempTables("webapp : 127.0.0.1\n", "webapp : 127.0.0.3 : ban 1h\nALL : ALL\n");
        await using var app = await GuardedApp.StartSampleAsync(tables, extend: g => g.AddBans(StoreIn(tables)));

        var trapped = await TlsGetAsync(Source("127.0.0.3"), app.HttpsPort);
        File.WriteAllText(tables.Allow, "webapp : 127.0.0.1 127.0.0.3\n");
        var afterGrant = await TlsGetAsync(Source("127.0.0.3"), app.HttpsPort);
        var other = await TlsGetAsync(Source("127.0.0.1"), app.HttpsPort);

        Assert.NotNull(trapped.Failure);
        Assert.NotNull(afterGrant.Failure);
        Assert.Equal(200, other.Status);
        Assert.Contains(app.Logs.Giftwrap, e => e.EventId == 9 && e.Message.StartsWith("webapp: ban 127.0.0.3 for 1h", StringComparison.Ordinal));
        Assert.Contains(app.Logs.Giftwrap, e => e.EventId == 3 && e.Message.StartsWith("webapp: refused connect from 127.0.0.3 (banned: ban option", StringComparison.Ordinal));
        using var cli = BanStore.Open(StoreIn(tables), watch: false);
        Assert.NotNull(cli.Find(Source("127.0.0.3"), "sshd", DateTimeOffset.UtcNow));
    }

    [Fact]
    public async Task BanOption_StoreCannotBeWritten_RefusedAndSaysWhy()
    {
        // The gate's answer to a store it cannot write (full disk, lock held, read-only): the ban is not
        // recorded, the verdict stands and the log says why. Here the IOException escaped the gatekeeper:
        // Kestrel logged an unhandled error and neither the ban line nor the refusal was said.
        using var tables = new TempTables("webapp : 127.0.0.1\n", "webapp : 127.0.0.3 : ban 1h\nALL : ALL\n");
        await using var app = await GuardedApp.StartSampleAsync(tables, extend: g => g.AddBans(StoreIn(tables)));
        Directory.Delete(tables.Path("bans"), recursive: true);
        File.WriteAllText(tables.Path("bans"), "a file where the store was\n");

        var trapped = await TlsGetAsync(Source("127.0.0.3"), app.HttpsPort);
        var other = await TlsGetAsync(Source("127.0.0.1"), app.HttpsPort);

        Assert.NotNull(trapped.Failure);
        Assert.Equal(200, other.Status);
        Assert.Contains(app.Logs.Giftwrap, e => e.EventId == 9 && e.Message.StartsWith("webapp: ban 127.0.0.3 for 1h: not banned: ", StringComparison.Ordinal));
        Assert.Contains(app.Logs.Giftwrap, e => e.EventId == 2 && e.Message == "webapp: refused connect from 127.0.0.3 (127.0.0.3)");
    }
}
