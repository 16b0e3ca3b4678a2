// One direction of a relayed connection moved as far as it can go now: first what is held (the
// copy buffer's rest, or the pipe when splicing) to the writer, then more from the reader, by a
// recv/send copy through the loop's buffer until a full buffer shows a bulk flow, then by
// splice(2) socket → pipe → socket. The half-close (shutdown(SHUT_WR) when the reader's stream
// ends) is done here too. What happens next (wait, come back, end the connection) is the loop's:
// the pump says it as a PumpResult. One per relay loop, used by that loop's thread only.
using System.Runtime.InteropServices;
using Giftwrap.Gate.Interop;

namespace Giftwrap.Gate.Forwarding;

/// <summary>What a direction's pump left to do.</summary>
internal enum PumpResult
{
    /// <summary>Nothing more until a descriptor's readiness changes (an edge from epoll), or the direction is done.</summary>
    Waiting,

    /// <summary>The rounds of this wake-up were used up with more to move: come back after the others had theirs.</summary>
    Again,

    /// <summary>A read, write or splice failed: end the connection with the errno given.</summary>
    Failed,
}

internal sealed unsafe class RelayPump : IDisposable
{
    private const int RoundsPerWake = 16;
    private const int PipeSize = 256 * 1024;

    private readonly Relay _relay;
    private readonly byte* _buffer;

    public RelayPump(Relay relay)
    {
        _relay = relay;
        _buffer = (byte*)NativeMemory.Alloc((nuint)relay.BufferSize);
    }

    /// <summary>
    /// Moves what can be moved on <paramref name="d"/> in a bounded number of rounds; <paramref name="otherDone"/>:
    /// the opposite direction is over (then no shutdown is sent: both sockets are closed next).
    /// </summary>
    public PumpResult Move(ref RelayDirection d, bool otherDone, out int errno)
    {
        errno = 0;
        for (var round = 0; round < RoundsPerWake; round++)
        {
            if (d.InPipe > 0 || d.HeldLength > 0)
            {
                if (!d.Writable)
                    return PumpResult.Waiting;
                var sent = d.InPipe > 0
                    ? Libc.splice(d.PipeRead, null, d.To, null, (nuint)d.InPipe, Libc.SpliceFMove | Libc.SpliceFNonBlock)
                    : SendHeld(ref d);
                if (sent < 0)
                    return Stalled(ref d.Writable, out errno);
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
                        _ = Libc.shutdown(d.To, Libc.ShutWr);
                    d.Done = true;
                }
                return PumpResult.Waiting;
            }
            if (!d.Readable)
                return PumpResult.Waiting;
            var splicing = d.PipeWrite >= 0;
            var read = splicing ? SpliceIn(ref d) : CopyThrough(ref d);
            if (read < 0)
                return Stalled(ref d.Readable, out errno);
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
                    d.Readable = false;
            }
        }
        return PumpResult.Again;
    }

    /// <summary>Gives back what <paramref name="d"/> holds: its held buffer, its pipe.</summary>
    public void Release(ref RelayDirection d)
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

    /// <summary>After a failed call: EAGAIN means not ready any more (wait for the next edge); anything else is the error.</summary>
    private static PumpResult Stalled(ref bool ready, out int errno)
    {
        errno = Libc.Errno;
        if (errno != Libc.EAgain)
            return PumpResult.Failed;
        errno = 0;
        ready = false;
        return PumpResult.Waiting;
    }

    /// <summary>recv into the loop's buffer and send on at once; what the writer cannot take is held.</summary>
    private nint CopyThrough(ref RelayDirection d)
    {
        var size = _relay.BufferSize;
        var n = Libc.recv(d.From, _buffer, (nuint)size, 0);
        if (n <= 0)
            return n;
        d.Bytes += n;
        nint sent = 0;
        if (d.Writable)
        {
            // The last bytes before the source's FIN (a short read after it): the half-close or the
            // close comes next in this same Move, and MSG_MORE lets the kernel send them in one
            // segment with that FIN instead of two (one wake-up of the reader fewer, as HAProxy does).
            var flags = d.FinSeen && n < size ? Libc.MsgNoSignal | Libc.MsgMore : Libc.MsgNoSignal;
            sent = Libc.send(d.To, _buffer, (nuint)n, flags);
            if (sent < 0)
            {
                var errno = Libc.Errno;
                if (errno != Libc.EAgain)
                {
                    // Reported as the read's failure; errno stays what send set.
                    Marshal.SetLastPInvokeError(errno);
                    return -1;
                }
                d.Writable = false;
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

    private nint SendHeld(ref RelayDirection d)
    {
        nint sent;
        fixed (byte* p = d.Held)
            sent = Libc.send(d.To, p + d.HeldOffset, (nuint)d.HeldLength, Libc.MsgNoSignal);
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

    private static nint SpliceIn(ref RelayDirection d)
    {
        var n = Libc.splice(d.From, null, d.PipeWrite, null, PipeSize, Libc.SpliceFMove | Libc.SpliceFNonBlock);
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

    public void Dispose() => NativeMemory.Free(_buffer);
}
