// One relay thread: an epoll instance with the listening sockets (level-triggered, shared by the
// loops) and the connections adopted into it (edge-triggered), their backend connects (with a
// deadline each) and their bytes. Readiness is remembered per descriptor, so a system call is
// made only where it can do something. A direction works a
// bounded number of rounds per wake-up and then yields to the others (a bulk flow cannot starve
// the loop). Connections are adopted from other threads; everything after that happens here.
// Half-closed connections (one side's FIN or hang-up seen) are kept on a list in the order they
// were last looked at; one idle for a whole half-close timeout is ended, so a backend that never
// closes on EOF, or a client that vanished, gives its slot back.
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Giftwrap.Gate.Interop;

namespace Giftwrap.Gate.Forwarding;

internal sealed unsafe class RelayLoop : IDisposable
{
    private const int MaxEvents = 256;
    private const int RoundsPerWake = 16;
    private const int PipeSize = 256 * 1024;
    private const int AcceptsPerWake = 32;
    private const int AcceptPauseMs = 100;

    private readonly Relay _relay;
    private readonly int _epoll;
    private readonly int _wake;
    private readonly byte* _buffer;
    private readonly Thread _thread;
    // Guards the list of connections (for Abort) and the connect deadlines: both are added to
    // from the adopting threads.
    private readonly Lock _gate = new();
    private RelayConnection? _head;
    private readonly Queue<RelayConnection> _connecting = new();
    private List<RelayConnection> _again = [];
    private List<RelayConnection> _againNext = [];
    // GC handles freed after the batch of events that may still name them.
    private readonly List<GCHandle> _release = [];
    private readonly ConcurrentQueue<Action> _commands = new();
    private readonly List<(RelayListener Listener, long Resume)> _paused = [];
    // Half-closed connections, oldest look first; this thread's alone.
    private RelayConnection? _halfHead;
    private RelayConnection? _halfTail;
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
        _buffer = (byte*)NativeMemory.Alloc((nuint)relay.BufferSize);
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
        _paused.RemoveAll(p => p.Listener == l);
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
        c.Handle = GCHandle.Alloc(c);
        lock (_gate)
        {
            c.Next = _head;
            if (_head is not null)
                _head.Previous = c;
            _head = c;
            if (c.Connecting)
                _connecting.Enqueue(c);
        }
        // The client first: until the backend is watched too, nothing here can end the connection
        // (a client event only marks readiness while the backend connects), so this thread is
        // done with it before the loop can close anything.
        var data = (ulong)GCHandle.ToIntPtr(c.Handle);
        const uint watched = Libc.EpollIn | Libc.EpollOut | Libc.EpollRdHup | Libc.EpollEt;
        if (Epoll.Ctl(_epoll, Libc.EpollCtlAdd, c.ClientFd, watched, data) != 0)
        {
            // Not taken: the client's descriptor stays the caller's.
            var error = Libc.Errno;
            Unlist(c);
            c.Handle.Free();
            _ = Libc.close(c.BackendFd);
            return error;
        }
        if (Epoll.Ctl(_epoll, Libc.EpollCtlAdd, c.BackendFd, watched, data | 1) != 0)
        {
            // Out of kernel memory: the client may have had an event already, so the loop ends it,
            // as a connect whose time is up.
            lock (_gate)
            {
                c.Connecting = true;
                c.Deadline = 0;
                _connecting.Enqueue(c);
            }
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
                    var target = GCHandle.FromIntPtr((nint)(data & ~1UL)).Target;
                    if (target is RelayConnection c)
                        OnEvent(c, (data & 1) != 0, Epoll.EventFlags(events, i));
                    else if (target is RelayListener l)
                        Accept(l);
                }
                RunAgain();
                Expire();
                ExpireHalfClosed();
                Resume();
                if (_abort)
                    EndAll();
                // Handles are freed only after the batch: a later event in it may name an ended connection.
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

