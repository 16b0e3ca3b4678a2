// The gate daemon's core: a listening socket per service address, accepted on by the
// relay's event loops; limits on connections overall and per source address; the
// decision on the loop when it needs no wait, else on the thread pool; reload without
// dropping open connections, and a stop that drains. A slow or silent client only ever
// holds its own connection.
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Giftwrap.Decisions;
using Giftwrap.Gate.Actions;
using Giftwrap.Gate.Config;
using Giftwrap.Gate.Connections;
using Giftwrap.Gate.Forwarding;
using Giftwrap.Gate.Interop;
using Giftwrap.Gate.Logging;
using Giftwrap.Hosting;
using Giftwrap.Logging;
using Giftwrap.Tables;

namespace Giftwrap.Gate.Listening;

/// <summary>`giftwrap serve`: guards every configured service.</summary>
public sealed class GateServer : IAsyncDisposable
{
    private readonly GateLog _log;
    private readonly IRequestLookups _lookups;
    private readonly ConcurrentDictionary<IPEndPoint, Listener> _listeners = new();
    private readonly SourceCounts _perSource = new();
    private readonly CancellationTokenSource _stopping = new();
    // Completed when the last open connection ends after a stop began (drain), instead of a task
    // tracked per connection.
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _draining;
    private GateConfig _config;
    private AccessTables _tables;
    // The event loops: they accept, and forwarded connections live there; RelayCallbacks hears from them.
    private readonly Relay _relay;
    private ConnectionHandler _handler;
    private int _open;

    private sealed class Listener(Socket socket, ServiceConfig service)
    {
        public Socket Socket { get; } = socket;
        public volatile ServiceConfig Service = service;
        public RelayListener? Relay { get; set; }
        /// <summary>Completes once the relay accepts here (later than Run for a passed socket whose old listener was still stopping).</summary>
        public Task Started { get; set; } = Task.CompletedTask;
        /// <summary>Set when the listener is let go: one that has not started yet never does.</summary>
        public volatile bool Stopping;
        /// <summary>The local endpoint of every connection accepted here, when bound to one address (else getsockname).</summary>
        public IPEndPoint? FixedLocal { get; } =
            socket.LocalEndPoint is IPEndPoint ep && !ep.Address.Equals(IPAddress.Any) && !ep.Address.Equals(IPAddress.IPv6Any) ? ep : null;
    }

    // The sockets systemd passed, until services take them (and those a reload let go). Those taken
    // by their FileDescriptorName= serve that service at no address it lists: a reload keeps them,
    // or takes them again, while that service is there.
    private readonly ActivatedSockets _activated;
    // They also keep the sockets the gate bound itself that a reload let go, until their listener is
    // done with them (and, for UDP, the program it started has exited): a reload that wants such an
    // address back meanwhile takes that socket again, as a passed one, since it still holds the address.
    // The UDP services (dgram udp wait), each watched by its own loop; see DatagramListener.
    private readonly ConcurrentDictionary<IPEndPoint, DatagramListener> _datagrams = new();

    /// <param name="config">The configuration.</param>
    /// <param name="log">Where tcpd's lines and the gate's own go.</param>
    /// <param name="lookups">DNS and ident.</param>
    /// <param name="inherited">Sockets from systemd socket activation (listening TCP, UDP), used instead of binding.</param>
    /// <param name="bans">The ban list checked before the tables and fed by the ban option.</param>
    public GateServer(GateConfig config, GateLog log, IRequestLookups lookups, IReadOnlyList<(Socket Socket, string? Name)>? inherited = null, IGateBans? bans = null)
    {
        _bans = bans;
        _activated = new ActivatedSockets(inherited ?? []);
        _config = config;
        _log = log;
        _lookups = lookups;
        _tables = new AccessTables(config.Allow, config.Deny);
        _decisions = config.DecisionLog is { } path ? new DecisionLog(path, config.DecisionLogMaxBytes, config.DecisionLogKeep) : null;
        _relay = new Relay(config.Limits.BufferSize, new RelayCallbacks(this)) { HalfCloseTimeout = config.Limits.HalfCloseTimeout };
        _programs = new ProgramLimits(log, config.Limits);
        _traps = new Traps(log);
        _handler = new ConnectionHandler(_tables, lookups, log, config.Limits, _relay, _decisions, bans, _programs, _traps);
        // The connections' instruments now, while descriptors are plenty: made at the first connection,
        // they load System.Diagnostics.DiagnosticSource, and a load that fails for want of a descriptor
        // (a flood at the start) fails that type for good, and with it every connection after.
        System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(typeof(GateMetrics).TypeHandle);
    }

