// One relay thread: an epoll instance with the listening sockets (level-triggered, shared by the
// loops) and the connections adopted into it (edge-triggered): accepting, adopting, turning events
// into readiness, and ending connections (closing both descriptors, giving the slot back through
// the owner). Readiness is remembered per direction, so a system call is made only where it can do
// something; RelayPump moves the bytes, a bounded number of rounds per wake-up before the others
// have theirs (a bulk flow cannot starve the loop). The timers are helpers beside it: backend
// connect deadlines (ConnectDeadlines), the idle watch on half-closed connections (HalfCloseWatch),
// listeners paused after an accept ran out of descriptors (ListenerPauses). Connections are
// adopted from other threads; everything after that happens here.
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Giftwrap.Gate.Interop;

namespace Giftwrap.Gate.Forwarding;

internal sealed unsafe class RelayLoop : IDisposable
{
    private const int MaxEvents = 256;
    private const int AcceptsPerWake = 32;
    private const int AcceptPauseMs = 100;

    private readonly Relay _relay;
    private readonly int _epoll;
    private readonly int _wake;
    private readonly RelayPump _pump;
    private readonly Thread _thread;
    // The connections, by the slot their events name: added to from the adopting threads.
    private readonly ConnectionSlots _connections = new();
    private readonly ConnectDeadlines _deadlines = new();
    private readonly HalfCloseWatch _halfClosed;
    private readonly ListenerPauses _paused = new();
    private List<RelayConnection> _again = [];
    private List<RelayConnection> _againNext = [];
    // Listeners' GC handles, freed after the batch of events that may still name them.
    private readonly List<GCHandle> _release = [];
    private readonly ConcurrentQueue<Action> _commands = new();
    private volatile bool _abort;
    private volatile bool _stop;

    public RelayLoop(Relay relay, int index)
    {
        _relay = relay;
        _epoll = Libc.epoll_create1(Libc.OCloexec);
        if (_epoll < 0)
            throw new System.Net.Sockets.SocketException(Libc.Errno);
        _wake = Libc.eventfd(0, Libc.ONonBlock | Libc.OCloexec);
        if (_wake < 0)
            throw new System.Net.Sockets.SocketException(Libc.Errno);
        if (Epoll.Ctl(_epoll, Libc.EpollCtlAdd, _wake, Libc.EpollIn, 0) != 0)
            throw new System.Net.Sockets.SocketException(Libc.Errno);
        _pump = new RelayPump(relay);
        _halfClosed = new HalfCloseWatch(relay);
        _thread = new Thread(Run) { IsBackground = true, Name = $"giftwrap relay {index}" };
        _thread.Start();
    }

    /// <summary>Accepts on <paramref name="l"/> (from any thread). EPOLLEXCLUSIVE wakes one loop per connection where the kernel has it.</summary>
    public void AddListener(RelayListener l)
    {
        var events = l.Events == 0 ? Libc.EpollIn | Libc.EpollExclusive : l.Events;
        var data = (ulong)GCHandle.ToIntPtr(l.Handle);
        if (Epoll.Ctl(_epoll, Libc.EpollCtlAdd, l.Fd, events, data) != 0 && Libc.Errno == Libc.EInval && l.Events == 0)
        {
            events = Libc.EpollIn;
            if (Epoll.Ctl(_epoll, Libc.EpollCtlAdd, l.Fd, events, data) != 0)
                throw new System.Net.Sockets.SocketException(Libc.Errno);
        }
        l.Events = events;
    }

    /// <summary>Stops accepting on <paramref name="l"/>, on this loop's thread; the last loop to do so completes <see cref="RelayListener.Removed"/>.</summary>
    public void RemoveListener(RelayListener l) => Post(() =>
    {
        _ = Libc.epoll_ctl(_epoll, Libc.EpollCtlDel, l.Fd, null);
        _paused.Forget(l);
        if (Interlocked.Decrement(ref l.LoopsLeft) == 0)
        {
            _release.Add(l.Handle);
            l.Removed.TrySetResult();
        }
    });

