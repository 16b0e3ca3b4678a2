// The HTTP middleware: one decision per request on the client address the pipeline holds
// (set by ForwardedHeaders behind a trusted proxy), 403 and a closed connection on refusal.
// Not here: reading forwarding headers (ForwardedHeaders does that, with its trust list).
using System.Net;
using Giftwrap.Decisions;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;

namespace Giftwrap.AspNetCore;

internal sealed class GiftwrapHttpMiddleware(Gatekeeper gatekeeper, string daemon)
{
    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var connection = context.Connection;
        var client = connection.RemoteIpAddress;
        // RFC 1413 asks the peer about one TCP connection: only meaningful when the client is the
        // peer itself, not an address a proxy forwarded (port 0 makes the user "unknown").
        var request = AccessRequest.ForConnection(daemon,
            client is null ? null : new IPEndPoint(client, IsPeer(context, client) ? connection.RemotePort : 0),
            connection.LocalIpAddress is { } local ? new IPEndPoint(local, connection.LocalPort) : null);
        if (await gatekeeper.AdmitAsync(request, client, socket: null, context.RequestAborted).ConfigureAwait(false))
        {
            await next(context).ConfigureAwait(false);
            return;
        }
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        context.Response.ContentLength = 0;
        if (HttpProtocol.IsHttp11(context.Request.Protocol) || HttpProtocol.IsHttp10(context.Request.Protocol))
            context.Response.Headers.Connection = "close";
        // HTTP/2 and HTTP/3 close through the server (GOAWAY); HTTP/1.x through the header above.
        context.Features.Get<IConnectionLifetimeNotificationFeature>()?.RequestClose();
    }

    private static bool IsPeer(HttpContext context, IPAddress? client) =>
        client is not null
        && context.Features.Get<IConnectionSocketFeature>()?.Socket.RemoteEndPoint is IPEndPoint peer
        && peer.Address.Equals(client);
}
