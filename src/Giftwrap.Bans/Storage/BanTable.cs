// The in-memory ban list, built for lookups whose cost does not depend on how many bans
// there are: one hash map per prefix length (exact addresses are the /128 map), keyed by
// the masked 128-bit address, probed only for the lengths in use. A ban is a 32-byte
// struct; reasons, origins and daemon lists are interned, so a million bans fit in
// well under 200 MB. Not thread-safe: BanStore guards it.
namespace Giftwrap.Bans.Storage;

internal struct Slot
{
    public long CreatedMs;
    public long ExpiresMs; // long.MaxValue: permanent
    public int Offences;
    public int ReasonId;
    public int OriginId;
    public int DaemonsId; // 0: every daemon
}

internal sealed class BanTable
{
    private readonly Dictionary<UInt128, Slot>?[] _maps = new Dictionary<UInt128, Slot>?[129];
    private readonly List<string> _strings = [""];
    private readonly Dictionary<string, int> _stringIds = new(StringComparer.Ordinal) { [""] = 0 };
    private readonly List<string[]?> _daemons = [null];
    private readonly Dictionary<string, int> _daemonIds = new(StringComparer.Ordinal);
    private readonly Dictionary<ulong, int> _perSlash64 = [];
    private int[] _lengthsV6 = [];
    private int[] _lengthsV4 = [];

    /// <summary>Entries held, active or kept as history for escalation.</summary>
    public int Count { get; private set; }

    public void EnsureCapacity(int count) => Map(128).EnsureCapacity(count);

    public bool TryGet(BanTarget target, out BanEntry entry)
    {
        entry = null!;
        if (_maps[target.Prefix] is not { } map || !map.TryGetValue(target.Bits, out var slot))
            return false;
        entry = ToEntry(target, slot);
        return true;
    }

    public void Set(BanEntry e)
    {
        var map = Map(e.Target.Prefix);
        var slot = new Slot
        {
            CreatedMs = e.Created.ToUnixTimeMilliseconds(),
            ExpiresMs = e.Expires is { } x ? x.ToUnixTimeMilliseconds() : long.MaxValue,
            Offences = e.Offences,
            ReasonId = Intern(e.Reason),
            OriginId = Intern(e.Origin),
            DaemonsId = InternDaemons(e.Daemons),
        };
        if (map.TryAdd(e.Target.Bits, slot))
        {
            Count++;
            if (map.Count == 1)
                RebuildLengths();
            if (IsV6Host(e.Target))
                _perSlash64[(ulong)(e.Target.Bits >> 64)] = CountInSlash64(e.Target) + 1;
        }
        else
        {
            map[e.Target.Bits] = slot;
        }
    }

    /// <summary>Ends an active ban at <paramref name="atMs"/>, keeping its offence count for escalation.</summary>
    public bool End(BanTarget target, long atMs)
    {
        if (_maps[target.Prefix] is not { } map || !map.TryGetValue(target.Bits, out var slot) || slot.ExpiresMs <= atMs)
            return false;
        slot.ExpiresMs = atMs;
        map[target.Bits] = slot;
        return true;
    }

    /// <summary>The active ban covering <paramref name="bits"/> for <paramref name="daemon"/>, most specific first.</summary>
    public BanEntry? Find(UInt128 bits, bool v4, string daemon, long nowMs)
    {
        foreach (var length in v4 ? _lengthsV4 : _lengthsV6)
        {
            var key = bits & BanTarget.Mask(length);
            if (_maps[length]!.TryGetValue(key, out var slot) && slot.ExpiresMs > nowMs && Applies(slot.DaemonsId, daemon))
                return ToEntry(new BanTarget(key, length), slot);
        }
        return null;
    }

    public IEnumerable<BanEntry> All()
    {
        for (var length = 0; length <= 128; length++)
        {
            if (_maps[length] is not { } map)
                continue;
            foreach (var (bits, slot) in map)
                yield return ToEntry(new BanTarget(bits, length), slot);
        }
    }

    /// <summary>How many entries are active at <paramref name="nowMs"/>, without building them.</summary>
    public int CountActive(long nowMs)
    {
        var n = 0;
        foreach (var map in _maps)
        {
            if (map is null)
                continue;
            foreach (var (_, slot) in map)
            {
                if (slot.ExpiresMs > nowMs)
                    n++;
            }
        }
        return n;
    }

    /// <summary>Active single-address IPv6 bans in the /64 of <paramref name="target"/>.</summary>
    public List<BanEntry> ActiveInSlash64(BanTarget target, long nowMs)
    {
        var hi = (ulong)(target.Bits >> 64);
        var list = new List<BanEntry>();
        if (CountInSlash64(target) == 0 || _maps[128] is not { } map)
            return list;
        foreach (var (bits, slot) in map)
        {
            if ((ulong)(bits >> 64) == hi && slot.ExpiresMs > nowMs)
                list.Add(ToEntry(new BanTarget(bits, 128), slot));
        }
        return list;
    }

    public int CountInSlash64(BanTarget target) =>
        _perSlash64.TryGetValue((ulong)(target.Bits >> 64), out var n) ? n : 0;

    private static bool IsV6Host(BanTarget t) => t.IsSingleAddress && !t.IsIPv4;

    private bool Applies(int daemonsId, string daemon)
    {
        if (daemonsId == 0)
            return true;
        foreach (var d in _daemons[daemonsId]!)
        {
            if (string.Equals(d, daemon, StringComparison.OrdinalIgnoreCase))
                return true;
        }
        return false;
    }

    private BanEntry ToEntry(BanTarget target, Slot slot) => new()
    {
        Target = target,
        Created = DateTimeOffset.FromUnixTimeMilliseconds(slot.CreatedMs),
        Expires = slot.ExpiresMs == long.MaxValue ? null : DateTimeOffset.FromUnixTimeMilliseconds(slot.ExpiresMs),
        Offences = slot.Offences,
        Reason = _strings[slot.ReasonId],
        Origin = _strings[slot.OriginId],
        Daemons = _daemons[slot.DaemonsId],
    };

    private Dictionary<UInt128, Slot> Map(int length) => _maps[length] ??= [];

    private void RebuildLengths()
    {
        var used = Enumerable.Range(0, 129).Where(l => _maps[l] is { Count: > 0 }).OrderDescending().ToArray();
        _lengthsV6 = used;
        // An IPv4 address is only inside bans of /96 or longer in the mapped space: shorter
        // IPv6 prefixes (::/8 ...) are IPv6 bans and must not catch IPv4 clients.
        _lengthsV4 = [.. used.Where(l => l >= 96)];
    }

    private int Intern(string s)
    {
        if (_stringIds.TryGetValue(s, out var id))
            return id;
        id = _strings.Count;
        _strings.Add(s);
        _stringIds[s] = id;
        return id;
    }

    private int InternDaemons(IReadOnlyList<string>? daemons)
    {
        if (daemons is null || daemons.Count == 0)
            return 0;
        var key = string.Join(',', daemons);
        if (_daemonIds.TryGetValue(key, out var id))
            return id;
        id = _daemons.Count;
        _daemons.Add([.. daemons]);
        _daemonIds[key] = id;
        return id;
    }
}