    // The traps' ban counts: one for the gate, so a reload keeps them.
    private readonly Traps _traps;

    // The bounds on the programs of rules: one for the gate, so a reload keeps its counts.
    private readonly ProgramLimits _programs;

    private readonly DecisionLog? _decisions;
    private readonly IGateBans? _bans;

    /// <summary>The tables new connections are decided with.</summary>
    internal AccessTables Tables => Volatile.Read(ref _tables);

    /// <summary>Connections being handled now.</summary>
    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>Programs of rules (spawn, twist, aclexec) running now, background jobs included.</summary>
    public int RulePrograms => _programs.Running;

    /// <summary>The addresses listened on.</summary>
    public IReadOnlyCollection<IPEndPoint> Endpoints => [.. _listeners.Keys];

    /// <summary>The UDP addresses of datagram services.</summary>
    public IReadOnlyCollection<IPEndPoint> DatagramEndpoints => [.. _datagrams.Keys];

    /// <summary>Opens every listener; fails (and opens none) if one cannot be bound.</summary>
    public void Start()
    {
        var opened = new List<(IPEndPoint, Listener)>();
        var datagrams = new List<(IPEndPoint, DatagramListener)>();
        try
        {
            foreach (var s in _config.Services)
            {
                foreach (var ep in s.Listen)
                    opened.Add((ep, new Listener(Bind(ep, s, _config), s)));
                foreach (var ep in s.ListenUdp)
                    datagrams.Add((ep, new DatagramListener(BindUdp(ep, s, _config), s, _log, NewDatagramHandler)));
            }
            // Activated sockets no listen address claims: named after a service (FileDescriptorName=).
            foreach (var (socket, service, udp) in _activated.TakeNamed(_config, Unused))
                AddNamed(socket, service, udp, opened, datagrams);
        }
        catch
        {
            foreach (var (_, l) in opened)
                l.Socket.Dispose();
            foreach (var (_, d) in datagrams)
                _ = d.DisposeAsync();
            throw;
        }
        foreach (var (ep, l) in opened)
            Run(ep, l);
        foreach (var (ep, d) in datagrams)
            RunUdp(ep, d);
        _log.Gate(SyslogSeverity.Info, $"listening on {ListeningText()}");
    }

    /// <summary>Takes a new configuration: kept listeners stay open, open connections are untouched.</summary>
    public void Reload(GateConfig config)
    {
        var wanted = config.Services.SelectMany(s => s.Listen.Select(ep => (ep, s))).ToDictionary(x => x.ep, x => x.s);
        var wantedUdp = config.Services.SelectMany(s => s.ListenUdp.Select(ep => (ep, s))).ToDictionary(x => x.ep, x => x.s);
        KeepByName(config, wanted, wantedUdp);
        var added = new List<(IPEndPoint, Listener)>();
        var addedUdp = new List<(IPEndPoint, DatagramListener)>();
        try
        {
            foreach (var (ep, s) in wanted)
            {
                if (!_listeners.ContainsKey(ep))
                    added.Add((ep, new Listener(Bind(ep, s, config), s)));
            }
            foreach (var (ep, s) in wantedUdp)
            {
                if (!_datagrams.ContainsKey(ep))
                    addedUdp.Add((ep, new DatagramListener(BindUdp(ep, s, config), s, _log, NewDatagramHandler)));
            }
            // Sockets taken by name at start and let go since, whose service is back: taken by name, as at start.
            foreach (var (socket, service, udp) in _activated.TakeNamedAgain(config))
                AddNamed(socket, service, udp, added, addedUdp);
        }
        catch
        {
            // Sockets taken from the pool go back to it, open: the running configuration stays, and a later reload
            // may want them (one of the gate's own is closed there once its old listener is done with it).
            foreach (var (_, l) in added)
            {
                if (!_activated.GiveBack(l.Socket))
                    l.Socket.Dispose();
            }
            foreach (var (_, d) in addedUdp)
                _ = d.StopAsync(close: !_activated.GiveBack(d.Socket));
            throw;
        }
        foreach (var (ep, d) in _datagrams)
        {
            if (wantedUdp.TryGetValue(ep, out var s))
                d.Service = s;
            else if (_datagrams.TryRemove(ep, out var gone))
                LetGo(gone);
        }
        foreach (var (ep, d) in addedUdp)
            RunUdp(ep, d);
        // New tables only for new table paths: a change to [limits] keeps the compiled tables and their watches.
        AccessTables? old = null;
        if (config.Allow != _config.Allow || config.Deny != _config.Deny)
        {
            old = _tables;
            _tables = new AccessTables(config.Allow, config.Deny);
        }
        if (old is not null || config.Limits != _config.Limits)
        {
            _programs.Update(config.Limits);
            _handler = new ConnectionHandler(_tables, _lookups, _log, config.Limits, _relay, _decisions, _bans, _programs, _traps);
            _relay.HalfCloseTimeout = config.Limits.HalfCloseTimeout;
        }
        // The gate's own reference: the old tables are released when the last connection deciding with them is decided.
        old?.Dispose();
        foreach (var (ep, l) in _listeners)
        {
            if (wanted.TryGetValue(ep, out var s))
                l.Service = s;
            else if (_listeners.TryRemove(ep, out var gone))
                LetGo(gone);
        }
        foreach (var (ep, l) in added)
            Run(ep, l);
        _config = config;
        _log.Gate(SyslogSeverity.Notice, $"configuration reloaded; listening on {ListeningText()}");
    }