    private void Post(Action command)
    {
        _commands.Enqueue(command);
        Wake();
    }

    /// <summary>Takes <paramref name="c"/> in (from any thread): listed, deadline set, both descriptors watched.</summary>
    public int Adopt(RelayConnection c)
    {
        var data = _connections.Add(c);
        if (c.Connecting)
            _deadlines.Add(c);
        // The client first: until the backend is watched too, nothing here can end the connection
        // (a client event only marks readiness while the backend connects), so this thread is
        // done with it before the loop can close anything.
        const uint watched = Libc.EpollIn | Libc.EpollOut | Libc.EpollRdHup | Libc.EpollEt;
        if (Epoll.Ctl(_epoll, Libc.EpollCtlAdd, c.ClientFd, watched, data) != 0)
        {
            // Not taken: the client's descriptor stays the caller's.
            var error = Libc.Errno;
            // Ended, so that its connect deadline does not close the caller's descriptor later.
            c.Ended = true;
            _connections.Remove(c);
            _ = Libc.close(c.BackendFd);
            return error;
        }
        if (Epoll.Ctl(_epoll, Libc.EpollCtlAdd, c.BackendFd, watched, data | 1) != 0)
        {
            // Out of kernel memory: the client may have had an event already, so the loop ends it,
            // as a connect whose time is up.
            _deadlines.ExpireNow(c);
            Wake();
        }
        return 0;
    }

    /// <summary>Ends every connection of this loop (from any thread).</summary>
    public void Abort()
    {
        _abort = true;
        Wake();
    }

    private void Wake()
    {
        ulong one = 1;
        _ = Libc.write(_wake, &one, sizeof(ulong));
    }

    private void Run()
    {
        // Room for MaxEvents in this architecture's layout (16 bytes each on arm64, 12 on x86-64).
        var events = NativeMemory.Alloc((nuint)(MaxEvents * Epoll.EventSize));
        try
        {
            while (!_stop)
            {
                var n = Libc.epoll_wait(_epoll, events, MaxEvents, WaitTimeout());
                if (n < 0)
                {
                    // EINTR: a signal; anything else would be a bug in our own descriptors.
                    if (Libc.Errno != Libc.EIntr)
                        Thread.Sleep(10);
                    continue;
                }
                for (var i = 0; i < n; i++)
                {
                    var data = Epoll.EventData(events, i);
                    if (data == 0)
                    {
                        ulong count;
                        _ = Libc.read(_wake, &count, sizeof(ulong));
                        while (_commands.TryDequeue(out var command))
                            command();
                        continue;
                    }
                    if ((data & ConnectionSlots.ConnectionTag) != 0)
                    {
                        // Null: an event that came after its connection ended.
                        if (_connections.Find(data) is { } c)
                            OnEvent(c, (data & 1) != 0, Epoll.EventFlags(events, i));
                    }
                    else if (GCHandle.FromIntPtr((nint)data).Target is RelayListener l)
                    {
                        Accept(l);
                    }
                }
                RunAgain();
                Expire();
                ExpireHalfClosed();
                Resume();
                if (_abort)
                    EndAll();
                // Handles are freed only after the batch: a later event in it may name a removed listener.
                foreach (var h in _release)
                    h.Free();
                _release.Clear();
            }
        }
        finally
        {
            NativeMemory.Free(events);
        }
        EndAll();
        foreach (var h in _release)
            h.Free();
        _release.Clear();
    }

