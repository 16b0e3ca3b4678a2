// The sockets systemd passed (SocketActivation.Take) until services take them: a socket goes to
// the listen address it is bound to when its type is that address's protocol (SOCK_STREAM for
// TCP, SOCK_DGRAM for UDP), else to the service its FileDescriptorName= names. Binding, serving
// and the log lines about the sockets no service takes are left to GateServer.
//
// Never swapped across protocols: a stream socket offered for a UDP address or service, or a
// datagram socket for a TCP one, is an error naming the descriptor and the service (a TCP
// listener handed to an inetd "wait" program, or the reverse, would serve nothing sensible).
// A socket a reload lets go is kept here, open and unused, for a later reload that wants its
// address again: systemd keeps its own copy bound, so a bind of ours would fail (EADDRINUSE).
// It is given back at once, with the stop of the listener that served it still under way: the
// next reload finds it whatever the timing, and its new listener starts once that stop is done
// (the caller waits for Released), so no two listeners ever watch it; for a UDP socket, not
// before the program its old listener started has exited either (inetd's "wait": the program
// reads the socket alone, blocking), though the gate's stop waits for no program. A socket
// taken by its name stays bound to that name: a reload whose configuration names its service
// again takes it for that service, by the same rules as at start.
// A socket the gate bound itself that a reload lets go waits here the same way (Retire), until
// its old listener is done with it (and, for UDP, the program that listener started has exited);
// then it is closed, unless a reload took it back meanwhile for its address: the address is
// still bound by that very socket, so a bind of a second one would fail (EADDRINUSE), and one
// socket with one listener at a time is what systemd's sockets get too.
using System.Net;
using System.Net.Sockets;
using Giftwrap.Gate.Config;
using Giftwrap.Gate.Interop;

namespace Giftwrap.Gate.Listening;

internal sealed class ActivatedSockets : IDisposable
{
    /// <summary>What a passed socket can serve.</summary>
    internal enum Kind
    {
        /// <summary>A listening TCP socket (SOCK_STREAM with SO_ACCEPTCONN): a TCP address.</summary>
        Stream,

        /// <summary>A UDP socket (SOCK_DGRAM): a UDP address.</summary>
        Datagram,

        /// <summary>Anything else (a Unix socket, a stream socket that does not listen): closed with a warning.</summary>
        Unusable,
    }

    /// <summary>
    /// One passed socket: its descriptor number as passed, its FileDescriptorName=, its kind and address;
    /// <paramref name="Own"/> for a socket the gate bound itself, here between a reload that let it go and its close.
    /// </summary>
    internal sealed record Passed(Socket Socket, int Fd, string? Name, Kind Kind, IPEndPoint? Local, bool Own = false)
    {
        /// <summary>"descriptor 3 (name) bound to ADDRESS", as the log and the errors name it.</summary>
        public override string ToString() =>
            $"descriptor {Fd}{(Name is null ? "" : $" ({Name})")}{(Local is null ? "" : $" bound to {Local}")}";
    }

    private readonly Lock _lock = new();
    // Not (or no more) used by a service.
    private readonly List<Passed> _free;
    // Used by a listener; looked up by socket when a reload lets the listener go.
    private readonly Dictionary<Socket, Passed> _taken = [];
    // The stop of the listener that last served a socket given back (the socket is closed after it).
    private readonly Dictionary<Socket, Task> _stops = [];
    // Until which no other listener may watch a socket given back: that stop, and for a UDP socket
    // the exit of a program the stopped listener left holding it.
    private readonly Dictionary<Socket, Task> _released = [];
    // Taken by FileDescriptorName= (TakeNamed): a reload takes them by that name again.
    private readonly HashSet<Socket> _byName = [];

    public ActivatedSockets(IEnumerable<(Socket Socket, string? Name)> passed) =>
        _free = [.. passed.Select(p => Classify(p.Socket, p.Name))];

