// The HTTP-level check behind a reverse proxy: ASP.NET Core's ForwardedHeaders trusts only
// 127.0.0.1 here, so a request through it is judged on the forwarded address, and the same
// header from any other peer changes nothing. Refused requests get 403 and a closed connection.
using System.Net;
using Giftwrap.AspNetCore.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.HttpOverrides;
using static Giftwrap.AspNetCore.Tests.Support.Clients;

namespace Giftwrap.AspNetCore.Tests;

public sealed class HttpMiddlewareTests
{
    private static Task<GuardedApp> StartBehindProxyAsync(TempTables tables) =>
        GuardedApp.StartCustomAsync(tables, b => GuardedApp.ListenLoopback(b, _ => { }), app =>
        {
            var forwarded = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor };
            forwarded.KnownIPNetworks.Clear();
            forwarded.KnownProxies.Clear();
            forwarded.KnownProxies.Add(IPAddress.Loopback);
            app.UseForwardedHeaders(forwarded);
            app.UseGiftwrap("webapp");
        });

    [Theory]
    [InlineData("127.0.0.1", "10.9.8.7", 200)] // through the proxy, for an allowed client
    [InlineData("127.0.0.1", "10.6.6.6", 403)] // through the proxy, for a refused client
    [InlineData("127.0.0.1", null, 403)]       // the proxy itself is not allowed
    [InlineData("127.0.0.3", "10.9.8.7", 403)] // an untrusted peer cannot claim an allowed address
    [InlineData("127.0.0.2", "10.6.6.6", 200)] // nor lose its own grant by naming a refused one
    public async Task ForwardedFor_BelievedOnlyFromTheKnownProxy(string peer, string? forwardedFor, int status)
    {
        using var tables = new TempTables("webapp : 10.9.8.7 127.0.0.2\n");
        await using var app = await StartBehindProxyAsync(tables);

        var headers = forwardedFor is null ? "" : $"X-Forwarded-For: {forwardedFor}\r\n";
        var result = await HttpGetAsync(Source(peer), app.HttpPort, headers: headers);

        Assert.Equal(status, result.Status);
        var judged = forwardedFor is not null && peer == "127.0.0.1" ? forwardedFor : peer;
        Assert.Contains(app.Logs.Giftwrap, e => e.Message.EndsWith($"connect from {judged} ({judged})", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Refused_Gets403AndTheConnectionClosed()
    {
        using var tables = new TempTables("webapp : 10.9.8.7\n");
        await using var app = await StartBehindProxyAsync(tables);

        // A keep-alive request: only the server can end this connection.
        var result = await HttpGetAsync(Source("127.0.0.1"), app.HttpPort, headers: "X-Forwarded-For: 10.6.6.6\r\n", close: false);

        Assert.Equal(403, result.Status);
        Assert.True(result.ClosedByServer);
        Assert.Contains(app.Logs.Giftwrap, e => e.EventId == 2 && e.Message == "webapp: refused connect from 10.6.6.6 (10.6.6.6)");
    }
}
