// The Kestrel connection middleware: the request from the connection's endpoints, the
// gatekeeper's verdict, then either the rest of the chain (TLS, HTTP) or an abort. It
// never reads from the connection: a refused client gets no byte of TLS or HTTP.
using System.Net;
using Giftwrap.Decisions;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace Giftwrap.AspNetCore;

internal sealed class GiftwrapConnectionMiddleware(ConnectionDelegate next, Gatekeeper gatekeeper, string daemon)
{
    public async Task OnConnectionAsync(ConnectionContext connection)
    {
        if (connection.Features.Get<ITlsHandshakeFeature>() is not null)
            gatekeeper.WarnAfterTls(daemon, connection.LocalEndPoint);
        var remote = connection.RemoteEndPoint as IPEndPoint;
        var local = connection.LocalEndPoint as IPEndPoint;
        // A Unix-socket endpoint has no client address: libwrap's "unknown", which rules can name.
        var request = AccessRequest.ForConnection(daemon, remote, local);
        var socket = connection.Features.Get<IConnectionSocketFeature>()?.Socket;
        if (!await gatekeeper.AdmitAsync(request, remote?.Address, socket, connection.ConnectionClosed).ConfigureAwait(false))
        {
            connection.Abort(new ConnectionAbortedException("refused by Giftwrap (hosts.allow / hosts.deny)"));
            return;
        }
        await next(connection).ConfigureAwait(false);
    }
}