    /// <summary>
    /// Takes up to a batch of waiting connections from <paramref name="l"/> (level-triggered: the rest
    /// wake us again), then hands the whole batch to the owner: what it checks once for the batch
    /// (the tables' files) is checked after the last connection of it was accepted.
    /// </summary>
    private void Accept(RelayListener l)
    {
        var peers = stackalloc byte[AcceptsPerWake * SockAddr.StorageSize];
        var accepted = stackalloc AcceptedSocket[AcceptsPerWake];
        var n = 0;
        var ceiling = DescriptorReserve.Ceiling();
        for (var i = 0; i < AcceptsPerWake && !l.Closing; i++)
        {
            // Read before the call: only a call that began after the queue was seen empty is sure of it.
            var noDelay = Volatile.Read(ref l.NoDelay);
            var length = (uint)SockAddr.StorageSize;
            var fd = Libc.accept4(l.Fd, peers + n * SockAddr.StorageSize, &length, Libc.SockNonBlock | Libc.SockCloexec);
            if (fd < 0)
            {
                var errno = Libc.Errno;
                if (errno is Libc.EIntr or Libc.EConnAborted)
                    continue;
                // The queue was empty after TCP_NODELAY was set on the listener: every connection
                // whose handshake completes from now on copies it.
                if (errno == Libc.EAgain && noDelay == RelayListener.NoDelayPending)
                    _ = Interlocked.CompareExchange(ref l.NoDelay, RelayListener.NoDelayInherited, RelayListener.NoDelayPending);
                if (errno is Libc.EMFile or Libc.ENFile or Libc.ENoBufs or Libc.ENoMem)
                    Pause(l, errno, ceiling: 0);
                break;
            }
            if (fd >= ceiling)
            {
                // Into the reserve the runtime needs (DescriptorReserve): refused, closed at once.
                _ = Libc.close(fd);
                Pause(l, Libc.EMFile, ceiling);
                break;
            }
            accepted[n++] = new AcceptedSocket(fd, (int)Math.Min(length, (uint)SockAddr.StorageSize), noDelay == RelayListener.NoDelayInherited);
        }
        if (n == 0)
            return;
        try
        {
            _relay.Owner.Accepted(l, new AcceptedBatch(new ReadOnlySpan<AcceptedSocket>(accepted, n), new ReadOnlySpan<byte>(peers, n * SockAddr.StorageSize)), this);
        }
        catch (Exception)
        {
            // The owner had the descriptors; what it did with them is its own. The loop goes on.
        }
    }

    /// <summary>Out of descriptors or memory: says so, and stops watching <paramref name="l"/> for a moment.</summary>
    private void Pause(RelayListener l, int errno, int ceiling)
    {
        _ = Libc.epoll_ctl(_epoll, Libc.EpollCtlDel, l.Fd, null);
        _paused.Pause(l, Environment.TickCount64 + AcceptPauseMs);
        try
        {
            _relay.Owner.AcceptFailed(l, errno, ceiling);
        }
        catch (Exception)
        {
            // A failed log line must not stop the loop.
        }
    }

    /// <summary>How long epoll_wait may sleep: not at all with work left over, else until the next deadline.</summary>
    private int WaitTimeout()
    {
        if (_againNext.Count > 0)
            return 0;
        var first = -1;
        foreach (var t in (ReadOnlySpan<int>)[_deadlines.NextTimeout(), _paused.NextResume(), _halfClosed.NextCheck()])
        {
            if (t >= 0 && (first < 0 || t < first))
                first = t;
        }
        return first;
    }

    /// <summary>Watches the paused listeners that are due back again.</summary>
    private void Resume()
    {
        var now = Environment.TickCount64;
        while (_paused.TakeDue(now) is { } l)
        {
            if (!l.Closing)
                AddListener(l);
        }
    }

