// A minimal web app guarded by Giftwrap: plain HTTP and HTTPS on loopback, each endpoint
// judged against this folder's hosts.allow / hosts.deny as the daemon "webapp" before TLS.
// The tests run this same wiring (with ports 0 and tables of their own).
using System.Net;
using Giftwrap.AspNetCore;

namespace Giftwrap.Example.WebApp;

/// <summary>Builds the sample application.</summary>
public static class SampleApp
{
    /// <summary>The daemon name the rules match: <c>webapp : 127.0.0.1</c>.</summary>
    public const string Daemon = "webapp";

    /// <summary>
    /// Builds the app. Settings (command line <c>--http=5080 --https=5443 --allow=hosts.allow --deny=hosts.deny</c>
    /// or the usual configuration sources); <paramref name="configure"/> adds Giftwrap options (timeouts, lookups),
    /// <paramref name="extend"/> what other packages add to Giftwrap (<c>AddBans()</c>, <c>AddFleet()</c>).
    /// </summary>
    public static WebApplication Build(string[] args, Action<GiftwrapOptions>? configure = null, Action<IGiftwrapBuilder>? extend = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        var config = builder.Configuration;
        var giftwrap = builder.Services.AddGiftwrap(options =>
        {
            options.AllowPath = config["allow"] ?? "hosts.allow";
            options.DenyPath = config["deny"] ?? "hosts.deny";
            configure?.Invoke(options);
        });
        extend?.Invoke(giftwrap);
        var certificate = DevCertificate.Create();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, config.GetValue("http", 5080), listen => listen.UseGiftwrap(Daemon));
            kestrel.Listen(IPAddress.Loopback, config.GetValue("https", 5443), listen =>
            {
                // Giftwrap first: a refused client is dropped before the TLS handshake starts.
                listen.UseGiftwrap(Daemon);
                listen.UseHttps(certificate);
            });
        });
        var app = builder.Build();
        app.MapGet("/", (HttpContext context) =>
            $"Hello {context.Connection.RemoteIpAddress}, served over {(context.Request.IsHttps ? "HTTPS" : "HTTP")}: hosts.allow let you in.\n");
        return app;
    }
}