    /// <summary>Stops accepting and waits up to <paramref name="drain"/> for open connections to finish.</summary>
    public async Task StopAsync(TimeSpan drain)
    {
        var closing = _listeners.Values.Select(l => CloseAsync(l, close: true)).Concat(_datagrams.Values.Select(d => d.DisposeAsync().AsTask())).ToList();
        _listeners.Clear();
        _datagrams.Clear();
        await Task.WhenAll(closing).ConfigureAwait(false);
        // Listeners of passed sockets let go by a reload may still be stopping: the sockets are closed after.
        await _activated.Settled().ConfigureAwait(false);
        _draining = true;
        if (OpenConnections == 0)
            _drained.TrySetResult();
        var all = _drained.Task;
        if (await Task.WhenAny(all, Task.Delay(drain)).ConfigureAwait(false) != all)
        {
            _log.Gate(SyslogSeverity.Warning, $"{OpenConnections} connection(s) still open after {drain.TotalSeconds:0}s; closing them");
            await _stopping.CancelAsync().ConfigureAwait(false);
            _relay.AbortAll();
            await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
        }
    }

    /// <summary>The key under which a SocketException of a bind says (true) that the address is a UDP one.</summary>
    public const string ListenUdpKey = "giftwrap.listen.udp";

    /// <summary>The key under which a SocketException of a bind carries the address (an <see cref="IPEndPoint"/>) in its Data.</summary>
    public const string ListenEndPointKey = "giftwrap.listen";

    /// <summary>
    /// The key under which a SocketException of a bind says (true) that the address is in use by this gate's
    /// own listener of the configuration before, let go by a reload and not closed yet (or, for UDP, held by
    /// the program it started). The same address is taken back with that socket; this is for one that
    /// overlaps it (the wildcard address of the same port, or a single address under it).
    /// </summary>
    public const string ListenReleasingKey = "giftwrap.listen.releasing";

    /// <summary>
    /// A listening socket for <paramref name="ep"/> (an activated one if systemd passed it). A socket
    /// error names the address and the service, as "ADDRESS ([service:NAME]): reason".
    /// </summary>
    private Socket Bind(IPEndPoint ep, ServiceConfig service, GateConfig config)
    {
        if (_activated.TakeFor(ep, udp: false, service, config) is { } activated)
            return activated;
        var s = new Socket(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (ep.AddressFamily == AddressFamily.InterNetworkV6)
                s.DualMode = false;
            // SO_REUSEADDR alone, so that a restart binds while old connections linger in TIME_WAIT.
            // Not SocketOptionName.ReuseAddress: on Linux the runtime sets SO_REUSEPORT with it, and
            // then a second gate binds the same address and the kernel splits the connections
            // between two gates with different tables. With SO_REUSEADDR alone it fails: EADDRINUSE.
            s.SetRawSocketOption(Libc.SolSocket, Libc.SoReuseAddr, BitConverter.GetBytes(1));
            s.Bind(ep);
            s.Listen(1024);
            return s;
        }
        catch (SocketException ex)
        {
            s.Dispose();
            // The message names the address and its service; the Data entry lets the command line
            // say also where in the configuration that address was given.
            var named = new SocketException((int)ex.SocketErrorCode, $"{ep} ([service:{service.Name}]): {ex.Message}");
            named.Data[ListenEndPointKey] = ep;
            named.Data[ListenReleasingKey] = _activated.OwnHolds(ep, udp: false);
            throw named;
        }
        catch
        {
            s.Dispose();
            throw;
        }
    }

