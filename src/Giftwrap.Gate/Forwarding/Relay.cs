// The gate's event loops (one thread and one epoll instance per core, up to four): they accept
// on the listening sockets and hand each new connection to the owner, which decides it there
// when it can (see GateServer); and they run forward, the full-duplex proxy between an allowed
// client and its backend. A connection is a small object with two descriptors (RelayConnection.cs):
// no task, no async state machine and no buffer of its own while idle. Data moves through the loop's one buffer, or through splice(2) once a direction carries a
// bulk flow; what a slow reader cannot take yet waits in a per-direction buffer (or the pipe), and
// that direction reads no more until it is gone (backpressure, bounded memory). End of stream on
// one side becomes a half-close on the other; a reset on either side closes both. A connection
// left half-closed and idle (a backend that never closes on EOF, a client gone without a word)
// ends after the half-close timeout, so it cannot hold its slot in the limits for ever.
// The decision and the options happen before, on the gate's side; the relay only moves bytes.
using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Giftwrap.Gate.Interop;

namespace Giftwrap.Gate.Forwarding;

/// <summary>The relay's owner, called on a relay thread (it must not block).</summary>
internal interface IRelayOwner
{
    /// <summary>A relayed connection ended.</summary>
    void Ended(object? state, in RelayResult result);

    /// <summary>
    /// Connections were accepted on <paramref name="listener"/>, all of them before this call: each
    /// descriptor of <paramref name="batch"/> (non-blocking, close-on-exec) is the owner's now, even
    /// if the call throws.
    /// </summary>
    void Accepted(RelayListener listener, in AcceptedBatch batch, RelayLoop loop);

    /// <summary>
    /// accept(2) failed for want of descriptors or memory, or (<paramref name="ceiling"/> above 0) gave
    /// a descriptor at or over that ceiling, into the reserve left to the runtime, and the connection
    /// was closed; the listener pauses for a moment.
    /// </summary>
    void AcceptFailed(RelayListener listener, int errno, int ceiling);
}

/// <summary>One accepted connection: its descriptor, the length of its struct sockaddr, and whether it surely has TCP_NODELAY already (see <see cref="RelayListener.NoDelay"/>).</summary>
internal readonly record struct AcceptedSocket(int Fd, int PeerLength, bool NoDelay);

/// <summary>The connections one loop accepted in a row on one listener (each peer in a slot of <see cref="SockAddr.StorageSize"/> bytes).</summary>
internal readonly ref struct AcceptedBatch
{
    private readonly ReadOnlySpan<byte> _peers;

    public AcceptedBatch(ReadOnlySpan<AcceptedSocket> sockets, ReadOnlySpan<byte> peers)
    {
        Sockets = sockets;
        _peers = peers;
    }

    public ReadOnlySpan<AcceptedSocket> Sockets { get; }

    /// <summary>The struct sockaddr of the <paramref name="i"/>th connection.</summary>
    public ReadOnlySpan<byte> Peer(int i) => _peers.Slice(i * SockAddr.StorageSize, Sockets[i].PeerLength);
}