    /// <summary>The kind and address of <paramref name="socket"/>, from the kernel (SO_TYPE, SO_ACCEPTCONN, getsockname).</summary>
    internal static Passed Classify(Socket socket, string? name)
    {
        var fd = (int)socket.SafeHandle.DangerousGetHandle();
        var local = socket.LocalEndPoint as IPEndPoint;
        // The raw calls: GetSocketOption throws on inherited sockets.
        var type = Option(socket, Libc.SoType);
        var kind = local is null ? Kind.Unusable : type switch
        {
            Libc.SockStream when Option(socket, Libc.SoAcceptConn) == 1 => Kind.Stream,
            Libc.SockDgram => Kind.Datagram,
            _ => Kind.Unusable,
        };
        return new Passed(socket, fd, name, kind, local);
    }

    private static int Option(Socket socket, int name)
    {
        Span<byte> value = stackalloc byte[4];
        return socket.GetRawSocketOption(Libc.SolSocket, name, value) == 4 ? BitConverter.ToInt32(value) : -1;
    }

    /// <summary>
    /// The passed socket bound to <paramref name="ep"/> for a TCP (<paramref name="udp"/> false) or UDP
    /// address of <paramref name="service"/>, or null (the caller binds one). A socket of the other
    /// protocol bound there that no address of <paramref name="config"/> of its own protocol wants
    /// was meant for this one: an error (a SocketException as a failed bind's, saying why).
    /// </summary>
    public Socket? TakeFor(IPEndPoint ep, bool udp, ServiceConfig service, GateConfig config)
    {
        var wanted = udp ? Kind.Datagram : Kind.Stream;
        lock (_lock)
        {
            if (_free.Find(p => p.Kind == wanted && ep.Equals(p.Local)) is { } match)
                return Take(match);
            var other = udp ? Kind.Stream : Kind.Datagram;
            var otherWanted = config.Services.Any(s => (udp ? s.Listen : s.ListenUdp).Contains(ep));
            // A socket of the gate's own on the way out was no offer for this address: only systemd's are.
            if (!otherWanted && _free.Find(p => !p.Own && p.Kind == other && ep.Equals(p.Local)) is { } wrong)
                throw WrongKind(wrong, ep, udp, service, byName: false);
        }
        return null;
    }

    /// <summary>
    /// The passed sockets no address took, each with the service its name (FileDescriptorName=)
    /// names and whether it is UDP; the others go to <paramref name="unused"/> (which closes them).
    /// A socket named after a service of the other protocol only is an error.
    /// </summary>
    public List<(Socket Socket, ServiceConfig Service, bool Udp)> TakeNamed(GateConfig config, Action<Passed, string> unused)
    {
        var named = new List<(Socket, ServiceConfig, bool)>();
        lock (_lock)
        {
            foreach (var p in _free.Where(p => !p.Own).ToList())
            {
                var service = config.Services.FirstOrDefault(s => s.Name == p.Name);
                if (p.Kind == Kind.Unusable || service is null)
                {
                    _free.Remove(p);
                    unused(p, p.Kind == Kind.Unusable ? "neither a listening TCP socket nor a UDP socket" : "matches no service");
                    continue;
                }
                CheckKind(p, service);
                _byName.Add(p.Socket);
                named.Add((Take(p), service, p.Kind == Kind.Datagram));
            }
        }
        return named;
    }

    /// <summary>
    /// For a reload: the sockets once taken by name (<see cref="TakeNamed"/>) that a reload let go and
    /// whose service <paramref name="config"/> has again, taken as at start (a service of the other
    /// protocol only is an error). The others stay here, open, as sockets no address takes do.
    /// </summary>
    public List<(Socket Socket, ServiceConfig Service, bool Udp)> TakeNamedAgain(GateConfig config)
    {
        lock (_lock)
        {
            var back = _free.Where(p => _byName.Contains(p.Socket))
                .Select(p => (Passed: p, Service: config.Services.FirstOrDefault(s => s.Name == p.Name)))
                .Where(x => x.Service is not null).ToList();
            // Every one checked before any is taken: a refused reload leaves them all here.
            foreach (var (p, service) in back)
                CheckKind(p, service!);
            return [.. back.Select(x => (Take(x.Passed), x.Service!, x.Passed.Kind == Kind.Datagram))];
        }
    }

