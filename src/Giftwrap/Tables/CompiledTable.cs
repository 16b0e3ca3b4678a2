// One table, read and compiled: its entries in file order plus indexes that find,
// for a client address, the few rules whose client list can match it (exact
// addresses, numeric prefixes, net/len). Rules that fit no index stay on a general
// list. Evaluation walks both in line order, so the first match is libwrap's.
using Giftwrap.Patterns;
using Giftwrap.Rules;

namespace Giftwrap.Tables;

/// <summary>How a table file was found when it was last read.</summary>
internal enum TableState
{
    Missing,
    Unreadable,
    Loaded,
}

internal sealed class CompiledTable
{
    private static readonly int[] None = [];

    // Exact addresses: the value is the entry, or (negative) -1 - an index into _shared for keys on several lines.
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _exact;
    private readonly int[][] _shared;
    private readonly Dictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _prefix;
    private readonly (int Bits, Dictionary<uint, int[]> Nets)[] _v4;
    private readonly (int Bits, Dictionary<UInt128, int[]> Nets)[] _v6;

    private CompiledTable(string path, TableState state, string? error, TableEntry[] entries, int[] general,
        Dictionary<string, int> exact, int[][] shared, Dictionary<string, int[]> prefix,
        (int, Dictionary<uint, int[]>)[] v4, (int, Dictionary<UInt128, int[]>)[] v6)
    {
        Path = path;
        State = state;
        Error = error;
        Entries = entries;
        General = general;
        _exact = exact.GetAlternateLookup<ReadOnlySpan<char>>();
        _shared = shared;
        _prefix = prefix.GetAlternateLookup<ReadOnlySpan<char>>();
        _v4 = v4;
        _v6 = v6;
    }

    public string Path { get; }
    public TableState State { get; }
    public string? Error { get; }
    public TableEntry[] Entries { get; }
    /// <summary>Entries evaluated for every request, in order.</summary>
    public int[] General { get; }
    public int IndexedCount => Entries.Length - General.Length;

    /// <summary>The /file lists the rules name (daemon@/file and client /file tokens), registered with the table.</summary>
    public string[] FileLists { get; private init; } = [];

    public static CompiledTable Missing(string path) => Empty(path, TableState.Missing, null);

    public static CompiledTable Unreadable(string path, string error) => Empty(path, TableState.Unreadable, error);

    private static CompiledTable Empty(string path, TableState state, string? error) =>
        new(path, state, error, [], None, new Dictionary<string, int>(StringComparer.Ordinal), [], new Dictionary<string, int[]>(StringComparer.Ordinal), [], []);

    public static CompiledTable Compile(string path, ReadOnlySpan<byte> data)
    {
        var entries = RuleReader.Read(data).ToArray();
        var general = new List<int>();
        var exact = new Dictionary<string, int>(StringComparer.Ordinal);
        var shared = new List<List<int>>();
        var prefix = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var v4 = new Dictionary<int, Dictionary<uint, List<int>>>();
        var v6 = new Dictionary<int, Dictionary<UInt128, List<int>>>();
        for (var i = 0; i < entries.Length; i++)
        {
            if (entries[i].PlainAddresses is { } plain)
            {
                foreach (var address in plain)
                    AddExact(exact, shared, address, i);
                continue;
            }
            if (!Indexable(entries[i]))
            {
                general.Add(i);
                continue;
            }
            foreach (var p in entries[i].Clients!.Groups[0])
            {
                switch (p.Host)
                {
                    case GeneralPattern g when g.String.Kind == StringPatternKind.Exact:
                        AddExact(exact, shared, g.String.Token, i);
                        break;
                    case GeneralPattern g:
                        Add(prefix, g.String.Token, i);
                        break;
                    case MaskPattern m:
                        Add(Bucket(v4, MaskBits(m.NetMask)), m.Net, i);
                        break;
                    case BracketPattern b:
                        Add(Bucket(v6, b.PrefixLength), b.Net, i);
                        break;
                }
            }
        }
        var sharedEntries = new int[shared.Count][];
        for (var i = 0; i < sharedEntries.Length; i++)
            sharedEntries[i] = shared[i].ToArray();
        return new CompiledTable(path, TableState.Loaded, null, entries, [.. general],
            exact, sharedEntries, Freeze(prefix), ByPrefixLength(v4), ByPrefixLength(v6))
        {
            FileLists = FileListsOf(entries),
        };
    }

    // Rules of plain addresses name no file; the others are compiled already (the index needs them).
    private static string[] FileListsOf(TableEntry[] entries)
    {
        HashSet<string>? paths = null;
        foreach (var e in entries)
        {
            if (e.Kind != EntryKind.Rule || e.PlainAddresses is not null || !e.Text.Contains('/', StringComparison.Ordinal))
                continue;
            foreach (var group in e.Daemons!.Groups)
            {
                foreach (var d in group)
                {
                    if (d.Host is FilePattern f)
                        (paths ??= new(StringComparer.Ordinal)).Add(f.Path);
                }
            }
            foreach (var group in e.Clients!.Groups)
            {
                foreach (var c in group)
                {
                    if (c.Host is FilePattern f)
                        (paths ??= new(StringComparer.Ordinal)).Add(f.Path);
                }
            }
        }
        if (paths is null)
            return [];
        var lists = new string[paths.Count];
        paths.CopyTo(lists);
        return lists;
    }

