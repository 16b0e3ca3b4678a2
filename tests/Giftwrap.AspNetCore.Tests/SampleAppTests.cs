// The sample web app as a newcomer runs it, on real sockets: a client that hosts.allow does
// not name is dropped before TLS; one it names is served; edits of the tables take effect on
// the next connection; options are carried out (spawn) or reported once (banners, twist).
using Giftwrap.AspNetCore.Tests.Support;
using static Giftwrap.AspNetCore.Tests.Support.Clients;

namespace Giftwrap.AspNetCore.Tests;

public sealed class SampleAppTests
{
    [Fact]
    public async Task Tls_DeniedClient_ClosedBeforeHandshake()
    {
        using var tables = new TempTables("webapp : 127.0.0.1\n");
        await using var app = await GuardedApp.StartSampleAsync(tables);

        var refused = await TlsGetAsync(Source("127.0.0.2"), app.HttpsPort);

        // Closed without a handshake: the TLS layer sees the close, or (refused before connect() returned) the reset does.
        Assert.True(refused.Failure is IOException or System.Security.Authentication.AuthenticationException
            or System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionReset }, $"handshake ended with {refused.Failure}");
        Assert.Null(refused.ServerCertificate);
        Assert.Contains(app.Logs.Giftwrap, e => e.EventId == 2 && e.Message == "webapp: refused connect from 127.0.0.2 (127.0.0.2)");
    }

    [Fact]
    public async Task Tls_AllowedClient_Served()
    {
        using var tables = new TempTables("webapp : 127.0.0.1\n");
        await using var app = await GuardedApp.StartSampleAsync(tables);

        var served = await TlsGetAsync(Source("127.0.0.1"), app.HttpsPort);

        Assert.Null(served.Failure);
        Assert.NotNull(served.ServerCertificate);
        Assert.Equal(200, served.Status);
        Assert.Contains("served over HTTPS", served.Body, StringComparison.Ordinal);
        Assert.Contains(app.Logs.Giftwrap, e => e.EventId == 1 && e.Message == "webapp: connect from 127.0.0.1 (127.0.0.1)");
    }

    [Fact]
    public async Task PlainHttp_DeniedAndAllowed_DecidedBySourceAddress()
    {
        using var tables = new TempTables("webapp : 127.0.0.1\n");
        await using var app = await GuardedApp.StartSampleAsync(tables);

        var served = await HttpGetAsync(Source("127.0.0.1"), app.HttpPort);
        var refused = await HttpGetAsync(Source("127.0.0.2"), app.HttpPort);

        Assert.Equal(200, served.Status);
        Assert.True(refused.ClosedByServer);
        Assert.Equal("", refused.Response);
    }

    [Fact]
    public async Task LiveTables_EditGrantsNextConnection()
    {
        using var tables = new TempTables("webapp : 127.0.0.1\n");
        await using var app = await GuardedApp.StartSampleAsync(tables);
        Assert.NotNull((await TlsGetAsync(Source("127.0.0.2"), app.HttpsPort)).Failure);

        File.WriteAllText(tables.Allow, "webapp : 127.0.0.1 127.0.0.2\n");
        var served = await TlsGetAsync(Source("127.0.0.2"), app.HttpsPort);

        Assert.Equal(200, served.Status);
    }

    [Fact]
    public async Task Spawn_RunsCommandBeforeServing()
    {
        using var tables = new TempTables("");
        var output = tables.Path("spawned");
        File.WriteAllText(tables.Allow, $"webapp : 127.0.0.1 : spawn echo %d %a > {output}\n");
        await using var app = await GuardedApp.StartSampleAsync(tables);

        var served = await TlsGetAsync(Source("127.0.0.1"), app.HttpsPort);

        Assert.Equal(200, served.Status);
        Assert.Equal("webapp 127.0.0.1\n", File.ReadAllText(output));
    }

    [Fact]
    public async Task Banners_NotSentAndReportedOnce()
    {
        using var tables = new TempTables("");
        Directory.CreateDirectory(tables.Path("banners"));
        File.WriteAllText(tables.Path("banners/webapp"), "Welcome %a\n");
        File.WriteAllText(tables.Allow, $"webapp : 127.0.0.1 : banners {tables.Path("banners")}\n");
        await using var app = await GuardedApp.StartSampleAsync(tables);

        var first = await TlsGetAsync(Source("127.0.0.1"), app.HttpsPort);
        var second = await HttpGetAsync(Source("127.0.0.1"), app.HttpPort);

        // A banner before TLS or HTTP would have broken both exchanges.
        Assert.Equal(200, first.Status);
        Assert.Equal(200, second.Status);
        var notice = Assert.Single(app.Logs.Giftwrap, e => e.EventId == 6);
        Assert.Contains("option banners ignored", notice.Message, StringComparison.Ordinal);
        Assert.Contains($"{tables.Allow}:1", notice.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Twist_NotRunAndRefused()
    {
        using var tables = new TempTables("");
        var marker = tables.Path("twisted");
        File.WriteAllText(tables.Allow, $"webapp : 127.0.0.1 : twist touch {marker}\n");
        await using var app = await GuardedApp.StartSampleAsync(tables);

        var first = await TlsGetAsync(Source("127.0.0.1"), app.HttpsPort);
        var second = await TlsGetAsync(Source("127.0.0.1"), app.HttpsPort);

        Assert.NotNull(first.Failure);
        Assert.NotNull(second.Failure);
        Assert.False(File.Exists(marker));
        Assert.Single(app.Logs.Giftwrap, e => e.EventId == 6 && e.Message.Contains("option twist ignored", StringComparison.Ordinal));
    }
}