    /// <summary>The addresses listened on, for the log: TCP ones as they are, UDP ones as udp:ADDRESS.</summary>
    private string ListeningText() =>
        string.Join(", ", _listeners.Keys.Select(k => k.ToString()).Concat(_datagrams.Keys.Select(k => $"udp:{k}")));

    /// <summary>
    /// A bound UDP socket for <paramref name="ep"/> (an activated one if systemd passed it); an error
    /// names the address and the service as <see cref="Bind"/>'s do.
    /// </summary>
    private Socket BindUdp(IPEndPoint ep, ServiceConfig service, GateConfig config)
    {
        if (_activated.TakeFor(ep, udp: true, service, config) is { } activated)
            return activated;
        try
        {
            return DatagramListener.Bind(ep);
        }
        catch (SocketException ex)
        {
            var named = new SocketException((int)ex.SocketErrorCode, $"udp:{ep} ([service:{service.Name}]): {ex.Message}");
            named.Data[ListenEndPointKey] = ep;
            named.Data[ListenUdpKey] = true;
            named.Data[ListenReleasingKey] = _activated.OwnHolds(ep, udp: true);
            throw named;
        }
    }

    /// <summary>A handler for one burst, with the tables and limits in force now (a reload is seen by the next burst).</summary>
    /// <summary>A handler for one burst, with a reference taken on the current tables (given back once decided).</summary>
    private DatagramHandler NewDatagramHandler()
    {
        while (true)
        {
            var tables = Volatile.Read(ref _tables);
            if (tables.TryAcquire())
                return new(tables, _lookups, _log, _config.Limits, _decisions, _bans, _programs);
        }
    }

    /// <summary>A passed socket taken by its name, to be served for <paramref name="service"/> with the others.</summary>
    private void AddNamed(Socket socket, ServiceConfig service, bool udp, List<(IPEndPoint, Listener)> tcp, List<(IPEndPoint, DatagramListener)> datagrams)
    {
        var ep = (IPEndPoint)socket.LocalEndPoint!;
        if (udp)
            datagrams.Add((ep, new DatagramListener(socket, service, _log, NewDatagramHandler)));
        else
            tcp.Add((ep, new Listener(socket, service)));
    }

    private void RunUdp(IPEndPoint ep, DatagramListener d)
    {
        _datagrams[ep] = d;
        // A socket a reload let go (passed, or the gate's own taken back): watched once the listener before is done with it.
        d.Start(after: _activated.Released(d.Socket), stoppedBefore: _activated.Stopped(d.Socket));
    }

    private void Run(IPEndPoint ep, Listener l)
    {
        _listeners[ep] = l;
        // A socket a reload let go (passed, or the gate's own taken back) may still be in the loops of
        // the listener before: the relay takes it once they have all let it go (a loop holds a descriptor once).
        var released = _activated.Released(l.Socket);
        var passed = _activated.IsPassed(l.Socket);
        if (released.IsCompleted)
            Listen(l, passed);
        else
            l.Started = ListenAfterAsync(l, passed, released);
    }

    private void Listen(Listener l, bool passed) =>
        // TCP_NODELAY once on the listener of a forward service (a reload that makes it one leaves
        // the relay to set it per connection, as before); an activated socket is left as systemd gave it.
        l.Relay = _relay.Listen(l.Socket, l, forwards: l.Service.Forward is not null, mayRaise: !passed);