/// <summary>A listening socket the loops accept on.</summary>
internal sealed class RelayListener(Socket socket, object state)
{
    public Socket Socket { get; } = socket;
    public int Fd { get; } = (int)socket.SafeHandle.DangerousGetHandle();
    public object State { get; } = state;
    public GCHandle Handle;
    public uint Events;
    public volatile bool Closing;
    public int LoopsLeft;
    public readonly TaskCompletionSource Removed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Whether sockets accepted here have TCP_NODELAY without a setsockopt of their own (Linux copies
    /// the listener's into each connection when its handshake completes): <see cref="NoDelayUnknown"/>,
    /// <see cref="NoDelayPending"/> (set on the listener; a connection queued before may lack it) or
    /// <see cref="NoDelayInherited"/> (an accept found the queue empty after it was set, so every
    /// connection accepted by a call that began after that has it). Not ruled out: a connection the
    /// kernel copied from the listener just before the option was set and queued just after that
    /// empty accept (the two are one step of its softirq): it would keep Nagle's algorithm, no more.
    /// </summary>
    public int NoDelay;

    /// <summary>The relay set TCP_NODELAY on this listener (it was off): connections handed to a program get it cleared again.</summary>
    public bool RaisedNoDelay { get; init; }

    public const int NoDelayUnknown = 0;
    public const int NoDelayPending = 1;
    public const int NoDelayInherited = 2;
}

/// <summary>How a relayed connection ended.</summary>
/// <param name="ToBackend">Bytes from the client to the backend.</param>
/// <param name="ToClient">Bytes from the backend to the client.</param>
/// <param name="Error">The errno that ended it; 0 when both sides finished.</param>
/// <param name="Connected">False when the backend was never reached (<paramref name="Error"/> says why).</param>
internal readonly record struct RelayResult(long ToBackend, long ToClient, int Error, bool Connected);

/// <summary>What a forward backend is told of the client, from [service:X] proxy_protocol and transparent.</summary>
/// <param name="Header">The PROXY protocol header sent before the client's bytes, if any.</param>
/// <param name="Transparent">Connect from the client's own address (IP_TRANSPARENT).</param>
internal readonly record struct BackendSource(Config.ProxyProtocolVersion Header, bool Transparent)
{
    public static BackendSource Of(Config.ServiceConfig service) => new(service.ProxyProtocol, service.Transparent);
}

internal sealed unsafe class Relay : IDisposable
{
    private readonly RelayLoop[] _loops;
    private readonly object _startGate = new();
    private bool _started;
    private int _next;
    private static int s_spliceWorks = 1;
    private long _halfCloseTimeoutMs = 60_000;

    /// <param name="bufferSize">The size of each loop's buffer and the most a slow reader holds back per direction.</param>
    /// <param name="owner">Told of every connection accepted and every connection's end.</param>
    public Relay(int bufferSize, IRelayOwner owner)
    {
        // Before any event is read: a struct epoll_event of the wrong size would have the kernel
        // write past the loop's buffer (one line to the operator instead).
        Epoll.EnsureLayout();
        BufferSize = bufferSize;
        Owner = owner;
        Buffers = ArrayPool<byte>.Create(bufferSize, maxArraysPerBucket: 32);
        // One loop per processor, at most four.
        _loops = new RelayLoop[Math.Clamp(Environment.ProcessorCount, 1, 4)];
    }

    internal int BufferSize { get; }

    /// <summary>
    /// How long a half-closed connection may go without moving a byte before it is ended
    /// ([limits] half_close_timeout); a reload may change it, for connections half-closed after.
    /// </summary>
    public TimeSpan HalfCloseTimeout
    {
        get => TimeSpan.FromMilliseconds(Volatile.Read(ref _halfCloseTimeoutMs));
        set => Volatile.Write(ref _halfCloseTimeoutMs, (long)Math.Max(1, value.TotalMilliseconds));
    }

    internal long HalfCloseTimeoutMs => Volatile.Read(ref _halfCloseTimeoutMs);
    internal IRelayOwner Owner { get; }

    /// <summary>Buffers held for slow readers: a few dozen kept, whatever the number of connections.</summary>
    internal ArrayPool<byte> Buffers { get; }

    /// <summary>Whether splice(2) is used for bulk flows (false after the kernel refused it once).</summary>
    public static bool UsesSplice => Volatile.Read(ref s_spliceWorks) == 1;

    internal static void SpliceRefused() => Volatile.Write(ref s_spliceWorks, 0);

