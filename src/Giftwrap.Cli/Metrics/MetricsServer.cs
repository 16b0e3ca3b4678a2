// serve's optional Prometheus endpoint ([metrics] listen = address:port): a small HTTP server of
// our own on one listening socket, serving MetricsCollector's text at /metrics. What is measured is
// decided elsewhere (GiftwrapMetrics and the other instruments); this file only bounds what a client costs.
// SECURITY: the endpoint has no authentication; it shows daemon names and counts, never client
// addresses. Bind it to loopback (or a management address) and let Prometheus come to it. A client
// may be hostile all the same, and the gate must not pay for it: at most MaxConnections are accepted
// at once (the rest wait in a short kernel backlog, which holds no descriptor of ours), a request
// must arrive whole within RequestTimeout and MaxHead bytes, the answer is written within
// ResponseTimeout, and the endpoint starts no thread. So it holds at most MaxConnections + 1
// descriptors and MaxConnections buffers, whatever is sent to it.
using System.Net;
using System.Net.Sockets;
using System.Text;
using Giftwrap.Gate.Forwarding;

namespace Giftwrap.Cli.Metrics;

internal sealed class MetricsServer : IDisposable
{
    /// <summary>Connections served at once; Prometheus needs one.</summary>
    public const int MaxConnections = 16;

    /// <summary>The request line and header fields together, at most.</summary>
    public const int MaxHead = 8 * 1024;

    /// <summary>How long a request may take to arrive whole, from its accept.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long the answer may take to be written.</summary>
    public static readonly TimeSpan ResponseTimeout = TimeSpan.FromSeconds(10);

    // After the answer, what the client still sends is read (and dropped) for this long, so that
    // closing with unread bytes does not reset the connection before the client has read the answer.
    private static readonly TimeSpan LingerTimeout = TimeSpan.FromSeconds(2);
    private const int MaxLinger = 64 * 1024;

    // Scrapes this close together get the same text: a client asking in a loop costs a few renders a second.
    private static readonly TimeSpan RenderReuse = TimeSpan.FromMilliseconds(250);

    // A full accept(2) (EMFILE and the like): how long the loop waits before it tries again.
    private static readonly TimeSpan AcceptPause = TimeSpan.FromMilliseconds(100);

    private const int Backlog = 16;

    private readonly Socket _listener;
    private readonly MetricsCollector _collector;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _slots = new(MaxConnections, MaxConnections);
    private readonly Lock _renderGate = new();
    private byte[]? _rendered;
    private long _renderedAt;
    private Task _accepting = Task.CompletedTask;

    private MetricsServer(Socket listener, MetricsCollector collector)
    {
        _listener = listener;
        _collector = collector;
    }

    /// <summary>Listens on <paramref name="listen"/> and serves the meter named <paramref name="meterName"/> until disposed.</summary>
    /// <exception cref="SocketException">The address cannot be listened on (in use, not local, not allowed).</exception>
    public static MetricsServer Start(IPEndPoint listen, string meterName)
    {
        var listener = new Socket(listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // As the gate's own listeners: a restart binds while old connections wait in TIME_WAIT.
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(listen);
            listener.Listen(Backlog);
        }
        catch (SocketException)
        {
            // Not ours to keep: the caller says which line asked for the address.
            listener.Dispose();
            throw;
        }
        var server = new MetricsServer(listener, new MetricsCollector(meterName));
        server._accepting = server.AcceptAsync();
        return server;
    }

