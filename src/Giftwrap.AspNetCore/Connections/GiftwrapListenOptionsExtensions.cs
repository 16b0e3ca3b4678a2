// listenOptions.UseGiftwrap("daemon"): puts the Giftwrap connection middleware on a
// Kestrel endpoint. Where it goes in the chain decides what a refused client sees; the
// XML docs say so, and the middleware warns once when it finds TLS already done.
using Giftwrap.AspNetCore;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Hosting;

/// <summary>Giftwrap access control for Kestrel endpoints.</summary>
public static class GiftwrapListenOptionsExtensions
{
    /// <summary>
    /// Judges every connection to this endpoint against hosts.allow and hosts.deny as the daemon
    /// <paramref name="daemon"/> (the name the rules' daemon lists match), bans first. A refused
    /// client is disconnected before TLS and before any HTTP byte is read, and libwrap's lines
    /// ("connect from", "refused connect from") are logged under the category <c>Giftwrap.AspNetCore</c>.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Order matters. Call <c>UseGiftwrap()</c> <b>before</b> <c>UseHttps()</c> on the same
    /// <see cref="ListenOptions"/>: connection middleware runs in the order it is added, so in the
    /// other order every client, refused or not, completes a TLS handshake first. For all endpoints,
    /// call it in <c>ConfigureEndpointDefaults()</c> before any <c>Listen*()</c> call and before
    /// <c>UseSystemd()</c>; endpoints created earlier (socket-activated ones included) never get the check.
    /// When the middleware finds a connection that has done TLS already, it logs a warning once.
    /// </para>
    /// <para>
    /// Needs <c>builder.Services.AddGiftwrap()</c>. A decision that cannot be made within
    /// <see cref="GiftwrapOptions.DecisionTimeout"/> refuses. The rule options spawn, aclexec,
    /// setenv, umask, nice, user, group, keepalive, linger, severity, rfc931 and ban are carried out;
    /// banners are not sent and twist is not run (both reported once per rule; a twist refuses).
    /// HTTP/3 (QUIC) connections do not pass through connection middleware and are not checked.
    /// </para>
    /// </remarks>
    public static ListenOptions UseGiftwrap(this ListenOptions listenOptions, string daemon)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        ArgumentException.ThrowIfNullOrWhiteSpace(daemon);
        var gatekeeper = listenOptions.ApplicationServices.GetService<Gatekeeper>()
            ?? throw new InvalidOperationException("UseGiftwrap() needs builder.Services.AddGiftwrap() first.");
        listenOptions.Use(next => new GiftwrapConnectionMiddleware(next, gatekeeper, daemon).OnConnectionAsync);
        return listenOptions;
    }
}