    private async Task ListenAfterAsync(Listener l, bool passed, Task released)
    {
        await released.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (l.Stopping)
            return;
        try
        {
            Listen(l, passed);
        }
        catch (SocketException ex)
        {
            // The reload that asked for it is over: said, as an accept error would be.
            _log.Gate(SyslogSeverity.Err, $"error: cannot listen on {(passed ? "activated socket" : "socket taken back")} {l.Socket.LocalEndPoint}: {ex.Message}");
        }
    }

    /// <summary>
    /// Stops accepting on <paramref name="l"/> (once it has started), then closes it when
    /// <paramref name="close"/> (no loop touches it any more).
    /// </summary>
    private async Task CloseAsync(Listener l, bool close)
    {
        l.Stopping = true;
        await l.Started.ConfigureAwait(false);
        if (l.Relay is { } r)
            await _relay.UnlistenAsync(r).ConfigureAwait(false);
        if (close)
            l.Socket.Dispose();
    }

    /// <summary>
    /// A listener a reload no longer wants: stopped, and its socket handed at once (open) to the
    /// activated sockets with the stop still under way, so that the very next reload can take it
    /// again. One systemd passed stays open there, unused; one the gate bound itself is closed once
    /// the stop is done, unless a reload took it back first.
    /// </summary>
    private void LetGo(Listener l)
    {
        var ep = (IPEndPoint)l.Socket.LocalEndPoint!;
        if (_activated.IsPassed(l.Socket))
        {
            if (_activated.GiveBack(l.Socket, CloseAsync(l, close: false)))
                _log.Gate(SyslogSeverity.Info, $"activated socket {ep} is listed no more: kept open, unused, for a later reload");
        }
        else
        {
            _activated.Retire(l.Socket, ep, udp: false, RetireAsync(l));
        }
    }

    /// <summary>
    /// Stops a listener on a socket of the gate's own, and leaves the socket as bound: without the
    /// TCP_NODELAY the relay raised on it, so that a listener that takes it back (an exec service,
    /// say) tells its connections' option from the operator's as on a fresh socket.
    /// </summary>
    private async Task RetireAsync(Listener l)
    {
        await CloseAsync(l, close: false).ConfigureAwait(false);
        if (l.Relay is { RaisedNoDelay: true } r)
            _ = Libc.SetNoDelay(r.Fd, false);
    }

    /// <summary>As <see cref="LetGo(Listener)"/>, for a UDP service: the socket is released once its program, if any, has exited too.</summary>
    private void LetGo(DatagramListener d)
    {
        var passed = _activated.IsPassed(d.Socket);
        var stopped = d.StopAsync(close: false);
        if (passed && _activated.GiveBack(d.Socket, stopped, ReleasedAsync(d, stopped)))
            _log.Gate(SyslogSeverity.Info, $"activated socket udp:{d.Local} is listed no more: kept open, unused, for a later reload");
        else if (!passed)
            _activated.Retire(d.Socket, d.Local, udp: true, stopped, ReleasedAsync(d, stopped));
    }

    /// <summary>Completes once <paramref name="d"/> has stopped and no program it started holds its socket (blocking) any more.</summary>
    private static async Task ReleasedAsync(DatagramListener d, Task stopped)
    {
        await stopped.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await d.Held.ConfigureAwait(false);
    }

    /// <summary>An activated socket no service takes: said, and closed (systemd still holds its own copy).</summary>
    private void Unused(ActivatedSockets.Passed p, string why)
    {
        _log.Gate(SyslogSeverity.Warning, $"warning: activated socket {p} {why}; closed");
        p.Socket.Dispose();
    }

    /// <summary>
    /// Adds to the addresses a reload wants those of passed sockets taken by name whose service is
    /// still there and lists not their address, as at start; a service of the other protocol only
    /// is an error, as at start. The others are let go with the rest (kept open).
    /// </summary>
    private void KeepByName(GateConfig config, Dictionary<IPEndPoint, ServiceConfig> wanted, Dictionary<IPEndPoint, ServiceConfig> wantedUdp)
    {
        foreach (var (ep, l) in _listeners)
        {
            if (!wanted.ContainsKey(ep) && _activated.NamedService(l.Socket, config) is { } s)
                wanted[ep] = s;
        }
        foreach (var (ep, d) in _datagrams)
        {
            if (!wantedUdp.ContainsKey(ep) && _activated.NamedService(d.Socket, config) is { } s)
                wantedUdp[ep] = s;
        }
    }

