// The relay loop's backend connects that have a deadline, in the order they were adopted (every
// connect gets the same timeout, so the first in line runs out first). Added to from the adopting
// threads, hence its own lock; looked at by the loop once per wake-up. Ending a connection whose
// time is up is the loop's (RelayLoop.End); this file only says which and when.
namespace Giftwrap.Gate.Forwarding;

internal sealed class ConnectDeadlines
{
    private readonly Lock _gate = new();
    private readonly Queue<RelayConnection> _connecting = new();

    /// <summary>Milliseconds from now until <paramref name="tick"/> (Environment.TickCount64), 0 when past.</summary>
    public static int Until(long tick) => (int)Math.Clamp(tick - Environment.TickCount64, 0, int.MaxValue);

    /// <summary>Watches the connect of <paramref name="c"/> (from any thread) until its deadline.</summary>
    public void Add(RelayConnection c)
    {
        lock (_gate)
            _connecting.Enqueue(c);
    }

    /// <summary>Makes <paramref name="c"/> a connect whose time is up at once (from any thread): the loop ends it next.</summary>
    public void ExpireNow(RelayConnection c)
    {
        lock (_gate)
        {
            c.Connecting = true;
            c.Deadline = 0;
            _connecting.Enqueue(c);
        }
    }

    /// <summary>Milliseconds until the first backend connect runs out of time; -1 when none is pending.</summary>
    public int NextTimeout()
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
                return Until(c.Deadline);
            }
        }
        return -1;
    }

    /// <summary>The next connection whose connect ran out of time by <paramref name="now"/>, taken off the line; null when none.</summary>
    public RelayConnection? TakeExpired(long now)
    {
        while (true)
        {
            RelayConnection? c;
            lock (_gate)
            {
                if (!_connecting.TryPeek(out c) || (c.Connecting && !c.Ended && c.Deadline > now))
                    return null;
                _connecting.Dequeue();
            }
            if (c.Connecting && !c.Ended)
                return c;
        }
    }
}
