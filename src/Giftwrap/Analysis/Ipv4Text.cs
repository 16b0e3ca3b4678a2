// Which IPv4 addresses a string pattern matches through their text: string_match()
// compares the dotted-decimal text tcpd shows ("10.0.0.1", never "010.0.0.1"), so
// exact tokens, "12.34." prefixes, ".5" suffixes and `*`/`?` wildcards are sets of
// addresses. Settled octet by octet with the wildcard as a small automaton; a set
// too scattered to list (".5" is 2^24 addresses) is left as Maybe over what remains.
using System.Globalization;
using System.Numerics;

namespace Giftwrap.Analysis;

internal sealed class Ipv4Text
{
    /// <summary>How many partly matched octet ranges are split further before the rest is called Maybe.</summary>
    private const int SplitBudget = 64;

    private static readonly string[] Octets = [.. Enumerable.Range(0, 256).Select(i => i.ToString(CultureInfo.InvariantCulture))];

    private readonly string _glob;
    private readonly Dictionary<(ulong, int), (bool Some, bool All)> _memo = [];
    private readonly List<Piece> _pieces = [];
    private int _budget = SplitBudget;

    private Ipv4Text(string glob) => _glob = glob;

    /// <summary>Set when part of the space was left as Maybe (the matching set is too scattered to list).</summary>
    public bool Scattered { get; private set; }

    /// <summary>The addresses whose text matches <paramref name="glob"/> (`*` any run, `?` any one character).</summary>
    public static (TriMap Map, bool Scattered) Match(string glob)
    {
        glob = Collapse(glob);
        if (glob.AsSpan().IndexOfAnyExcept("0123456789.*?") >= 0)
            return (TriMap.None, false);
        if (glob.Length > 63)
        {
            // No IPv4 text is longer than 15 characters; a longer glob is kept out of the bit masks.
            var fixedChars = glob.Count(c => c != '*');
            return fixedChars > 15 ? (TriMap.None, false) : (TriMap.Constant(Tri.Maybe, AddressFamilySpace.V4.Max), true);
        }
        var t = new Ipv4Text(glob);
        t.Build(t.Start(), 0, 0);
        return (new TriMap([.. t._pieces]), t.Scattered);
    }

    private static string Collapse(string glob)
    {
        while (glob.Contains("**", StringComparison.Ordinal))
            glob = glob.Replace("**", "*", StringComparison.Ordinal);
        return glob;
    }

    private void Build(ulong state, int depth, uint prefix)
    {
        var hostBits = 8 * (3 - depth);
        for (var x = 0u; x < 256; x++)
        {
            var value = (prefix << 8) | x;
            var lo = (UInt128)value << hostBits;
            var hi = lo | ((UInt128.One << hostBits) - 1);
            var after = Step(state, Octets[x]);
            if (depth == 3)
            {
                TriMap.Append(_pieces, lo, hi, Accepts(after) ? Tri.Yes : Tri.No);
                continue;
            }
            var next = Step(after, ".");
            var (some, all) = Classify(next, 3 - depth);
            if (all || !some)
            {
                TriMap.Append(_pieces, lo, hi, all ? Tri.Yes : Tri.No);
            }
            else if (_budget > 0)
            {
                _budget--;
                Build(next, depth + 1, value);
            }
            else
            {
                Scattered = true;
                TriMap.Append(_pieces, lo, hi, Tri.Maybe);
            }
        }
    }

    /// <summary>Whether some, and whether all, of the texts of <paramref name="octets"/> more octets lead to a match.</summary>
    private (bool Some, bool All) Classify(ulong state, int octets)
    {
        if (state == 0)
            return (false, false);
        if (_memo.TryGetValue((state, octets), out var r))
            return r;
        bool some = false, all = true;
        foreach (var o in Octets)
        {
            var after = Step(state, o);
            var (s, a) = octets == 1 ? (Accepts(after), Accepts(after)) : Classify(Step(after, "."), octets - 1);
            some |= s;
            all &= a;
        }
        return _memo[(state, octets)] = (some, all);
    }

    // Bit i set: the first i characters of the glob are matched.
    private ulong Start() => Close(1);

    private bool Accepts(ulong state) => (state & (1UL << _glob.Length)) != 0;

    private ulong Close(ulong state)
    {
        for (var i = 0; i < _glob.Length; i++)
        {
            if ((state & (1UL << i)) != 0 && _glob[i] == '*')
                state |= 1UL << (i + 1);
        }
        return state;
    }

    private ulong Step(ulong state, string text)
    {
        foreach (var c in text)
        {
            var next = 0UL;
            var s = state;
            while (s != 0)
            {
                var i = BitOperations.TrailingZeroCount(s);
                s &= s - 1;
                if (i >= _glob.Length)
                    continue;
                var p = _glob[i];
                if (p == '*')
                    next |= 1UL << i;
                else if (p == '?' || Patterns.Ascii.Lower(p) == Patterns.Ascii.Lower(c))
                    next |= 1UL << (i + 1);
            }
            state = Close(next);
            if (state == 0)
                return 0;
        }
        return state;
    }
}