    private void OnEvent(RelayConnection c, bool backend, uint events)
    {
        if (c.Ended)
            return;
        var readable = (events & (Libc.EpollIn | Libc.EpollRdHup | Libc.EpollHup | Libc.EpollErr)) != 0;
        var writable = (events & (Libc.EpollOut | Libc.EpollHup | Libc.EpollErr)) != 0;
        var closed = (events & (Libc.EpollRdHup | Libc.EpollHup | Libc.EpollErr)) != 0;
        var fin = (events & (Libc.EpollRdHup | Libc.EpollErr)) == Libc.EpollRdHup;
        if (backend)
        {
            if (c.Connecting)
            {
                if ((events & (Libc.EpollErr | Libc.EpollHup)) != 0)
                {
                    End(c, SocketError(c.BackendFd));
                    return;
                }
                if (!writable)
                    return;
                c.Connecting = false;
            }
            c.Down.Readable |= readable;
            c.Up.Writable |= writable;
            c.Down.PeerClosed |= closed;
            c.Down.FinSeen |= fin;
        }
        else
        {
            c.Up.Readable |= readable;
            c.Down.Writable |= writable;
            c.Up.PeerClosed |= closed;
            c.Up.FinSeen |= fin;
            if (c.Connecting)
                return;
        }
        Work(c);
    }

    /// <summary>Moves what can be moved both ways; ends the connection when both ways are done or one failed.</summary>
    private void Work(RelayConnection c)
    {
        var up = _pump.Move(ref c.Up, c.Down.Done, out var error);
        var down = up == PumpResult.Failed ? up : _pump.Move(ref c.Down, c.Up.Done, out error);
        if (down == PumpResult.Failed)
        {
            End(c, error);
            return;
        }
        if (c.Up.Done && c.Down.Done)
        {
            End(c, 0);
            return;
        }
        if (!c.HalfClosed && (c.Up.PeerClosed || c.Down.PeerClosed))
            _halfClosed.Watch(c);
        if ((up == PumpResult.Again || down == PumpResult.Again) && !c.Queued)
        {
            c.Queued = true;
            _againNext.Add(c);
        }
    }

    private void RunAgain()
    {
        (_again, _againNext) = (_againNext, _again);
        foreach (var c in _again)
        {
            c.Queued = false;
            if (!c.Ended)
                Work(c);
        }
        _again.Clear();
    }

    /// <summary>Ends the connections whose backend connect ran out of time.</summary>
    private void Expire()
    {
        var now = Environment.TickCount64;
        while (_deadlines.TakeExpired(now) is { } c)
            End(c, Libc.ETimedOut);
    }

    /// <summary>Ends the half-closed connections that moved no byte for a whole timeout.</summary>
    private void ExpireHalfClosed()
    {
        var now = Environment.TickCount64;
        while (_halfClosed.TakeIdle(now) is { } c)
            End(c, Libc.ETimedOut);
    }

    private void EndAll()
    {
        _abort = false;
        // Again until none is left: another thread may adopt one meanwhile.
        while (_connections.Snapshot() is { Count: > 0 } all)
        {
            foreach (var c in all)
                End(c, Libc.ECanceled);
        }
    }

    private void End(RelayConnection c, int error)
    {
        if (c.Ended)
            return;
        c.Ended = true;
        // No EPOLL_CTL_DEL (two system calls per connection): the close takes a descriptor out of
        // the interest list once no other descriptor refers to its socket. Where one still does
        // (a child between fork and exec, say), a late event names a freed slot and is ignored.
        _ = Libc.close(c.ClientFd);
        _ = Libc.close(c.BackendFd);
        _pump.Release(ref c.Up);
        _pump.Release(ref c.Down);
        _halfClosed.Unwatch(c);
        _connections.Remove(c);
        try
        {
            _relay.Owner.Ended(c.State, new RelayResult(c.Up.Bytes, c.Down.Bytes, error, !c.Connecting));
        }
        catch (Exception)
        {
            // The owner's bookkeeping must not take the loop down with it; the connection is closed.
        }
    }

    private static int SocketError(int fd)
    {
        var error = 0;
        uint length = sizeof(int);
        return Libc.getsockopt(fd, Libc.SolSocket, Libc.SoError, &error, &length) == 0 && error != 0 ? error : Libc.ECanceled;
    }

    public void Dispose()
    {
        _stop = true;
        Wake();
        if (!_thread.Join(TimeSpan.FromSeconds(5)))
            return;
        _ = Libc.close(_epoll);
        _ = Libc.close(_wake);
        _pump.Dispose();
    }
}
