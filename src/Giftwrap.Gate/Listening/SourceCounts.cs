// Open connections per source address, for max_per_source. Counted without a lock: the event
// loops admit connections at the same time. A count that falls to 0 is retired (-1) and removed;
// an admission that meets a retired count takes a fresh one, so no admission is lost to a removal.
using System.Collections.Concurrent;
using System.Net;

namespace Giftwrap.Gate.Listening;

internal sealed class SourceCounts
{
    private readonly ConcurrentDictionary<IPAddress, Count> _counts = new();

    /// <summary>One source's count; kept by its connection, given back with <see cref="Leave"/>.</summary>
    internal sealed class Count
    {
        public int Value;
    }

    /// <summary>Counts a connection from <paramref name="source"/> in; null when it already has <paramref name="max"/>.</summary>
    public Count? TryEnter(IPAddress source, int max)
    {
        while (true)
        {
            var count = _counts.GetOrAdd(source, static _ => new Count());
            var n = Volatile.Read(ref count.Value);
            if (n < 0)
            {
                // Retired by the last connection out; it is being removed.
                _counts.TryRemove(KeyValuePair.Create(source, count));
                continue;
            }
            if (n >= max)
                return null;
            if (Interlocked.CompareExchange(ref count.Value, n + 1, n) == n)
                return count;
        }
    }

    /// <summary>Counts a connection from <paramref name="source"/> out.</summary>
    public void Leave(IPAddress source, Count count)
    {
        if (Interlocked.Decrement(ref count.Value) == 0 && Interlocked.CompareExchange(ref count.Value, -1, 0) == 0)
            _counts.TryRemove(KeyValuePair.Create(source, count));
    }
}
