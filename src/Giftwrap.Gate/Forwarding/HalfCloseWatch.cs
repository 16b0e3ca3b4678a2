// Half-closed connections (one side's FIN or hang-up seen), kept on a list in the order they were
// last looked at; one that moved no byte for a whole half-close timeout is due to end, so a backend
// that never closes on EOF, or a client that vanished, gives its slot back. The list is intrusive
// (RelayConnection's HalfPrevious/HalfNext) and its loop's thread's alone; ending is the loop's.
namespace Giftwrap.Gate.Forwarding;

internal sealed class HalfCloseWatch(Relay relay)
{
    private RelayConnection? _head;
    private RelayConnection? _tail;

    /// <summary>Puts a connection that has just become half-closed (or was looked at and moved bytes) on the watch.</summary>
    public void Watch(RelayConnection c)
    {
        c.HalfClosed = true;
        c.IdleBytes = c.Up.Bytes + c.Down.Bytes;
        c.IdleCheck = Environment.TickCount64 + relay.HalfCloseTimeoutMs;
        c.HalfPrevious = _tail;
        c.HalfNext = null;
        if (_tail is not null)
            _tail.HalfNext = c;
        else
            _head = c;
        _tail = c;
    }

    public void Unwatch(RelayConnection c)
    {
        if (!c.HalfClosed)
            return;
        c.HalfClosed = false;
        if (c.HalfPrevious is not null)
            c.HalfPrevious.HalfNext = c.HalfNext;
        else
            _head = c.HalfNext;
        if (c.HalfNext is not null)
            c.HalfNext.HalfPrevious = c.HalfPrevious;
        else
            _tail = c.HalfPrevious;
        c.HalfPrevious = c.HalfNext = null;
    }

    /// <summary>Milliseconds until the first half-closed connection is looked at; -1 when there is none.</summary>
    public int NextCheck() => _head is { } c ? ConnectDeadlines.Until(c.IdleCheck) : -1;

    /// <summary>
    /// The next half-closed connection that moved no byte for a whole timeout by <paramref name="now"/>, taken
    /// off the watch; null when none. One that moved some is looked at again a timeout later (so an idle one
    /// ends between one and two timeouts after its last byte, with no clock read per byte).
    /// </summary>
    public RelayConnection? TakeIdle(long now)
    {
        while (_head is { } c && c.IdleCheck <= now)
        {
            Unwatch(c);
            if (c.Up.Bytes + c.Down.Bytes == c.IdleBytes)
                return c;
            Watch(c);
        }
        return null;
    }
}
