// A UDP service served as inetd serves a `dgram udp wait` line: the gate waits until a
// datagram is queued, judges the burst by its first datagram's source, and either reads that
// datagram away (refused: socket.c sock_sink) or starts the program with the socket on its
// stdio and does not look at the socket again until the program exits (inetd's "wait": the
// program reads the burst, and every datagram that comes while it runs). One program at a
// time per socket; the connection limits of TCP services do not apply.
//
// The socket is blocking only while a program holds it, and the gate never reads it then: a
// stop that comes while a program runs leaves the socket blocking to the program; a listener after
// it on the same socket (one a reload brings back) starts only once that program exits
// (Held), and always makes the socket non-blocking first, since the runtime's receive would
// otherwise block a thread that no stop can interrupt.
using System.Net;
using System.Net.Sockets;
using Giftwrap.Gate.Config;
using Giftwrap.Gate.Connections;
using Giftwrap.Gate.Interop;
using Giftwrap.Gate.Logging;
using Giftwrap.Hosting;
using Giftwrap.Logging;

namespace Giftwrap.Gate.Listening;

internal sealed class DatagramListener : IAsyncDisposable
{
    // openbsd-inetd's TOOMANY and CNT_INTVL: a wait service started more often than this in a
    // minute is most likely a program that exits without reading its datagram, which would be
    // started again at once for ever; the bursts over the bound are read away unjudged instead
    // (inetd stops the service for ten minutes), and that is said once a minute.
    private const int MaxStartsPerMinute = 256;

    private readonly Socket _socket;
    private readonly GateLog _log;
    private readonly Func<DatagramHandler> _handler;
    private readonly CancellationTokenSource _stop = new();
    private readonly Queue<long> _starts = new();
    private long _saidTooMany;
    private Task _loop = Task.CompletedTask;
    private Task _held = Task.CompletedTask;

    public DatagramListener(Socket socket, ServiceConfig service, GateLog log, Func<DatagramHandler> handler)
    {
        _socket = socket;
        Service = service;
        _log = log;
        _handler = handler;
        Local = (IPEndPoint)socket.LocalEndPoint!;
    }

    /// <summary>The service; a reload may replace it (the socket stays).</summary>
    public volatile ServiceConfig Service;

    /// <summary>The address the socket is bound to: the server address rules see (the wildcard address when bound to it, as under inetd).</summary>
    public IPEndPoint Local { get; }