    private async Task AcceptAsync()
    {
        var ct = _stop.Token;
        try
        {
            while (true)
            {
                // A slot first, then the accept: past the bound, clients wait in the kernel's backlog.
                await _slots.WaitAsync(ct).ConfigureAwait(false);
                var client = await AcceptOneAsync(ct).ConfigureAwait(false);
                if (client is null)
                {
                    _slots.Release();
                    await Task.Delay(AcceptPause, ct).ConfigureAwait(false);
                    continue;
                }
                _ = ServeAsync(client, ct);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
    }

    /// <summary>The next client, or null when accept(2) failed or the descriptor it got belongs to the runtime's reserve.</summary>
    private async Task<Socket?> AcceptOneAsync(CancellationToken ct)
    {
        Socket client;
        try
        {
            client = await _listener.AcceptAsync(ct).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            // Out of descriptors (EMFILE, ENFILE), or a client gone before its accept (ECONNABORTED):
            // the loop pauses and tries again; the gate's own loops say so in the log.
            return null;
        }
        catch (ObjectDisposedException) when (ct.IsCancellationRequested)
        {
            // The listener was closed by Dispose.
            throw new OperationCanceledException(ct);
        }
        // The top of RLIMIT_NOFILE is kept for the runtime, which aborts the process without it
        // (DescriptorReserve): a metrics client is not worth that.
        if (client.SafeHandle.DangerousGetHandle() >= DescriptorReserve.Ceiling())
        {
            client.Dispose();
            return null;
        }
        return client;
    }

    private async Task ServeAsync(Socket client, CancellationToken stop)
    {
        try
        {
            using (client)
            using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(stop))
            {
                deadline.CancelAfter(RequestTimeout);
                var buffer = new byte[MaxHead];
                var length = await ReadHeadAsync(client, buffer, deadline.Token).ConfigureAwait(false);
                if (length == 0)
                    return;
                var answer = length < 0 ? MetricsRequest.Error(431) : Answer(buffer.AsSpan(0, length));
                deadline.CancelAfter(ResponseTimeout);
                await SendAsync(client, answer, deadline.Token).ConfigureAwait(false);
                client.Shutdown(SocketShutdown.Send);
                deadline.CancelAfter(LingerTimeout);
                await LingerAsync(client, buffer, deadline.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Too slow, gone, or the endpoint stopped: the connection is closed, and that is all it gets.
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>The head's length; 0 when the client closed first; -1 when MaxHead bytes hold no whole head.</summary>
    private static async Task<int> ReadHeadAsync(Socket client, byte[] buffer, CancellationToken ct)
    {
        var filled = 0;
        while (filled < buffer.Length)
        {
            var n = await client.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0)
                return 0;
            // The end may straddle two reads: look again from a few bytes back.
            var from = Math.Max(0, filled - 2);
            filled += n;
            var end = MetricsRequest.HeadLength(buffer.AsSpan(from, filled - from));
            if (end >= 0)
                return from + end;
        }
        return -1;
    }

    private byte[] Answer(ReadOnlySpan<byte> head)
    {
        var (status, withBody) = MetricsRequest.Route(head);
        return status == 200 ? MetricsRequest.Response(200, Render(), MetricsRequest.TextFormat, withBody) : MetricsRequest.Error(status);
    }

    private byte[] Render()
    {
        lock (_renderGate)
        {
            var now = Environment.TickCount64;
            if (_rendered is null || now - _renderedAt >= RenderReuse.TotalMilliseconds)
            {
                _rendered = Encoding.UTF8.GetBytes(_collector.Render());
                _renderedAt = now;
            }
            return _rendered;
        }
    }

    private static async Task SendAsync(Socket client, byte[] answer, CancellationToken ct)
    {
        for (var sent = 0; sent < answer.Length;)
            sent += await client.SendAsync(answer.AsMemory(sent), SocketFlags.None, ct).ConfigureAwait(false);
    }

    private static async Task LingerAsync(Socket client, byte[] buffer, CancellationToken ct)
    {
        for (var read = 0; read < MaxLinger;)
        {
            var n = await client.ReceiveAsync(buffer, SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0)
                return;
            read += n;
        }
    }

    /// <summary>Stops listening, cuts the connections being served, and stops reading the meter.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
        // The loop ends at its next await, which the cancel and the close have both answered.
        _accepting.Wait(TimeSpan.FromSeconds(5));
        _collector.Dispose();
    }
}
