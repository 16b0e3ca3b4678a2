// forward: a full-duplex proxy between the client and the backend. Each direction
// copies with one bounded buffer and awaits the send before reading more, so a slow
// reader holds back the writer (backpressure) without memory growing. End of stream
// on one side becomes a half-close (shutdown SHUT_WR) on the other, as TCP intends.
using System.Net.Sockets;

namespace Giftwrap.Gate.Forwarding;

internal static class TcpForwarder
{
    /// <summary>Copies both ways until both directions are finished; returns the bytes each way.</summary>
    public static async Task<(long ToBackend, long ToClient)> ProxyAsync(Socket client, Socket backend, int bufferSize, CancellationToken ct)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var up = PumpAsync(client, backend, bufferSize, linked);
        var down = PumpAsync(backend, client, bufferSize, linked);
        await Task.WhenAll(up, down).ConfigureAwait(false);
        return (up.Result, down.Result);
    }

    private static async Task<long> PumpAsync(Socket from, Socket to, int bufferSize, CancellationTokenSource stop)
    {
        var buffer = new byte[bufferSize];
        long total = 0;
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer, SocketFlags.None, stop.Token).ConfigureAwait(false);
                if (n == 0)
                    break;
                var sent = 0;
                while (sent < n)
                    sent += await to.SendAsync(buffer.AsMemory(sent, n - sent), SocketFlags.None, stop.Token).ConfigureAwait(false);
                total += n;
            }
            // Half-close: the other side learns that no more data comes this way.
            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A reset or abort on either side ends both directions.
            stop.Cancel();
        }
        return total;
    }
}
