// The gate daemon's core: a listening socket per service address, an accept loop
// each, limits on connections overall and per source address, reload without
// dropping open connections, and a stop that drains. A slow or silent client only
// ever holds its own task.
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Giftwrap.Decisions;
using Giftwrap.Diagnostics;
using Giftwrap.Gate.Config;
using Giftwrap.Gate.Connections;
using Giftwrap.Gate.Forwarding;
using Giftwrap.Gate.Logging;
using Giftwrap.Tables;

namespace Giftwrap.Gate.Listening;

/// <summary>`giftwrap serve`: guards every configured service.</summary>
public sealed class GateServer : IAsyncDisposable
{
    private readonly GateLog _log;
    private readonly IRequestLookups _lookups;
    private readonly ConcurrentDictionary<IPEndPoint, Listener> _listeners = new();
    private readonly ConcurrentDictionary<IPAddress, int> _perSource = new();
    private readonly CancellationTokenSource _stopping = new();
    // Completed when the last open connection ends after a stop began (drain), instead of a task
    // tracked per connection.
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _draining;
    private GateConfig _config;
    private AccessTables _tables;
    // Forwarded connections, once decided, live in the relay; it reports their end to _relayEnds.
    private readonly Relay _relay;
    private ConnectionHandler _handler;
    private int _open;

    private sealed class Listener(Socket socket, ServiceConfig service)
    {
        public Socket Socket { get; } = socket;
        public ServiceConfig Service { get; set; } = service;
        public Task? Loop { get; set; }
    }

    private readonly List<(Socket Socket, string? Name)> _inherited;

    /// <param name="config">The configuration.</param>
    /// <param name="log">Where tcpd's lines and the gate's own go.</param>
    /// <param name="lookups">DNS and ident.</param>
    /// <param name="inherited">Listening sockets from systemd socket activation, used instead of binding.</param>
    /// <param name="bans">The ban list checked before the tables and fed by the ban option.</param>
    public GateServer(GateConfig config, GateLog log, IRequestLookups lookups, IReadOnlyList<(Socket Socket, string? Name)>? inherited = null, IGateBans? bans = null)
    {
        _bans = bans;
        _inherited = inherited is null ? [] : [.. inherited];
        _config = config;
        _log = log;
        _lookups = lookups;
        _tables = new AccessTables(config.Allow, config.Deny);
        _decisions = config.DecisionLog is { } path ? new DecisionLog(path, config.DecisionLogMaxBytes, config.DecisionLogKeep) : null;
        _relay = new Relay(config.Limits.BufferSize, new RelayEnds(this));
        _handler = new ConnectionHandler(_tables, lookups, log, config.Limits, _relay, _decisions, bans);
    }

    private readonly DecisionLog? _decisions;
    private readonly IGateBans? _bans;

    /// <summary>Connections being handled now.</summary>
    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>The addresses listened on.</summary>
    public IReadOnlyCollection<IPEndPoint> Endpoints => [.. _listeners.Keys];

    /// <summary>Opens every listener; fails (and opens none) if one cannot be bound.</summary>
    public void Start()
    {
        var opened = new List<(IPEndPoint, Listener)>();
        try
        {
            foreach (var s in _config.Services)
            {
                foreach (var ep in s.Listen)
                    opened.Add((ep, new Listener(Bind(ep), s)));
            }
            // Activated sockets no listen address claims: named after a service (FileDescriptorName=).
            foreach (var (socket, name) in _inherited.ToList())
            {
                var service = _config.Services.FirstOrDefault(s => s.Name == name);
                if (service is null)
                {
                    _log.Gate(Severity.Warning, $"warning: activated socket {socket.LocalEndPoint} ({name ?? "no name"}) matches no service; closed");
                    socket.Dispose();
                    continue;
                }
                opened.Add(((IPEndPoint)socket.LocalEndPoint!, new Listener(socket, service)));
            }
            _inherited.Clear();
        }
        catch
        {
            foreach (var (_, l) in opened)
                l.Socket.Dispose();
            throw;
        }
        foreach (var (ep, l) in opened)
            Run(ep, l);
        _log.Gate(Severity.Info, $"listening on {string.Join(", ", _listeners.Keys)}");
    }

    /// <summary>Takes a new configuration: kept listeners stay open, open connections are untouched.</summary>
    public void Reload(GateConfig config)
    {
        var wanted = config.Services.SelectMany(s => s.Listen.Select(ep => (ep, s))).ToDictionary(x => x.ep, x => x.s);
        var added = new List<(IPEndPoint, Listener)>();
        try
        {
            foreach (var (ep, s) in wanted)
            {
                if (!_listeners.ContainsKey(ep))
                    added.Add((ep, new Listener(Bind(ep), s)));
            }
        }
        catch
        {
            foreach (var (_, l) in added)
                l.Socket.Dispose();
            throw;
        }
        if (config.Allow != _config.Allow || config.Deny != _config.Deny || config.Limits != _config.Limits)
        {
            var old = _tables;
            _tables = new AccessTables(config.Allow, config.Deny);
            _handler = new ConnectionHandler(_tables, _lookups, _log, config.Limits, _relay, _decisions, _bans);
            _ = Task.Delay(TimeSpan.FromMinutes(5)).ContinueWith(_ => old.Dispose(), TaskScheduler.Default);
        }
        foreach (var (ep, l) in _listeners)
        {
            if (wanted.TryGetValue(ep, out var s))
                l.Service = s;
            else if (_listeners.TryRemove(ep, out var gone))
                gone.Socket.Dispose();
        }
        foreach (var (ep, l) in added)
            Run(ep, l);
        _config = config;
        _log.Gate(Severity.Notice, $"configuration reloaded; listening on {string.Join(", ", _listeners.Keys)}");
    }