    /// <summary>Takes up to a batch of waiting connections from <paramref name="l"/> (level-triggered: the rest wake us again).</summary>
    private void Accept(RelayListener l)
    {
        var peer = stackalloc byte[SockAddr.StorageSize];
        for (var i = 0; i < AcceptsPerWake && !l.Closing; i++)
        {
            var length = (uint)SockAddr.StorageSize;
            var fd = Libc.accept4(l.Fd, peer, &length, Libc.SockNonBlock | Libc.SockCloexec);
            if (fd < 0)
            {
                var errno = Libc.Errno;
                if (errno is Libc.EIntr or Libc.EConnAborted)
                    continue;
                if (errno is Libc.EMFile or Libc.ENFile or Libc.ENoBufs or Libc.ENoMem)
                {
                    // Out of descriptors or memory: say so, stop watching this listener for a moment.
                    _ = Libc.epoll_ctl(_epoll, Libc.EpollCtlDel, l.Fd, null);
                    _paused.Add((l, Environment.TickCount64 + AcceptPauseMs));
                    Notify(l, errno);
                }
                return;
            }
            try
            {
                _relay.Owner.Accepted(l, fd, new ReadOnlySpan<byte>(peer, (int)Math.Min(length, (uint)SockAddr.StorageSize)), this);
            }
            catch (Exception)
            {
                // The owner had the descriptor; what it did with it is its own. The loop goes on.
            }
        }
    }

