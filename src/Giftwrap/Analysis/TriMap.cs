// Three-valued functions over one address family: sorted, disjoint, merged pieces
// [Lo, Hi] that are Yes or Maybe; every address outside them is No. And, Or and Not
// are Kleene's (Maybe = "yes or no, depending on a lookup"), which over-approximates
// correlated lookups (KNOWN EXCEPT KNOWN is Maybe, never Yes): sound for AddressRules.
namespace Giftwrap.Analysis;

internal enum Tri : byte
{
    No,
    Maybe,
    Yes,
}

internal readonly record struct Piece(UInt128 Lo, UInt128 Hi, Tri Value);

internal sealed class TriMap
{
    public static readonly TriMap None = new([]);

    public TriMap(Piece[] pieces) => Pieces = pieces;

    public Piece[] Pieces { get; }

    public bool IsNone => Pieces.Length == 0;

    public static TriMap Constant(Tri value, UInt128 max) => value == Tri.No ? None : new([new Piece(0, max, value)]);

    public static TriMap Range(UInt128 lo, UInt128 hi, Tri value = Tri.Yes) => value == Tri.No ? None : new([new Piece(lo, hi, value)]);

    public static TriMap And(TriMap a, TriMap b, UInt128 max) =>
        a.IsNone || b.IsNone ? None : Combine(a, b, max, static (x, y) => x < y ? x : y);

    public static TriMap Or(TriMap a, TriMap b, UInt128 max) =>
        a.IsNone ? b : b.IsNone ? a : Combine(a, b, max, static (x, y) => x > y ? x : y);

    /// <summary>The value of <paramref name="a"/> where <paramref name="b"/> is No, and <paramref name="b"/>'s elsewhere.</summary>
    public static TriMap Overlay(TriMap a, TriMap b, TriMap bDomain, UInt128 max) =>
        Combine(Combine(a, bDomain, max, static (x, d) => d == Tri.No ? x : Tri.No), b, max, static (x, y) => x > y ? x : y);

    public static TriMap Not(TriMap a, UInt128 max) =>
        Combine(a, None, max, static (x, _) => x switch { Tri.Yes => Tri.No, Tri.No => Tri.Yes, _ => Tri.Maybe });

    /// <summary>Or over many maps, pairwise as a balanced tree so a long token list stays n log n.</summary>
    public static TriMap Any(List<TriMap> maps, UInt128 max)
    {
        if (maps.Count == 0)
            return None;
        while (maps.Count > 1)
        {
            var next = new List<TriMap>((maps.Count + 1) / 2);
            for (var i = 0; i < maps.Count; i += 2)
                next.Add(i + 1 < maps.Count ? Or(maps[i], maps[i + 1], max) : maps[i]);
            maps = next;
        }
        return maps[0];
    }

    /// <summary>Pointwise <paramref name="f"/>, walking the boundaries of both maps once.</summary>
    private static TriMap Combine(TriMap a, TriMap b, UInt128 max, Func<Tri, Tri, Tri> f)
    {
        var result = new List<Piece>(a.Pieces.Length + b.Pieces.Length + 1);
        UInt128 pos = 0;
        int i = 0, j = 0;
        while (true)
        {
            var (va, ea) = At(a.Pieces, ref i, pos, max);
            var (vb, eb) = At(b.Pieces, ref j, pos, max);
            var end = ea < eb ? ea : eb;
            Append(result, pos, end, f(va, vb));
            if (end == max)
                break;
            pos = end + 1;
        }
        return new TriMap([.. result]);
    }

    /// <summary>The value at <paramref name="pos"/> and the last address from there with the same piece.</summary>
    private static (Tri, UInt128) At(Piece[] pieces, ref int i, UInt128 pos, UInt128 max)
    {
        while (i < pieces.Length && pieces[i].Hi < pos)
            i++;
        if (i >= pieces.Length)
            return (Tri.No, max);
        if (pieces[i].Lo <= pos)
            return (pieces[i].Value, pieces[i].Hi);
        return (Tri.No, pieces[i].Lo - 1);
    }

    public static void Append(List<Piece> into, UInt128 lo, UInt128 hi, Tri value)
    {
        if (value == Tri.No)
            return;
        if (into.Count > 0 && into[^1].Value == value && into[^1].Hi + 1 == lo && into[^1].Hi != UInt128.MaxValue)
            into[^1] = into[^1] with { Hi = hi };
        else
            into.Add(new Piece(lo, hi, value));
    }
}
