// The connections of one relay loop, by slot, and the word an epoll event carries for each: its
// slot and the slot's generation, not a GCHandle. A connection's descriptors are closed without
// EPOLL_CTL_DEL (RelayLoop.End), so an event may still come for it when another descriptor kept
// its socket open (a child between fork and exec); that event names a slot that is free or holds
// a later generation, and is ignored. Added to from any thread (RelayLoop.Adopt) under a lock;
// looked up by the loop's thread without one. Ending connections is the loop's.
namespace Giftwrap.Gate.Forwarding;

internal sealed class ConnectionSlots
{
    /// <summary>Set in every connection's event word; clear in a listener's (a GCHandle, a user-space pointer) and the wake-up's (0).</summary>
    public const ulong ConnectionTag = 1UL << 63;

    private const uint GenerationMask = 0x7FFF_FFFF;

    private readonly Lock _gate = new();
    private RelayConnection?[] _slots = new RelayConnection?[64];
    private int[] _free = new int[64];
    private int _freeCount;
    private int _used;
    private uint _generation;

    /// <summary>Gives <paramref name="c"/> a slot and a new generation; returns its event word (the backend's adds 1).</summary>
    public ulong Add(RelayConnection c)
    {
        lock (_gate)
        {
            int slot;
            if (_freeCount > 0)
            {
                slot = _free[--_freeCount];
            }
            else
            {
                if (_used == _slots.Length)
                {
                    var bigger = new RelayConnection?[_slots.Length * 2];
                    _slots.CopyTo(bigger, 0);
                    // Published whole: the loop reads the array without the lock.
                    Volatile.Write(ref _slots, bigger);
                }
                slot = _used++;
            }
            // A generation wraps after 2^31 connections of this loop, far beyond the microseconds a
            // late event can be on its way.
            _generation = (_generation + 1) & GenerationMask;
            c.Slot = slot;
            c.Generation = _generation;
            Volatile.Write(ref _slots[slot], c);
        }
        return ConnectionTag | ((ulong)(uint)c.Slot << 32) | ((ulong)c.Generation << 1);
    }

    /// <summary>The connection an event word names, or null when it has ended (the event came late).</summary>
    public RelayConnection? Find(ulong data)
    {
        var slot = (int)((data >> 32) & 0x7FFF_FFFF);
        var slots = Volatile.Read(ref _slots);
        if (slot >= slots.Length)
            return null;
        var c = Volatile.Read(ref slots[slot]);
        return c is not null && c.Generation == ((uint)(data >> 1) & GenerationMask) ? c : null;
    }

    /// <summary>Frees the slot of <paramref name="c"/>: a late event for it finds nothing.</summary>
    public void Remove(RelayConnection c)
    {
        lock (_gate)
        {
            if (c.Slot < 0 || _slots[c.Slot] != c)
                return;
            _slots[c.Slot] = null;
            if (_freeCount == _free.Length)
                Array.Resize(ref _free, _free.Length * 2);
            _free[_freeCount++] = c.Slot;
            c.Slot = -1;
        }
    }

    /// <summary>The connections held now (a copy), for ending them all.</summary>
    public List<RelayConnection> Snapshot()
    {
        var all = new List<RelayConnection>();
        lock (_gate)
        {
            for (var i = 0; i < _used; i++)
            {
                if (_slots[i] is { } c)
                    all.Add(c);
            }
        }
        return all;
    }
}