    /// <summary>A UDP socket bound to <paramref name="ep"/>; the caller names the address in an error.</summary>
    public static Socket Bind(IPEndPoint ep)
    {
        var s = new Socket(ep.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (ep.AddressFamily == AddressFamily.InterNetworkV6)
                s.DualMode = false;
            s.Bind(ep);
            return s;
        }
        catch
        {
            s.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Starts watching, once <paramref name="after"/> (the stop of a listener before on the same socket,
    /// and the exit of its program) is done. Stopped before that, it still ends only after
    /// <paramref name="stoppedBefore"/> (that listener's stop alone).
    /// </summary>
    public void Start(Task? after = null, Task? stoppedBefore = null)
    {
        var ct = _stop.Token;
        _loop = Task.Run(() => RunAsync(after ?? Task.CompletedTask, stoppedBefore ?? Task.CompletedTask, ct));
    }

    private async Task RunAsync(Task after, Task stoppedBefore, CancellationToken ct)
    {
        // Two loops never watch one socket: both would judge the same queued datagram. The wait
        // (for a program of the listener before) ends with a stop; this stop still ends after that
        // listener's (a burst it judges), since whoever stops this one may close the socket next.
        await after.WaitAsync(ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (ct.IsCancellationRequested)
        {
            await stoppedBefore.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            return;
        }
        var peek = new byte[65536];
        var fd = (int)_socket.SafeHandle.DangerousGetHandle();
        // As it may come: blocking from systemd (NonBlocking=no), or left so by a program a stop
        // did not wait for. The runtime sets it once per socket and trusts it to stay.
        _ = Libc.SetNonBlocking(fd, true);
        while (!ct.IsCancellationRequested)
        {
            SocketReceiveFromResult first;
            try
            {
                // MSG_PEEK: the datagram stays queued for the program (socket.c sock_host()).
                first = await _socket.ReceiveFromAsync(peek, SocketFlags.Peek, new IPEndPoint(Local.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0), ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                // Stopped or reloaded away.
                return;
            }
            catch (SocketException ex)
            {
                // An ICMP error of an earlier reply (ECONNREFUSED) and the like: nothing queued to judge.
                _log.Gate(SyslogSeverity.Debug, $"udp {Local}: {ex.Message}");
                continue;
            }
            await BurstAsync(fd, (IPEndPoint)first.RemoteEndPoint, ct).ConfigureAwait(false);
        }
    }

    private async Task BurstAsync(int fd, IPEndPoint remote, CancellationToken ct)
    {
        var service = Service;
        if (TooMany())
        {
            _ = Datagram.Sink(fd);
            return;
        }
        // Blocking while a program may hold it (what inetd hands over); the runtime's own
        // operations on this socket expect it non-blocking again afterwards.
        _ = Libc.SetNonBlocking(fd, false);
        Task<int>? program = null;
        int? status;
        try
        {
            program = await _handler().HandleAsync(_socket, remote, Local, service, ct).ConfigureAwait(false);
            status = program is null ? null : await program.WaitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopped while judging: no program has the socket. Stopped while the program holds it:
            // it keeps it as it is (blocking) until it exits, and a listener after this one makes
            // it non-blocking only then (Held).
            if (program is null)
                _ = Libc.SetNonBlocking(fd, true);
            else
                _held = EndOfAsync(program);
            return;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A fault of ours refuses the burst (fail closed) and keeps the service up.
            _log.Write(LibwrapLog.RefusedFault(service.Daemon, remote.Address.ToString(), ex));
            status = null;
        }
        _ = Libc.SetNonBlocking(fd, true);
        // Refused, or no program could take it (tcpd's clean_exit() after a failed exec): read away.
        if (status is null or -1)
            _ = Datagram.Sink(fd);
        else
            _starts.Enqueue(Environment.TickCount64);
    }

    /// <summary>Over inetd's bound of programs started in the last minute (said once a minute). Refused bursts start none and do not count.</summary>
    private bool TooMany()
    {
        var now = Environment.TickCount64;
        while (_starts.Count > 0 && now - _starts.Peek() > 60_000)
            _starts.Dequeue();
        if (_starts.Count < MaxStartsPerMinute)
            return false;
        if (now - _saidTooMany > 60_000)
        {
            _saidTooMany = now;
            _log.Daemon(Service.Daemon, SyslogSeverity.Err, $"error: udp {Local}: more than {MaxStartsPerMinute} programs started in a minute; reading datagrams away until it calms down");
        }
        return true;
    }

    /// <summary>The end of <paramref name="burst"/> (its program exited, or its judging was stopped), whichever way it ended.</summary>
    private static async Task EndOfAsync(Task burst) => await burst.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

    /// <summary>
    /// Completes when no program this listener started holds the socket any more (at once when its
    /// stop found none running; never faults); read once the stop is done. A stop does not wait for
    /// it: the program may run for long, and keeps its own descriptor.
    /// </summary>
    public Task Held => _held;

    /// <summary>The socket watched (a reload gives a passed one back to the activated sockets).</summary>
    public Socket Socket => _socket;

    /// <summary>
    /// Stops watching; closes the socket when <paramref name="close"/> (a program still running keeps
    /// its own descriptor), else leaves it open (a socket systemd passed, kept for a later reload).
    /// </summary>
    public async Task StopAsync(bool close)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        if (close)
            _socket.Dispose();
        _stop.Dispose();
    }

    public ValueTask DisposeAsync() => new(StopAsync(close: true));
}
