// `*` and `?` patterns (Debian's wildcard extension to string matching). libwrap's
// matcher recurses at every `*` and takes exponential time on hostile names such as
// a 255-byte name against `*a*a*a*a*b`; this one matches the same language in one
// left-to-right pass: each piece between stars is placed at its earliest position,
// which is optimal for `*`, so no choice is ever revisited.
namespace Giftwrap.Patterns;

internal sealed class Wildcard
{
    private readonly string[] _pieces;
    private readonly bool _anchoredStart;
    private readonly bool _anchoredEnd;
    private readonly bool _ignoreCase;

    public Wildcard(string pattern, bool ignoreCase)
    {
        _ignoreCase = ignoreCase;
        _anchoredStart = !pattern.StartsWith('*');
        _anchoredEnd = !pattern.EndsWith('*');
        _pieces = pattern.Split('*', StringSplitOptions.RemoveEmptyEntries);
        foreach (var piece in _pieces)
            MinimumLength += piece.Length;
        if (_pieces.Length == 0)
        {
            // Only stars: matches anything (or, with no stars at all, only the empty string).
            _anchoredStart = _anchoredEnd = pattern.Length == 0;
        }
    }

    public int MinimumLength { get; }

    public static bool HasWildcard(string token) => token.AsSpan().IndexOfAny('*', '?') >= 0;

    public bool IsMatch(ReadOnlySpan<char> s)
    {
        if (s.Length < MinimumLength)
            return false;
        if (_pieces.Length == 0)
            return !_anchoredStart || s.Length == 0;
        var first = 0;
        var last = _pieces.Length - 1;
        var pos = 0;
        var end = s.Length;
        if (_anchoredStart)
        {
            if (!PieceAt(s, 0, _pieces[0]))
                return false;
            pos = _pieces[0].Length;
            first = 1;
            if (_pieces.Length == 1)
                return !_anchoredEnd || pos == s.Length;
        }
        if (_anchoredEnd)
        {
            var tail = _pieces[last];
            if (end - tail.Length < pos || !PieceAt(s, end - tail.Length, tail))
                return false;
            end -= tail.Length;
            last--;
        }
        for (var i = first; i <= last; i++)
        {
            var at = Find(s, pos, end, _pieces[i]);
            if (at < 0)
                return false;
            pos = at + _pieces[i].Length;
        }
        return true;
    }

    /// <summary>
    /// The same match as an instance's, read straight from the pattern's text: /file lists keep their words as
    /// text rather than one object each (a list's words are hostile input and may be millions).
    /// </summary>
    public static bool IsMatch(ReadOnlySpan<char> pattern, ReadOnlySpan<char> s, bool ignoreCase)
    {
        var body = pattern.Trim('*');
        if (body.IsEmpty)
            return pattern.Length != 0 || s.Length == 0;
        if (s.Length < body.Length - body.Count('*'))
            return false;
        var anchoredStart = pattern[0] != '*';
        var anchoredEnd = pattern[^1] != '*';
        var pos = 0;
        var end = s.Length;
        if (anchoredStart)
        {
            var star = body.IndexOf('*');
            var head = star < 0 ? body : body[..star];
            if (!PieceAt(s, 0, head, ignoreCase))
                return false;
            pos = head.Length;
            if (star < 0)
                return !anchoredEnd || pos == s.Length;
            body = body[(star + 1)..];
        }
        if (anchoredEnd)
        {
            var star = body.LastIndexOf('*');
            var tail = body[(star + 1)..];
            if (end - tail.Length < pos || !PieceAt(s, end - tail.Length, tail, ignoreCase))
                return false;
            end -= tail.Length;
            body = star < 0 ? [] : body[..star];
        }
        foreach (var range in body.Split('*'))
        {
            var piece = body[range];
            if (piece.IsEmpty)
                continue;
            var at = -1;
            for (var i = pos; i + piece.Length <= end; i++)
            {
                if (PieceAt(s, i, piece, ignoreCase))
                {
                    at = i;
                    break;
                }
            }
            if (at < 0)
                return false;
            pos = at + piece.Length;
        }
        return true;
    }

    private static bool PieceAt(ReadOnlySpan<char> s, int at, ReadOnlySpan<char> piece, bool ignoreCase)
    {
        for (var j = 0; j < piece.Length; j++)
        {
            var p = piece[j];
            if (p == '?')
                continue;
            var c = s[at + j];
            if (c != p && !(ignoreCase && Ascii.Lower(c) == Ascii.Lower(p)))
                return false;
        }
        return true;
    }

    private int Find(ReadOnlySpan<char> s, int from, int end, string piece)
    {
        for (var i = from; i + piece.Length <= end; i++)
        {
            if (PieceAt(s, i, piece))
                return i;
        }
        return -1;
    }

    private bool PieceAt(ReadOnlySpan<char> s, int at, string piece) => PieceAt(s, at, piece, _ignoreCase);
}
