// The connection middleware beyond the sample: fail closed when no decision comes in time
// (a DNS server on loopback that never answers), socket options on the client's socket,
// and the warning when it was put after UseHttps.
using System.Net;
using System.Net.Sockets;
using Giftwrap.AspNetCore.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using static Giftwrap.AspNetCore.Tests.Support.Clients;

namespace Giftwrap.AspNetCore.Tests;

public sealed class ConnectionMiddlewareTests
{
    [Fact]
    public async Task DecisionTimeout_LookupNeverAnswers_Refuses()
    {
        // A name lookup that fails would grant (unknown is not .example.org); one that never ends must refuse.
        using var tables = new TempTables("webapp : ALL EXCEPT .example.org\n");
        using var silentDns = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        silentDns.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        await using var app = await GuardedApp.StartSampleAsync(tables, o =>
        {
            o.DnsServer = (IPEndPoint)silentDns.LocalEndPoint!;
            o.DnsTimeout = TimeSpan.FromMinutes(5);
            o.DecisionTimeout = TimeSpan.FromSeconds(1);
        });

        var refused = await TlsGetAsync(Source("127.0.0.1"), app.HttpsPort);

        Assert.NotNull(refused.Failure);
        Assert.Null(refused.ServerCertificate);
        Assert.Contains(app.Logs.Giftwrap, e => e.EventId == 4 && e.Message.StartsWith("webapp: refused connect from 127.0.0.1 (no decision within", StringComparison.Ordinal));
    }

    [Fact]
    public async Task KeepAlive_SetOnTheClientSocket()
    {
        using var tables = new TempTables("webapp : 127.0.0.1 : keepalive\nwebapp : 127.0.0.2\n");
        await using var app = await GuardedApp.StartCustomAsync(tables,
            b => GuardedApp.ListenLoopback(b, listen => listen.UseGiftwrap("webapp")),
            a => a.MapGet("/keepalive", (HttpContext c) =>
                c.Features.Get<IConnectionSocketFeature>()?.Socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive)?.ToString() ?? "no socket"));

        var withOption = await HttpGetAsync(Source("127.0.0.1"), app.HttpPort, "/keepalive");
        var without = await HttpGetAsync(Source("127.0.0.2"), app.HttpPort, "/keepalive");

        Assert.Equal("1", withOption.Body);
        Assert.Equal("0", without.Body);
    }

    [Fact]
    public async Task AfterUseHttps_StillRefusesButWarnsOnce()
    {
        using var tables = new TempTables("webapp : 127.0.0.1\n");
        var certificate = TestCertificate.Create();
        await using var app = await GuardedApp.StartCustomAsync(tables,
            b => GuardedApp.ListenLoopback(b, listen =>
            {
                // The wrong order, on purpose: TLS first.
                listen.UseHttps(certificate);
                listen.UseGiftwrap("webapp");
            }));
        var port = new Uri(app.App.Urls.First()).Port;

        var first = await TlsGetAsync(Source("127.0.0.2"), port);
        var second = await TlsGetAsync(Source("127.0.0.2"), port);

        // The handshake happened (that is the trap), but no HTTP answer came.
        Assert.NotNull(first.ServerCertificate);
        Assert.Equal(0, first.Status);
        Assert.Equal(0, second.Status);
        Assert.Single(app.Logs.Giftwrap, e => e.EventId == 11);
    }

    [Fact]
    public async Task BanOption_WithoutABanList_RefusesAndSaysSo()
    {
        // Giftwrap.AspNetCore alone has no ban store: the rule still decides, the ban is only logged as not made.
        using var tables = new TempTables("webapp : 127.0.0.1\n", "webapp : 127.0.0.3 : ban 1h\nALL : ALL\n");
        await using var app = await GuardedApp.StartSampleAsync(tables);

        var trapped = await TlsGetAsync(Source("127.0.0.3"), app.HttpsPort);
        var allowed = await TlsGetAsync(Source("127.0.0.1"), app.HttpsPort);

        Assert.NotNull(trapped.Failure);
        Assert.Equal(200, allowed.Status);
        Assert.Contains(app.Logs.Giftwrap, e => e.EventId == 9 && e.Message == "webapp: ban 127.0.0.3 for 1h: no ban store configured");
    }
}
