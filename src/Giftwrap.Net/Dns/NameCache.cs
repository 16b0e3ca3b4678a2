// A bounded least-recently-used map from address to verified name (and its warning), each entry with its own
// expiry. Not thread-safe: HostNameVerifier holds its lock around every call.
using System.Net;
using Giftwrap.Decisions;

namespace Giftwrap.Net.Dns;

internal sealed class NameCache(int capacity)
{
    private readonly Dictionary<IPAddress, LinkedListNode<Entry>> _index = [];
    private readonly LinkedList<Entry> _order = new();

    public int Count => _index.Count;

    public bool TryGet(IPAddress address, DateTimeOffset now, out HostNameLookup name)
    {
        name = default;
        if (!_index.TryGetValue(address, out var node))
            return false;
        if (node.Value.Expires <= now)
        {
            Remove(node);
            return false;
        }
        _order.Remove(node);
        _order.AddFirst(node);
        name = node.Value.Name;
        return true;
    }

    public void Set(IPAddress address, HostNameLookup name, DateTimeOffset expires)
    {
        if (capacity == 0)
            return;
        if (_index.TryGetValue(address, out var old))
            Remove(old);
        while (_index.Count >= capacity && _order.Last is { } oldest)
            Remove(oldest);
        _index[address] = _order.AddFirst(new Entry(address, name, expires));
    }

    private void Remove(LinkedListNode<Entry> node)
    {
        _order.Remove(node);
        _index.Remove(node.Value.Address);
    }

    private readonly record struct Entry(IPAddress Address, HostNameLookup Name, DateTimeOffset Expires);
}