    /// <summary>A batch of new connections, on the event loop that accepted them (all of them before this call).</summary>
    private void Accepted(Listener l, in AcceptedBatch batch, RelayLoop loop)
    {
        // The tables' files are checked once for the batch, at the first decision made on the loop:
        // after every connection of it was accepted, so a change made before any of them is seen.
        var fresh = new BatchRefresh();
        var sockets = batch.Sockets;
        for (var i = 0; i < sockets.Length; i++)
        {
            try
            {
                Accepted(l, sockets[i].Fd, batch.Peer(i), loop, sockets[i].NoDelay, ref fresh);
            }
            catch (Exception)
            {
                // As the loop's own catch: the descriptor was ours; the rest of the batch still is.
            }
        }
    }

    /// <summary>A new connection, on the event loop that accepted it.</summary>
    private void Accepted(Listener l, int fd, ReadOnlySpan<byte> peer, RelayLoop loop, bool noDelay, ref BatchRefresh fresh)
    {
        var service = l.Service;
        if (SockAddr.ToEndPoint(peer) is not { } remote || (l.FixedLocal ?? SockAddr.Local(fd)) is not { } local)
        {
            // Not an IP connection (cannot happen on our listeners), or already gone.
            _ = Libc.close(fd);
            return;
        }
        var source = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
        if (TryAdmit(source, service) is not { } count)
        {
            _ = Libc.close(fd);
            return;
        }
        var open = new OpenConnection(source, count, service);
        ConnectionHandler? handler = null;
        ConnectionHandler.LoopOutcome outcome;
        Exception? fault = null;
        var counted = false;
        try
        {
            // Inside the try, from the first step after the admission on: whatever throws here (the
            // metrics' listeners, say) still closes the connection and gives its places back.
            GateMetrics.ConnectionDelta(1, service.Daemon, service.Name);
            counted = true;
            handler = HandlerWithTables();
            var request = AccessRequest.ForConnection(service.Daemon, remote, local);
            outcome = handler.TryServeOnLoop(fd, request, source, service, open, loop, noDelay, ref fresh);
        }
        catch (Exception ex)
        {
            // A fault of ours must not leave the connection open (fail closed) nor its count taken.
            fault = ex;
            outcome = ConnectionHandler.LoopOutcome.Closed;
        }
        // Decided here, or the long way takes the reference over (HandleAsync gives it back once decided).
        if (outcome != ConnectionHandler.LoopOutcome.LongWay)
            handler?.Tables.Release();
        switch (outcome)
        {
            case ConnectionHandler.LoopOutcome.Relayed:
                return;
            case ConnectionHandler.LoopOutcome.Closed:
                _ = Libc.close(fd);
                Close(open, counted);
                // Said last: a log line that fails too leaves nothing open behind it.
                if (fault is not null)
                    _log.Write(LibwrapLog.RefusedFault(service.Daemon, source.ToString(), fault));
                return;
        }
        // The long way hands the socket on as accept gave it: without the TCP_NODELAY the relay set on
        // the listener (a program exec'd on it gets what it always got; a forward sets it again).
        if (l.Relay is { RaisedNoDelay: true })
            _ = Libc.SetNoDelay(fd, false);
        ThreadPool.UnsafeQueueUserWorkItem(static s => _ = s.Gate.ServeAsync(s.Handler, s.Fd, s.Open), (Gate: this, Handler: handler!, Fd: fd, Open: open), preferLocal: false);
    }

    /// <summary>
    /// The current handler, with a reference taken on its tables. A reload may release those tables
    /// between the read and the reference: the newer handler is read again then.
    /// </summary>
    private ConnectionHandler HandlerWithTables()
    {
        while (true)
        {
            var handler = Volatile.Read(ref _handler);
            if (handler.Tables.TryAcquire())
                return handler;
        }
    }