    /// <summary>Stops accepting and waits up to <paramref name="drain"/> for open connections to finish.</summary>
    public async Task StopAsync(TimeSpan drain)
    {
        foreach (var l in _listeners.Values)
            l.Socket.Dispose();
        _listeners.Clear();
        _draining = true;
        if (OpenConnections == 0)
            _drained.TrySetResult();
        var all = _drained.Task;
        if (await Task.WhenAny(all, Task.Delay(drain)).ConfigureAwait(false) != all)
        {
            _log.Gate(Severity.Warning, $"{OpenConnections} connection(s) still open after {drain.TotalSeconds:0}s; closing them");
            await _stopping.CancelAsync().ConfigureAwait(false);
            _relay.AbortAll();
            await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
        }
    }

    private Socket Bind(IPEndPoint ep)
    {
        var activated = _inherited.FindIndex(x => x.Socket.LocalEndPoint is IPEndPoint l && l.Equals(ep));
        if (activated >= 0)
        {
            var socket = _inherited[activated].Socket;
            _inherited.RemoveAt(activated);
            return socket;
        }
        var s = new Socket(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (ep.AddressFamily == AddressFamily.InterNetworkV6)
                s.DualMode = false;
            s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            s.Bind(ep);
            s.Listen(1024);
            return s;
        }
        catch
        {
            s.Dispose();
            throw;
        }
    }

    private void Run(IPEndPoint ep, Listener l)
    {
        _listeners[ep] = l;
        l.Loop = Task.Run(() => AcceptLoopAsync(l));
    }

    private async Task AcceptLoopAsync(Listener l)
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await l.Socket.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ObjectDisposedException or OperationCanceledException)
            {
                // The listener was closed by a reload or a stop.
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
            {
                // The client gave up before we accepted it.
                continue;
            }
            catch (SocketException ex)
            {
                // Out of descriptors and the like: say so, breathe, go on.
                _log.Gate(Severity.Err, $"error: accept on {l.Socket.LocalEndPoint}: {ex.Message}");
                await Task.Delay(100).ConfigureAwait(false);
                continue;
            }
            Admit(client, l.Service);
        }
    }

    private void Admit(Socket client, ServiceConfig service)
    {
        var source = ((IPEndPoint)client.RemoteEndPoint!).Address;
        if (source.IsIPv4MappedToIPv6)
            source = source.MapToIPv4();
        var limits = _config.Limits;
        if (Interlocked.Increment(ref _open) > limits.MaxConnections)
        {
            Leave();
            _log.Daemon(service.Daemon, Severity.Warning, $"refused connect from {source} (too many connections: {limits.MaxConnections})");
            client.Dispose();
            return;
        }
        if (_perSource.AddOrUpdate(source, 1, (_, n) => n + 1) > limits.MaxPerSource)
        {
            Release(source);
            Leave();
            _log.Daemon(service.Daemon, Severity.Warning, $"refused connect from {source} (more than {limits.MaxPerSource} connections from one address)");
            client.Dispose();
            return;
        }
        // The connection runs on the accepting thread until its first real wait (a lookup, the
        // backend's connect): no hand-off to another thread for the decision itself.
        _ = RunAsync(_handler, client, service, source);
    }

    private async Task RunAsync(ConnectionHandler handler, Socket client, ServiceConfig service, IPAddress source)
    {
        GiftwrapMetrics.ConnectionDelta(1, service.Daemon, service.Name);
        var open = new OpenConnection(source, service);
        var relayed = false;
        try
        {
            relayed = await handler.HandleAsync(client, service, open, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The client went away mid-way; nothing is left to do for it.
        }
        finally
        {
            // The relay works on its own descriptor for the client; this one is closed either way.
            client.Dispose();
            if (!relayed)
                Close(open);
        }
    }

    /// <summary>What the gate keeps of a connection until it ends: its share of the limits.</summary>
    private sealed record OpenConnection(IPAddress Source, ServiceConfig Service);

    private void Close(OpenConnection open)
    {
        Release(open.Source);
        Leave();
        GiftwrapMetrics.ConnectionDelta(-1, open.Service.Daemon, open.Service.Name);
    }

    /// <summary>The end of a relayed connection, on a relay thread.</summary>
    private sealed class RelayEnds(GateServer gate) : IRelayOwner
    {
        public void Ended(object? state, in RelayResult result)
        {
            var open = (OpenConnection)state!;
            if (!result.Connected && result.Error != Sys.ECanceled && open.Service.Forward is { } backend)
                ConnectionHandler.LogBackendFailure(gate._log, open.Service, backend, result.Error);
            if (result.Connected)
                GiftwrapMetrics.Forwarded(result.ToBackend, result.ToClient);
            gate.Close(open);
        }
    }

    /// <summary>One connection fewer; the last one out during a stop ends the drain.</summary>
    private void Leave()
    {
        if (Interlocked.Decrement(ref _open) == 0 && _draining)
            _drained.TrySetResult();
    }

    private void Release(IPAddress source)
    {
        while (true)
        {
            var n = _perSource.GetValueOrDefault(source);
            if (n <= 1)
            {
                if (_perSource.TryRemove(KeyValuePair.Create(source, n)))
                    return;
            }
            else if (_perSource.TryUpdate(source, n - 1, n))
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        _relay.Dispose();
        _tables.Dispose();
        _decisions?.Dispose();
        _stopping.Dispose();
    }
}