    /// <summary>
    /// Connects to <paramref name="backend"/> and relays <paramref name="client"/> to it. The relay
    /// works on a duplicate of the client's descriptor and disposes <paramref name="client"/> once it
    /// has one (disposing it again is harmless). Returns 0 when the connection is the relay's now
    /// (its end is reported to the owner with <paramref name="state"/>), or the errno of a connect
    /// that failed at once.
    /// </summary>
    public int Start(Socket client, IPEndPoint backend, TimeSpan connectTimeout, object? state, BackendSource source = default)
    {
        var clientFd = Libc.fcntl((int)client.SafeHandle.DangerousGetHandle(), Libc.FDupFdCloexec, 0);
        if (clientFd < 0)
            return Libc.Errno;
        // The gate's Socket goes now, so the relay's descriptor is the only one left.
        client.Dispose();
        _ = Libc.SetNonBlocking(clientFd, true);
        var error = Start(clientFd, backend, connectTimeout, state, null, source);
        if (error != 0)
            _ = Libc.close(clientFd);
        return error;
    }

    /// <summary>
    /// As above for a non-blocking descriptor: the relay's when 0 is returned, still the caller's
    /// otherwise. <paramref name="loop"/>: the loop to run it on (the one that accepted it), or any.
    /// <paramref name="source"/>: what the backend is told of the client (a PROXY header, a
    /// transparent connect), nothing by default. <paramref name="clientNoDelay"/>: the client's socket
    /// has TCP_NODELAY already (inherited from its listener); else it is set here.
    /// </summary>
    internal int Start(int clientFd, IPEndPoint backend, TimeSpan connectTimeout, object? state, RelayLoop? loop, BackendSource source = default, bool clientNoDelay = false)
    {
        EnsureLoops();
        IPEndPoint? peer = null, local = null;
        if (source.Transparent || source.Header != Config.ProxyProtocolVersion.None)
        {
            // The client's endpoints from its socket: one or two system calls, for these services only.
            peer = SockAddr.Peer(clientFd);
            local = SockAddr.Local(clientFd);
            if (peer is null)
                return Libc.ENotConn;
        }
        var family = backend.AddressFamily == AddressFamily.InterNetworkV6 ? Libc.AfInet6 : Libc.AfInet;
        var backendFd = Libc.socket(family, Libc.SockStream | Libc.SockNonBlock | Libc.SockCloexec, 0);
        if (backendFd < 0)
            return Libc.Errno;
        if (backendFd >= DescriptorReserve.Ceiling())
        {
            // Into the reserve the runtime needs, as the client's own accept would be (RelayLoop).
            _ = Libc.close(backendFd);
            return Libc.EMFile;
        }
        _ = Libc.SetNoDelay(backendFd, true);
        var address = stackalloc byte[SockAddr.In6Size];
        var error = source.Transparent ? BindToClient(backendFd, family, peer!, address) : 0;
        if (error == 0)
        {
            var length = SockAddr.Write(backend, new Span<byte>(address, SockAddr.In6Size));
            error = Libc.connect(backendFd, address, length) != 0 ? Libc.Errno : 0;
        }
        if (error != 0 && error != Libc.EInProgress)
        {
            _ = Libc.close(backendFd);
            return error;
        }
        if (!clientNoDelay)
            _ = Libc.SetNoDelay(clientFd, true);
        loop ??= _loops[(int)((uint)Interlocked.Increment(ref _next) % (uint)_loops.Length)];
        var deadline = Environment.TickCount64 + (long)connectTimeout.TotalMilliseconds;
        var c = new RelayConnection(clientFd, backendFd, state, deadline);
        if (source.Header != Config.ProxyProtocolVersion.None)
        {
            // The header is the first thing held for the backend: the loop sends what a direction
            // holds before it reads from the client again, and a direction starts splicing only
            // from a read, so the header is whole on the wire before any byte of the client.
            var header = Buffers.Rent(ProxyHeader.MaxLength);
            c.Up.Held = header;
            c.Up.HeldLength = ProxyHeader.Write(source.Header, peer, local, header);
        }
        return loop.Adopt(c);
    }