    /// <summary>Within the limits: counted in (its source's count), or refused and logged (null).</summary>
    private SourceCounts.Count? TryAdmit(IPAddress source, ServiceConfig service)
    {
        var limits = _config.Limits;
        if (Interlocked.Increment(ref _open) > limits.MaxConnections)
        {
            Leave();
            // Not in tcpd's form on purpose: the gate is full, which is not this client's doing, and
            // Fail2ban's filters must not ban the clients that come during someone else's flood.
            _log.Write(LibwrapLog.RefusedFull(service.Daemon, source.ToString(), limits.MaxConnections));
            return null;
        }
        if (_perSource.TryEnter(source, limits.MaxPerSource) is { } count)
            return count;
        Leave();
        _log.Write(LibwrapLog.RefusedPerSource(service.Daemon, source.ToString(), limits.MaxPerSource));
        return null;
    }

    /// <summary>The long way, on the thread pool: lookups, options, processes, the decision log.</summary>
    private async Task ServeAsync(ConnectionHandler handler, int fd, OpenConnection open)
    {
        Socket client;
        try
        {
            // Blocking again, as an accepted socket is: a program exec'd on it expects that.
            _ = Libc.SetNonBlocking(fd, false);
            client = new Socket(new SafeSocketHandle(fd, ownsHandle: true));
        }
        catch (SocketException)
        {
            // Gone before we could look at it.
            _ = Libc.close(fd);
            handler.Tables.Release();
            Close(open);
            return;
        }
        var relayed = false;
        try
        {
            relayed = await handler.HandleAsync(client, open.Service, open, _stopping.Token).ConfigureAwait(false);
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
    private sealed record OpenConnection(IPAddress Source, SourceCounts.Count Count, ServiceConfig Service);

    /// <param name="open">The connection.</param>
    /// <param name="counted">False for one whose start the gauge never took (it threw): nothing to take off it.</param>
    private void Close(OpenConnection open, bool counted = true)
    {
        _perSource.Leave(open.Source, open.Count);
        Leave();
        if (counted)
            GateMetrics.ConnectionDelta(-1, open.Service.Daemon, open.Service.Name);
    }

    /// <summary>The relay's calls into the gate, on its threads.</summary>
    private sealed class RelayCallbacks(GateServer gate) : IRelayOwner
    {
        public void Accepted(RelayListener listener, in AcceptedBatch batch, RelayLoop loop) =>
            gate.Accepted((Listener)listener.State, batch, loop);

        public void AcceptFailed(RelayListener listener, int errno, int ceiling) =>
            gate.SayAcceptFailed(listener, errno, ceiling);

        public void Ended(object? state, in RelayResult result)
        {
            var open = (OpenConnection)state!;
            if (!result.Connected && result.Error != Libc.ECanceled && open.Service.Forward is { } backend)
                ConnectionHandler.LogBackendFailure(gate._log, open.Service, backend, result.Error);
            if (result.Connected)
                GateMetrics.Forwarded(result.ToBackend, result.ToClient);
            gate.Close(open);
        }
    }

    // When the last accept failure was said, and how many came since: a loop pauses a listener ten
    // times a second while descriptors are out, and a flood that holds them must not fill the log.
    private long _acceptFailureSaid = -1_000_000;
    private int _acceptFailuresQuiet;

    /// <summary>An accept that failed for want of descriptors or memory: said at most once every 10 s.</summary>
    private void SayAcceptFailed(RelayListener listener, int errno, int ceiling)
    {
        var now = Environment.TickCount64;
        var said = Interlocked.Read(ref _acceptFailureSaid);
        if (now - said < 10_000 || Interlocked.CompareExchange(ref _acceptFailureSaid, now, said) != said)
        {
            Interlocked.Increment(ref _acceptFailuresQuiet);
            return;
        }
        var quiet = Interlocked.Exchange(ref _acceptFailuresQuiet, 0);
        var why = ceiling > 0
            ? $"descriptor {ceiling} reached, the rest kept free for the gate itself; connection closed"
            : System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno);
        var more = quiet > 0 ? $" ({quiet} more since the last such line)" : "";
        _log.Gate(SyslogSeverity.Err, $"error: accept on {listener.Socket.LocalEndPoint}: {why}{more}");
    }

    /// <summary>One connection fewer; the last one out during a stop ends the drain.</summary>
    private void Leave()
    {
        if (Interlocked.Decrement(ref _open) == 0 && _draining)
            _drained.TrySetResult();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        _relay.Dispose();
        _activated.Dispose();
        _tables.Dispose();
        _decisions?.Dispose();
        _programs.Dispose();
        _traps.Dispose();
        _stopping.Dispose();
    }
}