    /// <summary>
    /// For a reload: the service of <paramref name="config"/> that the name of <paramref name="socket"/>
    /// names when it was taken by name, else null; a service of the other protocol only is an error.
    /// </summary>
    public ServiceConfig? NamedService(Socket socket, GateConfig config)
    {
        lock (_lock)
        {
            if (!_byName.Contains(socket) || !_taken.TryGetValue(socket, out var p))
                return null;
            if (config.Services.FirstOrDefault(s => s.Name == p.Name) is not { } service)
                return null;
            CheckKind(p, service);
            return service;
        }
    }

    /// <summary>The service's own addresses say which protocol it serves: none of <paramref name="p"/>'s is an error.</summary>
    private static void CheckKind(Passed p, ServiceConfig service)
    {
        var udp = p.Kind == Kind.Datagram;
        if ((udp ? service.ListenUdp : service.Listen).Count == 0)
            throw WrongKind(p, p.Local!, !udp, service, byName: true);
    }

    /// <summary>Whether <paramref name="socket"/> was passed by systemd (false for one of the gate's own that a reload took back).</summary>
    public bool IsPassed(Socket socket)
    {
        lock (_lock)
            return _taken.TryGetValue(socket, out var p) && !p.Own;
    }

    /// <summary>
    /// Keeps <paramref name="socket"/>, which the gate bound itself for <paramref name="local"/> and a reload
    /// let go, until <paramref name="stopped"/> (its listener's stop) and <paramref name="released"/> (for UDP,
    /// the exit of a program that listener started) are done, then closes it, unless a reload has taken it
    /// back by then (<see cref="TakeFor"/>): a listener that takes it starts after both, as on a passed socket.
    /// </summary>
    public void Retire(Socket socket, IPEndPoint local, bool udp, Task stopped, Task? released = null)
    {
        lock (_lock)
        {
            // Taken back before (and let go again), or let go for the first time.
            if (!_taken.Remove(socket, out var p))
                p = new Passed(socket, (int)socket.SafeHandle.DangerousGetHandle(), null, udp ? Kind.Datagram : Kind.Stream, local, Own: true);
            Free(p, stopped, released);
        }
    }

    /// <summary>
    /// Whether a socket of the gate's own on its way out still holds <paramref name="ep"/> (the same port
    /// and protocol, on that address or on the wildcard address of its family, or the reverse).
    /// </summary>
    public bool OwnHolds(IPEndPoint ep, bool udp)
    {
        var kind = udp ? Kind.Datagram : Kind.Stream;
        lock (_lock)
        {
            return _free.Any(p => p.Own && p.Kind == kind && p.Local is { } l && l.Port == ep.Port && l.AddressFamily == ep.AddressFamily
                && (l.Address.Equals(ep.Address) || Wildcard(l.Address) || Wildcard(ep.Address)));
        }
    }

    private static bool Wildcard(IPAddress a) => a.Equals(IPAddress.Any) || a.Equals(IPAddress.IPv6Any);

    /// <summary>
    /// Takes back a passed socket a reload let go (true: the caller must not close it), kept open
    /// for a later reload that wants its address; false for a socket the gate bound itself.
    /// <paramref name="stopped"/>: the stop of the listener that served it, still under way, after
    /// which the next one may start (<see cref="Released"/>); null when no listener started on it
    /// (the stop before, if any, still counts). <paramref name="released"/>: when the next listener
    /// may start, if later than <paramref name="stopped"/> (a program still holding a UDP socket).
    /// </summary>
    public bool GiveBack(Socket socket, Task? stopped = null, Task? released = null)
    {
        lock (_lock)
        {
            if (!_taken.Remove(socket, out var p))
                return false;
            Free(p, stopped, released);
            return true;
        }
    }