    private void Notify(RelayListener l, int errno)
    {
        try
        {
            _relay.Owner.AcceptFailed(l, errno);
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
        foreach (var t in (ReadOnlySpan<int>)[NextTimeout(), NextResume(), NextIdleCheck()])
        {
            if (t >= 0 && (first < 0 || t < first))
                first = t;
        }
        return first;
    }

    /// <summary>Milliseconds until a paused listener is watched again; -1 when none is paused.</summary>
    private int NextResume()
    {
        if (_paused.Count == 0)
            return -1;
        var first = _paused.Min(p => p.Resume);
        return (int)Math.Clamp(first - Environment.TickCount64, 0, int.MaxValue);
    }

    private void Resume()
    {
        if (_paused.Count == 0)
            return;
        var now = Environment.TickCount64;
        for (var i = _paused.Count - 1; i >= 0; i--)
        {
            var (l, resume) = _paused[i];
            if (resume > now)
                continue;
            _paused.RemoveAt(i);
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
            c.BackendReadable |= readable;
            c.BackendWritable |= writable;
            c.Down.PeerClosed |= closed;
            c.Down.FinSeen |= fin;
        }
        else
        {
            c.ClientReadable |= readable;
            c.ClientWritable |= writable;
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
        var up = Pump(ref c.Up, c.ClientFd, c.BackendFd, ref c.ClientReadable, ref c.BackendWritable, c.Down.Done);
        var down = up < 0 ? up : Pump(ref c.Down, c.BackendFd, c.ClientFd, ref c.BackendReadable, ref c.ClientWritable, c.Up.Done);
        if (up < 0 || down < 0)
        {
            End(c, -Math.Min(up, down));
            return;
        }
        if (c.Up.Done && c.Down.Done)
        {
            End(c, 0);
            return;
        }
        if (!c.HalfClosed && (c.Up.PeerClosed || c.Down.PeerClosed))
            WatchIdle(c);
        if ((up == Again || down == Again) && !c.Queued)
        {
            c.Queued = true;
            _againNext.Add(c);
        }
    }

    private const int Waiting = 0;
    private const int Again = 1;

    /// <summary>
    /// One direction: first what is held (buffer or pipe) to the writer, then more from the reader.
    /// Returns <see cref="Waiting"/> (for readiness), <see cref="Again"/> (rounds used up) or -errno.
    /// </summary>
    private int Pump(ref RelayDirection d, int from, int to, ref bool readable, ref bool writable, bool otherDone)
    {
        for (var round = 0; round < RoundsPerWake; round++)
        {
            if (d.InPipe > 0 || d.HeldLength > 0)
            {
                if (!writable)
                    return Waiting;
                var sent = d.InPipe > 0
                    ? Libc.splice(d.PipeRead, null, to, null, (nuint)d.InPipe, Libc.SpliceFMove | Libc.SpliceFNonBlock)
                    : SendHeld(ref d, to);
                if (sent < 0)
                    return Stalled(ref writable);
                if (d.InPipe > 0)
                    d.InPipe -= (int)sent;
                continue;
            }
            if (d.Eof)
            {
                if (!d.Done)
                {
                    // Half-close: the writer learns that no more comes this way. When the other way
                    // is over too, both sockets are closed next, and the close says it.
                    if (!otherDone)
                        _ = Libc.shutdown(to, Libc.ShutWr);
                    d.Done = true;
                }
                return Waiting;
            }
            if (!readable)
                return Waiting;
            var splicing = d.PipeWrite >= 0;
            var read = splicing ? SpliceIn(ref d, from) : CopyThrough(ref d, from, to, ref writable);
            if (read < 0)
                return Stalled(ref readable);
            if (read == 0)
            {
                d.Eof = true;
                continue;
            }
            // A short recv took all there was: the next arrival brings a new edge, unless the peer
            // has closed (its end of stream is still to be read). splice(2) may stop short with more
            // queued (pipe slots), so a splicing direction reads on until EAGAIN.
            if (!splicing && read < _relay.BufferSize)
            {
                // After the FIN, a short read has taken the last bytes: that is the end of stream,
                // without another recv(2) to hear it.
                if (d.FinSeen)
                    d.Eof = true;
                else if (!d.PeerClosed)
                    readable = false;
            }
        }
        return Again;
    }

    /// <summary>After a failed call: EAGAIN means not ready any more (wait for the next edge); anything else is the error (-errno).</summary>
    private static int Stalled(ref bool ready)
    {
        var errno = Libc.Errno;
        if (errno != Libc.EAgain)
            return -errno;
        ready = false;
        return Waiting;
    }

    /// <summary>recv into the loop's buffer and send on at once; what the writer cannot take is held.</summary>
    private nint CopyThrough(ref RelayDirection d, int from, int to, ref bool writable)
    {
        var size = _relay.BufferSize;
        var n = Libc.recv(from, _buffer, (nuint)size, 0);
        if (n <= 0)
            return n;
        d.Bytes += n;
        nint sent = 0;
        if (writable)
        {
            sent = Libc.send(to, _buffer, (nuint)n, Libc.MsgNoSignal);
            if (sent < 0)
            {
                var errno = Libc.Errno;
                if (errno != Libc.EAgain)
                {
                    // Reported as the read's failure; errno stays what send set.
                    Marshal.SetLastPInvokeError(errno);
                    return -1;
                }
                writable = false;
                sent = 0;
            }
        }
        if (sent < n)
        {
            d.Held = _relay.Buffers.Rent(size);
            d.HeldOffset = 0;
            d.HeldLength = (int)(n - sent);
            new ReadOnlySpan<byte>(_buffer + sent, d.HeldLength).CopyTo(d.Held);
        }
        else if (n == size && Relay.UsesSplice)
        {
            // A full buffer: a bulk flow. From now on it goes socket → pipe → socket.
            OpenPipe(ref d);
        }
        return n;
    }

    private nint SendHeld(ref RelayDirection d, int to)
    {
        nint sent;
        fixed (byte* p = d.Held)
            sent = Libc.send(to, p + d.HeldOffset, (nuint)d.HeldLength, Libc.MsgNoSignal);
        if (sent > 0)
        {
            d.HeldOffset += (int)sent;
            d.HeldLength -= (int)sent;
            if (d.HeldLength == 0)
            {
                _relay.Buffers.Return(d.Held!);
                d.Held = null;
            }
        }
        return sent;
    }

    private nint SpliceIn(ref RelayDirection d, int from)
    {
        var n = Libc.splice(from, null, d.PipeWrite, null, PipeSize, Libc.SpliceFMove | Libc.SpliceFNonBlock);
        if (n > 0)
        {
            d.Bytes += n;
            d.InPipe += (int)n;
        }
        else if (n < 0 && d.Bytes == 0 && Libc.Errno is Libc.EInval or Libc.ENoSys)
        {
            Relay.SpliceRefused();
        }
        return n;
    }

    private static void OpenPipe(ref RelayDirection d)
    {
        var fds = stackalloc int[2];
        if (Libc.pipe2(fds, Libc.ONonBlock | Libc.OCloexec) != 0)
            return;
        _ = Libc.fcntl(fds[1], Libc.FSetPipeSize, PipeSize);
        d.PipeRead = fds[0];
        d.PipeWrite = fds[1];
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

    /// <summary>Milliseconds until the first backend connect runs out of time; -1 when none is pending.</summary>
    private int NextTimeout()
    {
        lock (_gate)
        {
            while (_connecting.TryPeek(out var c))
            {
                if (!c.Connecting || c.Ended)
                {
                    _connecting.Dequeue();
                    continue;
                }
                return (int)Math.Clamp(c.Deadline - Environment.TickCount64, 0, int.MaxValue);
            }
        }
        return -1;
    }

    /// <summary>Ends the connections whose backend connect ran out of time.</summary>
    private void Expire()
    {
        var now = Environment.TickCount64;
        while (true)
        {
            RelayConnection? c;
            lock (_gate)
            {
                if (!_connecting.TryPeek(out c) || (c.Connecting && !c.Ended && c.Deadline > now))
                    return;
                _connecting.Dequeue();
            }
            if (c.Connecting && !c.Ended)
                End(c, Libc.ETimedOut);
        }
    }

    /// <summary>Puts a connection that has just become half-closed on the idle watch.</summary>
    private void WatchIdle(RelayConnection c)
    {
        c.HalfClosed = true;
        c.IdleBytes = c.Up.Bytes + c.Down.Bytes;
        c.IdleCheck = Environment.TickCount64 + _relay.HalfCloseTimeoutMs;
        c.HalfPrevious = _halfTail;
        c.HalfNext = null;
        if (_halfTail is not null)
            _halfTail.HalfNext = c;
        else
            _halfHead = c;
        _halfTail = c;
    }

    private void UnwatchIdle(RelayConnection c)
    {
        if (!c.HalfClosed)
            return;
        c.HalfClosed = false;
        if (c.HalfPrevious is not null)
            c.HalfPrevious.HalfNext = c.HalfNext;
        else
            _halfHead = c.HalfNext;
        if (c.HalfNext is not null)
            c.HalfNext.HalfPrevious = c.HalfPrevious;
        else
            _halfTail = c.HalfPrevious;
        c.HalfPrevious = c.HalfNext = null;
    }

    /// <summary>Milliseconds until the first half-closed connection is looked at; -1 when there is none.</summary>
    private int NextIdleCheck() =>
        _halfHead is { } c ? (int)Math.Clamp(c.IdleCheck - Environment.TickCount64, 0, int.MaxValue) : -1;

    /// <summary>
    /// Ends the half-closed connections that moved no byte for a whole timeout; one that moved some
    /// is looked at again a timeout later (so an idle one ends between one and two timeouts after
    /// its last byte, with no clock read per byte).
    /// </summary>
    private void ExpireHalfClosed()
    {
        var now = Environment.TickCount64;
        while (_halfHead is { } c && c.IdleCheck <= now)
        {
            UnwatchIdle(c);
            var bytes = c.Up.Bytes + c.Down.Bytes;
            if (bytes == c.IdleBytes)
                End(c, Libc.ETimedOut);
            else
                WatchIdle(c);
        }
    }

    private void EndAll()
    {
        _abort = false;
        while (true)
        {
            RelayConnection? c;
            lock (_gate)
                c = _head;
            if (c is null)
                return;
            End(c, Libc.ECanceled);
        }
    }

    private void End(RelayConnection c, int error)
    {
        if (c.Ended)
            return;
        c.Ended = true;
        // Removed from the interest list before the close: a close alone removes it only when no
        // other descriptor (a child between fork and exec, say) still refers to the socket, and an
        // event after the handle is freed would name nothing.
        _ = Libc.epoll_ctl(_epoll, Libc.EpollCtlDel, c.ClientFd, null);
        _ = Libc.epoll_ctl(_epoll, Libc.EpollCtlDel, c.BackendFd, null);
        _ = Libc.close(c.ClientFd);
        _ = Libc.close(c.BackendFd);
        Release(ref c.Up);
        Release(ref c.Down);
        UnwatchIdle(c);
        Unlist(c);
        _release.Add(c.Handle);
        try
        {
            _relay.Owner.Ended(c.State, new RelayResult(c.Up.Bytes, c.Down.Bytes, error, !c.Connecting));
        }
        catch (Exception)
        {
            // The owner's bookkeeping must not take the loop down with it; the connection is closed.
        }
    }

    private void Release(ref RelayDirection d)
    {
        if (d.Held is { } held)
            _relay.Buffers.Return(held);
        d.Held = null;
        if (d.PipeRead >= 0)
        {
            _ = Libc.close(d.PipeRead);
            _ = Libc.close(d.PipeWrite);
            d.PipeRead = d.PipeWrite = -1;
        }
    }

    private void Unlist(RelayConnection c)
    {
        lock (_gate)
        {
            if (c.Previous is not null)
                c.Previous.Next = c.Next;
            else if (_head == c)
                _head = c.Next;
            if (c.Next is not null)
                c.Next.Previous = c.Previous;
            c.Previous = c.Next = null;
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
        NativeMemory.Free(_buffer);
    }
}
