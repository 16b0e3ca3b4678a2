// app.UseGiftwrap("daemon"): the HTTP-level check, for applications behind a trusted
// reverse proxy where the connection's peer is the proxy. It decides on the address that
// ASP.NET Core's forwarded-headers middleware established; it never reads X-Forwarded-For.
using Giftwrap.AspNetCore;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Giftwrap access control for HTTP requests.</summary>
public static class GiftwrapApplicationBuilderExtensions
{
    /// <summary>
    /// Judges every request against hosts.allow and hosts.deny as the daemon <paramref name="daemon"/>,
    /// on <c>HttpContext.Connection.RemoteIpAddress</c>. A refused request gets 403 and its
    /// connection is closed; the rest of the pipeline never sees it.
    /// </summary>
    /// <remarks>
    /// Behind a reverse proxy, call <c>app.UseForwardedHeaders()</c> first, with
    /// <c>KnownProxies</c> / <c>KnownIPNetworks</c> naming only your proxies (the defaults trust
    /// loopback only): that middleware alone decides whether X-Forwarded-For is believed; this one never
    /// reads it. Without a proxy, prefer <c>ListenOptions.UseGiftwrap()</c>, which refuses before
    /// TLS. The client's socket belongs to the proxy here, so keepalive and linger are not applied
    /// (reported once per rule), and the ident lookup is asked only of a client that is the real peer.
    /// </remarks>
    public static IApplicationBuilder UseGiftwrap(this IApplicationBuilder app, string daemon)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentException.ThrowIfNullOrWhiteSpace(daemon);
        var gatekeeper = app.ApplicationServices.GetService<Gatekeeper>()
            ?? throw new InvalidOperationException("UseGiftwrap() needs builder.Services.AddGiftwrap() first.");
        var middleware = new GiftwrapHttpMiddleware(gatekeeper, daemon);
        return app.Use(next => context => middleware.InvokeAsync(context, next));
    }
}