    /// <summary>Puts <paramref name="p"/> among the free sockets (under the lock); one of the gate's own is closed once released.</summary>
    private void Free(Passed p, Task? stopped, Task? released)
    {
        var socket = p.Socket;
        _free.Add(p);
        if (stopped is not null)
        {
            _stops[socket] = stopped;
            // A listener stopped while it still waited for the one before never watched the
            // socket: what it waited for (a program of that one) still holds, after it too.
            var before = _released.GetValueOrDefault(socket);
            released ??= stopped;
            _released[socket] = before is null || before.IsCompleted ? released : Task.WhenAll(before, released);
        }
        if (p.Own)
            _ = CloseWhenReleasedAsync(p, _released.GetValueOrDefault(socket) ?? Task.CompletedTask);
    }

    /// <summary>
    /// Closes a socket of the gate's own once <paramref name="released"/> is done, if it is still free and no
    /// later release was noted for it (a reload took it back and let it go again: that one's close counts).
    /// </summary>
    private async Task CloseWhenReleasedAsync(Passed p, Task released)
    {
        await released.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ForceYielding);
        lock (_lock)
        {
            if (!_free.Contains(p) || (_released.TryGetValue(p.Socket, out var latest) && latest != released))
                return;
            _free.Remove(p);
            _stops.Remove(p.Socket);
            _released.Remove(p.Socket);
            // Closed under the lock: a reload that finds it gone binds the address at once, and must find it free.
            p.Socket.Dispose();
        }
    }

    /// <summary>
    /// Completes when no listener a reload let go watches <paramref name="socket"/> any more, nor a
    /// program one of them started holds it (at once for a socket never given back, or one the
    /// gate bound): a new listener starts after it.
    /// </summary>
    public Task Released(Socket socket)
    {
        lock (_lock)
            return _released.GetValueOrDefault(socket) ?? Task.CompletedTask;
    }

    /// <summary>
    /// Completes when the last listener a reload let go on <paramref name="socket"/> has stopped (each
    /// stop ends after the one before); programs are not waited for.
    /// </summary>
    public Task Stopped(Socket socket)
    {
        lock (_lock)
            return _stops.GetValueOrDefault(socket) ?? Task.CompletedTask;
    }

    /// <summary>Completes when the listeners that served the sockets kept here have all stopped (before they are closed); programs are not waited for.</summary>
    public Task Settled()
    {
        lock (_lock)
            return Task.WhenAll(_free.Select(p => _stops.GetValueOrDefault(p.Socket) ?? Task.CompletedTask));
    }

    private Socket Take(Passed p)
    {
        _free.Remove(p);
        _taken[p.Socket] = p;
        return p.Socket;
    }

    /// <summary>
    /// EPROTOTYPE ("wrong type for socket") for <paramref name="p"/> offered for an address (or by its
    /// name, <paramref name="byName"/>) of <paramref name="service"/> of the other protocol (UDP when
    /// <paramref name="udp"/>); the
    /// address in Data as a failed bind's, so that the command line names the line of the configuration.
    /// </summary>
    private static SocketException WrongKind(Passed p, IPEndPoint ep, bool udp, ServiceConfig service, bool byName)
    {
        var (its, needs) = udp
            ? ("a TCP (stream) socket", "a UDP service needs ListenDatagram= in the .socket unit")
            : ("a UDP (datagram) socket", "a TCP service needs ListenStream= in the .socket unit");
        // By address, the command line's line names the address and the service already.
        var forWhat = byName ? $"[service:{service.Name}] (its FileDescriptorName=)" : $"this {(udp ? "UDP" : "TCP")} address";
        var ex = new SocketException((int)SocketError.ProtocolType, $"systemd passed {p}, {its}, for {forWhat}; {needs}");
        ex.Data[GateServer.ListenEndPointKey] = ep;
        // The service's address (its line in the configuration is named), or the socket's own.
        ex.Data[GateServer.ListenUdpKey] = byName ? p.Kind == Kind.Datagram : udp;
        return ex;
    }

    /// <summary>Closes the passed sockets no listener uses (at the stop, once <see cref="Settled"/>).</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var p in _free)
                p.Socket.Dispose();
            _free.Clear();
        }
    }
}