    /// <summary>
    /// Binds the backend socket to the client's own address, port 0 (as HAProxy's `usesrc clientip`):
    /// IP_TRANSPARENT lets it bind an address that is not the host's, and IP_BIND_ADDRESS_NO_PORT
    /// leaves the port to connect(2), which then needs only the four-tuple to be free. Returns 0 or the errno.
    /// </summary>
    private static int BindToClient(int fd, int family, IPEndPoint client, byte* address)
    {
        var clientFamily = client.AddressFamily == AddressFamily.InterNetworkV6 ? Libc.AfInet6 : Libc.AfInet;
        // An IPv4 client cannot be the source of an IPv6 connect, nor the other way round.
        if (clientFamily != family)
            return Libc.EAfNoSupport;
        var one = 1;
        var set = family == Libc.AfInet6
            ? Libc.setsockopt(fd, Libc.SolIpv6, Libc.Ipv6Transparent, &one, sizeof(int))
            : Libc.setsockopt(fd, Libc.SolIp, Libc.IpTransparent, &one, sizeof(int));
        if (set != 0)
            return Libc.Errno;
        _ = Libc.setsockopt(fd, Libc.SolIp, Libc.IpBindAddressNoPort, &one, sizeof(int));
        var length = SockAddr.Write(new IPEndPoint(client.Address, 0), new Span<byte>(address, SockAddr.In6Size));
        return Libc.bind(fd, address, length) != 0 ? Libc.Errno : 0;
    }

    /// <summary>
    /// Accepts on <paramref name="socket"/> in every loop from now on; the owner is told of each connection.
    /// <paramref name="forwards"/>: its connections are meant for the relay, so TCP_NODELAY is set once
    /// on the listener (one system call, instead of one per connection). <paramref name="mayRaise"/>:
    /// false for a socket the process does not own alone (systemd's), which is then used with
    /// TCP_NODELAY only if it has it already.
    /// </summary>
    public RelayListener Listen(Socket socket, object state, bool forwards = false, bool mayRaise = true)
    {
        EnsureLoops();
        socket.Blocking = false;
        var listener = forwards ? WithNoDelay(socket, state, mayRaise) : new RelayListener(socket, state);
        listener.Handle = GCHandle.Alloc(listener);
        foreach (var loop in _loops)
            loop.AddListener(listener);
        return listener;
    }

    /// <summary>
    /// TCP_NODELAY on the listener, before any loop accepts on it; on a socket that had it off the
    /// relay notes that it raised it. Not on a socket systemd holds too: the option would outlive this
    /// process there, and the next one could not tell it from the operator's NoDelay=yes (whose
    /// programs get the option from accept, as they always did). Otherwise the connections are set one
    /// by one, as any listener's.
    /// </summary>
    private static RelayListener WithNoDelay(Socket socket, object state, bool mayRaise)
    {
        var fd = (int)socket.SafeHandle.DangerousGetHandle();
        var on = 0;
        uint length = sizeof(int);
        if (Libc.getsockopt(fd, Libc.IpProtoTcp, Libc.TcpNoDelay, &on, &length) != 0)
            return new RelayListener(socket, state);
        if (on == 0 && (!mayRaise || Libc.SetNoDelay(fd, true) != 0))
            return new RelayListener(socket, state);
        return new RelayListener(socket, state) { RaisedNoDelay = on == 0, NoDelay = RelayListener.NoDelayPending };
    }

    /// <summary>Stops accepting on <paramref name="listener"/>; completes when no loop can touch its socket any more.</summary>
    public Task UnlistenAsync(RelayListener listener)
    {
        if (!listener.Closing)
        {
            listener.Closing = true;
            listener.LoopsLeft = _loops.Length;
            foreach (var loop in _loops)
                loop.RemoveListener(listener);
        }
        return listener.Removed.Task;
    }

    /// <summary>Ends every relayed connection now (a stop whose drain ran out of time).</summary>
    public void AbortAll()
    {
        foreach (var loop in _loops)
            loop?.Abort();
    }

    private void EnsureLoops()
    {
        if (Volatile.Read(ref _started))
            return;
        lock (_startGate)
        {
            if (_started)
                return;
            for (var i = 0; i < _loops.Length; i++)
                _loops[i] = new RelayLoop(this, i);
            Volatile.Write(ref _started, true);
        }
    }

    public void Dispose()
    {
        foreach (var loop in _loops)
            loop?.Dispose();
    }
}
