// A running application under test: the sample app as a newcomer runs it, or a small app
// with the same wiring and a test's own twist (HTTP-level check, middleware order, a probe
// endpoint). Kestrel on loopback with kernel-chosen ports; stopped and disposed with the test.
using System.Net;
using Giftwrap.Example.WebApp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Giftwrap.AspNetCore.Tests.Support;

internal sealed class GuardedApp : IAsyncDisposable
{
    private GuardedApp(WebApplication app, LogCollector logs)
    {
        App = app;
        Logs = logs;
    }

    public WebApplication App { get; }

    public LogCollector Logs { get; }

    public int HttpPort => Port("http://");

    public int HttpsPort => Port("https://");

    /// <summary>The sample web app (examples/webapp) on ports 0 with the given tables.</summary>
    public static Task<GuardedApp> StartSampleAsync(TempTables tables, Action<GiftwrapOptions>? configure = null, Action<IGiftwrapBuilder>? extend = null) =>
        StartAsync(SampleApp.Build(["--http=0", "--https=0", $"--allow={tables.Allow}", $"--deny={tables.Deny}"], configure, extend));

    /// <summary>An app built by the test: <paramref name="kestrel"/> sets up endpoints, <paramref name="pipeline"/> the middleware.</summary>
    public static Task<GuardedApp> StartCustomAsync(TempTables tables, Action<WebApplicationBuilder> kestrel, Action<WebApplication>? pipeline = null, Action<GiftwrapOptions>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddGiftwrap(o =>
        {
            o.AllowPath = tables.Allow;
            o.DenyPath = tables.Deny;
            configure?.Invoke(o);
        });
        kestrel(builder);
        var app = builder.Build();
        pipeline?.Invoke(app);
        app.MapGet("/", (Microsoft.AspNetCore.Http.HttpContext c) => $"hello {c.Connection.RemoteIpAddress}");
        return StartAsync(app);
    }

    private static async Task<GuardedApp> StartAsync(WebApplication app)
    {
        var logs = new LogCollector();
        app.Services.GetRequiredService<ILoggerFactory>().AddProvider(logs);
        await app.StartAsync();
        return new GuardedApp(app, logs);
    }

    private int Port(string scheme) =>
        App.Urls.Where(u => u.StartsWith(scheme, StringComparison.Ordinal)).Select(u => new Uri(u).Port).First();

    public static void ListenLoopback(WebApplicationBuilder builder, Action<Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions> configure) =>
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, configure));

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