    /// <summary>
    /// A rule goes into the indexes only when skipping it for a non-matching address changes
    /// nothing libwrap would do: no EXCEPT in the client list, client tokens that compare only the
    /// address and cannot warn, and daemon tokens without @host (no server lookups, no warnings).
    /// </summary>
    private static bool Indexable(TableEntry e)
    {
        if (e.Kind != EntryKind.Rule || e.Clients!.Groups.Length != 1 || e.Clients.Groups[0].Length == 0)
            return false;
        foreach (var group in e.Daemons!.Groups)
        {
            foreach (var d in group)
            {
                if (d.Host is not null)
                    return false;
            }
        }
        foreach (var c in e.Clients.Groups[0])
        {
            if (c.User is not null)
                return false;
            var ok = c.Host switch
            {
                GeneralPattern g => !g.MayBeName && g.String.Kind is StringPatternKind.Exact or StringPatternKind.Prefix,
                MaskPattern m => m.Problem is null && MaskBits(m.NetMask) >= 0,
                // "[v6]" without /len looks the name up when the address does not match: not skippable.
                BracketPattern b => b.IsValid && !b.LooksUpName,
                _ => false,
            };
            if (!ok)
                return false;
        }
        return true;
    }

    /// <summary>The prefix length of a contiguous mask, or -1.</summary>
    private static int MaskBits(uint mask)
    {
        var bits = System.Numerics.BitOperations.PopCount(mask);
        return bits == 0 ? (mask == 0 ? 0 : -1) : (mask == uint.MaxValue << (32 - bits) ? bits : -1);
    }

    /// <summary>Adds to <paramref name="into"/> the indexed entries whose client list may match the address.</summary>
    public void Candidates(string address, List<int> into)
    {
        if (IndexedCount == 0)
            return;
        if (_exact.Dictionary.Count > 0 && _exact.TryGetValue(StringPattern.Unmapped(address), out var e))
        {
            if (e >= 0)
                into.Add(e);
            else
                into.AddRange(_shared[-1 - e]);
        }
        if (_prefix.Dictionary.Count > 0)
        {
            for (var i = 0; i < address.Length; i++)
            {
                if (address[i] == '.' && _prefix.TryGetValue(address.AsSpan(0, i + 1), out var p))
                    into.AddRange(p);
            }
        }
        if (_v4.Length > 0 && Ipv4.TryParseDotQuad(address, out var a4))
        {
            foreach (var (bits, nets) in _v4)
            {
                var mask = bits == 0 ? 0 : uint.MaxValue << (32 - bits);
                if (nets.TryGetValue(a4 & mask, out var n))
                    into.AddRange(n);
            }
        }
        if (_v6.Length > 0 && Ipv6.TryParse(address, out var a6))
        {
            foreach (var (bits, nets) in _v6)
            {
                if (nets.TryGetValue(a6 & Ipv6.Mask(bits), out var n))
                    into.AddRange(n);
            }
        }
    }

    private static Dictionary<TKey, List<int>> Bucket<TKey>(Dictionary<int, Dictionary<TKey, List<int>>> byBits, int bits)
        where TKey : notnull
    {
        if (!byBits.TryGetValue(bits, out var d))
            byBits[bits] = d = [];
        return d;
    }

    private static void AddExact(Dictionary<string, int> exact, List<List<int>> shared, string key, int entry)
    {
        if (!exact.TryGetValue(key, out var v))
        {
            exact[key] = entry;
            return;
        }
        if (v >= 0)
        {
            if (v == entry)
                return;
            shared.Add([v, entry]);
            exact[key] = -shared.Count;
            return;
        }
        var list = shared[-1 - v];
        if (list[^1] != entry)
            list.Add(entry);
    }

    private static void Add<TKey>(Dictionary<TKey, List<int>> d, TKey key, int entry) where TKey : notnull
    {
        if (!d.TryGetValue(key, out var list))
            d[key] = list = [];
        if (list.Count == 0 || list[^1] != entry)
            list.Add(entry);
    }

    // Loops, not LINQ, here and in ByPrefixLength: LINQ's generic iterators, made for each of these key types,
    // were a fifth of giftwrap-tcpd's start-up relocations (docs/benchmarks.md, issue 16).
    private static Dictionary<TKey, int[]> Freeze<TKey>(Dictionary<TKey, List<int>> d) where TKey : notnull
    {
        var frozen = new Dictionary<TKey, int[]>(d.Count, d.Comparer);
        foreach (var (key, entries) in d)
            frozen.Add(key, entries.ToArray());
        return frozen;
    }

    /// <summary>The buckets of one address family, shortest prefix length first.</summary>
    private static (int, Dictionary<TKey, int[]>)[] ByPrefixLength<TKey>(Dictionary<int, Dictionary<TKey, List<int>>> buckets) where TKey : notnull
    {
        var bits = new int[buckets.Count];
        buckets.Keys.CopyTo(bits, 0);
        Array.Sort(bits);
        var sorted = new (int, Dictionary<TKey, int[]>)[bits.Length];
        for (var i = 0; i < bits.Length; i++)
            sorted[i] = (bits[i], Freeze(buckets[bits[i]]));
        return sorted;
    }
}
